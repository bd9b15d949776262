"""eas.sensitive.restore_hidden_secrets: an edit of the annotated XML sends the password, never its placeholder
(issue 13, Secrets in other places: the views show Settings DevicePassword/Password by its length only)."""

from __future__ import annotations

import pytest

import eas
from eas.sensitive import redact_wbxml, restore_hidden_secrets

SETTINGS_URL = "/Microsoft-Server-ActiveSync?Cmd=Settings&User=alice&DeviceId=D1&DeviceType=T"
ITEMOPERATIONS_URL = "/Microsoft-Server-ActiveSync?Cmd=ItemOperations&User=alice&DeviceId=D1&DeviceType=T"
WBXML_HEADERS = [("Content-Type", "application/vnd.ms-sync.wbxml"), ("MS-ASProtocolVersion", "14.1")]

# Settings > DevicePassword > Set > Password "s3cr&t pw" (MS-ASCMD 2.2.3.46), then DeviceInformation > Set > Model
# "X", all on code page 18 Settings (MS-ASWBXML 2.1.2.1.19): 0x45 Settings, 0x54 DevicePassword, 0x48 Set,
# 0x55 Password, 0x56 DeviceInformation, 0x57 Model; 0x03 STR_I, 0x01 END.
DEVICE_PASSWORD = bytes.fromhex(
    "03016a0000 12 45 54 48 55 03 7333637226742070770001 0101"
    "56 48 57 03 5800 01 010101"
)
PASSWORD = "s3cr&t pw"

# The same Password sent as STR_T (0x83) at offset 0 of a 7-byte string table "s3cret\0" (WAP-192 5.8.4.1):
# a form the canonical encoding does not choose, kept by the decoder's round-trip markers.
DEVICE_PASSWORD_STR_T = bytes.fromhex("03016a07 73336372657400 0012 45 54 48 55 8300 01 010101")

# ItemOperations with two Fetch, each with Options > Password (MS-ASCMD 2.2.3.130.1 Password (ItemOperations)):
# code page 20 ItemOperations (MS-ASWBXML 2.1.2.1.21): 0x45 ItemOperations, 0x46 Fetch, 0x47 Store, 0x48 Options,
# 0x55 Password; "one" and "second".
TWO_FETCHES = bytes.fromhex(
    "03016a000014 45"
    "46 47 03 444c00 01 48 55 03 6f6e6500 01 01 01"
    "46 47 03 444c00 01 48 55 03 7365636f6e6400 01 01 01"
    "01"
)


def annotated(body: bytes, url: str = SETTINGS_URL) -> str:
    """The request's XML as every view shows it (eas.analyze, annotated)."""
    shown = eas.analyze("POST", url, WBXML_HEADERS, body).request_body
    assert shown is not None and shown.xml is not None
    return shown.xml


def passwords(body: bytes) -> list[str | None]:
    return [element.text for element in eas.decode(body).iter("{Settings}Password", "{ItemOperations}Password")]


def test_the_views_show_the_password_as_its_placeholder() -> None:
    text = annotated(DEVICE_PASSWORD)
    assert "<Password>(hidden) 9 characters</Password>" in text
    assert "s3cr" not in text


def test_an_unchanged_placeholder_gives_the_original_bytes() -> None:
    root = eas.parse_xml(annotated(DEVICE_PASSWORD))
    assert restore_hidden_secrets(root, DEVICE_PASSWORD) == 1
    assert eas.encode(root) == DEVICE_PASSWORD


def test_a_password_sent_in_another_token_form_comes_back_byte_for_byte() -> None:
    text = annotated(DEVICE_PASSWORD_STR_T)
    assert "(hidden) 6 characters" in text and "s3cret" not in text
    root = eas.parse_xml(text)
    assert restore_hidden_secrets(root, DEVICE_PASSWORD_STR_T) == 1
    assert eas.encode(root) == DEVICE_PASSWORD_STR_T


def test_another_element_edited_keeps_the_original_password() -> None:
    text = annotated(DEVICE_PASSWORD).replace("<Model>X</Model>", "<Model>Y</Model>")
    root = eas.parse_xml(text)
    restore_hidden_secrets(root, DEVICE_PASSWORD)
    body = eas.encode(root)
    assert passwords(body) == [PASSWORD]
    assert eas.decode(body).findtext(".//{Settings}Model") == "Y"


def test_a_typed_password_is_sent_as_typed() -> None:
    text = annotated(DEVICE_PASSWORD).replace("(hidden) 9 characters", "n3w-pass")
    root = eas.parse_xml(text)
    assert restore_hidden_secrets(root, DEVICE_PASSWORD) == 0
    assert passwords(eas.encode(root)) == ["n3w-pass"]


def test_each_placeholder_takes_the_value_at_its_own_path_and_occurrence() -> None:
    text = annotated(TWO_FETCHES, ITEMOPERATIONS_URL)
    assert "(hidden) 3 characters" in text and "(hidden) 6 characters" in text
    root = eas.parse_xml(text.replace("<Store>DL</Store>", "<Store>Mailbox</Store>"))
    assert restore_hidden_secrets(root, TWO_FETCHES) == 2
    assert passwords(eas.encode(root)) == ["one", "second"]


def test_a_namespace_spelled_the_old_way_still_maps() -> None:
    text = annotated(DEVICE_PASSWORD).replace('xmlns="Settings"', 'xmlns="Settings:"')
    root = eas.parse_xml(text)
    restore_hidden_secrets(root, DEVICE_PASSWORD)
    assert eas.encode(root) == DEVICE_PASSWORD


def refusal(text: str, original: bytes | None) -> str:
    root = eas.parse_xml(text)
    before = eas.to_xml(root)
    with pytest.raises(eas.EncodeError) as caught:
        restore_hidden_secrets(root, original)
    assert eas.to_xml(root) == before  # a refusal changes nothing
    message = str(caught.value)
    assert "\n" not in message
    assert "Password" in message and "line " in message
    return message


def test_a_capture_that_hid_the_password_is_refused() -> None:
    stored = redact_wbxml(DEVICE_PASSWORD)  # what the capture keeps without keep_credentials
    assert stored is not None and PASSWORD.encode() not in stored
    message = refusal(annotated(stored), stored)
    assert "the capture hid the original value" in message


def test_no_original_body_is_refused() -> None:
    assert "not at hand" in refusal(annotated(DEVICE_PASSWORD), None)
    assert "does not decode" in refusal(annotated(DEVICE_PASSWORD), b"\x03\x01\x6a\x00\x00\x12\x45\x54")


def test_a_duplicated_placeholder_maps_to_no_single_value() -> None:
    text = annotated(DEVICE_PASSWORD)
    doubled = text.replace("<Password>(hidden) 9 characters</Password>",
                           "<Password>(hidden) 9 characters</Password><Password>(hidden) 9 characters</Password>")
    assert "maps to no single original value" in refusal(doubled, DEVICE_PASSWORD)


def test_a_placeholder_whose_length_is_not_the_originals_is_refused() -> None:
    text = annotated(DEVICE_PASSWORD).replace("(hidden) 9 characters", "(hidden) 8 characters")
    assert "not the 8 characters" in refusal(text, DEVICE_PASSWORD)


def test_a_placeholder_moved_to_another_path_is_refused() -> None:
    text = annotated(DEVICE_PASSWORD).replace("<Model>X</Model>", "<Password>(hidden) 9 characters</Password>")
    text = text.replace("<Password>(hidden) 9 characters</Password>", "", 1)
    assert "DeviceInformation/Set/Password" in refusal(text, DEVICE_PASSWORD)


def test_a_body_without_password_is_left_alone() -> None:
    sync = '<Sync xmlns="AirSync"><Collections><Collection><SyncKey>(hidden) 1 characters</SyncKey></Collection></Collections></Sync>'
    root = eas.parse_xml(sync)
    assert restore_hidden_secrets(root, None) == 0
    assert root.findtext(".//{AirSync}SyncKey") == "(hidden) 1 characters"
