"""eas.annotate: each annotation family on realistic documents, context inference, text kept byte-exact."""

from __future__ import annotations

import base64
import importlib
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from eas.annotate import AnnotationContext, annotate, status_meaning
from eas.meanings import contacts
from eas.values import describe_day_of_week

from .test_values import png_bytes, timezone_blob


def notes_of(xml: str, context: AnnotationContext | None = None) -> dict[str, list[str]]:
    """Annotate `xml`; return local name of each annotated element -> its comment texts, in order."""
    root = etree.fromstring(xml.encode())
    annotate(root, context or AnnotationContext())
    found: dict[str, list[str]] = {}
    for comment in root.iter(etree.Comment):
        element = comment.getprevious()
        assert element is not None and isinstance(element.tag, str), "a note always follows its element"
        found.setdefault(etree.QName(element).localname, []).append(comment.text.strip())
    return found


def only(found: dict[str, list[str]], local: str) -> str:
    assert len(found.get(local, [])) == 1, found.get(local)
    return found[local][0]


# ---- statuses -----------------------------------------------------------------------------------------

def test_sync_collection_status_3() -> None:
    found = notes_of('<Sync xmlns="AirSync"><Collections><Collection><SyncKey>7</SyncKey>'
                     '<CollectionId>1</CollectionId><Status>3</Status></Collection></Collections></Sync>')
    assert only(found, "Status") == ("Status 3: invalid synchronization key: the client must start again "
                                     "from SyncKey 0 for this collection")


def test_sync_item_status_in_responses_uses_the_item_table() -> None:
    found = notes_of('<Sync xmlns="AirSync"><Collections><Collection><Status>1</Status><Responses>'
                     '<Add><ClientId>c1</ClientId><Status>6</Status></Add>'
                     '<Change><ServerId>1:2</ServerId><Status>8</Status></Change>'
                     '</Responses></Collection></Collections></Sync>')
    statuses = found["Status"]
    assert statuses[0] == "Status 1: success"
    assert statuses[1].startswith("Status 6: the item could not be converted")
    assert statuses[2].startswith("Status 8: item not found on the server")


def test_folder_sync_status_and_type_19() -> None:
    found = notes_of('<FolderSync xmlns="FolderHierarchy"><Status>1</Status><SyncKey>1</SyncKey><Changes>'
                     '<Count>2</Count><Add><ServerId>19</ServerId><ParentId>0</ParentId>'
                     '<DisplayName>RI</DisplayName><Type>19</Type></Add>'
                     '<Add><ServerId>2</ServerId><ParentId>0</ParentId><DisplayName>Inbox</DisplayName>'
                     '<Type>2</Type></Add></Changes></FolderSync>')
    assert found["Status"] == ["Status 1: success"]
    types = found["Type"]
    assert types[0].startswith("Type 19: recipient information cache")
    assert "class Contacts" in types[0]
    assert types[1] == "Type 2: default Inbox (class Email)"


@pytest.mark.parametrize(("root", "code", "start"), [
    ("FolderCreate", 2, "Status 2: a folder with this name already exists"),
    ("FolderUpdate", 4, "Status 4: the folder does not exist"),
    ("FolderDelete", 3, "Status 3: the folder is a special system folder and cannot be deleted"),
    ("FolderSync", 9, "Status 9: invalid or mismatched synchronization key"),
])
def test_folder_commands_have_their_own_tables(root: str, code: int, start: str) -> None:
    found = notes_of(f'<{root} xmlns="FolderHierarchy"><Status>{code}</Status></{root}>')
    assert only(found, "Status").startswith(start)


def test_ping_status_2() -> None:
    found = notes_of('<Ping xmlns="Ping"><Status>2</Status><Folders><Folder>5</Folder></Folders></Ping>')
    assert only(found, "Status") == "Status 2: changes in the folders listed: Sync those folders, then Ping again"


def test_provision_policy_status_2_in_a_response() -> None:
    xml = ('<Provision xmlns="Provision"><Status>1</Status><Policies><Policy>'
           '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType><Status>2</Status></Policy></Policies></Provision>')
    found = notes_of(xml, AnnotationContext(command="Provision", is_response=True))
    assert found["Status"][0] == "Status 1: success"
    assert found["Status"][1].startswith("Status 2: no policy for this client")
    assert only(found, "PolicyType").startswith("PolicyType MS-EAS-Provisioning-WBXML: the policy as EASProvisionDoc")
    # without the context flag the top-level Status still marks the document as a response
    assert notes_of(xml)["Status"][1].startswith("Status 2: no policy for this client")


def test_provision_acknowledgment_in_a_request() -> None:
    found = notes_of('<Provision xmlns="Provision"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML'
                     '</PolicyType><PolicyKey>1307199584</PolicyKey><Status>1</Status></Policy></Policies>'
                     '<RemoteWipe><Status>1</Status></RemoteWipe></Provision>')
    assert found["Status"] == ["Status 1: success: the client applied the policy",
                               "Status 1: the client remote wipe operation was successful"]
    assert only(found, "PolicyKey").startswith("PolicyKey: policy key")


def test_nested_tables_of_item_operations_resolve_recipients_settings() -> None:
    found = notes_of('<ItemOperations xmlns="ItemOperations"><Status>1</Status><Response><Fetch>'
                     '<Status>15</Status></Fetch></Response></ItemOperations>')
    assert found["Status"][1] == "Status 15: invalid attachment or attachment id"
    found = notes_of('<ResolveRecipients xmlns="ResolveRecipients"><Status>1</Status><Response><To>x</To>'
                     '<Status>2</Status><Certificates><Status>7</Status></Certificates>'
                     '<Recipient><Availability><Status>162</Status></Availability>'
                     '<Picture><Status>173</Status></Picture></Recipient></Response></ResolveRecipients>')
    statuses = found["Status"]
    assert statuses[1].startswith("Status 2: ambiguous")
    assert statuses[2] == "Status 7: the recipient does not have a valid S/MIME certificate"
    assert statuses[3] == "Status 162: free/busy data could not be retrieved: a temporary failure; retry"
    assert statuses[4] == "Status 173: the user does not have a contact photo"
    found = notes_of('<Settings xmlns="Settings"><Status>1</Status><Oof><Status>2</Status><Get>'
                     '<OofState>2</OofState></Get></Oof><DeviceInformation><Status>1</Status>'
                     '</DeviceInformation></Settings>')
    assert found["Status"] == ["Status 1: success", "Status 2: protocol error: the XML is formatted incorrectly",
                               "Status 1: success"]
    assert only(found, "OofState") == "OofState 2: out of office is on between StartTime and EndTime"


def test_common_codes_fall_back_and_unknown_codes_say_so() -> None:
    found = notes_of('<Sync xmlns="AirSync"><Status>142</Status></Sync>')
    assert only(found, "Status") == ("Status 142: device not provisioned: the client must send Provision first "
                                     "(common status)")
    assert only(notes_of('<Ping xmlns="Ping"><Status>42</Status></Ping>'), "Status") == (
        "Status 42: unknown Ping status code")
    assert only(notes_of('<Ping xmlns="Ping"><Status>x</Status></Ping>'), "Status") == "Status 'x': not a number"
    found = notes_of('<SendMail xmlns="ComposeMail"><Status>120</Status></SendMail>')
    assert only(found, "Status").startswith("Status 120: the mail could not be submitted")


def test_other_command_statuses() -> None:
    cases = {
        '<GetItemEstimate xmlns="GetItemEstimate"><Response><Status>3</Status></Response></GetItemEstimate>':
            "Status 3: sync state not primed",
        '<MoveItems xmlns="Move"><Response><Status>3</Status></Response></MoveItems>': "Status 3: success",
        '<MeetingResponse xmlns="MeetingResponse"><Result><Status>2</Status></Result></MeetingResponse>':
            "Status 2: invalid meeting request",
        '<Search xmlns="Search"><Status>1</Status></Search>': "Status 1: success",
        '<ValidateCert xmlns="ValidateCert"><Certificate><Status>13</Status></Certificate></ValidateCert>':
            "Status 13: the digital ID has been revoked",
        '<Find xmlns="Find"><Status>3</Status></Find>': "Status 3: folder hierarchy out of date",
    }
    for xml, start in cases.items():
        assert only(notes_of(xml), "Status").startswith(start), xml


def test_status_meaning_api() -> None:
    assert status_meaning("Sync", 3) is not None
    assert status_meaning("Sync", 3).startswith("invalid synchronization key")  # type: ignore[union-attr]
    assert status_meaning("Ping", 177) == status_meaning("Sync", 177)
    assert status_meaning("SmartReply", 118) == "the message was already sent (duplicate ClientId)"
    assert status_meaning("Ping", 99) is None
    assert status_meaning("NoSuchCommand", 1) is None
    assert status_meaning("NoSuchCommand", 140) is not None


# ---- enumerations -------------------------------------------------------------------------------------

def test_filter_type_depends_on_the_class() -> None:
    found = notes_of('<Sync xmlns="AirSync"><Collections>'
                     '<Collection><SyncKey>1</SyncKey><CollectionId>2</CollectionId><Options>'
                     '<Class>Email</Class><FilterType>3</FilterType></Options></Collection>'
                     '<Collection><Class>Calendar</Class><SyncKey>1</SyncKey><CollectionId>8</CollectionId>'
                     '<Options><FilterType>3</FilterType></Options></Collection>'
                     '<Collection><SyncKey>1</SyncKey><CollectionId>9</CollectionId><Options>'
                     '<FilterType>8</FilterType></Options></Collection>'
                     '</Collections></Sync>', AnnotationContext(folder_classes={"9": "Tasks"}))
    filters = found["FilterType"]
    assert filters[0] == "FilterType 3 (Email): messages of the last week"
    assert filters[1].startswith("FilterType 3 (Calendar): not valid for Calendar")
    assert filters[2] == "FilterType 8 (Tasks): incomplete tasks only"


def test_filter_type_class_from_folder_types_in_the_same_document() -> None:
    found = notes_of('<Batch xmlns="AirSync" xmlns:f="FolderHierarchy"><f:Add><f:ServerId>c7</f:ServerId>'
                     '<f:Type>13</f:Type></f:Add><Collection><CollectionId>c7</CollectionId><Options>'
                     '<FilterType>6</FilterType></Options></Collection></Batch>')
    assert only(found, "FilterType") == "FilterType 6 (Calendar): items from 3 months back"


def test_filter_type_without_a_known_class() -> None:
    found = notes_of('<Sync xmlns="AirSync"><Collection><Options><FilterType>5</FilterType></Options>'
                     '</Collection></Sync>')
    assert only(found, "FilterType") == "FilterType 5: 1 month back (Email, Calendar)"


def test_airsync_options_enumerations() -> None:
    found = notes_of('<Sync xmlns="AirSync" xmlns:b="AirSyncBase"><Collection><SyncKey>0</SyncKey>'
                     '<DeletesAsMoves>0</DeletesAsMoves><GetChanges>1</GetChanges><WindowSize>50</WindowSize>'
                     '<Options><Conflict>1</Conflict><MIMESupport>2</MIMESupport><MIMETruncation>8'
                     '</MIMETruncation><b:BodyPreference><b:Type>2</b:Type><b:TruncationSize>5120'
                     '</b:TruncationSize></b:BodyPreference></Options></Collection></Sync>')
    assert only(found, "SyncKey").startswith("SyncKey 0: initial key")
    assert only(found, "DeletesAsMoves") == "DeletesAsMoves 0: deleted items are deleted for good"
    assert only(found, "GetChanges").startswith("GetChanges 1: send server changes")
    assert only(found, "WindowSize") == "WindowSize 50: most changes per collection in one response"
    assert only(found, "Conflict") == "Conflict 1: on conflict the server's version wins (default)"
    assert only(found, "MIMESupport") == "MIMESupport 2: send MIME for every message"
    assert only(found, "MIMETruncation") == "MIMETruncation 8: do not truncate"
    assert only(found, "Type") == "Body type 2: HTML"
    assert only(found, "TruncationSize").startswith("TruncationSize 5120: bytes")


def test_email_and_calendar_enumerations() -> None:
    found = notes_of(
        '<ApplicationData xmlns="AirSync" xmlns:e="Email" xmlns:e2="Email2" xmlns:c="Calendar" '
        'xmlns:b="AirSyncBase"><e:Read>1</e:Read><e:Importance>2</e:Importance>'
        '<e:Flag><e:Status>2</e:Status></e:Flag><e2:LastVerbExecuted>3</e2:LastVerbExecuted>'
        '<e:MeetingRequest><e:InstanceType>3</e:InstanceType><e:BusyStatus>2</e:BusyStatus>'
        '<e:Sensitivity>2</e:Sensitivity></e:MeetingRequest><b:NativeBodyType>4</b:NativeBodyType>'
        '<c:MeetingStatus>3</c:MeetingStatus><c:ResponseType>5</c:ResponseType>'
        '<c:Attendees><c:Attendee><c:AttendeeStatus>4</c:AttendeeStatus><c:AttendeeType>3</c:AttendeeType>'
        '</c:Attendee></c:Attendees><c:Recurrence><c:Type>3</c:Type><c:DayOfWeek>127</c:DayOfWeek>'
        '<c:WeekOfMonth>5</c:WeekOfMonth><c:MonthOfYear>10</c:MonthOfYear>'
        '<c:FirstDayOfWeek>1</c:FirstDayOfWeek><c:CalendarType>0</c:CalendarType></c:Recurrence>'
        '<c:StartTime>20260115T140000Z</c:StartTime><e2:MeetingMessageType>1</e2:MeetingMessageType>'
        '</ApplicationData>')
    assert only(found, "Read") == "Read 1: read"
    assert only(found, "Importance") == "Importance 2: high"
    assert only(found, "Status") == "Flag status 2: active (flagged)"
    assert only(found, "LastVerbExecuted") == "LastVerbExecuted 3: forwarded"
    assert only(found, "InstanceType") == "InstanceType 3: an exception of a recurring series"
    assert only(found, "BusyStatus") == "BusyStatus 2: busy"
    assert only(found, "Sensitivity") == "Sensitivity 2: private"
    assert only(found, "NativeBodyType") == "NativeBodyType 4: MIME (the whole RFC 822 message)"
    assert only(found, "MeetingStatus") == "MeetingStatus 3: a meeting the user was invited to"
    assert only(found, "ResponseType") == "ResponseType 5: not responded yet"
    assert only(found, "AttendeeStatus") == "Attendee status 4: declined"
    assert only(found, "AttendeeType") == "Attendee type 3: resource"
    assert only(found, "Type").startswith("Recurrence type 3: monthly on the nth weekday")
    assert only(found, "DayOfWeek").startswith("DayOfWeek 127: every day")
    assert only(found, "WeekOfMonth") == "WeekOfMonth 5: last week"
    assert only(found, "MonthOfYear") == "MonthOfYear 10: October"
    assert only(found, "FirstDayOfWeek") == "FirstDayOfWeek 1: Monday"
    assert only(found, "CalendarType") == "CalendarType 0: default calendar"
    assert only(found, "StartTime") == "2026-01-15 14:00:00 UTC, Thursday"
    assert only(found, "MeetingMessageType") == "MeetingMessageType 1: initial meeting request"


def test_unknown_enum_values_are_said_unknown() -> None:
    found = notes_of('<ApplicationData xmlns="Email"><Importance>7</Importance><Sensitivity/></ApplicationData>')
    assert only(found, "Importance") == "Importance 7: unknown value"
    assert only(found, "Sensitivity") == "Sensitivity (empty): unknown value"


def test_ping_classes_and_meeting_response() -> None:
    found = notes_of('<Ping xmlns="Ping"><HeartbeatInterval>480</HeartbeatInterval><Folders><Folder><Id>5</Id>'
                     '<Class>Calendar</Class></Folder></Folders></Ping>')
    assert only(found, "Class") == "Class Calendar: calendar items"
    assert only(found, "HeartbeatInterval").startswith("HeartbeatInterval 480: seconds")
    found = notes_of('<MeetingResponse xmlns="MeetingResponse"><Request><UserResponse>2</UserResponse>'
                     '</Request></MeetingResponse>')
    assert only(found, "UserResponse") == "UserResponse 2: tentatively accept"


def test_provision_policy_settings() -> None:
    found = notes_of(
        '<Provision xmlns="Provision"><Status>1</Status><Policies><Policy><Status>1</Status><Data>'
        '<EASProvisionDoc><DevicePasswordEnabled>1</DevicePasswordEnabled><AllowBluetooth>1</AllowBluetooth>'
        '<MinDevicePasswordLength>6</MinDevicePasswordLength><MaxEmailAgeFilter>3</MaxEmailAgeFilter>'
        '<RequireEncryptionSMIMEAlgorithm>0</RequireEncryptionSMIMEAlgorithm><AllowCamera>7</AllowCamera>'
        '<UnapprovedInROMApplicationList><ApplicationName>Games</ApplicationName>'
        '</UnapprovedInROMApplicationList></EASProvisionDoc></Data></Policy></Policies></Provision>')
    assert only(found, "DevicePasswordEnabled") == "DevicePasswordEnabled: a device password: 1 = required"
    assert only(found, "AllowBluetooth") == "AllowBluetooth: Bluetooth use: 1 = hands-free profiles only"
    assert only(found, "MinDevicePasswordLength") == ("MinDevicePasswordLength: shortest password allowed: "
                                                      "6 characters")
    assert only(found, "MaxEmailAgeFilter").endswith("3 = 1 week")
    assert only(found, "RequireEncryptionSMIMEAlgorithm").endswith("0 = TripleDES")
    assert only(found, "AllowCamera").endswith("7 = unknown value")
    assert only(found, "ApplicationName").startswith("ApplicationName: name of a built-in application")
    assert "EASProvisionDoc" in found and "UnapprovedInROMApplicationList" in found


# ---- values -------------------------------------------------------------------------------------------

def test_timezone_with_garbage_standard_date() -> None:
    garbage = bytes.fromhex("ff ff 41 41 00 13 ff 7f 10 27 99 99 01 02 03 04")
    daylight = bytes.fromhex("0000 0300 0000 0500 0200 0000 0000 0000")
    found = notes_of(f'<ApplicationData xmlns="Calendar"><TimeZone>{timezone_blob(garbage, daylight)}'
                     '</TimeZone></ApplicationData>')
    note = only(found, "TimeZone")
    assert note.startswith("TimeZone: UTC+01:00; standard 'W. Europe Standard Time'")
    assert "invalid SYSTEMTIME (garbage bytes ff ff 41 41" in note
    assert "last Sunday of March 02:00" in note


def test_mime_body_of_type_4_and_compose_mail() -> None:
    mime = ("From: =?utf-8?q?Jos=C3=A9?= <jose@example.com>\r\nTo: bob@example.com\r\n"
            "Subject: =?utf-8?b?w4ljaMOpYW5jZSDimJE=?=\r\nDate: Thu, 15 Jan 2026 14:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour -- à bientôt\r\n")
    found = notes_of('<ApplicationData xmlns="AirSync" xmlns:b="AirSyncBase"><b:Body><b:Type>4</b:Type>'
                     f'<b:Data>{escape(mime).replace(chr(13), "&#13;")}</b:Data></b:Body></ApplicationData>')
    note = only(found, "Data")
    assert note.startswith("MIME: From: José <jose@example.com> | To: bob@example.com | Subject: Échéance ☑")
    assert "body: text/plain utf-8" in note
    found = notes_of('<SendMail xmlns="ComposeMail"><ClientId>1</ClientId><SaveInSentItems/>'
                     f'<Mime>{base64.b64encode(mime.encode()).decode()}</Mime></SendMail>')
    assert "Subject: Échéance ☑" in only(found, "Mime")
    # a plain text body (Type 1) gets no MIME summary
    assert "Data" not in notes_of('<Body xmlns="AirSyncBase"><Type>1</Type><Data>hello</Data></Body>')


def test_conversation_id_and_index() -> None:
    found = notes_of('<ApplicationData xmlns="Email2"><ConversationId>000102030405060708090A0B0C0D0E0F'
                     '</ConversationId><ConversationIndex>01D9F1A2B3</ConversationIndex></ApplicationData>')
    assert only(found, "ConversationId") == "conversation id 000102030405060708090A0B0C0D0E0F"
    assert only(found, "ConversationIndex").startswith("ConversationIndex: started ")


# ---- Contacts -----------------------------------------------------------------------------------------

# MS-ASCNTC 2.2.2.1-2.2.2.62, in the order of the spec (Categories.Category and Children.Child by leaf name).
SPEC_CONTACTS = (
    "Anniversary AssistantName AssistantPhoneNumber Birthday Business2PhoneNumber BusinessAddressCity "
    "BusinessPhoneNumber WebPage BusinessAddressCountry Department Email1Address Email2Address Email3Address "
    "BusinessFaxNumber FileAs Alias WeightedRank FirstName MiddleName HomeAddressCity HomeAddressCountry "
    "HomeFaxNumber HomePhoneNumber Home2PhoneNumber HomeAddressPostalCode HomeAddressState HomeAddressStreet "
    "MobilePhoneNumber Suffix CompanyName OtherAddressCity OtherAddressCountry CarPhoneNumber "
    "OtherAddressPostalCode OtherAddressState OtherAddressStreet PagerNumber Title BusinessPostalCode LastName "
    "Spouse BusinessAddressState BusinessAddressStreet JobTitle YomiFirstName YomiLastName YomiCompanyName "
    "OfficeLocation RadioPhoneNumber Picture Category Child"
).split()
SPEC_CONTACTS2 = ("CustomerId GovernmentId IMAddress IMAddress2 IMAddress3 ManagerName CompanyMainPhone "
                  "AccountName NickName MMS").split()


def test_every_contacts_element_of_the_spec_is_described() -> None:
    assert len(SPEC_CONTACTS) + len(SPEC_CONTACTS2) == 62
    body = "".join(f"<c:{name}>x</c:{name}>" for name in SPEC_CONTACTS)
    body += "".join(f"<c2:{name}>x</c2:{name}>" for name in SPEC_CONTACTS2)
    found = notes_of(f'<ApplicationData xmlns="AirSync" xmlns:c="Contacts" xmlns:c2="Contacts2">{body}'
                     '</ApplicationData>')
    for name in SPEC_CONTACTS:
        note = only(found, name)
        assert note.startswith(f"Contacts:{name}: ") and len(note) > len(name) + 12, note
    for name in SPEC_CONTACTS2:
        note = only(found, name)
        assert note.startswith(f"Contacts2:{name}: ") and len(note) > len(name) + 12, note


def test_contact_descriptions_are_short_and_our_own() -> None:
    for description in (*contacts.CONTACTS.values(), *contacts.CONTACTS2.values()):
        assert not description.startswith("The ")
        assert "for the contact" not in description and len(description) < 110


def test_contact_example_from_the_issue_and_values() -> None:
    picture = base64.b64encode(png_bytes(96, 96)).decode()
    found = notes_of('<ApplicationData xmlns="Contacts"><BusinessAddressCity>Lyon</BusinessAddressCity>'
                     f'<Birthday>1985-04-12T00:00:00.000Z</Birthday><Picture>{picture}</Picture>'
                     '</ApplicationData>')
    assert only(found, "BusinessAddressCity") == "Contacts:BusinessAddressCity: city of the business address"
    assert only(found, "Birthday") == "Contacts:Birthday: date of birth: 1985-04-12 00:00:00 UTC, Friday"
    assert only(found, "Picture").endswith(": PNG image, " + f"{len(png_bytes(96, 96)):,}" + " bytes, 96x96 pixels")


def test_supported_block_lists_ghosted_contact_properties() -> None:
    found = notes_of('<Sync xmlns="AirSync" xmlns:c="Contacts"><Collections><Collection><Class>Contacts</Class>'
                     '<SyncKey>0</SyncKey><CollectionId>9</CollectionId><Supported><c:FirstName/>'
                     '<c:LastName/><c:Email1Address/></Supported></Collection></Collections></Sync>')
    note = only(found, "Supported")
    assert note.startswith("Supported: the client lists the 3 properties it syncs; the ones not listed are "
                           "ghosted: when a Change from the client omits them, the server keeps their values")
    ghosted = note.split("ghosted here: ")[1].split(", ")
    assert "FirstName" not in ghosted and "LastName" not in ghosted and "Email1Address" not in ghosted
    assert "Spouse" in ghosted and "NickName" in ghosted and "Picture" in ghosted
    assert only(found, "FirstName").endswith("(listed as supported: the client syncs it)")


def test_recipient_information_cache_entry() -> None:
    found = notes_of('<ApplicationData xmlns="Contacts"><Email1Address>bob@example.com</Email1Address>'
                     '<FileAs>Bob</FileAs><Alias>bob</Alias><WeightedRank>42</WeightedRank></ApplicationData>')
    assert "recipient information cache" in only(found, "Alias")
    assert "recipient information cache" in only(found, "WeightedRank")


# ---- the tree itself ----------------------------------------------------------------------------------

def test_leaf_text_and_layout_are_kept_and_comments_follow_on_the_same_line() -> None:
    xml = ('<Sync xmlns="AirSync">\n  <Collections>\n    <Collection>\n      <Status>3</Status>\n'
           '      <SyncKey> 0 &#13;</SyncKey>\n    </Collection>\n  </Collections>\n</Sync>')
    root = etree.fromstring(xml.encode())
    texts_before = [(e.tag, e.text) for e in root.iter()]
    annotate(root, AnnotationContext())
    assert [(e.tag, e.text) for e in root.iter() if isinstance(e.tag, str)] == texts_before
    shown = etree.tostring(root, encoding="unicode")
    assert "<Status>3</Status><!-- Status 3: invalid synchronization key" in shown
    assert "-->\n      <SyncKey>" in shown
    stripped = etree.fromstring(shown.encode())
    for comment in list(stripped.iter(etree.Comment)):
        previous = comment.getprevious()
        assert previous is not None
        previous.tail = comment.tail
        comment.getparent().remove(comment)  # type: ignore[union-attr]
    assert etree.tostring(stripped, encoding="unicode") == etree.tostring(etree.fromstring(xml.encode()),
                                                                         encoding="unicode")


def test_annotating_twice_adds_nothing_and_returns_the_same_root() -> None:
    root = etree.fromstring(b'<Ping xmlns="Ping"><Status>1</Status></Ping>')
    assert annotate(root, AnnotationContext()) is root
    once = etree.tostring(root)
    annotate(root, AnnotationContext())
    assert etree.tostring(root) == once


def test_empty_elements_stay_empty_and_unknown_namespaces_are_ignored() -> None:
    root = etree.fromstring(b'<Sync xmlns="AirSync" xmlns:x="urn:other"><Collection><MoreAvailable/>'
                            b'<x:Status>3</x:Status></Collection></Sync>')
    annotate(root, AnnotationContext())
    more = root[0][0]
    assert more.text is None and len(more) == 0
    assert isinstance(more.getnext(), etree._Comment)
    assert not isinstance(root[0][-1], etree._Comment)  # urn:other Status has no note


def test_comment_text_is_made_safe() -> None:
    found = notes_of('<SendMail xmlns="ComposeMail"><Mime>From: a@b\r\nSubject: x -- y\x7f\r\n\r\nz</Mime>'
                     '</SendMail>'.replace("\r", "&#13;"))
    assert "--" not in only(found, "Mime")


def test_old_namespace_spellings_are_recognised() -> None:
    found = notes_of('<Sync xmlns="AirSync:" xmlns:m="POOMMAIL:"><Status>1</Status><m:Importance>0'
                     '</m:Importance></Sync>')
    assert only(found, "Status") == "Status 1: success"
    assert only(found, "Importance") == "Importance 0: low"


def test_message_class_and_ranges() -> None:
    found = notes_of('<ApplicationData xmlns="Email"><MessageClass>IPM.Schedule.Meeting.Resp.Tent</MessageClass>'
                     '</ApplicationData>')
    assert only(found, "MessageClass") == "MessageClass IPM.Schedule.Meeting.Resp.Tent: meeting tentatively accepted"
    found = notes_of('<ApplicationData xmlns="Email"><MessageClass>IPM.Custom</MessageClass></ApplicationData>')
    assert only(found, "MessageClass") == "MessageClass IPM.Custom: unknown message class"
    found = notes_of('<Search xmlns="Search"><Store><Name>GAL</Name><Options><Range>0-9</Range></Options>'
                     '</Store></Search>')
    assert only(found, "Name") == "Store GAL: the global address list"
    assert only(found, "Range") == "Range 0-9: results 0 to 9, zero-based (10 in all)"
    found = notes_of('<ItemOperations xmlns="ItemOperations"><Fetch><Options><Range>9-0</Range></Options>'
                     '</Fetch></ItemOperations>')
    assert only(found, "Range") == "Range 9-0: invalid (m is greater than n)"


# ---- properties ---------------------------------------------------------------------------------------

_HANDLED = sorted(importlib.import_module("eas.notes").HANDLERS)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_HANDLED),
                          st.one_of(st.sampled_from(["0", "1", "2", "3", "8", "19", "101", "177", "", "-1",
                                                     "20260115T140000Z", "AAAA", "0-9"]),
                                    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
                                            max_size=40))),
                min_size=1, max_size=25),
       st.sampled_from(["Sync", "FolderSync", "Provision", "ResolveRecipients", "Settings", "Ping"]),
       st.booleans())
def test_any_document_of_known_elements_annotates_without_changing_text(
        items: list[tuple[tuple[str, str], str]], root_name: str, is_response: bool) -> None:
    root = etree.Element(f"{{AirSync}}{root_name}")
    parent = etree.SubElement(root, "{AirSync}Collection")
    for number, ((namespace, local), text) in enumerate(items):
        holder = parent if number % 3 else etree.SubElement(parent, f"{{{namespace}}}{local}")
        leaf = etree.SubElement(holder, f"{{{namespace}}}{local}")
        leaf.text = text
        leaf.tail = "\n  "
    before = [(element.tag, element.text, len(element)) for element in root.iter()]
    annotate(root, AnnotationContext(is_response=is_response))
    after = [(element.tag, element.text, len([c for c in element if isinstance(c.tag, str)]))
             for element in root.iter(etree.Element)]
    assert after == before
    for comment in root.iter(etree.Comment):
        assert isinstance(comment.getprevious().tag, str)  # type: ignore[union-attr]
        assert "--" not in comment.text and not comment.text.endswith("-")
    etree.fromstring(etree.tostring(root))


def test_the_encoder_ignores_the_notes() -> None:
    wbxml = importlib.import_module("eas.wbxml")
    xml = ('<Sync xmlns="AirSync" xmlns:email="Email"><Collections><Collection><SyncKey>0</SyncKey>'
           '<CollectionId>5</CollectionId><Status>3</Status><Options><FilterType>3</FilterType></Options>'
           '<Commands><Add><ServerId>5:1</ServerId><ApplicationData><email:Importance>2</email:Importance>'
           '<email:DateReceived>2026-01-15T14:00:00.000Z</email:DateReceived><email:Read>1</email:Read>'
           '</ApplicationData></Add></Commands><MoreAvailable/></Collection></Collections></Sync>')
    plain = wbxml.encode(xml)
    root = wbxml.decode(plain)
    annotate(root, AnnotationContext(is_response=True))
    assert len(list(root.iter(etree.Comment))) >= 6
    assert wbxml.encode(root) == plain
    assert wbxml.encode(wbxml.to_xml(root)) == plain


def test_gal_and_resolve_recipients_pictures() -> None:
    picture = base64.b64encode(png_bytes(20, 10)).decode()
    found = notes_of('<Search xmlns="Search" xmlns:g="GAL"><Response><Store><Result><Properties>'
                     f'<g:Picture><g:Status>1</g:Status><g:Data>{picture}</g:Data></g:Picture>'
                     '</Properties></Result></Store></Response></Search>')
    assert only(found, "Status") == "Status 1: the contact photo was retrieved"
    assert only(found, "Data").startswith("Picture: PNG image,") and only(found, "Data").endswith("20x10 pixels")
    found = notes_of('<ResolveRecipients xmlns="ResolveRecipients"><Response><Recipient><Picture>'
                     f'<Data>{picture}</Data></Picture></Recipient></Response></ResolveRecipients>')
    assert only(found, "Data").endswith("20x10 pixels")


def test_opaque_values_follow_the_decoder_markers() -> None:
    wb = "urn:eas-inspector:wbxml"
    found = notes_of(f'<ApplicationData xmlns="Email2" xmlns:wbxml="{wb}">'
                     '<ConversationId wbxml:opaque="text">&lt;1795.5810@example.com&gt;</ConversationId>'
                     '</ApplicationData>')
    assert only(found, "ConversationId") == ("conversation id given as text (23 bytes): '<1795.5810@example.com>'; "
                                             "Exchange sends 16 binary bytes")
    raw = base64.b64encode(bytes(range(16))).decode()
    found = notes_of(f'<ApplicationData xmlns="Email2" xmlns:wbxml="{wb}">'
                     f'<ConversationId wbxml:opaque="base64">{raw}</ConversationId>'
                     f'<ConversationId wbxml:opaque="text">{raw}</ConversationId></ApplicationData>')
    assert found["ConversationId"][0] == "conversation id 000102030405060708090A0B0C0D0E0F"
    assert found["ConversationId"][1].startswith("conversation id given as text (24 bytes)")
    mime = base64.b64encode(b"From: a@example.com\r\nSubject: \xff\xfe bytes\r\n\r\nbody").decode()
    found = notes_of(f'<SendMail xmlns="ComposeMail" xmlns:wbxml="{wb}"><Mime wbxml:opaque="base64">{mime}</Mime>'
                     '</SendMail>')
    assert only(found, "Mime").startswith("MIME: From: a@example.com | Subject: ")


def test_attachment_sizes_and_meeting_ids() -> None:
    from .test_values import SOGO_GLOBAL_OBJ_ID
    found = notes_of('<ApplicationData xmlns="AirSync" xmlns:b="AirSyncBase" xmlns:e="Email"><b:Body>'
                     '<b:EstimatedDataSize>1271</b:EstimatedDataSize></b:Body><b:Attachments><b:Attachment>'
                     '<b:EstimatedDataSize>104</b:EstimatedDataSize></b:Attachment></b:Attachments>'
                     f'<e:MeetingRequest><e:GlobalObjId>{SOGO_GLOBAL_OBJ_ID}</e:GlobalObjId></e:MeetingRequest>'
                     '</ApplicationData>')
    assert found["EstimatedDataSize"] == ["EstimatedDataSize 1271: estimated size of the whole body, in bytes",
                                          "EstimatedDataSize 104: estimated size of the whole attachment, in bytes"]
    assert only(found, "GlobalObjId") == ("GlobalObjId: meeting UID 'eas-lab-design-review-0001@example.com' "
                                          "(from iCalendar), the whole series")


def test_timezone_blob_of_the_lab_server() -> None:
    from .test_values import SOGO_TIMEZONE
    found = notes_of(f'<ApplicationData xmlns="Calendar"><TimeZone>{SOGO_TIMEZONE}</TimeZone></ApplicationData>')
    assert only(found, "TimeZone").startswith("TimeZone: UTC+00:00, no daylight saving time; StandardDate holds "
                                              "garbage bytes 70 ba 00 00")


def test_string_values_in_another_case_are_recognised() -> None:
    # the lab server answers an Oof Get with BodyType TEXT
    found = notes_of('<Settings xmlns="Settings"><Oof><Get><OofMessage><BodyType>TEXT</BodyType></OofMessage></Get>'
                     '</Oof></Settings>')
    assert only(found, "BodyType") == "BodyType TEXT: plain text reply (the spec spells it Text)"


def test_empty_contact_properties_say_so() -> None:
    found = notes_of('<ApplicationData xmlns="Contacts"><MiddleName/><Categories><Category>VIP</Category>'
                     '</Categories></ApplicationData>')
    assert only(found, "MiddleName") == "Contacts:MiddleName: middle name (empty: no value)"
    assert only(found, "Categories") == "Contacts:Categories: labels the user gave the contact (Category children)"


# Numbers as XML Schema reads them (Part 2, 3.3.13 integer: ASCII digits, an optional sign), not as Python's
# int() does ("1_000", other scripts' digits): what is no number says so, what is one out of range says that.
ODD_NUMBERS = {
    "²": "invalid DayOfWeek: '²' is not a number",
    "1_000": "invalid DayOfWeek: '1_000' is not a number",
    "٣": "invalid DayOfWeek: '٣' is not a number",
    "0-²": "invalid DayOfWeek: '0-²' is not a number",
    "+3": "Sunday, Monday",
    "-1": "invalid DayOfWeek: -1 is outside 1-127",
    "9" * 20: "invalid DayOfWeek: 99999999999999999999 is outside 1-127",
}
LONG_NUMBER = "9" * 5000  # past int()'s 4300 digits


def test_a_number_of_thousands_of_digits_is_out_of_range_in_short() -> None:
    found = notes_of(f'<ApplicationData xmlns="Email"><DayOfWeek>{LONG_NUMBER}</DayOfWeek></ApplicationData>')
    assert only(found, "DayOfWeek").startswith("DayOfWeek 9999")
    assert describe_day_of_week(LONG_NUMBER) == f"invalid DayOfWeek: {'9' * 40}... is outside 1-127"
    found = notes_of(f'<Ping xmlns="Ping"><Status>{LONG_NUMBER}</Status></Ping>')
    assert only(found, "Status").startswith("Status '9999")


@pytest.mark.parametrize("text", list(ODD_NUMBERS), ids=lambda text: text[:8])
def test_odd_numbers_never_raise(text: str) -> None:
    found = notes_of(f'<Ping xmlns="Ping"><Status>{text}</Status></Ping>')
    assert found == {"Status": [f"Status {text!r}: not a number"]}
    found = notes_of(f'<Search xmlns="Search"><Range>{text}</Range><Status>1</Status></Search>')
    assert only(found, "Range") == f"Range {text!r}: invalid (expected m-n, e.g. 0-9)"
    found = notes_of(f'<ApplicationData xmlns="Email"><Importance>{text}</Importance><DayOfWeek>{text}</DayOfWeek>'
                     '</ApplicationData>')
    assert only(found, "Importance") == f"Importance {text}: unknown value"  # MS-ASEMAIL 2.2.2.38: 0, 1 or 2
    assert only(found, "DayOfWeek") == f"DayOfWeek {text}: {ODD_NUMBERS[text]}"


def test_supported_without_a_class_takes_it_from_the_listed_properties() -> None:
    found = notes_of('<Sync xmlns="AirSync" xmlns:c2="Contacts2" xmlns:c="Contacts"><Collections><Collection>'
                     '<SyncKey>0</SyncKey><CollectionId>unknown</CollectionId><Supported><c2:NickName/><c:Picture/>'
                     '</Supported></Collection></Collections></Sync>')
    note = only(found, "Supported")
    assert "ghosted here: Anniversary, " in note and "NickName" not in note.split("ghosted here: ")[1]
    found = notes_of('<Sync xmlns="AirSync" xmlns:cal="Calendar"><Collection><Supported><cal:Subject/>'
                     '</Supported></Collection></Sync>')
    assert only(found, "Supported").endswith("(class Calendar)")


def test_smaller_families() -> None:
    found = notes_of('<FolderSync xmlns="FolderHierarchy"><Changes><Count>1</Count><Add><ServerId>5</ServerId>'
                     '<ParentId>0</ParentId><Type>12</Type></Add></Changes></FolderSync>')
    assert only(found, "Count") == "Count 1: folder changes that follow"
    assert only(found, "ParentId") == "ParentId 0: a top-level folder (no parent)"
    found = notes_of('<ApplicationData xmlns="Email"><InternetCPID>65001</InternetCPID>'
                     '<ContentClass>urn:content-classes:calendarmessage</ContentClass></ApplicationData>')
    assert only(found, "InternetCPID") == "InternetCPID 65001: UTF-8"
    assert only(found, "ContentClass").startswith("ContentClass urn:content-classes:calendarmessage: a meeting")
    found = notes_of('<Properties xmlns="DocumentLibrary"><IsFolder>1</IsFolder><ContentLength>2048</ContentLength>'
                     '<CreationDate>2026-01-15T14:00:00.000Z</CreationDate></Properties>')
    assert only(found, "IsFolder") == "IsFolder 1: a folder"
    assert only(found, "ContentLength") == "ContentLength 2048: size of the document, in bytes"
    assert only(found, "CreationDate") == "2026-01-15 14:00:00 UTC, Thursday"


def test_element_status_meaning_picks_the_nested_table() -> None:
    from eas.annotate import element_status_meaning
    root = etree.fromstring(b'<Provision xmlns="Provision"><Status>1</Status><Policies><Policy><Status>2</Status>'
                            b'</Policy></Policies></Provision>')
    top, policy = root.iter("{Provision}Status")
    assert element_status_meaning(top) == "success"
    assert element_status_meaning(policy).startswith("no policy for this client")  # type: ignore[union-attr]
    item = etree.fromstring(b'<Sync xmlns="AirSync"><Collection><Responses><Change><Status>7</Status></Change>'
                            b'</Responses></Collection></Sync>')[0][0][0][0]
    meaning = element_status_meaning(item)
    assert meaning is not None and meaning.startswith("conflict: the server's version of this item won")
    flag = etree.fromstring(b'<Flag xmlns="Email"><Status>2</Status></Flag>')[0]
    assert element_status_meaning(flag) is None
    assert element_status_meaning(etree.fromstring(b'<Ping xmlns="Ping"><Status>x</Status></Ping>')[0]) is None


def test_context_stays_hashable_with_folder_classes() -> None:
    context = AnnotationContext(command="Sync", folder_classes={"9": "Tasks"})
    assert hash(context) == hash(AnnotationContext(command="Sync", folder_classes={"9": "Tasks"}))


# ---- how comments are attached (few from the per-thread pool, many from one parse) -------------------------

def _contacts_sync(count: int, supported: bool = False) -> str:
    listed = "<Supported><c:FirstName/><c:Picture/></Supported>" if supported else ""
    adds = "".join(f"<Add><ServerId>{i}</ServerId><ApplicationData><c:FirstName>Dora {i}</c:FirstName>"
                   "<c:LastName/><c:Birthday>1980-02-29T00:00:00.000Z</c:Birthday>"
                   "<c:Categories><c:Category>a</c:Category></c:Categories></ApplicationData></Add>"
                   for i in range(count))
    return (f'<Sync xmlns="AirSync" xmlns:c="Contacts"><Collections><Collection><Class>Contacts</Class>'
            f"{listed}<Commands>{adds}</Commands></Collection></Collections></Sync>")


@pytest.mark.parametrize("count", [1, 3, 40])
@pytest.mark.parametrize("supported", [False, True])
def test_every_contact_property_gets_its_note_right_after_it(count: int, supported: bool) -> None:
    found = notes_of(_contacts_sync(count, supported))
    assert found["FirstName"][-count:] == [f"Contacts:FirstName: {contacts.CONTACTS['FirstName']}"] * count
    assert found["LastName"] == [f"Contacts:LastName: {contacts.CONTACTS['LastName']} (empty: no value)"] * count
    assert found["Birthday"] == [f"Contacts:Birthday: {contacts.CONTACTS['Birthday']}: "
                                 "1980-02-29 00:00:00 UTC, Friday"] * count
    assert len(found["Category"]) == len(found["Categories"]) == count
    if supported:
        listed = " (listed as supported: the client syncs it)"
        assert found["FirstName"][0] == f"Contacts:FirstName: {contacts.CONTACTS['FirstName']}{listed}"
        assert found["Picture"] == [f"Contacts:Picture: {contacts.CONTACTS['Picture']}{listed}"]


def test_children_of_a_supported_element_in_any_namespace_are_listed_properties() -> None:
    found = notes_of('<Sync xmlns="AirSync" xmlns:c="Contacts" xmlns:x="urn:other"><x:Supported>'
                     "<c:FirstName/></x:Supported><c:FirstName/></Sync>")
    assert found["FirstName"] == [
        f"Contacts:FirstName: {contacts.CONTACTS['FirstName']} (listed as supported: the client syncs it)",
        f"Contacts:FirstName: {contacts.CONTACTS['FirstName']} (empty: no value)"]


@pytest.mark.parametrize("count", [1, 40])
def test_annotating_twice_adds_nothing_with_many_notes_and_foreign_comments(count: int) -> None:
    root = etree.fromstring(_contacts_sync(count).replace("<Commands>", "<!-- mine --><Commands>").encode())
    annotate(root, AnnotationContext())
    once = etree.tostring(root)
    annotate(root, AnnotationContext())
    assert etree.tostring(root) == once
    assert once.count(b"<!-- mine -->") == 1


def test_threads_annotating_at_once_get_the_same_comments() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def annotated(count: int) -> bytes:
        return etree.tostring(annotate(etree.fromstring(_contacts_sync(count).encode()), AnnotationContext()))

    expected = {count: annotated(count) for count in (1, 2, 3)}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(annotated, [1, 2, 3] * 200))
    assert results == [expected[count] for count in [1, 2, 3] * 200]


def test_memoized_status_notes_still_depend_on_where_and_the_context() -> None:
    # the same code in the same namespace, met again after being memoized: collection vs item table,
    # Provision response vs acknowledgment, FolderCreate vs FolderSync
    xml = ('<Sync xmlns="AirSync"><Collections><Collection><Status>8</Status><Responses>'
           '<Add><Status>8</Status></Add></Responses></Collection>'
           '<Collection><Status>8</Status></Collection></Collections></Sync>')
    for _ in range(2):
        statuses = notes_of(xml)["Status"]
        assert statuses[0] == statuses[2] != statuses[1]
        assert statuses[1].startswith("Status 8: item not found on the server")
    policy = ('<Provision xmlns="Provision"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML'
              '</PolicyType><Status>1</Status></Policy></Policies></Provision>')
    assert notes_of(policy, AnnotationContext(is_response=False))["Status"] == [
        "Status 1: success: the client applied the policy"]
    assert notes_of(policy, AnnotationContext(is_response=True))["Status"] != [
        "Status 1: success: the client applied the policy"]
    folder = '<FolderSync xmlns="FolderHierarchy"><Status>10</Status></FolderSync>'
    assert notes_of(folder) != notes_of(folder, AnnotationContext(command="FolderCreate"))


def test_few_comments_in_a_tree_with_a_processing_instruction() -> None:
    root = etree.fromstring('<Ping xmlns="Ping"><?pi x?><Status>2</Status><Folders><?pi y?>'
                            '<Folder><Id>1</Id><Class>Email</Class></Folder></Folders></Ping>')
    annotate(root, AnnotationContext(is_response=True))
    pairs = [(comment.getprevious().tag, comment.text.strip()) for comment in root.iter(etree.Comment)]
    assert [tag for tag, _ in pairs] == ["{Ping}Status", "{Ping}Class"]
    assert pairs[0][1].startswith("Status 2:") and pairs[1][1].startswith("Class Email")
    assert [pi.text for pi in root.iter(etree.ProcessingInstruction)] == ["x", "y"]


@pytest.mark.parametrize("count", [1, 40])
def test_a_cr_in_a_note_is_kept_with_few_and_with_many_notes(count: int) -> None:
    """Many comments are parsed in one go, and XML parsing turns CR into LF: those take the other way."""
    xml = ('<Sync xmlns="AirSync"><Collections>' + "<Collection><Class>Email</Class></Collection>" * count
           + "<Collection><Class>a&#13;b</Class></Collection></Collections></Sync>")
    assert notes_of(xml)["Class"][-1] == "Class a\rb: unknown value"
