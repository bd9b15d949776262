"""eas.share and eas.share_roles: role tables, the pseudonym map, the rewriting of trees, queries, headers, bodies."""

from __future__ import annotations

import base64

import pytest

import eas
from eas.codepages import CODE_PAGES
from eas.multipart import build_multipart, parse_multipart
from eas.share import (
    Pseudonyms,
    share_body,
    share_header,
    share_headers,
    share_path,
    share_query,
    share_wbxml,
)
from eas.share_roles import PAGE_DEFAULT_ROLES, Role, element_role


def test_every_code_page_has_a_default_role() -> None:
    assert {page.name for page in CODE_PAGES} == set(PAGE_DEFAULT_ROLES)


@pytest.mark.parametrize(
    ("namespace", "local", "role"),
    [
        ("Email", "Subject", Role.CONTENT),  # MS-ASEMAIL 2.2.2.75
        ("Email", "From", Role.ADDRESS_LIST),  # MS-ASEMAIL 2.2.2.36
        ("Email", "MessageClass", Role.KEEP),  # MS-ASEMAIL 2.2.2.49
        ("AirSyncBase", "Data", Role.CONTENT),  # MS-ASAIRS 2.2.2.20
        ("AirSyncBase", "EstimatedDataSize", Role.KEEP),  # MS-ASAIRS 2.2.2.23
        ("AirSync", "SyncKey", Role.KEEP),  # MS-ASCMD 2.2.3.166
        ("AirSync", "CollectionId", Role.ID),  # MS-ASCMD 2.2.3.30
        ("Calendar", "Location", Role.CONTENT),  # MS-ASCAL 2.2.2.27
        ("Calendar", "BusyStatus", Role.KEEP),  # MS-ASCAL 2.2.2.8
        ("Contacts", "MobilePhoneNumber", Role.CONTENT),  # MS-ASCNTC 2.2.2.51
        ("Tasks", "Subject", Role.CONTENT),  # MS-ASTASK 2.2.2.27
        ("Notes", "Subject", Role.CONTENT),  # MS-ASNOTE 2.2.2.10
        ("Settings", "Password", Role.SECRET),  # MS-ASCMD 2.2.3.124.1
        ("Settings", "IMEI", Role.PERSONAL),  # MS-ASCMD 2.2.3.83
        ("Settings", "Model", Role.KEEP),  # MS-ASCMD 2.2.3.108
        ("Provision", "PolicyKey", Role.KEEP),  # MS-ASPROV 2.2.2.42
        ("GAL", "EmailAddress", Role.ADDRESS),  # MS-ASCMD 2.2.3.56.1
        ("ComposeMail", "Mime", Role.CONTENT),  # MS-ASCMD 2.2.3.109
        ("NoSuchPage", "Anything", Role.CONTENT),
    ],
)
def test_element_roles(namespace: str, local: str, role: Role) -> None:
    assert element_role(namespace, local) is role


def test_preview_in_a_body_preference_is_a_number_not_content() -> None:
    # MS-ASAIRS 2.2.2.30: in BodyPreference, Preview is the number of characters asked for
    assert element_role("AirSyncBase", "Preview", "BodyPreference") is Role.KEEP
    assert element_role("AirSyncBase", "Preview", "Body") is Role.CONTENT


def test_pseudonyms_are_consistent_and_share_a_persons_number() -> None:
    names = Pseudonyms()
    assert names.user("alice") == "user1"
    assert names.address("Alice@Example.com") == "user1@example.invalid"
    assert names.address("bob@example.com") == "user2@example.invalid"
    assert names.user("bob") == "user2"
    assert names.user("ALICE") == "user1"
    assert names.device("EA51A1") == "DEVICE1"
    assert names.host("mail.example.com") == "server1.example.invalid"
    assert names.host("MAIL.example.com") == "server1.example.invalid"
    assert names.client_address("10.1.2.3") == "192.0.2.1"
    assert names.user("CORP\\carol") == "DOMAIN1\\user3"
    # a stand-in maps to itself: rewriting twice changes nothing
    assert names.user("user1") == "user1" and names.address("user2@example.invalid") == "user2@example.invalid"


def test_free_text_replaces_known_identities_addresses_and_url_hosts() -> None:
    names = Pseudonyms()
    names.user("alice")
    names.display_name("Alice Anderson", "alice@example.com")
    names.host("mail.example.com")
    text = "Hi Alice Anderson, see https://mail.example.com/owa or write to Carol <carol@corp.example>; alice"
    assert names.text(text) == (
        "Hi User 1, see https://server1.example.invalid/owa or write to Carol <user2@example.invalid>; user1"
    )


def test_identifiers_keep_hex_and_standard_names_and_hide_folder_names() -> None:
    names = Pseudonyms()
    assert names.identifier("mail%2F8e8437014438026bb316000083ecc375") == "mail%2F8e8437014438026bb316000083ecc375"
    assert names.identifier("vcard%2Fpersonal") == "vcard%2Fpersonal"
    assert names.identifier("mail%2FINBOX%2FProjects%2F12") == "mail%2FINBOX%2Ffolder1%2F12"
    assert names.identifier("7:12") == "7:12"
    assert names.folder("Projects") == "folder1"


def wbxml(xml: str) -> bytes:
    return eas.encode(xml)


def test_sync_item_content_hidden_identities_pseudonymised_structure_kept() -> None:
    request = wbxml(
        '<Sync xmlns="AirSync" xmlns:email="Email" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
        "<SyncKey>4-17</SyncKey><CollectionId>mail%2FINBOX</CollectionId><Status>1</Status><Commands><Add>"
        "<ServerId>1:5</ServerId><ApplicationData>"
        '<email:From>"Bob Brown" &lt;bob@example.com&gt;</email:From>'
        "<email:Subject>Salary review</email:Subject><email:Read>0</email:Read>"
        "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:Data>Secret plans</airsyncbase:Data>"
        "</airsyncbase:Body></ApplicationData></Add></Commands></Collection></Collections></Sync>"
    )
    xml = eas.decode_to_xml(share_wbxml(request, Pseudonyms()), pretty=False)
    assert "<SyncKey>4-17</SyncKey>" in xml
    assert "<CollectionId>mail%2FINBOX</CollectionId>" in xml
    assert "<ServerId>1:5</ServerId>" in xml
    assert '<email:From>"User 1" &lt;user1@example.invalid&gt;</email:From>' in xml
    assert "<email:Subject>[13 bytes hidden]</email:Subject>" in xml
    assert "<email:Read>0</email:Read>" in xml
    assert "<airsyncbase:Data>[12 bytes hidden]</airsyncbase:Data>" in xml
    kept = eas.decode_to_xml(share_wbxml(request, Pseudonyms(), keep_content=True), pretty=False)
    assert "<email:Subject>Salary review</email:Subject>" in kept


def test_folder_names_of_default_folders_stay_and_user_folders_are_pseudonymised() -> None:
    # MS-ASCMD 2.2.3.186.3: Type 2 is the default Inbox, 12 a user-created mail folder
    response = wbxml(
        '<FolderSync xmlns="FolderHierarchy"><Status>1</Status><SyncKey>1</SyncKey><Changes><Count>2</Count>'
        "<Add><ServerId>1</ServerId><ParentId>0</ParentId><DisplayName>Inbox</DisplayName><Type>2</Type></Add>"
        "<Add><ServerId>2</ServerId><ParentId>0</ParentId><DisplayName>Divorce lawyer</DisplayName><Type>12</Type>"
        "</Add></Changes></FolderSync>"
    )
    xml = eas.decode_to_xml(share_wbxml(response, Pseudonyms()), pretty=False)
    assert "<DisplayName>Inbox</DisplayName>" in xml
    assert "<DisplayName>folder1</DisplayName>" in xml


def test_settings_device_password_and_device_information() -> None:
    request = wbxml(
        '<Settings xmlns="Settings"><DevicePassword><Set><Password>1234</Password></Set></DevicePassword>'
        "<DeviceInformation><Set><Model>iPhone15,2</Model><IMEI>356938035643809</IMEI>"
        "<PhoneNumber>+15550101</PhoneNumber><OS>iOS 17.1</OS></Set></DeviceInformation></Settings>"
    )
    xml = eas.decode_to_xml(share_wbxml(request, Pseudonyms(), keep_content=True), pretty=False)
    assert "<Password>&lt;redacted&gt;</Password>" in xml
    assert "<Model>iPhone15,2</Model>" in xml and "<OS>iOS 17.1</OS>" in xml
    assert "<IMEI>[15 bytes hidden]</IMEI>" in xml and "<PhoneNumber>[9 bytes hidden]</PhoneNumber>" in xml


def test_plain_query_pseudonymised_and_token_removed() -> None:
    names = Pseudonyms()
    query = "Cmd=Sync&User=alice&DeviceId=ABC123&DeviceType=iPhone&access_token=eyJ0.abc.def"
    assert share_query(query, names) == "Cmd=Sync&User=user1&DeviceId=DEVICE1&DeviceType=iPhone"


def test_base64_query_is_decoded_rewritten_and_encoded_again() -> None:
    # MS-ASHTTP 2.2.1.1.1.1: version 141, Sync (0), locale 0x0409, device id, no policy key, type, User tag 8
    raw = bytes([141, 0, 0x09, 0x04, 4]) + b"\x01\x02\x03\x04" + b"\x00" + bytes([6]) + b"iPhone"
    raw += bytes([8, 5]) + b"alice"
    names = Pseudonyms()
    shared = eas.decode_query(share_query(base64.b64encode(raw).decode(), names))
    assert (shared.command, shared.user, shared.device_id, shared.device_type, shared.protocol_version) == (
        "Sync", "user1", "DEVICE1", "iPhone", "14.1")
    # the binary id is the same device as its hex text in the plain form
    assert share_query("Cmd=Ping&DeviceId=01020304", names) == "Cmd=Ping&DeviceId=DEVICE1"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Basic " + base64.b64encode(b"alice:pw").decode(), "Basic user1:<redacted>"),
        ("Authorization", "Bearer eyJhbGciOi.eyJ1cG4iOi.sig", "Bearer <redacted>"),
        ("Proxy-Authorization", "NTLM TlRMTVNTUAADAAAA", "NTLM <redacted>"),
        ("WWW-Authenticate", "NTLM TlRMTVNTUAACAAAA", "NTLM <redacted>"),
        ("WWW-Authenticate", 'Basic realm="mail.example.com"', 'Basic realm="server1.example.invalid"'),
        ("Cookie", "a=1; b=2", "a=<redacted>; b=<redacted>"),
        ("Set-Cookie", "s=xyz; Path=/; Secure", "s=<redacted>; Path=/; Secure"),
        ("X-Auth-Token", "abc", "<redacted>"),
        ("X-MS-PolicyKey", "3942919513", "3942919513"),
        ("Host", "mail.example.com:443", "server1.example.invalid:443"),
        ("X-FEServer", "EXCH01", "server2.example.invalid"),
        ("X-Forwarded-For", "10.0.0.7, 10.0.0.8", "192.0.2.1, 192.0.2.2"),
        ("MS-ASProtocolVersion", "14.1", "14.1"),
    ],
)
def test_headers(name: str, value: str, expected: str) -> None:
    names = Pseudonyms()
    names.user("alice")
    names.host("mail.example.com")
    assert share_header(name, value, names) == expected


def test_header_order_and_names_kept() -> None:
    headers = [("Host", "h"), ("Cookie", "a=b"), ("Content-Type", "application/vnd.ms-sync.wbxml")]
    assert [name for name, _ in share_headers(headers, Pseudonyms())] == ["Host", "Cookie", "Content-Type"]


def test_multipart_keeps_its_parts_and_hides_the_mime() -> None:
    part0 = wbxml('<ItemOperations xmlns="ItemOperations"><Status>1</Status></ItemOperations>')
    body = build_multipart([part0, b"From: alice@example.com\r\nSubject: x\r\n\r\nhello"])
    shared = share_body(body, "application/vnd.ms-sync.multipart", Pseudonyms())
    parts = parse_multipart(shared.data)
    assert len(parts) == 2 and eas.decode(parts[0]) is not None
    assert parts[1] == b"[44 bytes hidden]"  # 25 + 12 + 2 + 5 bytes of MIME


def test_undecodable_wbxml_is_removed_with_a_note() -> None:
    shared = share_body(b"\x03\x01\x6a\x00\x45\x03secret", "application/vnd.ms-sync.wbxml", Pseudonyms())
    assert shared.data == b""
    assert shared.note is not None and "does not decode" in shared.note


def test_text_error_body_under_the_wbxml_type_is_kept_as_text() -> None:
    # SOGo answers FolderDelete of a contacts folder with plain text under the WBXML type (lab NOTES.md)
    body = b"Unsupported folder type during creation."
    assert share_body(body, "application/vnd.ms-sync.wbxml", Pseudonyms()).data == body


def test_autodiscover_xml_pseudonymised() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
        b'autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>alice@example.com</EMailAddress>'
        b"</Request></Autodiscover>"
    )
    shared = share_body(body, "text/xml", Pseudonyms()).data
    assert b"<EMailAddress>user1@example.invalid</EMailAddress>" in shared and b"alice" not in shared


def test_url_user_information_is_removed_and_the_host_pseudonymised() -> None:
    names = Pseudonyms()
    assert names.text("see https://alice:hunter2@mail.example.com:443/x and ldap://[2001:db8::5]/") == (
        "see https://server1.example.invalid:443/x and ldap://server2.example.invalid/"
    )


def test_protocol_headers_are_never_rewritten_as_free_text() -> None:
    names = Pseudonyms()
    names.display_name("Search Settings")  # a display name whose words are command names
    assert share_header("MS-ASProtocolCommands", "Sync,Search,Settings", names) == "Sync,Search,Settings"
    assert share_header("X-Note", "Search Settings", names) == "User 1"


def test_a_folder_name_learnt_from_foldersync_is_hidden_inside_ids_even_with_digits() -> None:
    names = Pseudonyms()
    assert names.folder("Lab Projects 2") == "folder1"
    assert names.identifier("mail%2FLab%20Projects%202%2F7") == "mail%2Ffolder1%2F7"
    assert names.identifier("mail/Lab Projects 2/7") == "mail/folder1/7"


@pytest.mark.parametrize(
    ("xml_value", "expected"),
    [
        ("Bob Brown", "User 1"),
        ("Bob Brown; Carol Clark", "User 1; User 2"),
        ("bob@example.com", "user3@example.invalid"),
        ('"Brown, Bob" &lt;bob@example.com&gt;, carol@example.org',
         '"User 3" &lt;user3@example.invalid&gt;, user4@example.invalid'),
    ],
)
def test_resolve_recipients_to_names_and_addresses(xml_value: str, expected: str) -> None:
    # MS-ASCMD 2.2.3.175.4: To holds a name or an address to resolve
    request = wbxml(f'<ResolveRecipients xmlns="ResolveRecipients"><To>{xml_value}</To></ResolveRecipients>')
    names = Pseudonyms()
    names.display_name("Bob Brown")
    names.display_name("Carol Clark")
    xml = eas.decode_to_xml(share_wbxml(request, names), pretty=False)
    assert f"<To>{expected}</To>" in xml


def test_path_and_query_share_one_map() -> None:
    names = Pseudonyms()
    path = "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=ActiveSync&Email=alice@example.com"
    assert share_path(path, names) == (
        "/autodiscover/autodiscover.json/v1.0/user1@example.invalid?Protocol=ActiveSync&Email=user1@example.invalid"
    )
