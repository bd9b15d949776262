"""Status tables (MS-ASCMD 2.2.2, 2.2.3.177.x; MS-ASPROV 2.2.2.54.x; MS-ASAIRS 2.2.2.37): meanings and outcomes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True, eq=False)
class StatusTable(Mapping[int, str]):
    """One spec table of Status codes: what each code means where it stands, and which codes are not failures.

    A table maps code -> meaning (in our own words), so `code in table` and `table.get(code)` read its own
    codes only; `meaning` also falls back to the common codes of MS-ASCMD 2.2.2 for codes of 101 and up.

    Attributes:
        name: a short name, e.g. "Sync collection".
        section: where the spec defines it, e.g. "MS-ASCMD 2.2.3.177.17".
        meanings: code -> meaning.
        ok: the codes that say the operation did what was asked, or that are the normal answer (Ping 1 and 2).
        warning: the codes that are no failure but need attention: the answer tells the client what to do
            next (provision, FolderSync, another heartbeat) or the result is partial. Every other code fails.
        note: what the reader should know about the table itself (codes other servers send).
    """

    name: str
    section: str
    meanings: Mapping[int, str] = field(repr=False)
    ok: frozenset[int] = frozenset({1})
    warning: frozenset[int] = frozenset()
    note: str = ""

    def __getitem__(self, code: int) -> str:
        return self.meanings[code]

    def __iter__(self) -> Iterator[int]:
        return iter(self.meanings)

    def __len__(self) -> int:
        return len(self.meanings)

    def __eq__(self, other: object) -> bool:
        return self is other  # tables that share meanings differ in name, section and outcomes

    def __hash__(self) -> int:
        return id(self)

    def source_of(self, code: int) -> StatusTable | None:
        """The table whose meaning and outcome apply to `code`: this one, the common codes (101 and up), or
        None when neither lists it."""
        if code in self.meanings:
            return self
        if code >= 101 and code in COMMON.meanings:
            return COMMON
        return None

    def meaning(self, code: int) -> str | None:
        """What `code` means here (own table first, then the common codes); None when neither lists it."""
        source = self.source_of(code)
        return source.meanings[code] if source is not None else None


def _table(
    name: str,
    section: str,
    meanings: dict[int, str],
    *,
    ok: frozenset[int] = frozenset({1}),
    warning: frozenset[int] = frozenset(),
    note: str = "",
) -> StatusTable:
    return StatusTable(name, section, MappingProxyType(meanings), ok, warning, note)


# Versions 2.5-12.1 answer an HTTP 4xx/5xx instead. 140 and 142-144 are warnings, like HTTP 449: the command
# was not run, and the client must run Provision, then retry; every other common code is a failure.
# MS-ASCMD 2.2.2 Common Status Codes (any command may answer these; 157-159 and 180-182 are not defined)
_COMMON_MEANINGS: dict[int, str] = {
    101: "invalid content: the body of the request is invalid (Content-Type, length, or missing body)",
    102: "invalid WBXML: the request contains WBXML that could not be decoded into XML",
    103: "invalid XML: the XML of the request does not follow the protocol requirements",
    104: "invalid date/time: a timestamp in the request could not be parsed",
    105: "invalid combination of IDs: the request contains a combination of parameters that is invalid",
    106: "invalid IDs: one or more IDs in the request could not be parsed",
    107: "invalid MIME: the MIME in the request could not be parsed",
    108: "device ID missing or invalid: send a proper DeviceId in the query",
    109: "device type missing or invalid: send a proper DeviceType in the query",
    110: "server error: an unknown error; the device should not retry later",
    111: "server error, retry later: an unknown error the device should retry later",
    112: "the server cannot read or write an object in the directory service (Active Directory access denied)",
    113: "mailbox quota exceeded: the mailbox has reached its size quota",
    114: "the mailbox server is offline",
    115: "send quota exceeded: the request would exceed the send quota",
    116: "a recipient could not be resolved to an email address",
    117: "the mailbox server will not allow a reply to this message",
    118: "the message was already sent (duplicate ClientId)",
    119: "the message being sent has no recipient",
    120: "the mail could not be submitted for sending",
    121: "the server failed to create a reply message",
    122: "the attachment is too large to be processed by this request",
    123: "the user has no mailbox",
    124: "the user cannot be anonymous: the request was sent without credentials",
    125: "the user (principal) was not found in the directory service",
    126: "the user is disabled for sync: this user is not allowed to use ActiveSync",
    127: "the server is configured to prevent users from syncing",
    128: "the server is configured to prevent users on legacy servers from syncing",
    129: "this device is blocked for this user: only some devices are allowed to sync",
    130: "access denied: the user is not allowed to perform that request",
    131: "the user's account is disabled",
    132: "sync state missing on the server: the client will have to sync again from SyncKey 0",
    133: "sync state locked on the server (the mailbox is being moved?): retry later",
    134: "sync state corrupt on the server: start again from SyncKey 0",
    135: "sync state already exists (two initial syncs at once)",
    136: "sync state version invalid on the server",
    137: "command not supported by this server",
    138: "version not supported: the command is not supported in this protocol version",
    139: "device not fully provisionable: the version cannot send all the policy settings enabled",
    140: "remote wipe requested: the client must send Provision to get the wipe, then acknowledge it",
    141: "legacy device on strict policy: a policy is in place but the device is not provisionable",
    142: "device not provisioned: the client must send Provision first",
    143: "policy refresh: the policy is refreshed; the client must send Provision again",
    144: "invalid policy key: the policy probably changed; the client must send Provision again",
    145: "externally managed devices are not allowed to sync",
    146: "no recurrence in calendar: the meeting occurrence forwarded has no recurrence",
    147: "unexpected item class: a type of item unknown to the server",
    148: "the remote server has no SSL: the request cannot be proxied to it",
    149: "invalid stored request: the stored request cannot be re-executed; send the full request",
    150: "item not found: the ItemId or InstanceId of the SmartReply/SmartForward was not found",
    151: "too many folders in the mailbox",
    152: "no folders found in the mailbox",
    153: "items lost after move: moved items could not be found in the destination folder",
    154: "failure in move operation: the mailbox server returned an unknown error",
    155: "move disallowed: an ItemOperations move of a conversation is missing MoveAlways",
    156: "invalid destination folder for the move",
    160: "availability: the maximum number of recipients was reached",
    161: "availability: the distribution list is larger than the service is configured to process (DL limit)",
    162: "availability: transient failure; retry later",
    163: "availability: failure",
    164: "the BodyPartPreference Type is not supported",
    165: "DeviceInformation element missing from the Provision request (14.1+)",
    166: "invalid AccountId",
    167: "sending is disabled for this AccountId",
    168: "IRM (Information Rights Management) feature disabled",
    169: "IRM (Information Rights Management) transient error: retry later",
    170: "IRM (Information Rights Management) permanent error",
    171: "IRM: invalid template ID",
    172: "IRM: operation not permitted",
    173: "no picture: the user does not have a contact photo",
    174: "picture too large: the contact photo exceeds MaxSize",
    175: "picture limit reached: more contact photos than MaxPictures",
    176: "the conversation is too large to compute its body parts: ask for the body without body parts",
    177: "maximum devices reached: the user has too many device partnerships; delete some on the server",
    178: "invalid MIME/body combination: SmartForward elements that cannot go with Forwardees or Body (16.0+)",
    179: "invalid SmartForward parameters: Forwardees or Body could not be parsed (16.0+)",
    183: "invalid recipients: a draft has no recipients or an address not in SMTP format (16.0+)",
    184: "one or more exceptions failed: not all exceptions of the calendar series were saved (16.0+)",
}
# MS-ASCMD 2.2.2 Common Status Codes
COMMON: StatusTable = _table(
    "common", "MS-ASCMD 2.2.2", _COMMON_MEANINGS, ok=frozenset(), warning=frozenset({140, 142, 143, 144}),
)

# MS-ASCMD 2.2.3.177.1 Status (Autodiscover), in the Error element; sent only on an error
AUTODISCOVER: StatusTable = _table("Autodiscover", "MS-ASCMD 2.2.3.177.1", {
    1: "success",
    2: "protocol error",
})

# One table whose codes have a scope; the collection (and the optional top-level Sync Status) reads all of them.
# 14: the Sync was processed, only the interval is out of range. 12 and 13: the client must run FolderSync, or
# resend the full request, then sync again: warnings.
# MS-ASCMD 2.2.3.177.17 Status (Sync)
_SYNC_MEANINGS: dict[int, str] = {
    1: "success",
    3: "invalid synchronization key: the client must start again from SyncKey 0 for this collection",
    4: "protocol error: a semantic error in the request; fix it before retrying",
    5: "server error, often transient: retry the Sync",
    6: "error in client/server conversion: the client sent a malformed or invalid item",
    7: "conflict: the server's version of the item won",
    8: "object not found: the item or collection no longer exists on the server",
    9: "the Sync cannot be completed (the mailbox may be out of space)",
    12: "the folder hierarchy has changed: send FolderSync, then Sync again",
    13: "the Sync request is not complete: the cached request is missing; send the full Sync request",
    14: "invalid Wait or HeartbeatInterval: the Sync ran; use the value in Limit next time",
    15: "invalid Sync request: too many collections",
    16: "retry: a retriable error on the server; resend the request",
}
SYNC: StatusTable = _table(
    "Sync", "MS-ASCMD 2.2.3.177.17", _SYNC_MEANINGS, warning=frozenset({12, 13, 14}),
)
SYNC_COLLECTION: StatusTable = _table(
    "Sync collection", "MS-ASCMD 2.2.3.177.17", _SYNC_MEANINGS, warning=frozenset({12, 13, 14}),
)

# The item-scope codes, with 1 and 5 (servers answer a server error per item too). 7: the change was
# overwritten, not an error.
# MS-ASCMD 2.2.3.177.17 Status (Sync) of an Add, Change, Delete or Fetch in Responses
SYNC_ITEM: StatusTable = _table("Sync item", "MS-ASCMD 2.2.3.177.17", {
    1: "success",
    4: "protocol error for this item: fix the item before retrying",
    5: "server error for this item: retry",
    6: "the item could not be converted: it is malformed or invalid; stop sending it",
    7: "conflict: the server's version of this item won; the client's change was overwritten",
    8: "item not found on the server (deleted?): drop the client's change",
    9: "the item could not be saved: the Sync cannot be completed (the mailbox may be out of space)",
}, warning=frozenset({7}))

# MS-ASCMD 2.2.3.177.5 Status (FolderSync)
FOLDER_SYNC: StatusTable = _table("FolderSync", "MS-ASCMD 2.2.3.177.5", {
    1: "success",
    6: "server error: retry FolderSync; if it keeps failing, start again from SyncKey 0",
    9: "invalid or mismatched synchronization key: start again with FolderSync SyncKey 0",
    10: "incorrectly formatted request: fix the request",
    11: "an unknown error occurred: retry FolderSync",
    12: "code unknown: an unusual back-end issue",
})

# MS-ASCMD 2.2.3.177.3 Status (FolderCreate)
FOLDER_CREATE: StatusTable = _table("FolderCreate", "MS-ASCMD 2.2.3.177.3", {
    1: "success",
    2: "a folder with this name already exists under this parent: pick another name",
    3: "the parent is a special system folder (Recipient information): create the folder elsewhere",
    5: "the parent folder was not found: send FolderSync",
    6: "server error: retry",
    9: "invalid or mismatched synchronization key: send FolderSync with SyncKey 0",
    10: "malformed request (e.g. creating a default folder such as Inbox)",
    11: "an unknown error occurred",
    12: "code unknown: an unusual back-end issue",
})

# MS-ASCMD 2.2.3.177.6 Status (FolderUpdate): no 12
FOLDER_UPDATE: StatusTable = _table("FolderUpdate", "MS-ASCMD 2.2.3.177.6", {
    1: "success",
    2: "a folder with that name already exists, or the folder is a special folder",
    3: "the folder is the Recipient information folder, which cannot be updated",
    4: "the folder does not exist: send FolderSync",
    5: "the parent folder was not found: send FolderSync",
    6: "server error: retry",
    9: "invalid or mismatched synchronization key: send FolderSync with SyncKey 0",
    10: "incorrectly formatted request",
    11: "an unknown error occurred (an unusual back-end issue)",
})

# MS-ASCMD 2.2.3.177.4 Status (FolderDelete): no 12
FOLDER_DELETE: StatusTable = _table("FolderDelete", "MS-ASCMD 2.2.3.177.4", {
    1: "success",
    3: "the folder is a special system folder and cannot be deleted",
    4: "the folder does not exist: send FolderSync",
    6: "server error: retry",
    9: "invalid or mismatched synchronization key: send FolderSync with SyncKey 0",
    10: "incorrectly formatted request",
    11: "an unknown error occurred (an unusual back-end issue)",
})

# MS-ASCMD 2.2.3.177.7 Status (GetItemEstimate): global (GetItemEstimate) or per collection (Response)
_GET_ITEM_ESTIMATE_MEANINGS: dict[int, str] = {
    1: "success",
    2: "a collection was invalid or a collection ID was invalid: send FolderSync",
    3: "sync state not primed: send Sync (SyncKey 0, then the first key) before asking an estimate",
    4: "the synchronization key was invalid: Sync successfully first, or return to SyncKey 0",
}
GET_ITEM_ESTIMATE: StatusTable = _table("GetItemEstimate", "MS-ASCMD 2.2.3.177.7", _GET_ITEM_ESTIMATE_MEANINGS)
GET_ITEM_ESTIMATE_RESPONSE: StatusTable = _table(
    "GetItemEstimate response", "MS-ASCMD 2.2.3.177.7", _GET_ITEM_ESTIMATE_MEANINGS,
)

# One table for the command and each Fetch, Move and EmptyFolderContents; 13 is not defined; 155 and 156
# have meanings of their own here. 17, partial success, is a warning.
# MS-ASCMD 2.2.3.177.8 Status (ItemOperations)
_ITEM_OPERATIONS_MEANINGS: dict[int, str] = {
    1: "success",
    2: "protocol error: protocol violation or XML validation error",
    3: "server error",
    4: "document library: the specified URI is bad",
    5: "document library: access denied",
    6: "document library: the object was not found or access denied",
    7: "document library: failed to connect to the server",
    8: "the byte-range is invalid or too large",
    9: "the store is unknown or unsupported",
    10: "the file is empty",
    11: "the requested data size is too large",
    12: "failed to download the file: input/output (I/O) failure",
    14: "mailbox fetch: the item failed conversion",
    15: "invalid attachment or attachment id",
    16: "access to the resource is denied",
    17: "partial success: the Fetch, Move or EmptyFolderContents completed partially",
    18: "credentials required",
    155: "protocol error: the Options and MoveAlways elements are missing from the ItemOperations request",
    156: "action not supported: the destination folder must be of type IPF.Note",
}
ITEM_OPERATIONS: StatusTable = _table(
    "ItemOperations", "MS-ASCMD 2.2.3.177.8", _ITEM_OPERATIONS_MEANINGS, warning=frozenset({17}),
)
ITEM_OPERATIONS_FETCH: StatusTable = _table(
    "ItemOperations Fetch", "MS-ASCMD 2.2.3.177.8", _ITEM_OPERATIONS_MEANINGS, warning=frozenset({17}),
)
ITEM_OPERATIONS_MOVE: StatusTable = _table(
    "ItemOperations Move", "MS-ASCMD 2.2.3.177.8", _ITEM_OPERATIONS_MEANINGS, warning=frozenset({17}),
)
ITEM_OPERATIONS_EMPTY_FOLDER: StatusTable = _table(
    "ItemOperations EmptyFolderContents", "MS-ASCMD 2.2.3.177.8", _ITEM_OPERATIONS_MEANINGS,
    warning=frozenset({17}),
)

# MS-ASCMD 2.2.3.177.9 Status (MeetingResponse), in each Result
MEETING_RESPONSE: StatusTable = _table("MeetingResponse result", "MS-ASCMD 2.2.3.177.9", {
    1: "success",
    2: "invalid meeting request: the item is not a meeting request or cannot be answered; stop sending it",
    3: "an error occurred on the server mailbox: retry later",
    4: "an error occurred on the server: retry later",
})

# Success is 3; 6 is not defined. In each Response, and optionally at the top level.
# MS-ASCMD 2.2.3.177.10 Status (MoveItems)
_MOVE_ITEMS_MEANINGS: dict[int, str] = {
    1: "invalid source collection ID or item ID: send FolderSync, then Sync the source",
    2: "invalid destination collection ID: send FolderSync",
    3: "success",
    4: "source and destination collection IDs are the same",
    5: "the item cannot be moved to more than one destination, or the item was locked",
    7: "the source or destination item was locked: retry",
}
MOVE_ITEMS: StatusTable = _table("MoveItems", "MS-ASCMD 2.2.3.177.10", _MOVE_ITEMS_MEANINGS, ok=frozenset({3}))
MOVE_ITEMS_RESPONSE: StatusTable = _table(
    "MoveItems response", "MS-ASCMD 2.2.3.177.10", _MOVE_ITEMS_MEANINGS, ok=frozenset({3}),
)

# 1 and 2 are the normal answers. 3, 5 and 7 ask the client to resend the full Ping, use the interval
# returned, or run FolderSync first: warnings, not failures.
# MS-ASCMD 2.2.3.177.11 Status (Ping)
PING: StatusTable = _table("Ping", "MS-ASCMD 2.2.3.177.11", {
    1: "the heartbeat interval expired with no changes: send Ping again",
    2: "changes in the folders listed: Sync those folders, then Ping again",
    3: "the Ping request omitted required parameters: send the full Ping",
    4: "syntax error in the Ping request: fix it",
    5: "the heartbeat interval is outside the allowed range: use the HeartbeatInterval returned",
    6: "more than the allowed number of folders to monitor: monitor at most MaxFolders",
    7: "folder hierarchy sync required: send FolderSync",
    8: "an error occurred on the server: retry the Ping",
}, ok=frozenset({1, 2}), warning=frozenset({3, 5, 7}))

# Microsoft defines 1, 2 and 3. 4 is not Microsoft's: z-push and grommunio-sync answer it for a device
# managed externally (a warning).
# MS-ASPROV 2.2.2.54.2 Status (Provision)
PROVISION: StatusTable = _table("Provision", "MS-ASPROV 2.2.2.54.2", {
    1: "success",
    2: "protocol error: a syntax error in the Provision request",
    3: "an error occurred on the server (general server error): retry",
    4: "the device is managed externally (not a Microsoft code: z-push and grommunio-sync send it)",
}, warning=frozenset({4}), note="4 is not in MS-ASPROV; z-push and grommunio-sync send it")

# MS-ASPROV 2.2.2.54.1 Status (Policy), in a server response. 2: no policy of that type: nothing to apply.
PROVISION_POLICY: StatusTable = _table("Provision Policy", "MS-ASPROV 2.2.2.54.1", {
    1: "success: the policy follows",
    2: "no policy for this client: nothing to apply (no PolicyKey needed)",
    3: "unknown PolicyType value: ask for MS-EAS-Provisioning-WBXML",
    4: "the policy data on the server is corrupted",
    5: "the client is acknowledging the wrong policy key: send Provision again",
}, ok=frozenset({1, 2}))

# MS-ASPROV 2.2.2.54.1 Status (Policy), in a client acknowledgment
PROVISION_POLICY_ACK: StatusTable = _table("Provision Policy acknowledgment", "MS-ASPROV 2.2.2.54.1", {
    1: "success: the client applied the policy",
    2: "partial success: the client applied the policy in part (at least the PIN)",
    3: "the client did not apply the policy at all",
    4: "the client claims to have been provisioned by a third party",
}, warning=frozenset({2, 4}))

# MS-ASPROV 2.2.2.54.3 Status (RemoteWipe, AccountOnlyRemoteWipe), in a client acknowledgment
PROVISION_REMOTE_WIPE_ACK: StatusTable = _table("RemoteWipe acknowledgment", "MS-ASPROV 2.2.2.54.3", {
    1: "the client remote wipe operation was successful",
    2: "the remote wipe operation failed",
})

# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), child of ResolveRecipients
RESOLVE_RECIPIENTS: StatusTable = _table("ResolveRecipients", "MS-ASCMD 2.2.3.177.12", {
    1: "success",
    5: "protocol error: an invalid parameter, or the range exceeded limits",
    6: "an error occurred on the server: retry",
})

# An ambiguous recipient comes with suggestions to pick from: a normal answer. No match at all is a warning.
# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), child of Response (per recipient asked)
RESOLVE_RECIPIENTS_RESPONSE: StatusTable = _table("ResolveRecipients Response", "MS-ASCMD 2.2.3.177.12", {
    1: "the recipient was resolved successfully",
    2: "ambiguous: several matches; the user picks one of the suggestions returned",
    3: "ambiguous, partial list of suggestions: more matches than returned (RecipientCount has the total)",
    4: "the recipient did not resolve to any contact or GAL entry",
}, ok=frozenset({1, 2, 3}), warning=frozenset({4}))

# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), child of Certificates
RESOLVE_RECIPIENTS_CERTIFICATES: StatusTable = _table(
    "ResolveRecipients Certificates", "MS-ASCMD 2.2.3.177.12", {
        1: "one or more certificates were returned",
        7: "the recipient does not have a valid S/MIME certificate",
        8: "the global certificate limit was reached: this recipient's certificate was not returned",
    }, warning=frozenset({7, 8}),
)

# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), child of Availability
RESOLVE_RECIPIENTS_AVAILABILITY: StatusTable = _table(
    "ResolveRecipients Availability", "MS-ASCMD 2.2.3.177.12", {
        1: "free/busy data was retrieved for this recipient",
        160: "the maximum number of recipients for availability was reached",
        161: "the distribution group has more than 20 recipients",
        162: "free/busy data could not be retrieved: a temporary failure; retry",
        163: "free/busy data could not be retrieved for this recipient (no permission): do not retry",
    },
)

# No photo is a normal answer; a photo left out for a limit is a warning.
# MS-ASCMD 2.2.3.177.12 / 2.2.3.177.13 Status of a Picture (ResolveRecipients, Search GAL)
_PICTURE_MEANINGS: dict[int, str] = {
    1: "the contact photo was retrieved",
    173: "the user does not have a contact photo",
    174: "the contact photo exceeded the size limit set by MaxSize",
    175: "the number of contact photos exceeded the limit set by MaxPictures",
}
RESOLVE_RECIPIENTS_PICTURE: StatusTable = _table(
    "ResolveRecipients Picture", "MS-ASCMD 2.2.3.177.12", _PICTURE_MEANINGS,
    ok=frozenset({1, 173}), warning=frozenset({174, 175}),
)
SEARCH_PICTURE: StatusTable = _table(
    "Search Picture", "MS-ASCMD 2.2.3.177.13", _PICTURE_MEANINGS,
    ok=frozenset({1, 173}), warning=frozenset({174, 175}),
)

# MS-ASCMD 2.2.3.177.13 Status (Search), child of Search: 1 and 3
SEARCH: StatusTable = _table("Search", "MS-ASCMD 2.2.3.177.13", {
    1: "success",
    3: "server error: retry the Search",
})

# 9 is not defined. 11 asks for a FolderSync first, 12 says the range asked lies past the last result:
# warnings.
# MS-ASCMD 2.2.3.177.13 Status (Search), child of Store
SEARCH_STORE: StatusTable = _table("Search Store", "MS-ASCMD 2.2.3.177.13", {
    1: "success",
    2: "the request was invalid: a search parameter was invalid",
    3: "an error occurred on the server: retry",
    4: "bad link (document library)",
    5: "access denied",
    6: "not found",
    7: "connection failed to the resource",
    8: "the query was too complex: simplify it",
    10: "the search timed out",
    11: "FolderSync required: the folder hierarchy is out of date",
    12: "end of retrievable range: no more results can be fetched",
    13: "access blocked to the resource",
    14: "credentials required",
}, warning=frozenset({11, 12}))

# Common codes only, sent only when the command failed: no code of their own is a success.
# MS-ASCMD 2.2.3.177.14 / 2.2.3.177.16 Status (SendMail, SmartForward, SmartReply)
_COMPOSE_MAIL_MEANINGS: dict[int, str] = {}
SEND_MAIL: StatusTable = _table("SendMail", "MS-ASCMD 2.2.3.177.14", _COMPOSE_MAIL_MEANINGS, ok=frozenset())
SMART_FORWARD: StatusTable = _table(
    "SmartForward", "MS-ASCMD 2.2.3.177.16", _COMPOSE_MAIL_MEANINGS, ok=frozenset(),
)
SMART_REPLY: StatusTable = _table("SmartReply", "MS-ASCMD 2.2.3.177.16", _COMPOSE_MAIL_MEANINGS, ok=frozenset())

# MS-ASCMD 2.2.3.177.15 Status (Settings), child of Settings: any value but 1 is a failure
SETTINGS: StatusTable = _table("Settings", "MS-ASCMD 2.2.3.177.15", {
    1: "success",
    2: "protocol error",
    3: "access denied",
    4: "server unavailable: retry later",
    5: "invalid arguments",
    6: "conflicting arguments",
    7: "denied by policy",
})

# Of a RightsManagementInformation Get, Oof Get or Set, DeviceInformation Set or UserInformation Get:
# MS-ASCMD 2.2.3.177.15 Status (Settings)
_SETTINGS_OPERATION_MEANINGS: dict[int, str] = {
    1: "success",
    2: "protocol error: the XML is formatted incorrectly",
    5: "invalid arguments",
    6: "conflicting arguments",
}
SETTINGS_OOF: StatusTable = _table("Settings Oof", "MS-ASCMD 2.2.3.177.15", _SETTINGS_OPERATION_MEANINGS)
SETTINGS_DEVICE_INFORMATION: StatusTable = _table(
    "Settings DeviceInformation", "MS-ASCMD 2.2.3.177.15", _SETTINGS_OPERATION_MEANINGS,
)
SETTINGS_USER_INFORMATION: StatusTable = _table(
    "Settings UserInformation", "MS-ASCMD 2.2.3.177.15", _SETTINGS_OPERATION_MEANINGS,
)
SETTINGS_RIGHTS_MANAGEMENT: StatusTable = _table(
    "Settings RightsManagementInformation", "MS-ASCMD 2.2.3.177.15", _SETTINGS_OPERATION_MEANINGS,
)

# MS-ASCMD 2.2.3.177.15 Status (Settings) of a DevicePassword Set
SETTINGS_DEVICE_PASSWORD: StatusTable = _table("Settings DevicePassword", "MS-ASCMD 2.2.3.177.15", {
    1: "success",
    2: "protocol error: the XML is formatted incorrectly",
    5: "invalid arguments: the password is too long",
    7: "denied by policy: the administrator has disabled password recovery",
})

# One table for the command (1 success, 17 failure) and each Certificate. A certificate found not valid (3-16)
# is the answer asked for: a warning, not a failed command.
# MS-ASCMD 2.2.3.177.18 Status (ValidateCert)
_VALIDATE_CERT_MEANINGS: dict[int, str] = {
    1: "success: the certificate is valid",
    2: "protocol error: parameters out of range or invalid",
    3: "the signature in the digital ID cannot be validated",
    4: "the digital ID was issued by an untrusted source",
    5: "the certificate chain that contains the digital ID was not created correctly",
    6: "the digital ID is not valid for signing email messages",
    7: "the digital ID has expired or is not yet valid",
    8: "the time periods of the digital IDs in the chain are not consistent",
    9: "a digital ID in the certificate chain is used incorrectly (not valid for this use)",
    10: "information associated with the digital ID is missing or incorrect",
    11: "a digital ID in the certificate chain is used incorrectly (an end-entity used as a CA)",
    12: "the digital ID does not match the recipient's email address",
    13: "the digital ID has been revoked",
    14: "the revocation server cannot be contacted: validity cannot be determined; retry later",
    15: "a digital ID in the chain has been revoked by the authority that issued it",
    16: "the revocation status of the digital ID cannot be determined",
    17: "an unknown server error has occurred",
}
VALIDATE_CERT: StatusTable = _table("ValidateCert", "MS-ASCMD 2.2.3.177.18", _VALIDATE_CERT_MEANINGS)
VALIDATE_CERT_CERTIFICATE: StatusTable = _table(
    "ValidateCert Certificate", "MS-ASCMD 2.2.3.177.18", _VALIDATE_CERT_MEANINGS,
    warning=frozenset(range(3, 17)),
)

# MS-ASCMD 2.2.3.177.2 Status (Find): 1-3 as a child of Find, 1, 2 and 4 as a child of Response (16.1)
FIND: StatusTable = _table("Find", "MS-ASCMD 2.2.3.177.2", {
    1: "success",
    2: "the request was invalid: a search parameter was invalid",
    3: "folder hierarchy out of date: send FolderSync",
}, warning=frozenset({3}))
FIND_RESPONSE: StatusTable = _table("Find response", "MS-ASCMD 2.2.3.177.2", {
    1: "success",
    2: "the request was invalid: a search parameter was invalid",
    4: "StartWithRangeZero: the requested range must begin with 0",
})

# MS-ASAIRS 2.2.2.37 Status (BodyPart): the conversation body part of a Sync or ItemOperations item
BODY_PART: StatusTable = _table("BodyPart", "MS-ASAIRS 2.2.2.37", {
    1: "success: the body part follows",
    176: "the message part is too large: ask for the item's body instead of its body parts",
}, warning=frozenset({176}))

# A Status in a document of a command none of the tables above knows (MS-ASCMD 2.2.2 for codes 101 and up)
UNKNOWN_COMMAND: StatusTable = _table("Status", "MS-ASCMD 2.2.2", {}, ok=frozenset())

# The command's own table, by command name (the key the CLI, the store and `status_meaning` use).
BY_COMMAND: Mapping[str, StatusTable] = MappingProxyType({
    "Autodiscover": AUTODISCOVER,
    "Sync": SYNC,
    "FolderSync": FOLDER_SYNC,
    "FolderCreate": FOLDER_CREATE,
    "FolderUpdate": FOLDER_UPDATE,
    "FolderDelete": FOLDER_DELETE,
    "GetItemEstimate": GET_ITEM_ESTIMATE,
    "ItemOperations": ITEM_OPERATIONS,
    "MeetingResponse": MEETING_RESPONSE,
    "MoveItems": MOVE_ITEMS,
    "Ping": PING,
    "Provision": PROVISION,
    "ResolveRecipients": RESOLVE_RECIPIENTS,
    "Search": SEARCH,
    "Settings": SETTINGS,
    "SendMail": SEND_MAIL,
    "SmartReply": SMART_REPLY,
    "SmartForward": SMART_FORWARD,
    "ValidateCert": VALIDATE_CERT,
    "Find": FIND,
})

# The nested tables, by (command, the Status element's parent): the parents MS-ASCMD 2.2.3.177.x and
# MS-ASPROV 2.2.2.54.x name
BY_PLACE: Mapping[tuple[str, str], StatusTable] = MappingProxyType({
    ("Sync", "Collection"): SYNC_COLLECTION,
    ("Sync", "Add"): SYNC_ITEM,
    ("Sync", "Change"): SYNC_ITEM,
    ("Sync", "Delete"): SYNC_ITEM,
    ("Sync", "Fetch"): SYNC_ITEM,
    ("GetItemEstimate", "Response"): GET_ITEM_ESTIMATE_RESPONSE,
    ("ItemOperations", "Fetch"): ITEM_OPERATIONS_FETCH,
    ("ItemOperations", "Move"): ITEM_OPERATIONS_MOVE,
    ("ItemOperations", "EmptyFolderContents"): ITEM_OPERATIONS_EMPTY_FOLDER,
    ("MoveItems", "Response"): MOVE_ITEMS_RESPONSE,
    ("Provision", "Policy"): PROVISION_POLICY,
    ("Provision", "RemoteWipe"): PROVISION_REMOTE_WIPE_ACK,
    ("Provision", "AccountOnlyRemoteWipe"): PROVISION_REMOTE_WIPE_ACK,
    ("ResolveRecipients", "Response"): RESOLVE_RECIPIENTS_RESPONSE,
    ("ResolveRecipients", "Certificates"): RESOLVE_RECIPIENTS_CERTIFICATES,
    ("ResolveRecipients", "Availability"): RESOLVE_RECIPIENTS_AVAILABILITY,
    ("ResolveRecipients", "Picture"): RESOLVE_RECIPIENTS_PICTURE,
    ("Search", "Store"): SEARCH_STORE,
    ("Search", "Picture"): SEARCH_PICTURE,
    ("Settings", "Oof"): SETTINGS_OOF,
    ("Settings", "DeviceInformation"): SETTINGS_DEVICE_INFORMATION,
    ("Settings", "UserInformation"): SETTINGS_USER_INFORMATION,
    ("Settings", "RightsManagementInformation"): SETTINGS_RIGHTS_MANAGEMENT,
    ("Settings", "DevicePassword"): SETTINGS_DEVICE_PASSWORD,
    ("ValidateCert", "Certificate"): VALIDATE_CERT_CERTIFICATE,
    ("Find", "Response"): FIND_RESPONSE,
})

# The tables of a Status the client sends (MS-ASPROV 2.2.2.54.1: the Policy Status of an acknowledgment)
BY_PLACE_IN_REQUEST: Mapping[tuple[str, str], StatusTable] = MappingProxyType({
    ("Provision", "Policy"): PROVISION_POLICY_ACK,
})


def status_table_for(command: str | None, path: str, *, in_request: bool = False) -> StatusTable:
    """The table a Status element is read with, chosen by the command and the element's place.

    Args:
        command: the EAS command (`Sync`...); None or unknown: the first name of `path` (the root element).
        path: the element path of local names, e.g. "Sync/Collections/Collection/Status"; what matters is
            the Status element's parent (and the root, when `command` names no known command).
        in_request: the Status is in a client request (a Provision acknowledgment) rather than a response.
    Returns:
        The table (UNKNOWN_COMMAND when neither the command nor the root names a known command).
    """
    names = path.split("/")
    family = command if command is not None and command in BY_COMMAND else names[0]
    parent = names[-2] if len(names) >= 2 else ""
    if parent == "BodyPart":  # MS-ASAIRS: the same element under Sync and ItemOperations
        return BODY_PART
    if in_request:
        found = BY_PLACE_IN_REQUEST.get((family, parent))
        if found is not None:
            return found
    found = BY_PLACE.get((family, parent))
    if found is None:
        found = BY_COMMAND.get(family, UNKNOWN_COMMAND)  # (an empty table is falsy: no `or` here)
    return found
