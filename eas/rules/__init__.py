"""The diagnosis rules as data: each rule's id, severity, spec sections, what it reads and its state (RULES)."""

from __future__ import annotations

from ..evidence import Rule
from .collection_rules import (
    HIERARCHY_RULE_COMMANDS,
    MORE_AVAILABLE_COMMANDS,
    SYNC_COMMANDS,
    SYNC_KEY_COMMANDS,
    DuplicateItems,
    FolderSyncRequiredIgnored,
    MoreAvailableNotFollowed,
    SyncKeyInvalidLoop,
    SyncKeyReplayed,
    SyncKeyResetChurn,
    WindowTooLarge,
)
from .request_rules import (
    PING_COMMANDS,
    AuthFailures,
    PingHeartbeatOutOfRange,
    ProvisioningLoop,
    RedirectLoop,
    RequestTooLarge,
    RetryTooEarly,
    ServerErrors,
    Throttled,
    VersionNotOffered,
)

# ----------------------------------------------------------------------------------------------------------------
# The rule table. Ids are part of the interface (CLI --json, the viewer, mitmproxy metadata).

_BODIES = frozenset({"request_body", "response_body"})

RULES: tuple[Rule, ...] = (
    Rule("sync-key-invalid-loop", "error",
         "MS-ASCMD 2.2.3.177.17 Status (Sync) 3; 2.2.3.177.5 Status (FolderSync) 9",
         "Status 3 (FolderSync 9) and the client sends a non-zero SyncKey again", _BODIES, SyncKeyInvalidLoop,
         SYNC_KEY_COMMANDS),
    Rule("sync-key-reset-churn", "warning", "MS-ASCMD 2.2.3 SyncKey (Sync); 2.2.3.177.17 Status (Sync) 3",
         "the same collection goes back to SyncKey 0 several times", frozenset({"request_body"}), SyncKeyResetChurn,
         SYNC_COMMANDS),
    Rule("sync-key-replayed", "warning", "MS-ASCMD 2.2.3 SyncKey (Sync)",
         "a SyncKey the server already advanced is sent again; the items of that response are suspects",
         _BODIES, SyncKeyReplayed, SYNC_COMMANDS),
    Rule("folder-sync-required-ignored", "error",
         "MS-ASCMD 2.2.3.177.17 Status (Sync) 12; 2.2.3.177.11 Status (Ping) 7",
         "Sync Status 12 or Ping Status 7 and no FolderSync follows", frozenset({"response_body"}),
         FolderSyncRequiredIgnored, HIERARCHY_RULE_COMMANDS),
    Rule("provisioning-loop", "error",
         "MS-ASPROV 3.1.5.1; MS-ASHTTP 2.2.2.1.1 (449); MS-ASCMD 2.2.2 (142-144); MS-ASPROV 2.2.2.53 RemoteWipe",
         "repeated 449 / Status 142-144, a policy never acknowledged, a stale policy key, a remote wipe",
         frozenset({"request_body", "response_body", "request_headers"}), ProvisioningLoop),
    Rule("redirect-loop", "error", "MS-ASHTTP 2.2.2.1.1, 2.2.2.1.1.2, 2.2.2.1.1.4 (451, X-MS-Location)",
         "451 pointing at the same server, or not followed", frozenset({"response_headers"}), RedirectLoop),
    Rule("throttled", "warning", "MS-ASHTTP 2.2.2.1.1.3 (503); 2.2.2.1.2 (Retry-After, X-MS-ASThrottle)",
         "503 with Retry-After or X-MS-ASThrottle; bursts of more than 60 requests a minute",
         frozenset({"response_headers"}), Throttled),
    Rule("retry-too-early", "warning", "MS-ASHTTP 2.2.2.1.1.3 (503); RFC 9110 10.2.3 Retry-After",
         "requests again before Retry-After has passed", frozenset({"response_headers"}), RetryTooEarly),
    Rule("auth-failures", "error",
         "MS-ASHTTP 2.2.2.1.1, 2.2.2.1.1.2 (401, 403); MS-ASCMD 2.2.2 (126, 129, 177); MS-ASHTTP 2.2.2.1.2 "
         "(X-MS-Credentials-Expire)",
         "repeated 401/403, Status 126/129/177, an expiring password", frozenset({"response_body"}), AuthFailures),
    Rule("ping-heartbeat-out-of-range", "warning",
         "MS-ASCMD 2.2.3.177.11 Status (Ping) 5; 2.2.3 HeartbeatInterval (Ping)",
         "Ping Status 5 with the server's limit; Pings that end before their heartbeat", _BODIES,
         PingHeartbeatOutOfRange, PING_COMMANDS),
    Rule("version-not-offered", "error", "MS-ASHTTP 2.2.3 (MS-ASProtocolVersions); MS-ASCMD 2.2.2 (138)",
         "a protocol version the server did not offer; Status 138",
         frozenset({"request_headers", "response_headers"}), VersionNotOffered),
    Rule("more-available-not-followed", "warning", "MS-ASCMD 2.2.3 MoreAvailable; 2.2.3 WindowSize",
         "MoreAvailable and the rest never fetched", _BODIES, MoreAvailableNotFollowed,
         MORE_AVAILABLE_COMMANDS),
    Rule("window-too-large", "warning", "MS-ASCMD 2.2.3 WindowSize",
         "Syncs with a large WindowSize that keep failing; WindowSize above 512", frozenset({"request_body"}),
         WindowTooLarge, SYNC_COMMANDS),
    Rule("request-too-large", "error", "MS-ASHTTP 2.2.2.1.1 (413); MS-ASCMD 2.2.2 (115, 122)",
         "413 or Status 115/122, with the request's size", frozenset({"response_body"}), RequestTooLarge),
    Rule("server-errors", "warning", "MS-ASHTTP 2.2.2.1.1 (5xx); MS-ASCMD 2.2.2 (110, 111)",
         "repeated 5xx or Status 110/111 on the same command", frozenset({"response_body"}), ServerErrors),
    Rule("duplicate-items", "warning", "MS-ASCMD 2.2.3 ClientId; 2.2.3 ServerId; 2.2.3 Add (Sync)",
         "the same ClientId added twice, or an Add for a ServerId the client already has", _BODIES,
         DuplicateItems, SYNC_COMMANDS),
)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in RULES)
