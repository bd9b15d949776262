"""eas.sensitive: which headers, parameters and elements are secrets, and how each is hidden, rule by rule, by hand.

Cookie grammar from RFC 6265 4.1.1 (Set-Cookie: name, value, attributes) and 4.2.1 (Cookie: name=value pairs);
attribute names and shapes from RFC 6265 5.2.
"""

from __future__ import annotations

import pytest
from lxml import etree

import eas
from eas.constants import WBXML_NS
from eas.errors import EncodeError
from eas.sensitive import (
    hidden_text,
    hide_cookie,
    hide_header_value,
    hide_secret_elements,
    hide_set_cookie,
    is_secret_element,
    is_secret_header,
    is_secret_parameter,
    redact_query,
    redact_url,
    restore_hidden_secrets,
)


@pytest.mark.parametrize(("name", "secret"), [
    (" COOKIE2 ", True), ("set-cookie2", True), ("Proxy-Authorization", True),
    ("X-MS-Auth-Token", False), ("MS-ASFoo-Token", False),  # MS-ASHTTP's own headers carry no credential
    ("X-Session-Id", True), ("X-Sessionid", False), ("X-Passwd", True), ("X-Api_Key", True), ("X-ApiKey", True),
    ("X-Secret", True), ("auth", True), ("X-Author", False), ("X-Authorization-Hint", True),
    ("X-User-Credentials", True), ("Tokenizer", False), ("X-Token_", True), ("X-Password", True),
])
def test_secret_header_names(name: str, secret: bool) -> None:
    assert is_secret_header(name) is secret


@pytest.mark.parametrize(("name", "secret"), [
    (" Access_Token ", True), ("my_token", True), ("my-token", True), ("userpassword", True),
    ("client_secret", True), ("app_secret", True), ("sig", True), ("code", True), ("PWD", True),
    ("tokens", False), ("secretive", False), ("codes", False), ("token_type", False),
])
def test_secret_parameter_names(name: str, secret: bool) -> None:
    assert is_secret_parameter(name) is secret


def test_secret_elements_by_page_name_only() -> None:
    assert is_secret_element("Search:", "Password") is True
    assert is_secret_element("NoSuchPage", "Password") is False
    assert is_secret_element("AirSync", "Password") is False


def test_hidden_text_tells_the_length_only() -> None:
    assert hidden_text("abc") == "(hidden) 3 characters"
    assert hidden_text(None) == "(hidden) 0 characters"
    assert hidden_text("") == "(hidden) 0 characters"


@pytest.mark.parametrize(("value", "shown"), [
    ("a=1;b=2", "a=(hidden); b=(hidden)"),
    (" x y =1", "(hidden)"),  # a name that is not a token: all of it is a value
    ("=x", "(hidden)"),
    ("lone", "(hidden)"),
    ("", ""),
    (";; ;", ""),
    ("a=1; =2;  b = 3 ", "a=(hidden); (hidden); b=(hidden)"),
])
def test_hide_cookie_keeps_token_names_only(value: str, shown: str) -> None:
    assert hide_cookie(value) == shown


def test_hide_cookie_takes_the_marker_given() -> None:
    assert hide_cookie("a=1; b", "*") == "a=*; *"


FULL_SET_COOKIE = ("id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=-1; Domain=.example.com; Path=/docs; "
                   "SameSite=Lax; Priority=High; Version=1; Secure; HttpOnly; Partitioned")


@pytest.mark.parametrize(("value", "shown"), [
    (FULL_SET_COOKIE, FULL_SET_COOKIE.replace("a3fWa", "(hidden)")),
    ("a=1;  path = /x ", "a=(hidden); path=/x"),  # the attribute's name as sent, its value trimmed
    ("a=1; Max-Age=abc", "a=(hidden); Max-Age=(hidden)"),  # not the shape of a Max-Age: may be a value
    ("a=1; Path=x", "a=(hidden); Path=(hidden)"),
    ("a=1; Secure=1", "a=(hidden); Secure=(hidden)"),
    ("a=1; Path", "a=(hidden); (hidden)"),
    ("a=1; Extra=v", "a=(hidden); Extra=(hidden)"),
    ("a=1; bad name=v", "a=(hidden); (hidden)"),
    ("a=1;; Secure", "a=(hidden); Secure"),
    ("; Secure", "Secure"),
    ("a=1; Path=/, b=2; Secure", "a=(hidden); Path=/, b=(hidden); Secure"),  # two cookies folded into one
    ("a=1; Path=/x,y", "a=(hidden); Path=(hidden)"),  # a comma is no part of a path
    ("nameless", "(hidden)"),
])
def test_hide_set_cookie_keeps_names_and_attributes_of_known_shape(value: str, shown: str) -> None:
    assert hide_set_cookie(value) == shown


def test_hide_header_value_by_kind() -> None:
    assert hide_header_value(" Cookie2 ", "a=1") == "a=(hidden)"
    assert hide_header_value("SET-COOKIE2", "a=1; Secure") == "a=(hidden); Secure"
    assert hide_header_value("X-Auth-Token", "abc") == "(hidden)"
    assert hide_header_value("Cookie", "a=1", "<redacted>") == "a=<redacted>"


@pytest.mark.parametrize(("query", "shown"), [
    ("", ""),
    ("a=1&token=x", "a=1&token=%28hidden%29"),
    ("tok%65n=x&b=2", "tok%65n=%28hidden%29&b=2"),  # the name is read percent-decoded
    ("token&a=1", "token&a=1"),  # a name without a value hides nothing
    ("a=1&&b", "a=1&&b"),
])
def test_redact_query(query: str, shown: str) -> None:
    assert redact_query(query) == shown


@pytest.mark.parametrize(("url", "shown"), [
    ("https://h/p?token=x#frag", "https://h/p?token=%28hidden%29#frag"),
    ("https://alice:pw@h/p?x=1", "https://alice:%28hidden%29@h/p?x=1"),
    ("https://alice:pw@h", "https://alice:%28hidden%29@h"),
    ("https://alice@h/p", "https://alice@h/p"),  # a user without a password
    ("https://h/a@b:c/p", "https://h/a@b:c/p"),  # an @ in the path is no user
    ("/p?password=1&x=2", "/p?password=%28hidden%29&x=2"),
    ("https://h/p#top", "https://h/p#top"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_hide_secret_elements_counts_the_passwords_and_drops_their_markers() -> None:
    root = etree.fromstring(
        '<Settings xmlns="Settings"><DevicePassword><Set><Password>Pa55</Password></Set></DevicePassword>'
        '<DevicePassword><Set><Password/></Set></DevicePassword><UserAgent>x</UserAgent></Settings>')
    first = root.find(".//{Settings}Password")
    assert first is not None
    first.set(f"{{{WBXML_NS}}}content", "inline")
    first.set("kept", "1")
    assert hide_secret_elements(root) == 1  # the empty Password hides nothing
    assert first.text == "(hidden) 4 characters"
    assert dict(first.attrib) == {"kept": "1"}
    assert hide_secret_elements(etree.fromstring('<Ping xmlns="Ping"><Password>x</Password></Ping>')) == 0
    assert hide_secret_elements(etree.Comment("c")) == 0
    assert hide_secret_elements(eas.decode(eas.encode(
        '<Search xmlns="Search"><Store><Options><Password>pw</Password></Options></Store></Search>'))) == 1


def test_hide_cookie_splits_a_piece_at_its_first_equals_sign() -> None:
    # RFC 6265 4.2.1: cookie-pair = cookie-name "=" cookie-value; the value may hold "=" (base64 padding)
    assert hide_cookie("a=b=c; d=e==") == "a=(hidden); d=(hidden)"


def test_an_unrestorable_placeholder_names_itself_its_element_and_its_line() -> None:
    edited = eas.parse_xml('<Settings xmlns="Settings">\n<DevicePassword><Set>\n'
                           "<Password>(hidden) 4 characters</Password></Set></DevicePassword></Settings>")
    with pytest.raises(EncodeError) as info:
        restore_hidden_secrets(edited, None)
    assert (info.value.reason, info.value.element, info.value.line) == (
        "(hidden) 4 characters at Settings/DevicePassword/Set/Password cannot be sent: the original body is not at"
        " hand; type the value to send", "{Settings}Password", 3)


def test_placeholders_are_restored_under_a_password_root_only() -> None:
    placeholder = "<Password>(hidden) 4 characters</Password>"
    # a Ping (no password in its command) and an unknown namespace are left alone, whatever they hold
    assert restore_hidden_secrets(eas.parse_xml(f'<Ping xmlns="Ping"><x:Set xmlns:x="Settings">{placeholder}'
                                                "</x:Set></Ping>"), None) == 0
    assert restore_hidden_secrets(etree.fromstring(f'<Foo xmlns="urn:nope">{placeholder}</Foo>'), None) == 0
    # a root of the Settings page is read whatever its name: its placeholder cannot be sent without the original
    with pytest.raises(EncodeError) as info:
        restore_hidden_secrets(eas.parse_xml(f'<Foo xmlns="Settings">{placeholder}</Foo>'), None)
    assert info.value.reason.startswith("(hidden) 4 characters at Foo/Password cannot be sent")


def test_a_placeholder_whose_original_body_does_not_decode_is_refused() -> None:
    edited = eas.parse_xml('<Settings xmlns="Settings"><DevicePassword><Set><Password>(hidden) 4 characters'
                           "</Password></Set></DevicePassword></Settings>")
    with pytest.raises(EncodeError) as info:
        restore_hidden_secrets(edited, b"\x03\x01")
    assert info.value.reason == ("(hidden) 4 characters at Settings/DevicePassword/Set/Password cannot be sent: "
                                 "the original body does not decode; type the value to send")


@pytest.mark.parametrize(
    ("original_password", "why"),
    [
        ("", "the original value there is not the 4 characters the placeholder stands for"),  # empty: no text
        ("(hidden) 4 characters", "the capture hid the original value when it stored the body"),
    ],
)
def test_a_placeholder_without_its_value_in_the_original_is_refused(original_password: str, why: str) -> None:
    def settings(password: str) -> str:
        return (f'<Settings xmlns="Settings"><DevicePassword><Set><Password>{password}</Password></Set>'
                "</DevicePassword></Settings>")

    with pytest.raises(EncodeError) as info:
        restore_hidden_secrets(eas.parse_xml(settings("(hidden) 4 characters")), eas.encode(settings(original_password)))
    assert info.value.reason == (f"(hidden) 4 characters at Settings/DevicePassword/Set/Password cannot be sent: {why}"
                                 "; type the value to send")


def test_redact_query_splits_a_segment_at_its_first_equals_sign() -> None:
    # the value of a token may hold "=" (base64 padding): the name ends at the first one
    assert redact_query("access_token=abc==&a=1") == "access_token=%28hidden%29&a=1"


@pytest.mark.parametrize(("url", "shown"), [
    # RFC 3986 3.5: the fragment starts at the first "#"; 3.2: the authority ends at the first "/" after "//", its
    # userinfo at its first "@", the user at the userinfo's first ":"
    ("https://h/p?access_token=s#frag#more", "https://h/p?access_token=%28hidden%29#frag#more"),
    ("https://u:pw@h/a://b", "https://u:%28hidden%29@h/a://b"),
    ("https://h/a:b@c/d", "https://h/a:b@c/d"),  # "a:b@c" is in the path, not a user and password
    ("https://u:p@h/x@y", "https://u:%28hidden%29@h/x@y"),
    ("https://u:p:q@h/", "https://u:%28hidden%29@h/"),  # the password runs to the "@", colons and all
])
def test_redact_url_reads_the_url_parts_as_rfc_3986_delimits_them(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_hide_secret_elements_goes_on_past_an_empty_password() -> None:
    root = etree.fromstring(
        '<Settings xmlns="Settings"><DevicePassword><Set><Password/></Set></DevicePassword>'
        "<DevicePassword><Set><Password>pw</Password></Set></DevicePassword>"
        "<DevicePassword><Set><Password>xyz</Password></Set></DevicePassword></Settings>")
    assert hide_secret_elements(root) == 2
    assert [p.text for p in root.iter("{Settings}Password")] == [None, "(hidden) 2 characters",
                                                                 "(hidden) 3 characters"]


def test_a_settings_password_inside_another_command_is_left_as_it_is() -> None:
    # only Settings, ItemOperations and Search carry a password (MS-ASCMD 2.2.3.122): a Ping holding a Settings
    # Password element is not restored, and not refused either
    edited = eas.parse_xml('<Ping xmlns="Ping"><Set xmlns="Settings"><Password>(hidden) 4 characters</Password>'
                           "</Set></Ping>")
    assert restore_hidden_secrets(edited, None) == 0
    assert edited.findtext(".//{Settings}Password") == "(hidden) 4 characters"


def test_a_restored_password_loses_the_edit_s_markers_and_keeps_its_other_attributes() -> None:
    # the markers describe the bytes of the text they sat on; the original Pa55 was sent inline, with none
    edited = eas.parse_xml('<Settings xmlns="Settings"><DevicePassword><Set><Password>(hidden) 4 characters'
                           "</Password></Set></DevicePassword></Settings>")
    password = edited.find(".//{Settings}Password")
    assert password is not None
    password.set(f"{{{WBXML_NS}}}opaque", "base64")
    password.set("kept", "1")
    original = eas.encode('<Settings xmlns="Settings"><DevicePassword><Set><Password>Pa55</Password></Set>'
                          "</DevicePassword></Settings>")
    assert restore_hidden_secrets(edited, original) == 1
    assert (password.text, dict(password.attrib)) == ("Pa55", {"kept": "1"})
