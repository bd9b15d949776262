"""eas.schema: decoded requests against the MS-ASHTTP Appendix A XSDs kept in eas/schemas (with later elements)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from eas.schema import SCHEMA_FILES, schema_for, validate_request, xsd_namespace

WBXML_NS = "urn:eas-inspector:wbxml"


def xml(text: str) -> etree._Element:
    return etree.fromstring(text.encode())


def test_every_schema_compiles_offline() -> None:
    # The parser has no network; a compile that needed it would fail here.
    for (namespace, local), _file in SCHEMA_FILES.items():
        assert schema_for(namespace.rstrip(":"), local) is not None


def test_schema_files_carry_their_spec_section() -> None:
    folder = resources.files("eas.schemas")
    names = [entry.name for entry in folder.iterdir() if entry.name.endswith(".xsd")]
    assert set(SCHEMA_FILES.values()) <= set(names)
    for name in names:
        text = folder.joinpath(name).read_text(encoding="utf-8")
        assert re.search(r"MS-ASHTTP 6\.\d+", text) or "Written for eas-inspector" in text, name
        etree.fromstring(text.encode())


def test_decoder_namespaces_map_to_xsd_target_namespaces() -> None:
    assert xsd_namespace("AirSync") == "AirSync:"
    assert xsd_namespace("FolderHierarchy") == "FolderHierarchy:"
    assert xsd_namespace("Move") == "Move:"
    assert xsd_namespace("GetItemEstimate") == "GetItemEstimate:"
    assert xsd_namespace("ComposeMail:") == "ComposeMail:"
    folder = resources.files("eas.schemas")
    targets = set()
    for name in SCHEMA_FILES.values():
        root = etree.fromstring(folder.joinpath(name).read_bytes())
        targets.add(root.get("targetNamespace"))
    assert targets == {ns for ns, _ in SCHEMA_FILES}


def test_spec_foldersync_example_is_valid() -> None:
    # MS-ASHTTP 4.1
    assert validate_request(xml('<FolderSync xmlns="FolderHierarchy"><SyncKey>2</SyncKey></FolderSync>')) == []


def test_spec_foldercreate_example_is_valid() -> None:
    # MS-ASHTTP 4.4
    root = xml(
        '<FolderCreate xmlns="FolderHierarchy"><SyncKey>3</SyncKey><ParentId>5</ParentId>'
        "<DisplayName>CreateNewFolder</DisplayName><Type>12</Type></FolderCreate>"
    )
    assert validate_request(root) == []


def test_spec_sendmail_example_is_valid() -> None:
    # MS-ASHTTP 4.3 (body shortened)
    root = xml(
        '<SendMail xmlns="ComposeMail"><ClientId>633724606026842453</ClientId>'
        "<Mime>From: fakeuser@Contoso.com\nSubject: From NSync\n\nThis is the body text.</Mime></SendMail>"
    )
    assert validate_request(root) == []


def test_violations_name_element_and_rule() -> None:
    root = xml(
        '<FolderCreate xmlns="FolderHierarchy"><SyncKey>3</SyncKey><ParentId>5</ParentId>'
        "<DisplayName></DisplayName><Type>twelve</Type></FolderCreate>"
    )
    messages = validate_request(root)
    assert len(messages) == 2
    assert messages[0].startswith("FolderCreate/DisplayName: Element 'DisplayName'")
    assert "minLength" in messages[0]
    assert "Type" in messages[1] and "unsignedByte" in messages[1]


def test_missing_and_unexpected_elements() -> None:
    messages = validate_request(xml('<FolderSync xmlns="FolderHierarchy"><Bogus/></FolderSync>'))
    assert len(messages) == 1 and "Bogus" in messages[0] and "not expected" in messages[0]


def test_comments_and_round_trip_markers_are_ignored() -> None:
    root = xml(
        f'<FolderCreate xmlns="FolderHierarchy" xmlns:wbxml="{WBXML_NS}"><SyncKey wbxml:str="1">3</SyncKey>'
        "<!-- annotation --><ParentId>5<!-- the root --></ParentId>"
        "<DisplayName>Inbox 2</DisplayName><Type>12<!-- user-created mail folder --></Type></FolderCreate>"
    )
    assert validate_request(root) == []
    # the caller's tree is not changed
    assert root.find("{FolderHierarchy}SyncKey").get(f"{{{WBXML_NS}}}str") == "1"


def test_imports_resolve_across_namespaces() -> None:
    # GetItemEstimate imports AirSync (MS-ASHTTP 6.5): FilterType is limited to 0-8.
    template = (
        '<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><Collections><Collection>'
        "<airsync:SyncKey>1</airsync:SyncKey><CollectionId>2</CollectionId>"
        "<airsync:Options><airsync:FilterType>{}</airsync:FilterType></airsync:Options>"
        "</Collection></Collections></GetItemEstimate>"
    )
    assert validate_request(xml(template.format(3))) == []
    messages = validate_request(xml(template.format(9)))
    assert len(messages) == 1 and "FilterType" in messages[0]


def test_meetingresponse_uses_search_longid() -> None:
    root = xml(
        '<MeetingResponse xmlns="MeetingResponse" xmlns:search="Search"><Request><UserResponse>1</UserResponse>'
        "<search:LongId>RgAAAA</search:LongId></Request></MeetingResponse>"
    )
    assert validate_request(root) == []
    bad = xml('<MeetingResponse xmlns="MeetingResponse"><Request><UserResponse>4</UserResponse></Request></MeetingResponse>')
    assert len(validate_request(bad)) == 1


def test_settings_device_information() -> None:
    root = xml(
        '<Settings xmlns="Settings"><DeviceInformation><Set><Model>iPhone</Model><OS>iOS 17</OS>'
        "</Set></DeviceInformation></Settings>"
    )
    assert validate_request(root) == []


def test_roots_without_schema_are_not_checked() -> None:
    # Find (protocol 16.1) has no MS-ASHTTP Appendix A schema
    assert validate_request(xml('<Find xmlns="Find"><Anything/></Find>')) == []
    assert validate_request(xml("<NoNamespace/>")) == []


SYNC_CASES = {
    "first sync": '<Sync xmlns="AirSync"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>1</CollectionId>'
    "</Collection></Collections></Sync>",
    "empty sync (14.0 partial)": '<Sync xmlns="AirSync"/>',
    "mail flag change and delete": '<Sync xmlns="AirSync" xmlns:email="Email"><Collections><Collection>'
    "<SyncKey>5</SyncKey><CollectionId>1</CollectionId><Commands><Change><ServerId>1:1</ServerId>"
    "<ApplicationData><email:Read>1</email:Read></ApplicationData></Change><Delete><ServerId>1:2</ServerId>"
    "</Delete></Commands></Collection></Collections></Sync>",
    "contact add": '<Sync xmlns="AirSync" xmlns:contacts="Contacts"><Collections><Collection><SyncKey>5</SyncKey>'
    "<CollectionId>2</CollectionId><Commands><Add><ClientId>c1</ClientId><ApplicationData>"
    "<contacts:FirstName>Ann</contacts:FirstName><contacts:Email1Address>a@example.com</contacts:Email1Address>"
    "<contacts:CarPhoneNumber>1</contacts:CarPhoneNumber></ApplicationData></Add></Commands></Collection>"
    "</Collections></Sync>",
    "calendar add with body": '<Sync xmlns="AirSync" xmlns:calendar="Calendar" xmlns:airsyncbase="AirSyncBase">'
    "<Collections><Collection><SyncKey>5</SyncKey><CollectionId>3</CollectionId><Commands><Add><ClientId>c1"
    "</ClientId><ApplicationData><calendar:Subject>x</calendar:Subject><calendar:StartTime>20260101T100000Z"
    "</calendar:StartTime><airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>hi"
    "</airsyncbase:Data></airsyncbase:Body></ApplicationData></Add></Commands></Collection></Collections></Sync>",
}


@pytest.mark.parametrize("name", list(SYNC_CASES))
def test_sync_requests_valid(name: str) -> None:
    assert validate_request(xml(SYNC_CASES[name])) == []


def test_real_sync_request_from_the_lab_is_valid() -> None:
    import eas

    data = (Path(__file__).resolve().parent.parent / "data" / "exchange" / "sync_inbox.request.bin").read_bytes()
    root = eas.decode(data)
    assert validate_request(root) == []


def test_sync_violations() -> None:
    root = xml(
        '<Sync xmlns="AirSync"><Collections><Collection><CollectionId>1</CollectionId></Collection></Collections>'
        "<Wait>60</Wait></Sync>"
    )
    messages = validate_request(root)
    assert messages == [
        "Sync/Collections/Collection/CollectionId: Element 'CollectionId': This element is not expected. "
        "Expected is ( SyncKey ).",
        "Sync/Wait: Element 'Wait': [facet 'maxInclusive'] The value '60' is greater than the maximum value "
        "allowed ('59').",
    ]


def test_body_preference_type_is_checked() -> None:
    root = xml(
        '<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection><SyncKey>1</SyncKey>'
        "<CollectionId>1</CollectionId><Options><airsyncbase:BodyPreference><airsyncbase:Type>7</airsyncbase:Type>"
        "</airsyncbase:BodyPreference></Options></Collection></Collections></Sync>"
    )
    messages = validate_request(root)
    assert len(messages) == 1 and "Type" in messages[0]


REAL = Path(__file__).resolve().parent.parent / "data" / "real"


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in REAL.glob("*-request.wbxml") if p.name.split("-", 1)[1].startswith(("ItemOperations", "Search"))),
)
def test_real_itemoperations_and_search_requests_are_valid(name: str) -> None:
    import eas

    root = eas.decode((REAL / name).read_bytes())
    namespace, _, local = root.tag[1:].partition("}")
    assert schema_for(namespace, local) is not None  # checked, not skipped for want of a schema
    assert validate_request(root) == []


def test_real_request_set_covers_both_commands() -> None:
    names = [p.name for p in REAL.glob("*-request.wbxml")]
    assert any("-ItemOperations-" in n for n in names) and any("-Search-" in n for n in names)


ITEMOPERATIONS_VALID = {
    "fetch mail item": '<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase">'
    "<Fetch><Store>Mailbox</Store><airsync:CollectionId>5</airsync:CollectionId><airsync:ServerId>5:1</airsync:ServerId>"
    "<Options><airsync:MIMESupport>2</airsync:MIMESupport><airsyncbase:BodyPreference><airsyncbase:Type>4"
    "</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch></ItemOperations>",
    "fetch attachment": '<ItemOperations xmlns="ItemOperations" xmlns:airsyncbase="AirSyncBase"><Fetch>'
    "<Store>Mailbox</Store><airsyncbase:FileReference>5%3a1%3a0</airsyncbase:FileReference></Fetch></ItemOperations>",
    "fetch search result with schema": '<ItemOperations xmlns="ItemOperations" xmlns:search="Search" '
    'xmlns:email="Email"><Fetch><Store>Mailbox</Store><search:LongId>RgAAAAD</search:LongId><Options><Schema>'
    "<email:Subject/><email:To/></Schema></Options></Fetch></ItemOperations>",
    "fetch document library range": '<ItemOperations xmlns="ItemOperations" xmlns:dl="DocumentLibrary"><Fetch>'
    "<Store>DocumentLibrary</Store><dl:LinkId>http://contoso/Shared%20Documents/a.docx</dl:LinkId><Options>"
    "<Range>0-999</Range><UserName>user</UserName><Password>secret</Password></Options></Fetch></ItemOperations>",
    "empty folder and move conversation": '<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync">'
    "<EmptyFolderContents><airsync:CollectionId>4</airsync:CollectionId><Options><DeleteSubFolders/></Options>"
    "</EmptyFolderContents><Move><ConversationId>RgAAAA</ConversationId><DstFldId>7</DstFldId><Options>"
    "<MoveAlways/></Options></Move></ItemOperations>",
}


@pytest.mark.parametrize("name", list(ITEMOPERATIONS_VALID))
def test_itemoperations_requests_valid(name: str) -> None:
    assert validate_request(xml(ITEMOPERATIONS_VALID[name])) == []


def test_itemoperations_options_in_the_wrong_place() -> None:
    # Options belongs inside Fetch (MS-ASCMD 2.2.3.67.1), not directly under ItemOperations
    root = xml(
        '<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync"><Fetch><Store>Mailbox</Store>'
        "<airsync:ServerId>1</airsync:ServerId></Fetch><Options><Range>0-9</Range></Options></ItemOperations>"
    )
    assert validate_request(root) == ["ItemOperations/Options: Element 'Options': This element is not expected."]


def test_itemoperations_fetch_without_store() -> None:
    root = xml(
        '<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync"><Fetch><airsync:ServerId>1</airsync:ServerId>'
        "</Fetch></ItemOperations>"
    )
    messages = validate_request(root)
    assert len(messages) == 1
    assert messages[0].startswith("ItemOperations/Fetch: Element 'Fetch': Missing child element(s).")
    assert "Store" in messages[0]


def test_itemoperations_range_pattern() -> None:
    root = xml(
        '<ItemOperations xmlns="ItemOperations"><Fetch><Store>DocumentLibrary</Store><Options><Range>0-</Range>'
        "</Options></Fetch></ItemOperations>"
    )
    assert validate_request(root) == [
        "ItemOperations/Fetch/Options/Range: Element 'Range': [facet 'pattern'] The value '0-' is not accepted by "
        "the pattern '[0-9]{1,9}-[0-9]{1,9}'."
    ]


def test_itemoperations_other_rules() -> None:
    # Store at most 256 characters; EmptyFolderContents needs airsync:CollectionId; DstFldId at least 1 character
    root = xml(
        '<ItemOperations xmlns="ItemOperations"><Fetch><Store>' + "x" * 257 + "</Store></Fetch>"
        "<EmptyFolderContents/><Move><ConversationId>c</ConversationId><DstFldId></DstFldId></Move></ItemOperations>"
    )
    messages = validate_request(root)
    assert len(messages) == 3
    assert messages[0].startswith("ItemOperations/Fetch/Store: Element 'Store': [facet 'maxLength']")
    assert messages[1].startswith("ItemOperations/EmptyFolderContents: Element 'EmptyFolderContents': Missing child")
    assert "CollectionId" in messages[1]
    assert messages[2].startswith("ItemOperations/Move/DstFldId: Element 'DstFldId': [facet 'minLength']")


def test_itemoperations_newer_fetch_options_are_accepted() -> None:
    # MS-ASCMD 2.2.3.125.3 / 2.2.3.67.1: BodyPartPreference, RightsManagementSupport in Options,
    # RemoveRightsManagementProtection in Fetch (14.1); airsyncbase:Location in Options/Schema (16.0)
    root = xml(
        '<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase" '
        'xmlns:rm="RightsManagement"><Fetch><Store>Mailbox</Store><airsync:ServerId>5:1</airsync:ServerId>'
        "<rm:RemoveRightsManagementProtection/><Options><Schema><airsyncbase:Location/></Schema>"
        "<airsyncbase:BodyPartPreference><airsyncbase:Type>2</airsyncbase:Type><airsyncbase:TruncationSize>100"
        "</airsyncbase:TruncationSize></airsyncbase:BodyPartPreference>"
        "<rm:RightsManagementSupport>1</rm:RightsManagementSupport></Options></Fetch></ItemOperations>"
    )
    assert validate_request(root) == []


def test_itemoperations_newer_elements_in_the_wrong_place_are_reported() -> None:
    # BodyPartPreference belongs in Fetch/Options, not directly in Fetch; RemoveRightsManagementProtection is empty
    root = xml(
        '<ItemOperations xmlns="ItemOperations" xmlns:airsyncbase="AirSyncBase" xmlns:rm="RightsManagement"><Fetch>'
        "<Store>Mailbox</Store><airsyncbase:BodyPartPreference><airsyncbase:Type>2</airsyncbase:Type>"
        "</airsyncbase:BodyPartPreference></Fetch><Fetch><Store>Mailbox</Store>"
        "<rm:RemoveRightsManagementProtection>1</rm:RemoveRightsManagementProtection></Fetch></ItemOperations>"
    )
    messages = validate_request(root)
    assert len(messages) == 2
    assert messages[0].startswith("ItemOperations/Fetch[1]/BodyPartPreference: Element 'BodyPartPreference'")
    assert "not expected" in messages[0]
    assert messages[1].startswith("ItemOperations/Fetch[2]/RemoveRightsManagementProtection:")


SEARCH_VALID = {
    "gal": '<Search xmlns="Search"><Store><Name>GAL</Name><Query>ann</Query><Options><Range>0-99</Range>'
    "<UserName>u</UserName><Password>p</Password></Options></Store></Search>",
    "mailbox with dates": '<Search xmlns="Search" xmlns:airsync="AirSync" xmlns:email="Email" '
    'xmlns:airsyncbase="AirSyncBase"><Store><Name>Mailbox</Name><Query><And><airsync:Class>Email</airsync:Class>'
    "<airsync:CollectionId>5</airsync:CollectionId><FreeText>lunch</FreeText><GreaterThan><email:DateReceived/>"
    "<Value>2026-01-01T00:00:00.000Z</Value></GreaterThan><LessThan><email:DateReceived/><Value>"
    "2026-02-01T00:00:00.000Z</Value></LessThan></And></Query><Options><DeepTraversal/><RebuildResults/>"
    "<Range>0-49</Range><airsync:MIMESupport>1</airsync:MIMESupport><airsyncbase:BodyPreference>"
    "<airsyncbase:Type>2</airsyncbase:Type><airsyncbase:TruncationSize>512</airsyncbase:TruncationSize>"
    "</airsyncbase:BodyPreference></Options></Store></Search>",
    "document library": '<Search xmlns="Search" xmlns:dl="DocumentLibrary"><Store><Name>DocumentLibrary</Name>'
    "<Query><EqualTo><dl:LinkId>http://contoso/docs</dl:LinkId><Value>http://contoso/docs</Value></EqualTo>"
    "</Query><Options><Range>0-9</Range></Options></Store></Search>",
    "conversation": '<Search xmlns="Search"><Store><Name>Mailbox</Name><Query><And><ConversationId>AbC='
    "</ConversationId></And></Query></Store></Search>",
}


@pytest.mark.parametrize("name", list(SEARCH_VALID))
def test_search_requests_valid(name: str) -> None:
    assert validate_request(xml(SEARCH_VALID[name])) == []


def test_search_store_without_name() -> None:
    messages = validate_request(xml('<Search xmlns="Search"><Store><Query>bob</Query></Store></Search>'))
    assert len(messages) == 1
    assert messages[0].startswith("Search/Store: Element 'Store': Missing child element(s).")
    assert "Name" in messages[0]


def test_search_range_pattern_and_misplaced_elements() -> None:
    root = xml(
        '<Search xmlns="Search"><Store><Name>GAL</Name><Query>bob</Query><Options><Range>0-1000</Range></Options>'
        "</Store><Range>0-9</Range></Search>"
    )
    assert validate_request(root) == [
        "Search/Store/Options/Range: Element 'Range': [facet 'pattern'] The value '0-1000' is not accepted by the "
        "pattern '[0-9]{1,3}-[0-9]{1,3}'.",
        "Search/Range: Element 'Range': This element is not expected.",
    ]


def test_search_query_rules() -> None:
    # GreaterThan names the compared property first; DeepTraversal is an empty tag
    root = xml(
        '<Search xmlns="Search"><Store><Name>Mailbox</Name><Query><GreaterThan><Value>x</Value></GreaterThan>'
        "</Query><Options><DeepTraversal>1</DeepTraversal></Options></Store></Search>"
    )
    messages = validate_request(root)
    assert len(messages) == 2
    assert messages[0] == (
        "Search/Store/Query/GreaterThan/Value: Element 'Value': This element is not expected. "
        "Expected is ( DateReceived )."
    )
    assert messages[1].startswith("Search/Store/Options/DeepTraversal: Element 'DeepTraversal'")


REAL_REQUESTS = sorted(p.name for p in REAL.glob("*-request.wbxml"))


def test_real_request_set_is_there() -> None:
    assert len(REAL_REQUESTS) >= 60


@pytest.mark.parametrize("name", REAL_REQUESTS)
def test_every_real_request_validates(name: str) -> None:
    import eas

    root = eas.decode((REAL / name).read_bytes())
    namespace, _, local = root.tag[1:].partition("}")
    if local != "Find":  # Find (16.1) has no request schema here
        assert schema_for(namespace, local) is not None
    assert validate_request(root) == []


# Elements that protocol versions after the 2008 appendix added, each accepted where MS-ASCMD / MS-ASPROV put it.
NEWER_VALID = {
    "provision device information (14.1)": '<Provision xmlns="Provision" xmlns:settings="Settings">'
    "<settings:DeviceInformation><settings:Set><settings:Model>Phone</settings:Model>"
    "<settings:EnableOutboundSMS>0</settings:EnableOutboundSMS></settings:Set></settings:DeviceInformation>"
    "<Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>",
    "provision account only remote wipe (16.1)": '<Provision xmlns="Provision"><AccountOnlyRemoteWipe><Status>1'
    "</Status></AccountOnlyRemoteWipe></Provision>",
    "resolverecipients availability and picture": '<ResolveRecipients xmlns="ResolveRecipients"><To>bob</To><Options>'
    "<CertificateRetrieval>2</CertificateRetrieval><MaxCertificates>5</MaxCertificates><Availability>"
    "<StartTime>2027-01-15T00:00:00.000Z</StartTime></Availability><Picture><MaxSize>20480</MaxSize>"
    "<MaxPictures>3</MaxPictures></Picture></Options></ResolveRecipients>",
    "resolverecipients empty picture": '<ResolveRecipients xmlns="ResolveRecipients"><To>bob</To><Options><Picture/>'
    "</Options></ResolveRecipients>",
    "validatecert checkcrl": '<ValidateCert xmlns="ValidateCert"><CertificateChain><Certificate>MIIBszCC</Certificate>'
    "</CertificateChain><Certificates><Certificate>MIIBszCC</Certificate></Certificates><CheckCRL>1</CheckCRL>"
    "</ValidateCert>",
    "sync body part preference and rights management": '<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase" '
    'xmlns:rm="RightsManagement"><Collections><Collection><SyncKey>1</SyncKey><CollectionId>1</CollectionId>'
    "<Options><airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type></airsyncbase:BodyPreference>"
    "<airsyncbase:BodyPartPreference><airsyncbase:Type>2</airsyncbase:Type><airsyncbase:Preview>100"
    "</airsyncbase:Preview></airsyncbase:BodyPartPreference><rm:RightsManagementSupport>1"
    "</rm:RightsManagementSupport></Options></Collection></Collections></Sync>",
    "search gal picture and mailbox options": '<Search xmlns="Search" xmlns:airsyncbase="AirSyncBase" '
    'xmlns:rm="RightsManagement"><Store><Name>GAL</Name><Query>ann</Query><Options><Range>0-9</Range><Picture>'
    "<MaxSize>102400</MaxSize><MaxPictures>2</MaxPictures></Picture><airsyncbase:BodyPartPreference>"
    "<airsyncbase:Type>2</airsyncbase:Type></airsyncbase:BodyPartPreference><rm:RightsManagementSupport>0"
    "</rm:RightsManagementSupport></Options></Store></Search>",
    "settings rights management information (14.1)": '<Settings xmlns="Settings"><RightsManagementInformation><Get/>'
    "</RightsManagementInformation><UserInformation><Get/></UserInformation></Settings>",
}


@pytest.mark.parametrize("name", list(NEWER_VALID))
def test_newer_protocol_elements_are_accepted(name: str) -> None:
    assert validate_request(xml(NEWER_VALID[name])) == []


# One broken request per extended schema: the new elements misplaced, incomplete or out of range are still reported.
NEWER_BROKEN = {
    "provision: DeviceInformation after Policies": (
        '<Provision xmlns="Provision" xmlns:settings="Settings"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML'
        "</PolicyType></Policy></Policies><settings:DeviceInformation><settings:Set><settings:Model>x</settings:Model>"
        "</settings:Set></settings:DeviceInformation></Provision>",
        "Provision/DeviceInformation: Element 'DeviceInformation': This element is not expected.",
    ),
    "provision: AccountOnlyRemoteWipe without Status": (
        '<Provision xmlns="Provision"><AccountOnlyRemoteWipe/></Provision>',
        "Provision/AccountOnlyRemoteWipe: Element 'AccountOnlyRemoteWipe': Missing child element(s).",
    ),
    "resolverecipients: Availability without StartTime": (
        '<ResolveRecipients xmlns="ResolveRecipients"><To>bob</To><Options><Availability><EndTime>'
        "2027-01-16T00:00:00.000Z</EndTime></Availability></Options></ResolveRecipients>",
        "ResolveRecipients/Options/Availability: Element 'Availability': Missing child element(s).",
    ),
    "resolverecipients: Availability outside Options": (
        '<ResolveRecipients xmlns="ResolveRecipients"><To>bob</To><Availability><StartTime>2027-01-15T00:00:00.000Z'
        "</StartTime></Availability></ResolveRecipients>",
        "ResolveRecipients/Availability: Element 'Availability': This element is not expected.",
    ),
    "resolverecipients: negative MaxPictures": (
        '<ResolveRecipients xmlns="ResolveRecipients"><To>bob</To><Options><Picture><MaxPictures>-1</MaxPictures>'
        "</Picture></Options></ResolveRecipients>",
        "ResolveRecipients/Options/Picture/MaxPictures: Element 'MaxPictures':",
    ),
    "validatecert: CheckCRL out of range": (
        '<ValidateCert xmlns="ValidateCert"><Certificates><Certificate>MIIBszCC</Certificate></Certificates>'
        "<CheckCRL>2</CheckCRL></ValidateCert>",
        "ValidateCert/CheckCRL: Element 'CheckCRL': [facet 'maxInclusive']",
    ),
    "sync: BodyPartPreference without Type": (
        '<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection><SyncKey>1</SyncKey>'
        "<CollectionId>1</CollectionId><Options><airsyncbase:BodyPartPreference><airsyncbase:TruncationSize>5"
        "</airsyncbase:TruncationSize></airsyncbase:BodyPartPreference></Options></Collection></Collections></Sync>",
        "Sync/Collections/Collection/Options/BodyPartPreference: Element 'BodyPartPreference': Missing child",
    ),
    "sync: RightsManagementSupport outside Options": (
        '<Sync xmlns="AirSync" xmlns:rm="RightsManagement"><Collections><Collection><SyncKey>1</SyncKey>'
        "<CollectionId>1</CollectionId><rm:RightsManagementSupport>1</rm:RightsManagementSupport></Collection>"
        "</Collections></Sync>",
        "Sync/Collections/Collection/RightsManagementSupport: Element 'RightsManagementSupport': This element is not",
    ),
    "search: Picture MaxSize above 100 KB": (
        '<Search xmlns="Search"><Store><Name>GAL</Name><Query>ann</Query><Options><Picture><MaxSize>102401</MaxSize>'
        "</Picture></Options></Store></Search>",
        "Search/Store/Options/Picture/MaxSize: Element 'MaxSize': [facet 'maxInclusive']",
    ),
    "search: Picture outside Options": (
        '<Search xmlns="Search"><Store><Name>GAL</Name><Query>ann</Query><Picture/></Store></Search>',
        "Search/Store/Picture: Element 'Picture': This element is not expected.",
    ),
    "settings: RightsManagementInformation with Set": (
        '<Settings xmlns="Settings"><RightsManagementInformation><Set/></RightsManagementInformation></Settings>',
        "Settings/RightsManagementInformation/Set: Element 'Set': This element is not expected.",
    ),
}


@pytest.mark.parametrize("name", list(NEWER_BROKEN))
def test_newer_protocol_elements_are_still_checked(name: str) -> None:
    text, expected = NEWER_BROKEN[name]
    messages = validate_request(xml(text))
    assert len(messages) == 1, messages
    assert messages[0].startswith(expected), messages[0]


def test_validatecert_old_appendix_spelling_is_reported() -> None:
    # The appendix's "CheckCrl" is not an element any client can send (MS-ASWBXML has CheckCRL only)
    root = xml(
        '<ValidateCert xmlns="ValidateCert"><Certificates><Certificate>MIIBszCC</Certificate></Certificates>'
        "<CheckCrl>0</CheckCrl></ValidateCert>"
    )
    messages = validate_request(root)
    assert len(messages) == 1 and "CheckCrl" in messages[0] and "not expected" in messages[0]
