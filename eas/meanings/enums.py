"""Enumerated values of EAS elements (folder types, body types, recurrence, meeting, flags...) as data."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

EnumTable = Mapping[str, str]


def _table(entries: dict[str, str]) -> EnumTable:
    return MappingProxyType(entries)


# MS-ASCMD Type (FolderSync): the folder type of a FolderHierarchy Add/Update/Folder
FOLDER_TYPE: EnumTable = _table({
    "1": "user-created folder (generic)",
    "2": "default Inbox",
    "3": "default Drafts",
    "4": "default Deleted Items",
    "5": "default Sent Items",
    "6": "default Outbox",
    "7": "default Tasks",
    "8": "default Calendar",
    "9": "default Contacts",
    "10": "default Notes",
    "11": "default Journal",
    "12": "user-created mail folder",
    "13": "user-created calendar",
    "14": "user-created contacts folder",
    "15": "user-created tasks folder",
    "16": "user-created journal",
    "17": "user-created notes folder",
    "18": "unknown folder type",
    "19": "recipient information cache: the addresses the user mails most; sync it with class Contacts "
          "to get Email1Address, FileAs, Alias and WeightedRank for address completion",
})

# The content class of each folder type (MS-ASCMD Type (FolderSync); Journal folders do not sync).
FOLDER_TYPE_CLASS: Mapping[str, str] = MappingProxyType({
    "2": "Email", "3": "Email", "4": "Email", "5": "Email", "6": "Email", "12": "Email",
    "7": "Tasks", "15": "Tasks",
    "8": "Calendar", "13": "Calendar",
    "9": "Contacts", "14": "Contacts", "19": "Contacts",
    "10": "Notes", "17": "Notes",
})

# MS-ASCMD Class (Sync, GetItemEstimate, ItemOperations, Search) and Class (Ping)
CLASS: EnumTable = _table({
    "Email": "email messages",
    "Calendar": "calendar items",
    "Contacts": "contacts",
    "Tasks": "tasks",
    "Notes": "notes",
    "SMS": "text messages (SMS)",
})

# MS-ASCMD 2.2.3.68.2 FilterType (Sync): how far back the server synchronizes, and which class takes which value
FILTER_TYPE_EMAIL: EnumTable = _table({
    "0": "no filter: all messages",
    "1": "messages of the last day",
    "2": "messages of the last 3 days",
    "3": "messages of the last week",
    "4": "messages of the last 2 weeks",
    "5": "messages of the last month",
    "6": "not valid for Email (3 months is a Calendar filter)",
    "7": "not valid for Email (6 months is a Calendar filter)",
    "8": "not valid for Email (incomplete tasks is a Tasks filter)",
})
FILTER_TYPE_CALENDAR: EnumTable = _table({
    "0": "no filter: all items",
    "1": "not valid for Calendar (1 day is an Email filter)",
    "2": "not valid for Calendar (3 days is an Email filter)",
    "3": "not valid for Calendar (1 week is an Email filter)",
    "4": "items from 2 weeks back",
    "5": "items from 1 month back",
    "6": "items from 3 months back",
    "7": "items from 6 months back",
    "8": "not valid for Calendar (incomplete tasks is a Tasks filter)",
})
FILTER_TYPE_TASKS: EnumTable = _table({
    "0": "no filter: all tasks",
    **{str(n): "not valid for Tasks (a time window: Email or Calendar only)" for n in range(1, 8)},
    "8": "incomplete tasks only",
})
FILTER_TYPE_ANY: EnumTable = _table({
    "0": "no filter: everything",
    "1": "1 day back (Email)",
    "2": "3 days back (Email)",
    "3": "1 week back (Email)",
    "4": "2 weeks back (Email, Calendar)",
    "5": "1 month back (Email, Calendar)",
    "6": "3 months back (Calendar)",
    "7": "6 months back (Calendar)",
    "8": "incomplete tasks only (Tasks)",
})
FILTER_TYPE_BY_CLASS: Mapping[str, EnumTable] = MappingProxyType({
    "Email": FILTER_TYPE_EMAIL,
    "SMS": FILTER_TYPE_EMAIL,
    "Calendar": FILTER_TYPE_CALENDAR,
    "Tasks": FILTER_TYPE_TASKS,
    "Contacts": _table({"0": "no filter: all contacts (the only value for Contacts)",
                        **{str(n): "not valid for Contacts (only 0)" for n in range(1, 9)}}),
    "Notes": _table({"0": "no filter: all notes (the only value for Notes)",
                     **{str(n): "not valid for Notes (only 0)" for n in range(1, 9)}}),
})

# MS-ASCMD Conflict (Sync)
CONFLICT: EnumTable = _table({
    "0": "on conflict the client's change wins",
    "1": "on conflict the server's version wins (default)",
})

# MS-ASCMD MIMESupport (Sync, ItemOperations, Search)
MIME_SUPPORT: EnumTable = _table({
    "0": "never send MIME",
    "1": "send MIME for S/MIME messages only",
    "2": "send MIME for every message",
})

# MS-ASCMD MIMETruncation (Sync)
MIME_TRUNCATION: EnumTable = _table({
    "0": "truncate all body text",
    "1": "truncate after 4,096 characters",
    "2": "truncate after 5,120 characters",
    "3": "truncate after 7,168 characters",
    "4": "truncate after 10,240 characters",
    "5": "truncate after 20,480 characters",
    "6": "truncate after 51,200 characters",
    "7": "truncate after 102,400 characters",
    "8": "do not truncate",
})

# MS-ASCMD Truncation (Sync, protocol 2.5 only)
TRUNCATION_25: EnumTable = _table({
    "0": "headers only",
    "1": "truncate after 512 bytes",
    "2": "truncate after 1 KB",
    "3": "truncate after 2 KB",
    "4": "truncate after 5 KB",
    "5": "truncate after 10 KB",
    "6": "truncate after 20 KB",
    "7": "truncate after 50 KB",
    "8": "truncate after 100 KB",
    "9": "do not truncate",
})

# MS-ASAIRS Type (BodyPreference, Body, BodyPartPreference) and NativeBodyType
BODY_TYPE: EnumTable = _table({
    "1": "plain text",
    "2": "HTML",
    "3": "RTF (compressed, base64)",
    "4": "MIME (the whole RFC 822 message)",
})

# MS-ASAIRS Method (Attachment)
ATTACHMENT_METHOD: EnumTable = _table({
    "1": "normal attachment",
    "2": "reserved (not used)",
    "3": "reserved (not used)",
    "4": "reserved (not used)",
    "5": "embedded message (an attached .eml)",
    "6": "OLE object",
})

# MS-ASEMAIL Importance; MS-ASTASK Importance
IMPORTANCE: EnumTable = _table({"0": "low", "1": "normal", "2": "high"})

# MS-ASEMAIL Sensitivity; MS-ASCAL Sensitivity; MS-ASTASK Sensitivity
SENSITIVITY: EnumTable = _table({"0": "normal", "1": "personal", "2": "private", "3": "confidential"})

# MS-ASCAL BusyStatus; MS-ASEMAIL BusyStatus (MeetingRequest); same values as MS-OXOCAL 2.2.1.2; -1 is in
# 16.0+ responses only (MS-ASCAL 2.2.2.8)
BUSY_STATUS: EnumTable = _table({
    "-1": "status unknown (16.0+ responses)",
    "0": "free",
    "1": "tentative",
    "2": "busy",
    "3": "out of office",
    "4": "working elsewhere",
})

# MS-ASCAL MeetingStatus (odd values: a meeting; bit 2 received; bit 4 canceled)
MEETING_STATUS: EnumTable = _table({
    "0": "an appointment (not a meeting)",
    "1": "a meeting the user organizes",
    "3": "a meeting the user was invited to",
    "5": "a canceled meeting the user organized",
    "7": "a canceled meeting the user was invited to",
    "9": "a meeting the user organizes (same as 1)",
    "11": "a meeting the user was invited to (same as 3)",
    "13": "a canceled meeting the user organized (same as 5)",
    "15": "a canceled meeting the user was invited to (same as 7)",
})

# MS-ASCAL ResponseType
RESPONSE_TYPE: EnumTable = _table({
    "0": "none",
    "1": "the user is the organizer",
    "2": "tentatively accepted",
    "3": "accepted",
    "4": "declined",
    "5": "not responded yet",
})

# MS-ASCAL AttendeeStatus
ATTENDEE_STATUS: EnumTable = _table({
    "0": "response unknown",
    "2": "tentative",
    "3": "accepted",
    "4": "declined",
    "5": "not responded",
})

# MS-ASCAL AttendeeType
ATTENDEE_TYPE: EnumTable = _table({"1": "required", "2": "optional", "3": "resource"})

# MS-ASCAL Type (Recurrence); MS-ASEMAIL Type (Recurrence); MS-ASTASK Type (Recurrence)
RECURRENCE_TYPE: EnumTable = _table({
    "0": "daily",
    "1": "weekly",
    "2": "monthly on a day number (DayOfMonth)",
    "3": "monthly on the nth weekday (WeekOfMonth + DayOfWeek)",
    "5": "yearly on a date (MonthOfYear + DayOfMonth)",
    "6": "yearly on the nth weekday of a month",
})

# MS-ASCAL WeekOfMonth
WEEK_OF_MONTH: EnumTable = _table({
    "1": "first week", "2": "second week", "3": "third week", "4": "fourth week", "5": "last week",
})

# MS-ASCAL FirstDayOfWeek; MS-ASEMAIL FirstDayOfWeek (Email2 namespace)
FIRST_DAY_OF_WEEK: EnumTable = _table({
    "0": "Sunday", "1": "Monday", "2": "Tuesday", "3": "Wednesday",
    "4": "Thursday", "5": "Friday", "6": "Saturday",
})

# MS-ASCAL DayOfWeek: a bit mask (127 with monthly/yearly nth: the last day of the month)
DAY_OF_WEEK_BITS: tuple[tuple[int, str], ...] = (
    (1, "Sunday"), (2, "Monday"), (4, "Tuesday"), (8, "Wednesday"),
    (16, "Thursday"), (32, "Friday"), (64, "Saturday"),
)

# MS-ASCAL MonthOfYear
MONTH_OF_YEAR: EnumTable = _table({
    str(n): name for n, name in enumerate(
        ("January", "February", "March", "April", "May", "June", "July", "August",
         "September", "October", "November", "December"), start=1)
})

# MS-ASCAL CalendarType
CALENDAR_TYPE: EnumTable = _table({
    "0": "default calendar",
    "1": "Gregorian",
    "2": "Gregorian (US English)",
    "3": "Japanese Emperor era",
    "4": "Taiwan",
    "5": "Korean Tangun era",
    "6": "Hijri (Arabic lunar)",
    "7": "Thai",
    "8": "Hebrew lunar",
    "9": "Gregorian (Middle East French)",
    "10": "Gregorian (Arabic)",
    "11": "Gregorian (transliterated English)",
    "12": "Gregorian (transliterated French)",
    "14": "Japanese lunar",
    "15": "Chinese lunar",
    "20": "Korean lunar",
})

# MS-ASEMAIL 2.2.2.39 InstanceType (MeetingRequest)
INSTANCE_TYPE: EnumTable = _table({
    "0": "a single appointment",
    "1": "the master of a recurring series",
    "2": "one instance of a recurring series",
    "3": "an exception of a recurring series",
    "4": "an orphan instance of a recurring series (protocol 16.0 and later)",
})

# MS-ASEMAIL Status (Flag) / FlagStatus
FLAG_STATUS: EnumTable = _table({"0": "flag cleared", "1": "complete", "2": "active (flagged)"})

# MS-ASEMAIL LastVerbExecuted (Email2 namespace)
LAST_VERB: EnumTable = _table({
    "0": "unknown",
    "1": "replied to the sender",
    "2": "replied to all",
    "3": "forwarded",
})

# MS-ASEMAIL 2.2.2.47 MeetingMessageType (Email2 namespace; absent means 0)
MEETING_MESSAGE_TYPE: EnumTable = _table({
    "0": "not a meeting message, or a silent update",
    "1": "initial meeting request",
    "2": "full update of a meeting",
    "3": "informational update",
    "4": "outdated: a newer update exists",
    "5": "the delegator's copy of a request sent to a delegate",
    "6": "delegated: the request went to a delegate; do not respond to this copy",
})

# MS-ASCMD UserResponse (MeetingResponse)
USER_RESPONSE: EnumTable = _table({"1": "accept", "2": "tentatively accept", "3": "decline"})

# MS-ASCMD Name (Search) / Store (ItemOperations): the store searched or fetched from
STORE_NAME: EnumTable = _table({
    "Mailbox": "the user's mailbox",
    "DocumentLibrary": "a SharePoint/UNC document library",
    "GAL": "the global address list",
})

# MS-ASPROV PolicyType
POLICY_TYPE: EnumTable = _table({
    "MS-EAS-Provisioning-WBXML": "the policy as EASProvisionDoc elements (protocol 12.0 and later)",
    "MS-WAP-Provisioning-XML": "the policy as a WAP provisioning XML document (protocol 2.5)",
})

# MS-ASPROV RemoteWipe / AccountOnlyRemoteWipe presence is the command itself; 0/1 booleans below.
BOOLEAN: EnumTable = _table({"0": "no", "1": "yes"})

# Boolean flags where a yes/no says something useful, with what "1" means (MS-ASCMD, MS-ASEMAIL,
# MS-ASCAL, MS-ASTASK, MS-ASAIRS element sections).
FLAG_MEANINGS: Mapping[tuple[str, str], tuple[str, str]] = MappingProxyType({
    ("AirSync", "DeletesAsMoves"): ("deleted items are deleted for good",
                                    "deleted items go to Deleted Items (default)"),
    ("AirSync", "GetChanges"): ("do not send server changes in this response",
                                "send server changes (default when SyncKey is not 0)"),
    ("AirSync", "ConversationMode"): ("not in conversation mode", "return whole conversations"),
    ("Email", "Read"): ("unread", "read"),
    ("Email", "AllDayEvent"): ("not an all-day event", "all-day event"),
    ("Email", "ResponseRequested"): ("no response requested", "the organizer asks for a response"),
    ("Email", "DisallowNewTimeProposal"): ("attendees may propose a new time",
                                           "attendees may not propose a new time"),
    ("Email2", "ReceivedAsBcc"): ("not received as Bcc", "the user was a Bcc recipient"),
    ("Email2", "IsDraft"): ("not a draft", "a draft"),
    ("Email2", "IsLeapMonth"): ("not a leap month", "a leap month"),
    ("Calendar", "AllDayEvent"): ("not an all-day event", "all-day event"),
    ("Calendar", "ResponseRequested"): ("no response requested", "the organizer asks for a response"),
    ("Calendar", "DisallowNewTimeProposal"): ("attendees may propose a new time",
                                              "attendees may not propose a new time"),
    ("Calendar", "Deleted"): ("this exception is kept", "this occurrence was deleted"),
    ("Calendar", "IsLeapMonth"): ("not a leap month", "a leap month"),
    ("Tasks", "Complete"): ("not complete", "complete"),
    ("Tasks", "ReminderSet"): ("no reminder", "a reminder is set"),
    ("Tasks", "Regenerate"): ("recurrence follows the pattern", "the next task is created on completion"),
    ("Tasks", "DeadOccur"): ("more occurrences to come", "this is the last occurrence"),
    ("Tasks", "IsLeapMonth"): ("not a leap month", "a leap month"),
    ("AirSyncBase", "Truncated"): ("the body is complete", "the body is truncated: fetch the rest if needed"),
    ("AirSyncBase", "AllOrNone"): ("send the body even if truncated",
                                   "send the body only if it fits TruncationSize"),
    ("AirSyncBase", "IsInline"): ("not inline", "an inline attachment (in the HTML body)"),
    ("Search", "DeepTraversal"): ("this folder only", "also search subfolders"),
    ("Search", "RebuildResults"): ("use cached results", "rebuild the result set"),
    ("Settings", "Enabled"): ("this out-of-office message is off", "this out-of-office message is on"),
    ("Settings", "EnableOutboundSMS"): ("the device does not send SMS for the user",
                                        "the device sends SMS on behalf of the server"),
    ("ItemOperations", "DeleteSubFolders"): ("keep subfolders", "also delete subfolders"),
    ("ItemOperations", "MoveAlways"): ("move these items only", "also move later items of this conversation"),
    ("DocumentLibrary", "IsFolder"): ("a document", "a folder"),
    ("DocumentLibrary", "IsHidden"): ("visible", "hidden"),
    ("Find", "DeepTraversal"): ("this folder only", "also search subfolders"),
    ("Find", "HasAttachments"): ("no attachments", "has attachments"),
    ("RightsManagement", "EditAllowed"): ("may not edit", "may edit"),
    ("RightsManagement", "ExportAllowed"): ("may not export", "may export"),
    ("RightsManagement", "ExtractAllowed"): ("may not copy content", "may copy content"),
    ("RightsManagement", "ForwardAllowed"): ("may not forward", "may forward"),
    ("RightsManagement", "ModifyRecipientsAllowed"): ("may not change recipients", "may change recipients"),
    ("RightsManagement", "Owner"): ("the user is not the owner", "the user owns the content"),
    ("RightsManagement", "PrintAllowed"): ("may not print", "may print"),
    ("RightsManagement", "ProgrammaticAccessAllowed"): ("no programmatic access", "programmatic access allowed"),
    ("RightsManagement", "ReplyAllAllowed"): ("may not reply all", "may reply all"),
    ("RightsManagement", "ReplyAllowed"): ("may not reply", "may reply"),
})

# MS-ASCMD OofState (Settings)
OOF_STATE: EnumTable = _table({
    "0": "out of office is off",
    "1": "out of office is on (global, no time limit)",
    "2": "out of office is on between StartTime and EndTime",
})

# MS-ASCMD BodyType (Settings OofMessage): a string, unlike AirSyncBase Type
OOF_BODY_TYPE: EnumTable = _table({"Text": "plain text reply", "HTML": "HTML reply"})

# MS-ASCMD Sync, Ping, ItemOperations units of numeric elements (what the number counts)
UNITS: Mapping[tuple[str, str], str] = MappingProxyType({
    ("AirSync", "Wait"): "minutes the server may hold the Sync open (1-59)",
    ("AirSync", "HeartbeatInterval"): "seconds the server may hold the Sync open (60-3540)",
    ("AirSync", "WindowSize"): "most changes per collection in one response",
    ("AirSync", "Limit"): "the Wait or HeartbeatInterval limit the server accepts",
    ("AirSync", "MaxItems"): "most items to return",
    ("Ping", "HeartbeatInterval"): "seconds the server holds the Ping before answering Status 1",
    ("Ping", "MaxFolders"): "most folders one Ping may monitor",
    ("Email", "Reminder"): "minutes before the start to remind",
    ("Calendar", "Reminder"): "minutes before the start to remind",
    ("AirSyncBase", "TruncationSize"): "bytes of body to send at most",
    ("GetItemEstimate", "Estimate"): "items the next Sync would return",
    ("Search", "Total"): "results found in all",
    ("Contacts", "WeightedRank"): "rank in the recipient information cache: higher means mailed more",
    ("FolderHierarchy", "Count"): "folder changes that follow",
    ("ItemOperations", "Total"): "size of the whole item, in bytes",
    ("DocumentLibrary", "ContentLength"): "size of the document, in bytes",
    ("Search", "MaxPictures"): "most contact pictures to return",
    ("Search", "MaxSize"): "largest picture to return, in bytes",
    ("Find", "MaxPictures"): "most contact pictures to return",
    ("Find", "MaxSize"): "largest picture to return, in bytes",
    ("Find", "Total"): "results found in all",
})

# The kind of message, matched on the longest known prefix (case-insensitive): the classes and the administrative
# (REPORT.) classes of MS-ASEMAIL 2.2.2.49 MessageClass, and common subclasses (meeting responses, receipts)
MESSAGE_CLASS_PREFIXES: tuple[tuple[str, str], ...] = (
    ("IPM.Note.SMIME.MultipartSigned", "S/MIME clear-signed message"),
    ("IPM.Note.SMIME", "S/MIME encrypted or opaque-signed message"),
    ("IPM.Note.Receipt.SMIME", "S/MIME signed receipt"),
    ("IPM.Note", "email message"),
    ("IPM.Schedule.Meeting", "meeting message (request, response or cancellation)"),
    ("IPM.Schedule.Meeting.Request", "meeting request"),
    ("IPM.Schedule.Meeting.Canceled", "meeting cancellation"),
    ("IPM.Schedule.Meeting.Resp.Pos", "meeting accepted"),
    ("IPM.Schedule.Meeting.Resp.Tent", "meeting tentatively accepted"),
    ("IPM.Schedule.Meeting.Resp.Neg", "meeting declined"),
    ("IPM.Notification.Meeting", "meeting notification (e.g. forward notice)"),
    ("IPM.Post", "post"),
    ("IPM.InfoPathForm", "InfoPath form"),
    ("IPM.Sharing", "sharing request"),
    ("IPM.Octel.Voice", "voice mail"),
    ("IPM.Voicenotes", "voice note"),
    ("REPORT.IPM.Note.NDR", "non-delivery report"),
    ("REPORT.IPM.Note.DR", "delivery receipt"),
    ("REPORT.IPM.Note.Delayed", "delivery delayed report"),
    ("REPORT.IPM.Note.IPNRN", "read receipt"),
    ("REPORT.IPM.Note.IPNNRN", "not-read receipt"),
    ("REPORT.IPM.Schedule.Meeting.Request.NDR", "non-delivery report of a meeting request"),
    ("REPORT.IPM.Schedule.Meeting.Resp.Pos.NDR", "non-delivery report of a meeting acceptance"),
    ("REPORT.IPM.Schedule.Meeting.Resp.Tent.NDR", "non-delivery report of a tentative meeting acceptance"),
    ("REPORT.IPM.Schedule.Meeting.Canceled.NDR", "non-delivery report of a meeting cancellation"),
    ("REPORT.IPM.Note.SMIME.NDR", "non-delivery report of an S/MIME encrypted or opaque-signed message"),
    ("REPORT.IPM.Note.SMIME.DR", "delivery receipt of an S/MIME encrypted or opaque-signed message"),
    ("REPORT.IPM.Note.SMIME.MultipartSigned.NDR", "non-delivery report of an S/MIME clear-signed message"),
    ("REPORT.IPM.Note.SMIME.MultipartSigned.DR", "delivery receipt of an S/MIME clear-signed message"),
)


def message_class_meaning(value: str) -> str | None:
    """The longest known prefix's meaning for a MessageClass value, or None."""
    folded = value.strip().casefold()
    best: tuple[int, str] | None = None
    for prefix, meaning in MESSAGE_CLASS_PREFIXES:
        lowered = prefix.casefold()
        if (folded == lowered or folded.startswith(lowered + ".")) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), meaning)
    return best[1] if best else None


# MS-ASEMAIL InternetCPID: the Windows code page the message came in (the most common ones)
INTERNET_CPID: EnumTable = _table({
    "65001": "UTF-8",
    "1200": "UTF-16 little-endian",
    "20127": "US-ASCII",
    "28591": "ISO-8859-1 (Latin-1)",
    "28592": "ISO-8859-2 (Central European)",
    "28605": "ISO-8859-15 (Latin-9)",
    "1250": "Windows-1250 (Central European)",
    "1251": "Windows-1251 (Cyrillic)",
    "1252": "Windows-1252 (Western European)",
    "20866": "KOI8-R",
    "50220": "ISO-2022-JP",
    "51932": "EUC-JP",
    "932": "Shift_JIS",
    "936": "GB2312 / GBK",
    "54936": "GB18030",
    "949": "EUC-KR / UHC",
    "950": "Big5",
})

# MS-ASEMAIL ContentClass
CONTENT_CLASS: EnumTable = _table({
    "urn:content-classes:message": "an email message",
    "urn:content-classes:calendarmessage": "a meeting message (request, response or cancellation)",
})
