"""The MS-ASWBXML code pages 0-25 as data: token -> tag name, per page, with the spec section of each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from .constants import WBXML_NS as WBXML_NS  # re-exported: the codec's tables and their marker namespace


# MS-ASHTTP 2.2.1.1.2.4 (MS-ASProtocolVersion) and the MS-ASWBXML "Protocol versions" columns: the versions, oldest
# first. MS-ASWBXML's "All" means every one of them.
PROTOCOL_VERSIONS: tuple[str, ...] = ("2.5", "12.0", "12.1", "14.0", "14.1", "16.0", "16.1")
_VERSION_RANK: Mapping[str, int] = MappingProxyType({v: rank for rank, v in enumerate(PROTOCOL_VERSIONS)})


def version_rank(version: str | None) -> int | None:
    """The position of a protocol version in PROTOCOL_VERSIONS ("14.1" -> 4), None for an unknown one."""
    return _VERSION_RANK.get(version.strip()) if version else None


@dataclass(frozen=True, slots=True)
class VersionSpan:
    """The protocol versions that use a token: a contiguous run of PROTOCOL_VERSIONS, or none at all.

    Attributes:
        first: the first version that uses it; None when the current MS-ASWBXML lists it for no version (a
            token only older editions named, such as AirSync Version or Email AttRemoved).
        last: the last version that uses it; None while the current version still does.
    """

    first: str | None
    last: str | None = None

    @classmethod
    def parse(cls, text: str) -> VersionSpan:
        """Read the tables' notation: "2.5" (that version only), "12.1+" (from it on), "2.5-14.1" (a run),
        "" (no version of the current edition)."""
        if not text:
            return cls(None, None)
        if text.endswith("+"):
            return cls(text[:-1], None)
        first, _, last = text.partition("-")
        return cls(first, last or first)

    def covers(self, version: str) -> bool | None:
        """Whether `version` uses the token; None when `version` is not one of PROTOCOL_VERSIONS."""
        rank = version_rank(version)
        if rank is None:
            return None
        if self.first is None:
            return False
        if rank < _VERSION_RANK[self.first]:
            return False
        return self.last is None or rank <= _VERSION_RANK[self.last]

    def is_newer_than(self, version: str) -> bool:
        """True when the token came after `version` (a known version)."""
        rank = version_rank(version)
        return self.first is not None and rank is not None and _VERSION_RANK[self.first] > rank

    def describe(self) -> str:
        """"from 16.0", "2.5 only", "2.5 to 14.1", "in no protocol version of the current MS-ASWBXML"."""
        if self.first is None:
            return "in no protocol version of the current MS-ASWBXML"
        if self.last is None:
            return f"from {self.first}"
        if self.last == self.first:
            return f"{self.first} only"
        return f"{self.first} to {self.last}"


@dataclass(frozen=True, slots=True)
class CodePage:
    """One MS-ASWBXML code page.

    Attributes:
        number: the page number used by SWITCH_PAGE (0-25).
        name: the namespace name of MS-ASWBXML / MS-ASCMD examples, used as the XML namespace URI.
        prefix: the short prefix the decoder writes for this page when it is not the root's page.
        section: the MS-ASWBXML section that defines the page.
        added_in: the protocol version that introduced the page.
        tags: token (0x05-0x3F, without the content flag) -> tag name, as MS-ASWBXML spells it.
        opaque_tags: tags whose content MS-ASWBXML / the class specs type as opaque (binary) data.
        aliases: other namespace spellings the encoder accepts (older specs, real logs: "POOMMAIL:").
        versions: token -> the protocol versions MS-ASWBXML's "Protocol versions" column gives it, for the
            tokens whose column is not the page's default (see VersionSpan.parse for the notation); every
            other token is used from `added_in` on ("All" on the 2.5 pages).
    """

    number: int
    name: str
    prefix: str
    section: str
    added_in: str
    tags: Mapping[int, str]
    opaque_tags: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    versions: Mapping[int, str] = field(default_factory=dict)
    tokens: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        object.__setattr__(self, "tokens", MappingProxyType({v: k for k, v in self.tags.items()}))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))

    def token_versions(self, token: int) -> VersionSpan:
        """The protocol versions that use `token` on this page (MS-ASWBXML's "Protocol versions" column)."""
        return VersionSpan.parse(self.versions.get(token, self.added_in + "+"))


# How to read the tables below.
# - Tokens are listed as MS-ASWBXML 2.1.2.1.x (April 2022 edition) spells them. `versions` copies its
#   "Protocol versions" column for every token whose column is not the page's default: "2.5" one version,
#   "12.1+" from a version on, "2.5-14.1" a run, "" no version of the current edition.
# - Tokens that an older edition of MS-ASWBXML named but the current one no longer lists (EAS 2.5 leftovers
#   such as AirSync Version, Search Stores, Email AttRemoved) are kept under their old name, so old captures
#   decode to a readable element instead of a placeholder; their `versions` entry is "".
# - Tokens that no edition named stay out: the decoder writes a placeholder for them.
# - Other spellings of a tag that the encoder accepts are in TAG_ALIASES at the end, each with its source.


# MS-ASWBXML 2.1.2.1.1 Code Page 0: AirSync
_AIRSYNC = CodePage(
    number=0,
    name="AirSync",
    prefix="airsync",
    section="MS-ASWBXML 2.1.2.1.1",
    added_in="2.5",
    tags={
        0x05: "Sync", 0x06: "Responses", 0x07: "Add", 0x08: "Change", 0x09: "Delete", 0x0A: "Fetch",
        0x0B: "SyncKey", 0x0C: "ClientId", 0x0D: "ServerId", 0x0E: "Status", 0x0F: "Collection",
        0x10: "Class",
        0x11: "Version",
        0x12: "CollectionId", 0x13: "GetChanges", 0x14: "MoreAvailable",
        0x15: "WindowSize", 0x16: "Commands", 0x17: "Options", 0x18: "FilterType",
        0x19: "Truncation",  # 2.5 only (12.0+: airsyncbase:BodyPreference TruncationSize)
        0x1A: "RTFTruncation",
        0x1B: "Conflict", 0x1C: "Collections", 0x1D: "ApplicationData", 0x1E: "DeletesAsMoves",
        0x1F: "NotifyGUID",
        0x20: "Supported", 0x21: "SoftDelete", 0x22: "MIMESupport", 0x23: "MIMETruncation",
        0x24: "Wait", 0x25: "Limit", 0x26: "Partial",
        0x27: "ConversationMode", 0x28: "MaxItems", 0x29: "HeartbeatInterval",
    },
    aliases=("AirSync:",),
    versions={
        0x11: "", 0x19: "2.5", 0x1A: "", 0x1F: "",
        0x24: "12.1+", 0x25: "12.1+", 0x26: "12.1+",
        0x27: "14.0+", 0x28: "14.0+", 0x29: "14.0+",
    },
)

# MS-ASWBXML 2.1.2.1.2 Code Page 1: Contacts
_CONTACTS = CodePage(
    number=1,
    name="Contacts",
    prefix="contacts",
    section="MS-ASWBXML 2.1.2.1.2",
    added_in="2.5",
    tags={
        0x05: "Anniversary", 0x06: "AssistantName", 0x07: "AssistantPhoneNumber", 0x08: "Birthday",
        0x09: "Body", 0x0A: "BodySize", 0x0B: "BodyTruncated",  # 12.0+: airsyncbase:Body (note 1)
        0x0C: "Business2PhoneNumber", 0x0D: "BusinessAddressCity", 0x0E: "BusinessAddressCountry",
        0x0F: "BusinessAddressPostalCode", 0x10: "BusinessAddressState", 0x11: "BusinessAddressStreet",
        0x12: "BusinessFaxNumber", 0x13: "BusinessPhoneNumber", 0x14: "CarPhoneNumber",
        0x15: "Categories", 0x16: "Category", 0x17: "Children", 0x18: "Child", 0x19: "CompanyName",
        0x1A: "Department", 0x1B: "Email1Address", 0x1C: "Email2Address", 0x1D: "Email3Address",
        0x1E: "FileAs", 0x1F: "FirstName", 0x20: "Home2PhoneNumber", 0x21: "HomeAddressCity",
        0x22: "HomeAddressCountry", 0x23: "HomeAddressPostalCode", 0x24: "HomeAddressState",
        0x25: "HomeAddressStreet", 0x26: "HomeFaxNumber", 0x27: "HomePhoneNumber", 0x28: "JobTitle",
        0x29: "LastName", 0x2A: "MiddleName", 0x2B: "MobilePhoneNumber", 0x2C: "OfficeLocation",
        0x2D: "OtherAddressCity", 0x2E: "OtherAddressCountry", 0x2F: "OtherAddressPostalCode",
        0x30: "OtherAddressState", 0x31: "OtherAddressStreet", 0x32: "PagerNumber",
        0x33: "RadioPhoneNumber", 0x34: "Spouse", 0x35: "Suffix", 0x36: "Title", 0x37: "WebPage",
        0x38: "YomiCompanyName", 0x39: "YomiFirstName", 0x3A: "YomiLastName",
        0x3B: "CompressedRTF",
        0x3C: "Picture",
        0x3D: "Alias", 0x3E: "WeightedRank",
    },
    aliases=("POOMCONTACTS:", "Contacts:", "CONTACTS:"),
    versions={0x09: "2.5", 0x0A: "2.5", 0x0B: "2.5", 0x3B: "", 0x3D: "14.0+", 0x3E: "14.0+"},
)

# MS-ASWBXML 2.1.2.1.3 Code Page 2: Email
_EMAIL = CodePage(
    number=2,
    name="Email",
    prefix="email",
    section="MS-ASWBXML 2.1.2.1.3",
    added_in="2.5",
    tags={
        # 0x05-0x0E: 2.5 (12.0+ uses airsyncbase:Attachments and airsyncbase:Body, notes 1 and 2)
        0x05: "Attachment", 0x06: "Attachments", 0x07: "AttName", 0x08: "AttSize",
        0x09: "Att0id",  # MS-ASWBXML's spelling (lower-case "id"; the encoder also takes Att0Id)
        0x0A: "AttMethod",
        0x0B: "AttRemoved",  # named by the first edition only; the current table skips 0x0B
        0x0C: "Body", 0x0D: "BodySize", 0x0E: "BodyTruncated",
        0x0F: "DateReceived",
        0x10: "DisplayName",
        0x11: "DisplayTo", 0x12: "Importance", 0x13: "MessageClass", 0x14: "Subject", 0x15: "Read",
        0x16: "To", 0x17: "Cc", 0x18: "From", 0x19: "ReplyTo", 0x1A: "AllDayEvent",
        0x1B: "Categories", 0x1C: "Category",
        0x1D: "DtStamp", 0x1E: "EndTime", 0x1F: "InstanceType", 0x20: "BusyStatus",
        0x21: "Location",  # 16.0+: airsyncbase:Location (note 3)
        0x22: "MeetingRequest", 0x23: "Organizer", 0x24: "RecurrenceId", 0x25: "Reminder",
        0x26: "ResponseRequested", 0x27: "Recurrences", 0x28: "Recurrence",
        # Recurrence children keep plain names (libwbxml prefixes them with "Recurrence_")
        0x29: "Type", 0x2A: "Until", 0x2B: "Occurrences", 0x2C: "Interval", 0x2D: "DayOfWeek",
        0x2E: "DayOfMonth", 0x2F: "WeekOfMonth", 0x30: "MonthOfYear",
        0x31: "StartTime", 0x32: "Sensitivity",
        0x33: "TimeZone",  # spelt so on this page (MS-ASEMAIL); the Calendar page spells it Timezone
        0x34: "GlobalObjId",  # 16.0+: calendar:UID replaces it (note 4)
        0x35: "ThreadTopic",
        0x36: "MIMEData", 0x37: "MIMETruncated", 0x38: "MIMESize",
        0x39: "InternetCPID",
        # the Flag container; its Status is the flag status (libwbxml: FlagStatus)
        0x3A: "Flag", 0x3B: "Status", 0x3C: "ContentClass", 0x3D: "FlagType", 0x3E: "CompleteTime",
        0x3F: "DisallowNewTimeProposal",
    },
    aliases=("POOMMAIL:", "Email:"),
    versions={
        **{token: "2.5" for token in (0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x0E, 0x10)},
        0x0B: "", 0x1B: "14.0+", 0x1C: "14.0+", 0x21: "2.5-14.1", 0x34: "2.5-14.1",
        0x36: "2.5", 0x37: "2.5", 0x38: "2.5",
        0x3A: "12.0+", 0x3B: "12.0+", 0x3C: "12.0+", 0x3D: "12.0+", 0x3E: "12.0+", 0x3F: "14.0+",
    },
)

# MS-ASWBXML 2.1.2.1.4 Code Page 3: AirNotify
# The current edition marks the whole page as no longer used; the names are those of the EAS 2.5 era.
_AIRNOTIFY = CodePage(
    number=3,
    name="AirNotify",
    prefix="airnotify",
    section="MS-ASWBXML 2.1.2.1.4",
    added_in="2.5",
    tags={
        0x05: "Notify", 0x06: "Notification", 0x07: "Version", 0x08: "LifeTime", 0x09: "DeviceInfo",
        0x0A: "Enable", 0x0B: "Folder", 0x0C: "ServerId", 0x0D: "DeviceAddress",
        0x0E: "ValidCarrierProfiles", 0x0F: "CarrierProfile", 0x10: "Status", 0x11: "Responses",
        0x12: "Devices", 0x13: "Device", 0x14: "Id", 0x15: "Expiry", 0x16: "NotifyGUID",
        0x17: "DeviceFriendlyName",
    },
    aliases=("AirNotify:",),
    versions={token: "" for token in range(0x05, 0x18)},
)

# MS-ASWBXML 2.1.2.1.5 Code Page 4: Calendar
_CALENDAR = CodePage(
    number=4,
    name="Calendar",
    prefix="calendar",
    section="MS-ASWBXML 2.1.2.1.5",
    added_in="2.5",
    tags={
        0x05: "Timezone",  # MS-ASWBXML's spelling on this page (the encoder also takes TimeZone)
        0x06: "AllDayEvent", 0x07: "Attendees", 0x08: "Attendee",
        # Attendee children keep plain names (libwbxml: Attendee_Email, Attendee_Name)
        0x09: "Email", 0x0A: "Name",
        0x0B: "Body", 0x0C: "BodyTruncated",  # 12.0+: airsyncbase:Body (note 1)
        0x0D: "BusyStatus", 0x0E: "Categories", 0x0F: "Category",
        0x10: "Rtf",
        0x11: "DtStamp", 0x12: "EndTime", 0x13: "Exception", 0x14: "Exceptions", 0x15: "Deleted",
        0x16: "ExceptionStartTime",  # 16.0+: airsyncbase:InstanceId
        0x17: "Location",  # 16.0+: airsyncbase:Location (note 2)
        0x18: "MeetingStatus", 0x19: "OrganizerEmail", 0x1A: "OrganizerName", 0x1B: "Recurrence",
        0x1C: "Type", 0x1D: "Until", 0x1E: "Occurrences", 0x1F: "Interval", 0x20: "DayOfWeek",
        0x21: "DayOfMonth", 0x22: "WeekOfMonth", 0x23: "MonthOfYear", 0x24: "Reminder",
        0x25: "Sensitivity", 0x26: "Subject", 0x27: "StartTime", 0x28: "UID",
        0x29: "AttendeeStatus", 0x2A: "AttendeeType",
        # 0x2B-0x32 (Attachment, Attachments, AttName, AttSize, AttOid, AttMethod, AttRemoved,
        # DisplayName) were listed as not used by older editions and never appear on the wire: left out.
        0x33: "DisallowNewTimeProposal", 0x34: "ResponseRequested", 0x35: "AppointmentReplyTime",
        0x36: "ResponseType", 0x37: "CalendarType", 0x38: "IsLeapMonth",
        0x39: "FirstDayOfWeek", 0x3A: "OnlineMeetingConfLink", 0x3B: "OnlineMeetingExternalLink",
        0x3C: "ClientUid",
    },
    aliases=("POOMCAL:", "Calendar:"),
    versions={
        0x0B: "2.5", 0x0C: "2.5", 0x10: "", 0x16: "2.5-14.1", 0x17: "2.5-14.1",
        0x29: "12.0+", 0x2A: "12.0+",
        **{token: "14.0+" for token in range(0x33, 0x39)},
        0x39: "14.1+", 0x3A: "14.1+", 0x3B: "14.1+", 0x3C: "16.0+",
    },
)

# MS-ASWBXML 2.1.2.1.6 Code Page 5: Move
_MOVE = CodePage(
    number=5,
    name="Move",
    prefix="move",
    section="MS-ASWBXML 2.1.2.1.6",
    added_in="2.5",
    tags={
        0x05: "MoveItems", 0x06: "Move", 0x07: "SrcMsgId", 0x08: "SrcFldId", 0x09: "DstFldId",
        0x0A: "Response", 0x0B: "Status", 0x0C: "DstMsgId",
    },
    aliases=("Move:",),
)

# MS-ASWBXML 2.1.2.1.7 Code Page 6: GetItemEstimate
_GETITEMESTIMATE = CodePage(
    number=6,
    name="GetItemEstimate",
    prefix="itemestimate",
    section="MS-ASWBXML 2.1.2.1.7",
    added_in="2.5",
    tags={
        0x05: "GetItemEstimate",
        0x06: "Version",
        0x07: "Collections", 0x08: "Collection",
        0x09: "Class",  # 14.0+: airsync:Class (note 1)
        0x0A: "CollectionId",
        0x0B: "DateTime",
        0x0C: "Estimate", 0x0D: "Response", 0x0E: "Status",
    },
    aliases=("GetItemEstimate:", "ItemEstimate:"),
    versions={0x06: "", 0x09: "2.5-12.1", 0x0B: ""},
)

# MS-ASWBXML 2.1.2.1.8 Code Page 7: FolderHierarchy
_FOLDERHIERARCHY = CodePage(
    number=7,
    name="FolderHierarchy",
    prefix="folderhierarchy",
    section="MS-ASWBXML 2.1.2.1.8",
    added_in="2.5",
    tags={
        0x05: "Folders", 0x06: "Folder",  # used in 2.5, 12.0 and 12.1
        0x07: "DisplayName", 0x08: "ServerId", 0x09: "ParentId", 0x0A: "Type",
        0x0B: "Response",
        0x0C: "Status",
        0x0D: "ContentClass",
        0x0E: "Changes", 0x0F: "Add", 0x10: "Delete", 0x11: "Update", 0x12: "SyncKey",
        0x13: "FolderCreate", 0x14: "FolderDelete", 0x15: "FolderUpdate", 0x16: "FolderSync",
        0x17: "Count",
        0x18: "Version",
    },
    aliases=("FolderHierarchy:",),
    versions={0x05: "2.5-12.1", 0x06: "2.5-12.1", 0x0B: "", 0x0D: "", 0x18: ""},
)

# MS-ASWBXML 2.1.2.1.9 Code Page 8: MeetingResponse
_MEETINGRESPONSE = CodePage(
    number=8,
    name="MeetingResponse",
    prefix="meetingresponse",
    section="MS-ASWBXML 2.1.2.1.9",
    added_in="2.5",
    tags={
        0x05: "CalendarId", 0x06: "CollectionId", 0x07: "MeetingResponse", 0x08: "RequestId",
        0x09: "Request", 0x0A: "Result", 0x0B: "Status", 0x0C: "UserResponse",
        0x0D: "Version",
        0x0E: "InstanceId",
        0x10: "ProposedStartTime", 0x11: "ProposedEndTime",
        0x12: "SendResponse",
    },
    aliases=("MeetingResponse:",),
    versions={0x0D: "", 0x0E: "14.1+", 0x10: "16.1", 0x11: "16.1", 0x12: "16.0+"},
)

# MS-ASWBXML 2.1.2.1.10 Code Page 9: Tasks
_TASKS = CodePage(
    number=9,
    name="Tasks",
    prefix="tasks",
    section="MS-ASWBXML 2.1.2.1.10",
    added_in="2.5",
    tags={
        0x05: "Body", 0x06: "BodySize", 0x07: "BodyTruncated",  # 12.0+: airsyncbase:Body (note 1)
        0x08: "Categories", 0x09: "Category", 0x0A: "Complete", 0x0B: "DateCompleted",
        0x0C: "DueDate", 0x0D: "UtcDueDate", 0x0E: "Importance", 0x0F: "Recurrence", 0x10: "Type",
        0x11: "Start", 0x12: "Until", 0x13: "Occurrences", 0x14: "Interval", 0x15: "DayOfMonth",
        0x16: "DayOfWeek", 0x17: "WeekOfMonth", 0x18: "MonthOfYear", 0x19: "Regenerate",
        0x1A: "DeadOccur", 0x1B: "ReminderSet", 0x1C: "ReminderTime", 0x1D: "Sensitivity",
        0x1E: "StartDate", 0x1F: "UtcStartDate", 0x20: "Subject",
        0x21: "Rtf",
        0x22: "OrdinalDate", 0x23: "SubOrdinalDate",
        0x24: "CalendarType", 0x25: "IsLeapMonth",
        0x26: "FirstDayOfWeek",
    },
    aliases=("POOMTASKS:", "Tasks:"),
    versions={
        0x05: "2.5", 0x06: "2.5", 0x07: "2.5", 0x21: "", 0x22: "12.0+", 0x23: "12.0+",
        0x24: "14.0+", 0x25: "14.0+", 0x26: "14.1+",
    },
)

# MS-ASWBXML 2.1.2.1.11 Code Page 10: ResolveRecipients
_RESOLVERECIPIENTS = CodePage(
    number=10,
    name="ResolveRecipients",
    prefix="resolverecipients",
    section="MS-ASWBXML 2.1.2.1.11",
    added_in="2.5",
    tags={
        0x05: "ResolveRecipients", 0x06: "Response", 0x07: "Status", 0x08: "Type",
        0x09: "Recipient", 0x0A: "DisplayName", 0x0B: "EmailAddress", 0x0C: "Certificates",
        0x0D: "Certificate", 0x0E: "MiniCertificate", 0x0F: "Options", 0x10: "To",
        0x11: "CertificateRetrieval", 0x12: "RecipientCount", 0x13: "MaxCertificates",
        0x14: "MaxAmbiguousRecipients", 0x15: "CertificateCount",
        0x16: "Availability", 0x17: "StartTime", 0x18: "EndTime", 0x19: "MergedFreeBusy",
        0x1A: "Picture", 0x1B: "MaxSize", 0x1C: "Data", 0x1D: "MaxPictures",
    },
    aliases=("ResolveRecipients:",),
    versions={
        **{token: "14.0+" for token in range(0x16, 0x1A)},
        **{token: "14.1+" for token in range(0x1A, 0x1E)},
    },
)

# MS-ASWBXML 2.1.2.1.12 Code Page 11: ValidateCert
_VALIDATECERT = CodePage(
    number=11,
    name="ValidateCert",
    prefix="validatecert",
    section="MS-ASWBXML 2.1.2.1.12",
    added_in="2.5",
    tags={
        0x05: "ValidateCert", 0x06: "Certificates", 0x07: "Certificate", 0x08: "CertificateChain",
        0x09: "CheckCRL", 0x0A: "Status",
    },
    aliases=("ValidateCert:",),
)

# MS-ASWBXML 2.1.2.1.13 Code Page 12: Contacts2
_CONTACTS2 = CodePage(
    number=12,
    name="Contacts2",
    prefix="contacts2",
    section="MS-ASWBXML 2.1.2.1.13",
    added_in="2.5",
    tags={
        0x05: "CustomerId", 0x06: "GovernmentId", 0x07: "IMAddress", 0x08: "IMAddress2",
        0x09: "IMAddress3", 0x0A: "ManagerName", 0x0B: "CompanyMainPhone", 0x0C: "AccountName",
        0x0D: "NickName", 0x0E: "MMS",
    },
    aliases=("POOMCONTACTS2:", "Contacts2:", "CONTACTS2:"),
)

# MS-ASWBXML 2.1.2.1.14 Code Page 13: Ping
_PING = CodePage(
    number=13,
    name="Ping",
    prefix="ping",
    section="MS-ASWBXML 2.1.2.1.14",
    added_in="2.5",
    tags={
        0x05: "Ping",
        0x06: "AutdState",
        0x07: "Status", 0x08: "HeartbeatInterval", 0x09: "Folders", 0x0A: "Folder", 0x0B: "Id",
        0x0C: "Class", 0x0D: "MaxFolders",
    },
    aliases=("Ping:",),
    versions={0x06: ""},
)

# MS-ASWBXML 2.1.2.1.15 Code Page 14: Provision
_PROVISION = CodePage(
    number=14,
    name="Provision",
    prefix="provision",
    section="MS-ASWBXML 2.1.2.1.15",
    added_in="2.5",
    tags={
        0x05: "Provision", 0x06: "Policies", 0x07: "Policy", 0x08: "PolicyType", 0x09: "PolicyKey",
        0x0A: "Data", 0x0B: "Status", 0x0C: "RemoteWipe",
        # the EASProvisionDoc policy settings
        0x0D: "EASProvisionDoc", 0x0E: "DevicePasswordEnabled",
        0x0F: "AlphanumericDevicePasswordRequired",
        # 12.0-era texts name 0x10 DeviceEncryptionEnabled (storage card encryption, not the device's:
        # that is RequireDeviceEncryption, 0x1D)
        0x10: "RequireStorageCardEncryption",
        0x11: "PasswordRecoveryEnabled",
        0x12: "DocumentBrowseEnabled",
        0x13: "AttachmentsEnabled", 0x14: "MinDevicePasswordLength",
        0x15: "MaxInactivityTimeDeviceLock", 0x16: "MaxDevicePasswordFailedAttempts",
        0x17: "MaxAttachmentSize", 0x18: "AllowSimpleDevicePassword", 0x19: "DevicePasswordExpiration",
        0x1A: "DevicePasswordHistory",
        0x1B: "AllowStorageCard", 0x1C: "AllowCamera", 0x1D: "RequireDeviceEncryption",
        0x1E: "AllowUnsignedApplications", 0x1F: "AllowUnsignedInstallationPackages",
        0x20: "MinDevicePasswordComplexCharacters", 0x21: "AllowWiFi", 0x22: "AllowTextMessaging",
        0x23: "AllowPOPIMAPEmail", 0x24: "AllowBluetooth", 0x25: "AllowIrDA",
        0x26: "RequireManualSyncWhenRoaming", 0x27: "AllowDesktopSync", 0x28: "MaxCalendarAgeFilter",
        0x29: "AllowHTMLEmail", 0x2A: "MaxEmailAgeFilter", 0x2B: "MaxEmailBodyTruncationSize",
        0x2C: "MaxEmailHTMLBodyTruncationSize", 0x2D: "RequireSignedSMIMEMessages",
        0x2E: "RequireEncryptedSMIMEMessages", 0x2F: "RequireSignedSMIMEAlgorithm",
        0x30: "RequireEncryptionSMIMEAlgorithm", 0x31: "AllowSMIMEEncryptionAlgorithmNegotiation",
        0x32: "AllowSMIMESoftCerts", 0x33: "AllowBrowser", 0x34: "AllowConsumerEmail",
        0x35: "AllowRemoteDesktop", 0x36: "AllowInternetSharing",
        0x37: "UnapprovedInROMApplicationList", 0x38: "ApplicationName",
        0x39: "ApprovedApplicationList", 0x3A: "Hash",
        0x3B: "AccountOnlyRemoteWipe",
    },
    aliases=("Provision:",),
    versions={
        0x0D: "12.0+", 0x0E: "12.0+", 0x0F: "12.0+", 0x10: "12.1+", 0x11: "12.0+", 0x12: "",
        **{token: "12.0+" for token in range(0x13, 0x1B)},
        **{token: "12.1+" for token in range(0x1B, 0x3B)},
        0x3B: "16.1",
    },
)

# MS-ASWBXML 2.1.2.1.16 Code Page 15: Search
_SEARCH = CodePage(
    number=15,
    name="Search",
    prefix="search",
    section="MS-ASWBXML 2.1.2.1.16",
    added_in="2.5",
    tags={
        0x05: "Search",
        0x06: "Stores",
        0x07: "Store", 0x08: "Name", 0x09: "Query", 0x0A: "Options", 0x0B: "Range", 0x0C: "Status",
        0x0D: "Response", 0x0E: "Result", 0x0F: "Properties", 0x10: "Total",
        # the Mailbox query language
        0x11: "EqualTo", 0x12: "Value", 0x13: "And", 0x14: "Or", 0x15: "FreeText",
        0x17: "DeepTraversal", 0x18: "LongId", 0x19: "RebuildResults", 0x1A: "LessThan",
        0x1B: "GreaterThan",
        0x1C: "Schema", 0x1D: "Supported",
        0x1E: "UserName", 0x1F: "Password",
        0x20: "ConversationId",
        0x21: "Picture", 0x22: "MaxSize", 0x23: "MaxPictures",
    },
    versions={
        0x06: "", **{token: "12.0+" for token in (0x11, 0x12, 0x13, 0x14, 0x15, 0x17, 0x18, 0x19, 0x1A, 0x1B)},
        0x1C: "", 0x1D: "", 0x1E: "12.1+", 0x1F: "12.1+", 0x20: "14.0+",
        0x21: "14.1+", 0x22: "14.1+", 0x23: "14.1+",
    },
    # MS-ASCMD 2.2.3.35.2: ConversationId is a byte array (MS-ASDTYPE 2.7.1: opaque)
    opaque_tags=frozenset({"ConversationId"}),
    aliases=("Search:",),
)

# MS-ASWBXML 2.1.2.1.17 Code Page 16: GAL
_GAL = CodePage(
    number=16,
    name="GAL",
    prefix="gal",
    section="MS-ASWBXML 2.1.2.1.17",
    added_in="2.5",
    tags={
        0x05: "DisplayName", 0x06: "Phone", 0x07: "Office", 0x08: "Title", 0x09: "Company",
        0x0A: "Alias", 0x0B: "FirstName", 0x0C: "LastName", 0x0D: "HomePhone", 0x0E: "MobilePhone",
        0x0F: "EmailAddress",
        0x10: "Picture", 0x11: "Status", 0x12: "Data",
    },
    # MS-ASWBXML 2.1.2.1's page table writes "Gal"; its section title and MS-ASCMD write "GAL"
    aliases=("GAL:", "Gal", "Gal:"),
    versions={0x10: "14.1+", 0x11: "14.1+", 0x12: "14.1+"},
)

# MS-ASWBXML 2.1.2.1.18 Code Page 17: AirSyncBase
_AIRSYNCBASE = CodePage(
    number=17,
    name="AirSyncBase",
    prefix="airsyncbase",
    section="MS-ASWBXML 2.1.2.1.18",
    added_in="12.0",
    tags={
        0x05: "BodyPreference", 0x06: "Type", 0x07: "TruncationSize", 0x08: "AllOrNone",
        0x0A: "Body", 0x0B: "Data", 0x0C: "EstimatedDataSize", 0x0D: "Truncated",
        0x0E: "Attachments", 0x0F: "Attachment", 0x10: "DisplayName", 0x11: "FileReference",
        0x12: "Method", 0x13: "ContentId", 0x14: "ContentLocation", 0x15: "IsInline",
        0x16: "NativeBodyType", 0x17: "ContentType",
        0x18: "Preview",
        0x19: "BodyPartPreference", 0x1A: "BodyPart", 0x1B: "Status",
        # attachment edits and the structured location
        0x1C: "Add", 0x1D: "Delete", 0x1E: "ClientId", 0x1F: "Content", 0x20: "Location",
        0x21: "Annotation", 0x22: "Street", 0x23: "City", 0x24: "State", 0x25: "Country",
        0x26: "PostalCode", 0x27: "Latitude", 0x28: "Longitude", 0x29: "Accuracy", 0x2A: "Altitude",
        0x2B: "AltitudeAccuracy", 0x2C: "LocationUri", 0x2D: "InstanceId",
    },
    # MS-ASAIRS 2.2.2.15: Content (16.0 attachment Add) is a byte array (MS-ASDTYPE 2.7.1: opaque).
    # Data stays text: body text, or base64 text for RTF (MS-ASAIRS 2.2.2.20.1).
    opaque_tags=frozenset({"Content"}),
    aliases=("AirSyncBase:",),
    versions={
        0x18: "14.0+", 0x19: "14.1+", 0x1A: "14.1+", 0x1B: "14.1+",
        **{token: "16.0+" for token in range(0x1C, 0x2E)},
    },
)

# MS-ASWBXML 2.1.2.1.19 Code Page 18: Settings
_SETTINGS = CodePage(
    number=18,
    name="Settings",
    prefix="settings",
    section="MS-ASWBXML 2.1.2.1.19",
    added_in="12.0",
    tags={
        0x05: "Settings", 0x06: "Status", 0x07: "Get", 0x08: "Set", 0x09: "Oof", 0x0A: "OofState",
        0x0B: "StartTime", 0x0C: "EndTime", 0x0D: "OofMessage", 0x0E: "AppliesToInternal",
        0x0F: "AppliesToExternalKnown", 0x10: "AppliesToExternalUnknown", 0x11: "Enabled",
        0x12: "ReplyMessage", 0x13: "BodyType", 0x14: "DevicePassword", 0x15: "Password",
        0x16: "DeviceInformation", 0x17: "Model", 0x18: "IMEI", 0x19: "FriendlyName", 0x1A: "OS",
        0x1B: "OSLanguage", 0x1C: "PhoneNumber", 0x1D: "UserInformation", 0x1E: "EmailAddresses",
        0x1F: "SMTPAddress",
        0x20: "UserAgent",
        0x21: "EnableOutboundSMS", 0x22: "MobileOperator",
        0x23: "PrimarySmtpAddress", 0x24: "Accounts", 0x25: "Account", 0x26: "AccountId",
        0x27: "AccountName", 0x28: "UserDisplayName", 0x29: "SendDisabled",
        0x2B: "RightsManagementInformation",
    },
    aliases=("Settings:",),
    versions={
        0x20: "12.1+", 0x21: "14.0+", 0x22: "14.0+",
        **{token: "14.1+" for token in (0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2B)},
    },
)

# MS-ASWBXML 2.1.2.1.20 Code Page 19: DocumentLibrary
_DOCUMENTLIBRARY = CodePage(
    number=19,
    name="DocumentLibrary",
    prefix="documentlibrary",
    section="MS-ASWBXML 2.1.2.1.20",
    added_in="12.0",
    tags={
        0x05: "LinkId", 0x06: "DisplayName", 0x07: "IsFolder", 0x08: "CreationDate",
        0x09: "LastModifiedDate", 0x0A: "IsHidden", 0x0B: "ContentLength", 0x0C: "ContentType",
    },
    aliases=("DocumentLibrary:",),
)

# MS-ASWBXML 2.1.2.1.21 Code Page 20: ItemOperations
_ITEMOPERATIONS = CodePage(
    number=20,
    name="ItemOperations",
    prefix="itemoperations",
    section="MS-ASWBXML 2.1.2.1.21",
    added_in="12.0",
    tags={
        0x05: "ItemOperations", 0x06: "Fetch", 0x07: "Store", 0x08: "Options", 0x09: "Range",
        0x0A: "Total", 0x0B: "Properties", 0x0C: "Data", 0x0D: "Status", 0x0E: "Response",
        0x0F: "Version", 0x10: "Schema", 0x11: "Part", 0x12: "EmptyFolderContents",
        0x13: "DeleteSubFolders",
        0x14: "UserName", 0x15: "Password",
        0x16: "Move", 0x17: "DstFldId", 0x18: "ConversationId", 0x19: "MoveAlways",
    },
    # MS-ASCMD 2.2.3.35.1: ConversationId is a byte array (MS-ASDTYPE 2.7.1: opaque).
    # Data stays text: base64 in inline responses; multipart responses carry Part instead.
    opaque_tags=frozenset({"ConversationId"}),
    aliases=("ItemOperations:",),
    versions={0x14: "12.1+", 0x15: "12.1+", 0x16: "14.0+", 0x17: "14.0+", 0x18: "14.0+", 0x19: "14.0+"},
)

# MS-ASWBXML 2.1.2.1.22 Code Page 21: ComposeMail
_COMPOSEMAIL = CodePage(
    number=21,
    name="ComposeMail",
    prefix="composemail",
    section="MS-ASWBXML 2.1.2.1.22",
    added_in="14.0",
    tags={
        0x05: "SendMail", 0x06: "SmartForward", 0x07: "SmartReply", 0x08: "SaveInSentItems",
        0x09: "ReplaceMime", 0x0B: "Source", 0x0C: "FolderId", 0x0D: "ItemId", 0x0E: "LongId",
        0x0F: "InstanceId", 0x10: "Mime", 0x11: "ClientId", 0x12: "Status",
        0x13: "AccountId",
        # MS-ASCMD 2.2.3.78 Forwardee: Email and Name (older editions: ForwardeeEmail, ForwardeeName)
        0x15: "Forwardees", 0x16: "Forwardee", 0x17: "Name", 0x18: "Email",
    },
    # MS-ASCMD 2.2.3.109: Mime is a byte array "transferred as an opaque BLOB"
    opaque_tags=frozenset({"Mime"}),
    aliases=("ComposeMail:",),
    versions={0x13: "14.1+", 0x15: "16.0+", 0x16: "16.0+", 0x17: "16.0+", 0x18: "16.0+"},
)

# MS-ASWBXML 2.1.2.1.23 Code Page 22: Email2
_EMAIL2 = CodePage(
    number=22,
    name="Email2",
    prefix="email2",
    section="MS-ASWBXML 2.1.2.1.23",
    added_in="14.0",
    tags={
        0x05: "UmCallerID", 0x06: "UmUserNotes", 0x07: "UmAttDuration", 0x08: "UmAttOrder",
        0x09: "ConversationId", 0x0A: "ConversationIndex", 0x0B: "LastVerbExecuted",
        0x0C: "LastVerbExecutionTime", 0x0D: "ReceivedAsBcc", 0x0E: "Sender", 0x0F: "CalendarType",
        0x10: "IsLeapMonth",
        0x11: "AccountId", 0x12: "FirstDayOfWeek", 0x13: "MeetingMessageType",
        0x15: "IsDraft", 0x16: "Bcc", 0x17: "Send",  # 0x14 is not assigned
    },
    # MS-ASEMAIL 2.2.2.21 / MS-ASCON 2.2.2.4: byte arrays (MS-ASDTYPE 2.7.1), sent as WBXML opaque data
    opaque_tags=frozenset({"ConversationId", "ConversationIndex"}),
    aliases=("POOMMAIL2:", "Email2:"),
    versions={0x11: "14.1+", 0x12: "14.1+", 0x13: "14.1+", 0x15: "16.0+", 0x16: "16.0+", 0x17: "16.0+"},
)

# MS-ASWBXML 2.1.2.1.24 Code Page 23: Notes
_NOTES = CodePage(
    number=23,
    name="Notes",
    prefix="notes",
    section="MS-ASWBXML 2.1.2.1.24",
    added_in="14.0",
    tags={
        0x05: "Subject", 0x06: "MessageClass", 0x07: "LastModifiedDate", 0x08: "Categories",
        0x09: "Category",
    },
    aliases=("Notes:",),
)

# MS-ASWBXML 2.1.2.1.25 Code Page 24: RightsManagement
_RIGHTSMANAGEMENT = CodePage(
    number=24,
    name="RightsManagement",
    prefix="rm",
    section="MS-ASWBXML 2.1.2.1.25",
    added_in="14.1",
    tags={
        0x05: "RightsManagementSupport", 0x06: "RightsManagementTemplates",
        0x07: "RightsManagementTemplate", 0x08: "RightsManagementLicense", 0x09: "EditAllowed",
        0x0A: "ReplyAllowed", 0x0B: "ReplyAllAllowed", 0x0C: "ForwardAllowed",
        0x0D: "ModifyRecipientsAllowed", 0x0E: "ExtractAllowed", 0x0F: "PrintAllowed",
        0x10: "ExportAllowed", 0x11: "ProgrammaticAccessAllowed", 0x12: "Owner",
        0x13: "ContentExpiryDate", 0x14: "TemplateID", 0x15: "TemplateName",
        0x16: "TemplateDescription", 0x17: "ContentOwner", 0x18: "RemoveRightsManagementProtection",
    },
    aliases=("RightsManagement:",),
)

# MS-ASWBXML 2.1.2.1.26 Code Page 25: Find
_FIND = CodePage(
    number=25,
    name="Find",
    prefix="find",
    section="MS-ASWBXML 2.1.2.1.26",
    added_in="16.1",
    tags={
        0x05: "Find", 0x06: "SearchId", 0x07: "ExecuteSearch", 0x08: "MailBoxSearchCriterion",
        0x09: "Query", 0x0A: "Status", 0x0B: "FreeText", 0x0C: "Options", 0x0D: "Range",
        0x0E: "DeepTraversal", 0x11: "Response", 0x12: "Result", 0x13: "Properties",
        0x14: "Preview", 0x15: "HasAttachments", 0x16: "Total", 0x17: "DisplayCc",
        0x18: "DisplayBcc", 0x19: "GalSearchCriterion",
        # 0x20-0x22 as the spec prints them (after a gap); pyactivesync 0.17 uses 0x1A-0x1C instead
        0x20: "MaxPictures", 0x21: "MaxSize", 0x22: "Picture",
    },
    aliases=("Find:",),
)

CODE_PAGES: tuple[CodePage, ...] = (
    _AIRSYNC, _CONTACTS, _EMAIL, _AIRNOTIFY, _CALENDAR, _MOVE, _GETITEMESTIMATE, _FOLDERHIERARCHY,
    _MEETINGRESPONSE, _TASKS, _RESOLVERECIPIENTS, _VALIDATECERT, _CONTACTS2, _PING, _PROVISION,
    _SEARCH, _GAL, _AIRSYNCBASE, _SETTINGS, _DOCUMENTLIBRARY, _ITEMOPERATIONS, _COMPOSEMAIL, _EMAIL2,
    _NOTES, _RIGHTSMANAGEMENT, _FIND,
)

class TagAlias(NamedTuple):
    """Another spelling of a tag that the encoder accepts and encodes to the tag's token.

    Attributes:
        page: the code page number.
        spelling: the other spelling ("TimeZone").
        name: the tag as the code page table spells it, what the decoder writes ("Timezone").
        source: where the other spelling comes from.
    """

    page: int
    spelling: str
    name: str
    source: str


# Spellings people paste from MS-ASCMD examples, older editions and other tools. The decoder always writes the
# table's name; the encoder takes either.
TAG_ALIASES: tuple[TagAlias, ...] = (
    TagAlias(2, "Att0Id", "Att0id", "MS-ASEMAIL 2.2.2.x and libwbxml-era transcriptions (upper-case Id)"),
    TagAlias(4, "TimeZone", "Timezone", "MS-ASCAL 2.2.2.42 and libwbxml spell the Calendar element TimeZone"),
    TagAlias(21, "ForwardeeName", "Name", "MS-ASCMD 2.2.3.78 of the first 16.0 editions (Forwardee children)"),
    TagAlias(21, "ForwardeeEmail", "Email", "MS-ASCMD 2.2.3.78 of the first 16.0 editions (Forwardee children)"),
    TagAlias(25, "GALSearchCriterion", "GalSearchCriterion", "MS-ASCMD 2.2.3.82 (Find) spells it with GAL"),
)


def _encoder_tokens() -> dict[int, Mapping[str, int]]:
    tokens: dict[int, dict[str, int]] = {page.number: dict(page.tokens) for page in CODE_PAGES}
    for alias in TAG_ALIASES:
        tokens[alias.page][alias.spelling] = CODE_PAGES[alias.page].tokens[alias.name]
    return {number: MappingProxyType(names) for number, names in tokens.items()}


# Page number -> every spelling the encoder takes (the table's names and TAG_ALIASES) -> token.
ENCODER_TOKENS: Mapping[int, Mapping[str, int]] = MappingProxyType(_encoder_tokens())

PAGE_BY_NAMESPACE: Mapping[str, CodePage] = MappingProxyType(
    {ns: page for page in CODE_PAGES for ns in (page.name, *page.aliases)}
)


def _tag_to_pages() -> dict[str, tuple[int, ...]]:
    pages: dict[str, list[int]] = {}
    for page in CODE_PAGES:
        for tag in page.tags.values():
            pages.setdefault(tag, []).append(page.number)
    return {tag: tuple(numbers) for tag, numbers in sorted(pages.items())}


# Tag name -> the pages that define it, for error messages ("Type exists on pages 7, 9, 17 ...").
TAG_TO_PAGES: Mapping[str, tuple[int, ...]] = MappingProxyType(_tag_to_pages())
