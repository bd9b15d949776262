"""Which EAS elements carry an enumerated value or a date, by (namespace, tag): the annotator's element tables."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from . import enums
from .enums import EnumTable

# (namespace, tag) -> (the element's value table in eas.meanings.enums, the label its note starts with; None:
# the tag itself). Each table in enums cites its section; the elements are those of the documents named.
ENUM_ELEMENTS: Mapping[tuple[str, str], tuple[EnumTable, str | None]] = MappingProxyType({
    # MS-ASCMD (AirSync, Ping, GetItemEstimate, MeetingResponse, ResolveRecipients, Search, ItemOperations)
    ("AirSync", "Class"): (enums.CLASS, None),
    ("Ping", "Class"): (enums.CLASS, None),
    ("GetItemEstimate", "Class"): (enums.CLASS, None),
    ("AirSync", "Conflict"): (enums.CONFLICT, None),
    ("AirSync", "MIMESupport"): (enums.MIME_SUPPORT, None),
    ("AirSync", "MIMETruncation"): (enums.MIME_TRUNCATION, None),
    ("MeetingResponse", "UserResponse"): (enums.USER_RESPONSE, None),
    ("ResolveRecipients", "Type"): (MappingProxyType({"1": "found in the global address list",
                                                      "2": "found in the user's contacts"}), None),
    ("Search", "Name"): (enums.STORE_NAME, "Store"),
    ("ItemOperations", "Store"): (enums.STORE_NAME, "Store"),
    # MS-ASAIRS
    ("AirSyncBase", "Type"): (enums.BODY_TYPE, "Body type"),
    ("AirSyncBase", "NativeBodyType"): (enums.BODY_TYPE, None),
    ("AirSyncBase", "Method"): (enums.ATTACHMENT_METHOD, "Attachment method"),
    # MS-ASEMAIL, MS-ASTASK, MS-ASCAL
    ("Email", "Importance"): (enums.IMPORTANCE, None),
    ("Tasks", "Importance"): (enums.IMPORTANCE, None),
    ("Email", "Sensitivity"): (enums.SENSITIVITY, None),
    ("Calendar", "Sensitivity"): (enums.SENSITIVITY, None),
    ("Tasks", "Sensitivity"): (enums.SENSITIVITY, None),
    ("Email", "BusyStatus"): (enums.BUSY_STATUS, None),
    ("Calendar", "BusyStatus"): (enums.BUSY_STATUS, None),
    ("Calendar", "MeetingStatus"): (enums.MEETING_STATUS, None),
    ("Calendar", "ResponseType"): (enums.RESPONSE_TYPE, None),
    ("Calendar", "AttendeeStatus"): (enums.ATTENDEE_STATUS, "Attendee status"),
    ("Calendar", "AttendeeType"): (enums.ATTENDEE_TYPE, "Attendee type"),
    ("Email", "InstanceType"): (enums.INSTANCE_TYPE, None),
    ("Email", "InternetCPID"): (enums.INTERNET_CPID, None),
    ("Email", "ContentClass"): (enums.CONTENT_CLASS, None),
    ("Email2", "LastVerbExecuted"): (enums.LAST_VERB, None),
    ("Email2", "MeetingMessageType"): (enums.MEETING_MESSAGE_TYPE, None),
    # MS-ASPROV, MS-ASCMD Settings
    ("Provision", "PolicyType"): (enums.POLICY_TYPE, None),
    ("Settings", "OofState"): (enums.OOF_STATE, None),
    ("Settings", "BodyType"): (enums.OOF_BODY_TYPE, None),
    # Recurrences: MS-ASCAL, MS-ASEMAIL (meeting requests), MS-ASTASK
    **{(namespace, "Type"): (enums.RECURRENCE_TYPE, "Recurrence type") for namespace in ("Calendar", "Email", "Tasks")},
    **{(namespace, "WeekOfMonth"): (enums.WEEK_OF_MONTH, None) for namespace in ("Calendar", "Email", "Tasks")},
    **{(namespace, "MonthOfYear"): (enums.MONTH_OF_YEAR, None) for namespace in ("Calendar", "Email", "Tasks")},
    **{(namespace, "FirstDayOfWeek"): (enums.FIRST_DAY_OF_WEEK, None) for namespace in ("Calendar", "Email2", "Tasks")},
    **{(namespace, "CalendarType"): (enums.CALENDAR_TYPE, None) for namespace in ("Calendar", "Email2", "Tasks")},
})

# Elements whose value is a date (MS-ASEMAIL, MS-ASCAL, MS-ASTASK, MS-ASNOTE, MS-ASCMD, MS-ASRM sections).
DATE_ELEMENTS: tuple[tuple[str, str], ...] = (
    ("Email", "DateReceived"), ("Email", "DtStamp"), ("Email", "StartTime"), ("Email", "EndTime"),
    ("Email", "RecurrenceId"), ("Email", "Until"), ("Email", "CompleteTime"),
    ("Email2", "LastVerbExecutionTime"),
    ("Calendar", "DtStamp"), ("Calendar", "StartTime"), ("Calendar", "EndTime"), ("Calendar", "Until"),
    ("Calendar", "ExceptionStartTime"), ("Calendar", "AppointmentReplyTime"),
    ("Tasks", "DateCompleted"), ("Tasks", "DueDate"), ("Tasks", "UtcDueDate"), ("Tasks", "StartDate"),
    ("Tasks", "UtcStartDate"), ("Tasks", "ReminderTime"), ("Tasks", "Until"), ("Tasks", "OrdinalDate"),
    ("Notes", "LastModifiedDate"), ("Settings", "StartTime"), ("Settings", "EndTime"),
    ("MeetingResponse", "InstanceId"), ("MeetingResponse", "ProposedStartTime"),
    ("MeetingResponse", "ProposedEndTime"), ("RightsManagement", "ContentExpiryDate"),
    ("ResolveRecipients", "StartTime"), ("ResolveRecipients", "EndTime"), ("AirSyncBase", "InstanceId"),
    ("DocumentLibrary", "CreationDate"), ("DocumentLibrary", "LastModifiedDate"),
)
