"""Status code meanings per command (MS-ASCMD 2.2.2, 2.2.3.177.x; MS-ASPROV 2.2.2.54), in our own words."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

StatusTable = Mapping[int, str]


def _table(entries: dict[int, str]) -> StatusTable:
    return MappingProxyType(entries)


# MS-ASCMD 2.2.2 Common Status Codes (any command may answer these; 157-159 are not defined)
COMMON: StatusTable = _table({
    101: "invalid content: the request body could not be understood; fix the request, do not resend it as is",
    102: "invalid WBXML: the body could not be decoded as WBXML; fix the encoder",
    103: "invalid XML: the decoded request breaks the command's schema; fix the request",
    104: "invalid date/time: a date in the request could not be parsed",
    105: "invalid combination of IDs: parameters that cannot go together (e.g. both an item and a folder id)",
    106: "invalid IDs: an id in the request could not be parsed",
    107: "invalid MIME: the MIME content could not be parsed",
    108: "device id missing or invalid: send a proper DeviceId in the query",
    109: "device type missing or invalid: send a proper DeviceType in the query",
    110: "server error: unknown failure; the client should not retry soon",
    111: "server error, retry later: a transient failure; retry after a delay",
    112: "the server could not read or write the directory (Active Directory access denied)",
    113: "mailbox quota exceeded: the user must free space before more items can be stored",
    114: "the mailbox server is offline",
    115: "send quota exceeded: the message cannot be sent now",
    116: "a recipient could not be resolved to an email address",
    117: "replying to this message is not allowed",
    118: "the message was already sent (duplicate ClientId)",
    119: "the message has no recipient",
    120: "the mail could not be submitted for sending",
    121: "the reply could not be created",
    122: "an attachment is too large",
    123: "the user has no mailbox",
    124: "anonymous users cannot sync: authenticate",
    125: "the user account (principal) was not found",
    126: "the user is disabled for ActiveSync",
    127: "the user is on a newer mailbox server than this endpoint can serve",
    128: "the user is on a legacy mailbox server this endpoint cannot serve",
    129: "this device is blocked for this user (device access rules)",
    130: "access denied",
    131: "the account is disabled",
    132: "sync state not found on the server: the client should sync again from SyncKey 0 (FolderSync first)",
    133: "sync state locked by another request: retry later",
    134: "sync state corrupt on the server: start again from SyncKey 0",
    135: "sync state already exists",
    136: "sync state version invalid",
    137: "command not supported by this server or for this version",
    138: "protocol version not supported: pick one from MS-ASProtocolVersions",
    139: "the device cannot satisfy the policy: it cannot be fully provisioned",
    140: "remote wipe requested: the client must send Provision and wipe",
    141: "legacy device on a strict policy: the device is too old for the policy",
    142: "device not provisioned: the client must send Provision first",
    143: "policy refresh: the policy changed; the client must send Provision again",
    144: "invalid policy key: the client must send Provision again to get a new key",
    145: "externally managed devices are not allowed",
    146: "no recurrence in calendar: the meeting has no recurrence for the instance asked",
    147: "unexpected item class for this folder",
    148: "the remote server has no TLS/SSL",
    149: "invalid stored request: the cached request (empty Sync/Ping) is missing; send the full request",
    150: "item not found",
    151: "too many folders",
    152: "no folders found",
    153: "items were lost after a move",
    154: "the move failed",
    155: "move not allowed for a non-persistent move action",
    156: "invalid destination folder for the move",
    160: "availability: too many recipients asked (more than 100)",
    161: "availability: distribution list expansion limit reached",
    162: "availability: transient failure; retry later",
    163: "availability: failure",
    164: "the body part preference type is not supported",
    165: "device information required: the client must send Settings DeviceInformation (Provision in 14.1+)",
    166: "invalid account id",
    167: "sending is disabled for this account",
    168: "IRM (rights management) is disabled on the server",
    169: "IRM transient error: retry later",
    170: "IRM permanent error",
    171: "IRM: invalid template id",
    172: "IRM: operation not permitted",
    173: "no picture for this contact",
    174: "the picture is larger than the limit asked",
    175: "the number of pictures reached the limit asked",
    176: "the conversation is too large to return its body parts",
    177: "the user reached the maximum number of devices: remove old partnerships",
})

# MS-ASCMD 2.2.3.177.17 Status (Sync): Sync, Collection level
SYNC: StatusTable = _table({
    1: "success",
    3: "invalid synchronization key: the client must start again from SyncKey 0 for this collection",
    4: "protocol error: the request breaks the spec; fix it before retrying",
    5: "server error, often transient: retry the Sync",
    6: "error converting the item between client and server: the item sent is malformed",
    7: "conflict: the server's version of the item won; resync it",
    8: "object not found: the item or collection no longer exists on the server",
    9: "the Sync cannot be completed (e.g. the mailbox is full): retry later",
    12: "folder hierarchy changed: send FolderSync, then Sync again",
    13: "incomplete Sync request: the cached request is missing; send the full Sync request",
    14: "invalid Wait or HeartbeatInterval: use the value in Limit",
    15: "invalid Sync request (too many collections, or a bad combination)",
    16: "retry: a transient server condition; resend the same request",
})

# MS-ASCMD 2.2.3.177.17 Status (Sync): Add, Change, Delete, Fetch in Responses (item scope)
SYNC_ITEM: StatusTable = _table({
    1: "success",
    4: "protocol error for this item: fix the item before retrying",
    5: "server error for this item: retry",
    6: "the item could not be converted: it is malformed or invalid; fix and resend",
    7: "conflict: the server's version of this item won; take the server's copy",
    8: "item not found on the server (deleted?): drop the client's change",
    9: "the item could not be saved (e.g. the mailbox is full)",
})

# MS-ASCMD 2.2.3.177.5 Status (FolderSync)
FOLDER_SYNC: StatusTable = _table({
    1: "success",
    6: "server error: retry FolderSync; if it keeps failing, start again from SyncKey 0",
    9: "invalid or mismatched synchronization key: start again with FolderSync SyncKey 0",
    10: "malformed request: fix the request",
    11: "unknown error: retry later",
    12: "unusual back-end issue: retry later",
})

# MS-ASCMD 2.2.3.177.3 Status (FolderCreate)
FOLDER_CREATE: StatusTable = _table({
    1: "success",
    2: "a folder with this name already exists under this parent: pick another name",
    3: "the parent is a special system folder: create the folder elsewhere",
    5: "the parent folder was not found: send FolderSync",
    6: "server error: retry",
    9: "invalid or mismatched synchronization key: send FolderSync",
    10: "malformed request (e.g. creating a default folder such as Inbox)",
    11: "unknown error: retry later",
    12: "unusual back-end issue: retry later",
})

# MS-ASCMD 2.2.3.177.6 Status (FolderUpdate)
FOLDER_UPDATE: StatusTable = _table({
    1: "success",
    2: "a folder with this name already exists, or the folder is special",
    3: "the folder is a special system folder and cannot be updated",
    4: "the folder does not exist: send FolderSync",
    5: "the parent folder was not found: send FolderSync",
    6: "server error: retry",
    9: "invalid or mismatched synchronization key: send FolderSync",
    10: "malformed request",
    11: "unknown error: retry later",
    12: "unusual back-end issue: retry later",
})

# MS-ASCMD 2.2.3.177.4 Status (FolderDelete)
FOLDER_DELETE: StatusTable = _table({
    1: "success",
    3: "the folder is a special system folder and cannot be deleted",
    4: "the folder does not exist: send FolderSync",
    6: "server error: retry",
    9: "invalid or mismatched synchronization key: send FolderSync",
    10: "malformed request",
    11: "unknown error: retry later",
    12: "unusual back-end issue: retry later",
})

# MS-ASCMD 2.2.3.177.7 Status (GetItemEstimate)
GET_ITEM_ESTIMATE: StatusTable = _table({
    1: "success",
    2: "a collection does not exist or is invalid: send FolderSync",
    3: "sync state not primed: send Sync (SyncKey 0, then the first key) before asking an estimate",
    4: "invalid or mismatched synchronization key: resync the collection",
})

# MS-ASCMD 2.2.3.177.8 Status (ItemOperations); 13 is not defined
ITEM_OPERATIONS: StatusTable = _table({
    1: "success",
    2: "protocol error: the request breaks the schema",
    3: "server error: retry",
    4: "document library: the URI is bad",
    5: "document library: access denied",
    6: "document library: object not found or access denied",
    7: "document library: could not connect to the server",
    8: "the byte range is invalid or too large",
    9: "the store is unknown or not supported",
    10: "the file is empty",
    11: "the data asked is too large",
    12: "download failed (input/output failure)",
    14: "the item failed conversion",
    15: "invalid attachment or attachment id",
    16: "access to the resource is denied (blocked)",
    17: "partial success: the operation completed only in part",
    18: "credentials required (document library)",
})

# MS-ASCMD 2.2.3.177.9 Status (MeetingResponse)
MEETING_RESPONSE: StatusTable = _table({
    1: "success",
    2: "invalid meeting request: the item is not a meeting request or cannot be answered",
    3: "error in the mailbox: retry later",
    4: "server error: retry later",
})

# MS-ASCMD 2.2.3.177.10 Status (MoveItems); 6 is not defined
MOVE_ITEMS: StatusTable = _table({
    1: "invalid source collection id, or the item is not in that folder: send FolderSync/Sync",
    2: "invalid destination collection id: send FolderSync",
    3: "success",
    4: "source and destination are the same folder",
    5: "the move failed (e.g. several destinations, or the item cannot move): retry later",
    7: "the source or destination item is locked: retry later",
})

# MS-ASCMD 2.2.3.177.11 Status (Ping)
PING: StatusTable = _table({
    1: "heartbeat expired with no change: send Ping again",
    2: "changes in the folders listed: Sync those folders, then Ping again",
    3: "the Ping needs parameters it does not have (cached ones missing): send the full Ping",
    4: "protocol error in the Ping request: fix it",
    5: "heartbeat interval out of range: use the HeartbeatInterval returned",
    6: "too many folders: monitor at most MaxFolders folders",
    7: "folder hierarchy changed or a folder is unknown: send FolderSync",
    8: "server error: retry the Ping",
})

# MS-ASPROV 2.2.2.54.2 Status (Provision)
PROVISION: StatusTable = _table({
    1: "success",
    2: "protocol error: the Provision request is malformed",
    3: "general server error: retry later",
    4: "the device is managed externally (by a third party)",
})

# MS-ASPROV 2.2.2.54.1 Status (Policy), in a server response
PROVISION_POLICY: StatusTable = _table({
    1: "success: the policy follows",
    2: "no policy for this client: nothing to apply (no PolicyKey needed)",
    3: "unknown PolicyType: ask for MS-EAS-Provisioning-WBXML",
    4: "the policy data on the server is corrupt",
    5: "the client acknowledged the wrong policy key: start the Provision again",
})

# MS-ASPROV 2.2.2.54.1 Status (Policy), in a client acknowledgment
PROVISION_POLICY_ACK: StatusTable = _table({
    1: "the client applied the policy",
    2: "the client applied the policy in part (at least the PIN)",
    3: "the client did not apply the policy",
    4: "the client says a third party provisioned it",
})

# MS-ASPROV 2.2.2.54.3 Status (RemoteWipe), in a client acknowledgment
PROVISION_REMOTE_WIPE_ACK: StatusTable = _table({
    1: "the client wiped the device (or account)",
    2: "the client failed to wipe",
})

# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), top level
RESOLVE_RECIPIENTS: StatusTable = _table({
    1: "success",
    5: "protocol error: fix the request",
    6: "server error: retry later",
})

# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), Response (per recipient asked)
RESOLVE_RECIPIENTS_RESPONSE: StatusTable = _table({
    1: "the recipient resolved to one entry",
    2: "ambiguous: several matches; the user must pick one (the list is in Recipient elements)",
    3: "ambiguous, partial list: more matches than returned",
    4: "not resolved: no match; ask the user for another address",
})

# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), Certificates
RESOLVE_RECIPIENTS_CERTIFICATES: StatusTable = _table({
    1: "certificates returned",
    7: "no valid certificate for this recipient",
    8: "certificate limit reached: only part of the certificates returned",
})

# MS-ASCMD 2.2.3.177.12 Status (ResolveRecipients), Availability
RESOLVE_RECIPIENTS_AVAILABILITY: StatusTable = _table({
    1: "free/busy returned",
    160: "too many recipients (more than 100)",
    161: "distribution list too large to expand (more than 20 members)",
    162: "transient failure: retry later",
    163: "free/busy failed for this recipient",
})

# MS-ASCMD 2.2.3.177.12 / 2.2.3.177.13 Status of a Picture (ResolveRecipients, Search GAL)
PICTURE: StatusTable = _table({
    1: "picture returned",
    173: "the contact has no picture",
    174: "the picture is larger than MaxSize",
    175: "no more pictures: MaxPictures reached",
})

# MS-ASCMD 2.2.3.177.13 Status (Search); 9 is not defined
SEARCH: StatusTable = _table({
    1: "success",
    2: "invalid request: the search failed validation",
    3: "server error: retry later",
    4: "bad link (document library)",
    5: "access denied",
    6: "not found",
    7: "connection to the store failed",
    8: "query too complex: simplify it",
    10: "search timed out: retry or narrow it",
    11: "folder hierarchy out of date: send FolderSync",
    12: "end of the retrievable range: no more results",
    13: "access blocked (document library)",
    14: "credentials required",
})

# MS-ASCMD 2.2.3.177.14 / 2.2.3.177.16 Status (SendMail, SmartForward, SmartReply): common codes only
COMPOSE_MAIL: StatusTable = _table({})

# MS-ASCMD 2.2.3.177.15 Status (Settings); also Oof, DeviceInformation, DevicePassword, UserInformation
SETTINGS: StatusTable = _table({
    1: "success",
    2: "protocol error: fix the request",
    3: "access denied",
    4: "server unavailable: retry later",
    5: "invalid arguments",
    6: "conflicting arguments",
    7: "denied by policy",
})

# MS-ASCMD 2.2.3.177.18 Status (ValidateCert)
VALIDATE_CERT: StatusTable = _table({
    1: "success: the certificate is valid",
    2: "protocol error",
    3: "the signature in the digital ID cannot be validated",
    4: "the digital ID was issued by an untrusted source",
    5: "the certificate chain is not built correctly",
    6: "the digital ID is not valid for signing email",
    7: "the digital ID has expired or is not yet valid",
    8: "the validity periods in the chain are not nested correctly",
    9: "a certificate in the chain is used for a purpose it does not allow",
    10: "information in the digital ID is missing or wrong",
    11: "a certificate in the chain is used incorrectly (not a CA)",
    12: "the digital ID does not match the sender's email address",
    13: "the digital ID has been revoked",
    14: "the revocation server could not be reached",
    15: "a certificate in the chain was revoked",
    16: "the revocation status could not be determined",
    17: "unknown server error",
})

# MS-ASCMD 2.2.3.177.2 Status (Find)
FIND: StatusTable = _table({
    1: "success",
    2: "invalid request: the Find failed validation",
    3: "folder hierarchy out of date: send FolderSync",
    4: "the requested range must begin at 0",
})

# MS-ASAIRS Status (BodyPart): the conversation body part of a Sync or ItemOperations item
BODY_PART: StatusTable = _table({
    1: "success: the body part follows",
    176: "the conversation is too large for a body part: fetch the item's own body instead",
})

# Tables per command name (the key the CLI, the store and `status_meaning` use).
BY_COMMAND: Mapping[str, StatusTable] = MappingProxyType({
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
    "SendMail": COMPOSE_MAIL,
    "SmartReply": COMPOSE_MAIL,
    "SmartForward": COMPOSE_MAIL,
    "ValidateCert": VALIDATE_CERT,
    "Find": FIND,
})

# The codes each spec table lists, as closed ranges minus the codes it leaves undefined (tests check coverage).
LISTED: Mapping[str, tuple[range, frozenset[int]]] = MappingProxyType({
    "COMMON": (range(101, 178), frozenset({157, 158, 159})),
    "SYNC": (range(1, 17), frozenset({2, 10, 11})),
    "SYNC_ITEM": (range(4, 10), frozenset()),
    "FOLDER_SYNC": (range(9, 13), frozenset()),
    "FOLDER_CREATE": (range(1, 13), frozenset({4, 7, 8})),
    "FOLDER_UPDATE": (range(1, 13), frozenset({7, 8})),
    "FOLDER_DELETE": (range(3, 13), frozenset({5, 7, 8})),
    "GET_ITEM_ESTIMATE": (range(1, 5), frozenset()),
    "ITEM_OPERATIONS": (range(1, 19), frozenset({13})),
    "MEETING_RESPONSE": (range(1, 5), frozenset()),
    "MOVE_ITEMS": (range(1, 8), frozenset({6})),
    "PING": (range(1, 9), frozenset()),
    "PROVISION": (range(1, 5), frozenset()),
    "PROVISION_POLICY": (range(1, 6), frozenset()),
    "PROVISION_POLICY_ACK": (range(1, 5), frozenset()),
    "PROVISION_REMOTE_WIPE_ACK": (range(1, 3), frozenset()),
    "RESOLVE_RECIPIENTS_RESPONSE": (range(1, 5), frozenset()),
    "RESOLVE_RECIPIENTS_AVAILABILITY": (range(160, 164), frozenset()),
    "PICTURE": (range(173, 176), frozenset()),
    "SEARCH": (range(1, 15), frozenset({9})),
    "SETTINGS": (range(1, 8), frozenset()),
    "VALIDATE_CERT": (range(1, 18), frozenset()),
    "FIND": (range(1, 5), frozenset()),
    "BODY_PART": (range(176, 177), frozenset()),
})
