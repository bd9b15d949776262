"""capture.redaction: what a capture keeps of each secret header, URL and body password, rule by rule, by hand."""

from __future__ import annotations

import base64

import pytest

import eas
from capture.redaction import (
    redact_cookies,
    redact_header,
    redact_headers,
    redact_request_body,
    redact_stored_url,
    with_content_length,
)

BASIC_ALICE = "Basic " + base64.b64encode(b"alice:s3cret").decode()


@pytest.mark.parametrize(
    ("name", "value", "kept"),
    [
        ("Authorization", BASIC_ALICE, "Basic alice:<redacted>"),
        (" proxy-AUTHORIZATION ", BASIC_ALICE, "Basic alice:<redacted>"),
        ("Authorization", "Bearer opaque-token", "Bearer <redacted>"),
        ("Authorization", "opaque", "<redacted>"),  # no scheme: nothing to keep
        ("Cookie", "a=1; b=2", "a=<redacted>; b=<redacted>"),
        ("Set-Cookie", "sid=xyz; Path=/; Secure", "sid=<redacted>; Path=/; Secure"),
        ("Cookie2", "c=3", "c=<redacted>"),
        ("X-Auth-Token", "abc", "<redacted>"),
        ("X-API-Key", "abc", "<redacted>"),
        ("X-MS-PolicyKey", "1307199584", "1307199584"),  # names a policy, grants nothing (MS-ASPROV 2.2.2.42)
        ("Content-Type", "application/vnd.ms-sync.wbxml", "application/vnd.ms-sync.wbxml"),
    ],
)
def test_redact_header_keeps_what_each_header_may_show(name: str, value: str, kept: str) -> None:
    assert redact_header(name, value) == kept


def test_redact_cookies_reads_both_directions() -> None:
    assert redact_cookies("a=1; Path=/", set_cookie=False) == "a=<redacted>; Path=<redacted>"
    assert redact_cookies("a=1; Path=/", set_cookie=True) == "a=<redacted>; Path=/"


def test_redact_headers_keeps_names_order_and_the_absence_of_headers() -> None:
    assert redact_headers(None) is None
    assert redact_headers(()) == ()
    assert redact_headers((("Host", "h"), ("Cookie", "s=1"), ("Host", "h2"))) == (
        ("Host", "h"), ("Cookie", "s=<redacted>"), ("Host", "h2"))


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("", ""),
        ("/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice"),
        ("/x?Cmd=Sync&access_token=abc", "/x?Cmd=Sync&access_token=%28hidden%29"),
        ("https://alice:pw@mail.example/x?a=1", "https://alice:%28hidden%29@mail.example/x?a=1"),
    ],
)
def test_redact_stored_url_hides_secret_parameters_and_the_url_password(url: str, kept: str) -> None:
    assert redact_stored_url(url) == kept


# MS-ASCMD 2.2.3.46 / 2.2.3.130.3: the device password of Settings DevicePassword
SETTINGS_PASSWORD = eas.encode(
    '<Settings xmlns="Settings"><DevicePassword><Password>s3cret</Password></DevicePassword></Settings>')
SETTINGS_OOF = eas.encode('<Settings xmlns="Settings"><Oof><Get><BodyType>Text</BodyType></Get></Oof></Settings>')
PING = eas.encode('<Ping xmlns="Ping"><HeartbeatInterval>60</HeartbeatInterval></Ping>')


@pytest.mark.parametrize("root_tag", ["Settings", "{Settings}Settings"])
def test_a_settings_password_is_replaced_by_its_length(root_tag: str) -> None:
    redacted = redact_request_body(SETTINGS_PASSWORD, root_tag)
    assert b"s3cret" not in redacted
    password = eas.decode(redacted).find("{Settings}DevicePassword/{Settings}Password")
    assert password is not None and password.text == "(hidden) 6 characters"


def test_bodies_without_a_password_are_kept_byte_for_byte() -> None:
    assert redact_request_body(SETTINGS_OOF, "Settings") == SETTINGS_OOF
    assert redact_request_body(PING, "Ping") == PING
    assert redact_request_body(SETTINGS_PASSWORD, None) == SETTINGS_PASSWORD  # not decoded: no root known
    assert redact_request_body(SETTINGS_PASSWORD, "Ping") == SETTINGS_PASSWORD  # a Ping holds no password
    assert redact_request_body(b"", "Settings") == b""
    assert redact_request_body(b"\x03\x01\x6a\x00\x45\x99", "Settings") == b"\x03\x01\x6a\x00\x45\x99"


def test_with_content_length_tells_the_new_length_in_any_case_of_the_name() -> None:
    headers = (("content-LENGTH", "99"), ("Content-Type", "x"))
    assert with_content_length(headers, b"12345") == (("content-LENGTH", "5"), ("Content-Type", "x"))
    assert with_content_length((("Host", "h"),), b"12345") == (("Host", "h"),)
