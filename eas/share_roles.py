"""Which parts of EAS traffic are content, identities or secrets, for sharing: the role tables, as data."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from .sensitive import is_secret_element

__all__ = [
    "Role",
    "PAGE_DEFAULT_ROLES",
    "ELEMENT_ROLES",
    "PARENT_ROLES",
    "DEFAULT_FOLDER_TYPES",
    "STANDARD_ID_WORDS",
    "AUTODISCOVER_ROLES",
    "QUERY_ROLES",
    "CREDENTIAL_HEADERS",
    "COOKIE_HEADERS",
    "CHALLENGE_HEADERS",
    "BLOB_SCHEMES",
    "SERVER_NAME_HEADERS",
    "CLIENT_ADDRESS_HEADERS",
    "HOST_HEADERS",
    "KEEP_HEADERS",
    "element_role",
]

class Role(enum.StrEnum):
    """What a value is, for sharing: how `eas.share` rewrites it (see its theory of operation)."""

    KEEP = "keep"
    ID = "id"
    CONTENT = "content"
    PERSONAL = "personal"
    SECRET = "secret"
    USER = "user"
    ADDRESS = "address"
    ADDRESS_LIST = "address-list"
    DISPLAY_NAME = "display-name"
    DISPLAY_NAMES = "display-names"
    FOLDER_NAME = "folder-name"
    DEVICE_ID = "device-id"


K, I, C, P, S = Role.KEEP, Role.ID, Role.CONTENT, Role.PERSONAL, Role.SECRET
U, A, AL, D, DL, F = Role.USER, Role.ADDRESS, Role.ADDRESS_LIST, Role.DISPLAY_NAME, Role.DISPLAY_NAMES, Role.FOLDER_NAME

# The role of a leaf whose namespace (code page name) and local name are not in ELEMENT_ROLES. Protocol pages
# default to KEEP, class pages (the item data of MS-ASEMAIL, MS-ASCAL, MS-ASCNTC, MS-ASTASK, MS-ASNOTE, GAL,
# MS-ASDOC) to CONTENT; a page not listed here is content.
PAGE_DEFAULT_ROLES: Mapping[str, Role] = MappingProxyType({
    "AirSync": K, "Contacts": C, "Email": C, "AirNotify": K, "Calendar": C, "Move": K, "GetItemEstimate": K,
    "FolderHierarchy": K, "MeetingResponse": K, "Tasks": C, "ResolveRecipients": K, "ValidateCert": K,
    "Contacts2": C, "Ping": K, "Provision": K, "Search": K, "GAL": C, "AirSyncBase": K, "Settings": K,
    "DocumentLibrary": C, "ItemOperations": K, "ComposeMail": K, "Email2": C, "Notes": C, "RightsManagement": K,
    "Find": K,
})


def _roles(namespace: str, roles: Mapping[Role, str]) -> dict[tuple[str, str], Role]:
    return {(namespace, name): role for role, names in roles.items() for name in names.split()}


# Leaves whose role differs from their page's default. Enumerations, booleans and counts of the class pages stay
# (they say nothing about the person and a diagnosis reads them); dates, text, places and UIDs are content.
ELEMENT_ROLES: Mapping[tuple[str, str], Role] = MappingProxyType({
    # MS-ASCMD 2.2.3.151 ServerId, 2.2.3.24 ClientId, 2.2.3.30 CollectionId
    **_roles("AirSync", {I: "ServerId ClientId CollectionId"}),
    # MS-ASCNTC 2.2.2.25-27 Email1Address..Email3Address: RFC 5322 mailbox; 2.2.2.x BodySize/BodyTruncated (2.5)
    **_roles("Contacts", {AL: "Email1Address Email2Address Email3Address", K: "BodySize BodyTruncated",
                          U: "Alias"}),
    # MS-ASEMAIL 2.2.2: To, Cc, From, ReplyTo, Organizer are address lists; DisplayTo is display names;
    # the enumerations and flags below are kept
    **_roles("Email", {
        AL: "To Cc From ReplyTo Organizer",
        DL: "DisplayTo",
        K: "Importance MessageClass Read AllDayEvent InstanceType BusyStatus ResponseRequested Sensitivity "
           "InternetCPID Status ContentClass DisallowNewTimeProposal AttMethod AttSize AttRemoved BodySize "
           "BodyTruncated MIMETruncated MIMESize Reminder Type Occurrences Interval DayOfWeek DayOfMonth "
           "WeekOfMonth MonthOfYear",
    }),
    # MS-ASWBXML 2.1.2.1.4 (AirNotify, EAS 2.5): the device's address and name identify it
    **_roles("AirNotify", {P: "DeviceAddress DeviceFriendlyName", I: "ServerId Id"}),
    # MS-ASCAL 2.2.2: Attendee Email/Name and the organizer are identities; enumerations kept
    **_roles("Calendar", {
        A: "Email OrganizerEmail",
        D: "Name OrganizerName",
        K: "AllDayEvent BusyStatus Sensitivity MeetingStatus Reminder AttendeeStatus AttendeeType "
           "ResponseRequested ResponseType CalendarType IsLeapMonth FirstDayOfWeek DisallowNewTimeProposal "
           "Deleted BodyTruncated Type Occurrences Interval DayOfWeek DayOfMonth WeekOfMonth MonthOfYear",
    }),
    # MS-ASCMD 2.2.3.161 SrcMsgId, 2.2.3.160 SrcFldId, 2.2.3.52 DstFldId, 2.2.3.51 DstMsgId
    **_roles("Move", {I: "SrcMsgId SrcFldId DstFldId DstMsgId"}),
    **_roles("GetItemEstimate", {I: "CollectionId"}),
    # MS-ASCMD 2.2.3.151.x ServerId, 2.2.3.125 ParentId, 2.2.3.47 DisplayName (folder)
    **_roles("FolderHierarchy", {I: "ServerId ParentId", F: "DisplayName"}),
    # MS-ASCMD 2.2.3.17 CalendarId, 2.2.3.30 CollectionId, 2.2.3.148 RequestId, 2.2.3.87 InstanceId (a date)
    **_roles("MeetingResponse", {I: "CalendarId CollectionId RequestId", C: "InstanceId ProposedStartTime "
                                                                              "ProposedEndTime"}),
    # MS-ASTASK 2.2.2: enumerations kept
    **_roles("Tasks", {K: "Complete Importance Type Occurrences Interval DayOfMonth DayOfWeek WeekOfMonth "
                          "MonthOfYear Regenerate DeadOccur ReminderSet Sensitivity CalendarType IsLeapMonth "
                          "FirstDayOfWeek BodySize BodyTruncated"}),
    # MS-ASCMD 2.2.3.175 To (a name or address to resolve), 2.2.3.47 DisplayName, 2.2.3.56 EmailAddress,
    # 2.2.3.19 Certificate, 2.2.3.106 MiniCertificate, 2.2.3.101 MergedFreeBusy, 2.2.3.38 Data (picture)
    **_roles("ResolveRecipients", {AL: "To", D: "DisplayName", A: "EmailAddress",
                                   C: "Certificate MiniCertificate MergedFreeBusy Data"}),
    # MS-ASCMD 2.2.3.19 Certificate, 2.2.3.21 CertificateChain: certificates name their subject
    **_roles("ValidateCert", {C: "Certificate CertificateChain"}),
    # MS-ASCNTC 2.2.2.1 AccountName: the contact's account name (a user name); 2.2.2.x IMAddress: addresses
    **_roles("Contacts2", {U: "AccountName", AL: "IMAddress IMAddress2 IMAddress3"}),
    # MS-ASCMD 2.2.3.82 Id (a folder)
    **_roles("Ping", {I: "Id"}),
    # MS-ASCMD 2.2.3.136 Query (GAL text), 2.2.3.71 FreeText, 2.2.3.186 Value, 2.2.3.97 LongId,
    # 2.2.3.180 UserName, 2.2.3.35.2 ConversationId
    **_roles("Search", {C: "Query FreeText Value", I: "LongId ConversationId", U: "UserName"}),
    # MS-ASCMD 2.2.3.47.3 DisplayName, 2.2.3.56 EmailAddress, 2.2.3.7 Alias (GAL results), 2.2.3.169 Status
    **_roles("GAL", {D: "DisplayName", A: "EmailAddress", U: "Alias", K: "Status"}),
    # MS-ASAIRS 2.2.2: Data, Preview (in a Body), Content, the attachment's name and the location are content;
    # FileReference and ClientId are ids
    **_roles("AirSyncBase", {
        C: "Data Preview Content DisplayName ContentId ContentLocation Location Annotation Street City State "
           "Country PostalCode Latitude Longitude Accuracy Altitude AltitudeAccuracy LocationUri InstanceId",
        I: "FileReference ClientId",
    }),
    # MS-ASCMD 2.2.3.141 ReplyMessage, 2.2.3.163/2.2.3.61 Oof StartTime/EndTime, 2.2.3.83 IMEI, 2.2.3.127 PhoneNumber, 2.2.3.74 FriendlyName, 2.2.3.162 SMTPAddress,
    # 2.2.3.134 PrimarySmtpAddress, 2.2.3.5 AccountId, 2.2.3.6 AccountName, 2.2.3.182 UserDisplayName
    **_roles("Settings", {
        C: "ReplyMessage StartTime EndTime",
        P: "IMEI PhoneNumber FriendlyName",
        A: "SMTPAddress PrimarySmtpAddress",
        I: "AccountId",
        D: "AccountName UserDisplayName",
    }),
    # MS-ASDOC 2.2.2: the flags and sizes of a document are kept
    **_roles("DocumentLibrary", {K: "IsFolder IsHidden ContentLength ContentType"}),
    # MS-ASCMD 2.2.3.39.2 Data, 2.2.3.180 UserName, 2.2.3.52 DstFldId, 2.2.3.35.1
    # ConversationId, 2.2.3.93 LinkId (a UNC path or URL)
    **_roles("ItemOperations", {C: "Data", U: "UserName", I: "DstFldId ConversationId"}),
    # MS-ASCMD 2.2.3.109 Mime, 2.2.3.67 FolderId, 2.2.3.88 ItemId, 2.2.3.97 LongId, 2.2.3.24 ClientId,
    # 2.2.3.5 AccountId, 2.2.3.87 InstanceId (a date), 2.2.3.75/76 ForwardeeName/ForwardeeEmail
    **_roles("ComposeMail", {C: "Mime InstanceId", I: "FolderId ItemId LongId ClientId AccountId",
                             D: "ForwardeeName", A: "ForwardeeEmail"}),
    # MS-ASEMAIL 2.2.2: UmCallerID is a phone number; Sender and Bcc are address lists; the rest are enumerations
    **_roles("Email2", {
        P: "UmCallerID",
        I: "ConversationId ConversationIndex AccountId",
        AL: "Sender Bcc",
        K: "UmAttDuration UmAttOrder LastVerbExecuted LastVerbExecutionTime ReceivedAsBcc CalendarType "
           "IsLeapMonth FirstDayOfWeek MeetingMessageType IsDraft Send",
    }),
    # MS-ASNOTE 2.2.2.5 MessageClass
    **_roles("Notes", {K: "MessageClass"}),
    # MS-ASRM 2.2.2.14 Owner, 2.2.2.3 ContentOwner: addresses
    **_roles("RightsManagement", {A: "Owner ContentOwner"}),
    # MS-ASCMD 2.2.3.73.x FreeText, 2.2.3.136 Query, 2.2.3.131 Preview (of a result), 2.2.3.45/46 DisplayCc/Bcc
    **_roles("Find", {C: "FreeText Query Preview", DL: "DisplayCc DisplayBcc"}),
})

# Leaves whose role depends on their parent: (namespace, parent local name, local name).
PARENT_ROLES: Mapping[tuple[str, str, str], Role] = MappingProxyType({
    # MS-ASAIRS 2.2.2.30: Preview in a BodyPreference/BodyPartPreference is a number of characters
    ("AirSyncBase", "BodyPreference", "Preview"): K,
    ("AirSyncBase", "BodyPartPreference", "Preview"): K,
    # MS-ASCMD 2.2.3.99 MaxSize / 2.2.3.100 MaxPictures inside Search/ResolveRecipients pictures are numbers
    ("Search", "Picture", "MaxSize"): K,
})

# MS-ASCMD 2.2.3.186.3 Type (FolderSync): the default folders (2 Inbox ... 11 Journal, 19 Recipient information
# cache). Their display names stay; user-created folders (1, 12-17) and unknown ones (18) are pseudonymised.
DEFAULT_FOLDER_TYPES = frozenset({"2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "19"})

# Words that stay when they are a part of an id: the default folders' usual names and SOGo's folder-kind prefixes
# (`mail%2F...`, `vevent%2Fpersonal`); default folders' display names seen in FolderSync are added to them.
STANDARD_ID_WORDS = frozenset({
    "inbox", "drafts", "sent", "sent items", "trash", "deleted items", "outbox", "junk", "junk e-mail", "calendar",
    "contacts", "tasks", "notes", "journal", "mail", "vevent", "vtodo", "vcard", "vjournal", "personal",
})

# Autodiscover (MS-ASCMD 2.2.2.1, plain XML): local name -> role; other text is free text.
AUTODISCOVER_ROLES: Mapping[str, Role] = MappingProxyType({
    "EMailAddress": A, "AutoDiscoverSMTPAddress": A, "DisplayName": D, "LegacyDN": P,
})

# Request URI parameters (MS-ASHTTP 2.2.1.1.1.2) by lower-case name; others are free text.
QUERY_ROLES: Mapping[str, Role] = MappingProxyType({
    "cmd": K, "devicetype": K, "saveinsent": K, "occurrence": K, "user": U, "deviceid": Role.DEVICE_ID,
    "collectionid": I, "itemid": I, "longid": I, "parentid": I, "attachmentname": I, "collectionname": F,
})

# Which headers and query parameters are secrets is eas.sensitive's; these say how a secret header is shown.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
COOKIE_HEADERS = frozenset({"cookie", "set-cookie", "cookie2", "set-cookie2"})
CHALLENGE_HEADERS = frozenset({"www-authenticate", "proxy-authenticate"})
# Authentication schemes whose challenge or answer is an opaque blob (NTLM's Type 2 names the server's domain).
BLOB_SCHEMES = frozenset({"ntlm", "negotiate", "kerberos"})
# Headers naming the server that answered: Exchange's front-end/back-end diagnostics.
SERVER_NAME_HEADERS = frozenset({
    "x-feserver", "x-beserver", "x-calculatedbetarget", "x-calculatedfetarget", "x-targetbeserver", "x-diaginfo",
    "x-feproxyinfo", "x-besku",
})
CLIENT_ADDRESS_HEADERS = frozenset({"x-forwarded-for", "x-real-ip", "x-client-ip", "x-originating-ip"})
HOST_HEADERS = frozenset({"host", ":authority"})
# Headers whose values are protocol facts (MS-ASHTTP 2.2.1.1.2, 2.2.2.1.2; RFC 9110) and never names: kept as
# they are, so that free-text rewriting cannot touch a command list or a content type.
KEEP_HEADERS = frozenset({
    "ms-asprotocolversion", "ms-asprotocolversions", "ms-asprotocolcommands", "ms-server-activesync",
    "x-ms-policykey", "ms-asacceptmultipart", "x-ms-asthrottle", "x-ms-rp", "retry-after", "content-type",
    "content-length", "content-encoding", "transfer-encoding", "accept", "accept-encoding", "accept-language",
    "cache-control", "connection", "date", "allow", "public", "expires", "pragma",
})


def element_role(namespace: str, local: str, parent_local: str | None = None) -> Role:
    """The role of a leaf element: a password (eas.sensitive.SECRET_ELEMENTS) is a secret; then PARENT_ROLES,
    ELEMENT_ROLES, PAGE_DEFAULT_ROLES; unknown is content."""
    if is_secret_element(namespace, local):
        return Role.SECRET
    if parent_local is not None:
        role = PARENT_ROLES.get((namespace, parent_local, local))
        if role is not None:
            return role
    role = ELEMENT_ROLES.get((namespace, local))
    if role is not None:
        return role
    return PAGE_DEFAULT_ROLES.get(namespace, Role.CONTENT)
