"""Tests for eas.query: MS-ASHTTP 2.2.1.1.1 request URI queries, plain and base64."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eas.errors import QueryError
from eas.query import (
    COMMAND_NAMES,
    PARAMETER_NAMES,
    EasQuery,
    decode_query,
    encode_base64,
    encode_plain,
)


def hexbytes(annotated: str) -> bytes:
    """Bytes from annotated hex: `#` starts a comment, whitespace is ignored."""
    return bytes.fromhex("".join(line.split("#", 1)[0] for line in annotated.splitlines()))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# MS-ASHTTP (current edition) 2.2.1.1.1.1: the example URI of the base64-encoded query value.
SPEC_BASE64 = "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"
SPEC_BASE64_BYTES = hexbytes(
    """
    8c                                 # protocol version 140 -> 14.0
    00                                 # command code 0: Sync
    09 04                              # locale 0x0409 (little-endian): en-US
    0a 76 31 34 30 44 65 76 69 63 65   # device ID, 10 bytes: v140Device
    00                                 # policy key length 0: absent
    0a 53 6d 61 72 74 50 68 6f 6e 65   # device type, 10 bytes: SmartPhone
    """
)

# Every field and every kind of parameter: GUID device ID, policy key, tags 1, 3, 8 and 7.
FULL_BYTES = hexbytes(
    """
    8d                                 # 141 -> 14.1
    03                                 # SmartReply
    07 04                              # 0x0407 de-DE
    10 a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af   # 16-byte binary device ID
    04 59 2d 04 eb                     # policy key 0xEB042D59 = 3942919513 (little-endian)
    06 69 50 68 6f 6e 65               # device type: iPhone
    01 01 35                           # tag 1 CollectionId = "5"
    03 04 35 3a 31 32                  # tag 3 ItemId = "5:12"
    08 05 61 6c 69 63 65               # tag 8 User = "alice"
    07 01 03                           # tag 7 Options = SaveInSent | AcceptMultiPart
    """
)
FULL = b64(FULL_BYTES)


# ------------------------------------------------------------------------------------------- spec vectors


def test_spec_base64_example() -> None:
    assert base64.b64decode(SPEC_BASE64) == SPEC_BASE64_BYTES
    q = decode_query(SPEC_BASE64)
    assert q == EasQuery(
        form="base64", command="Sync", command_code=0, device_id="v140Device",
        device_id_hex="76313430446576696365", device_type="SmartPhone", protocol_version="14.0", locale=0x0409,
    )
    assert q.locale_tag == "en-US"
    assert q.notes == ()
    assert encode_base64(q) == SPEC_BASE64


def test_spec_plain_examples() -> None:
    # MS-ASHTTP 2.2.1.1.1 and 4.1
    q = decode_query("Cmd=Sync&User=fakeuser@Contoso.com&DeviceId=v140&DeviceType=SmartPhone")
    assert q == EasQuery(
        form="plain", command="Sync", command_code=0, user="fakeuser@Contoso.com", device_id="v140",
        device_type="SmartPhone",
    )
    assert encode_plain(q) == "Cmd=Sync&User=fakeuser@Contoso.com&DeviceId=v140&DeviceType=SmartPhone"
    q = decode_query("/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=fakename&DeviceId=v140Device&DeviceType=SmartPhone")
    assert (q.command, q.command_code, q.user, q.device_id) == ("FolderSync", 9, "fakename", "v140Device")


def test_spec_example_that_wraps_plain_text() -> None:
    # MS-ASHTTP 2.2.1.1.1, verbatim from our copy (line breaks and a stray space included). Its base64 is a
    # plain-text query; the extracted text has typos ("Usur", "Devmce"), which we decode as they are.
    text = (
        "/Microsoft-Server-ActiveSync?\n"
        "Q21kPVN5bmMmVXN1cj1mYWtldXN1ckBDb250b3NvLmNvbSZEZXZpY2VJZD12MTQwJkRldm1jZVR5cGU9U21hc nRQaG9uZ\n"
        "SA=\n"
    )
    q = decode_query(text)
    assert q.form == "base64"
    assert (q.command, q.command_code, q.device_id) == ("Sync", 0, "v140")
    assert q.parameters == (("Usur", "fakeusur@Contoso.com"), ("DevmceType", "SmartPhone "))
    assert any("wraps a plain-text query" in note for note in q.notes)
    # a clean wrapped query reads exactly like the plain one
    plain = "Cmd=Sync&User=fakeuser@Contoso.com&DeviceId=v140&DeviceType=SmartPhone"
    wrapped = decode_query(b64(plain.encode()))
    assert wrapped == dataclasses.replace(decode_query(plain), form="base64")


def test_full_vector() -> None:
    q = decode_query(FULL)
    assert q == EasQuery(
        form="base64", command="SmartReply", command_code=3, user="alice",
        device_id="A0A1A2A3A4A5A6A7A8A9AAABACADAEAF", device_id_hex="A0A1A2A3A4A5A6A7A8A9AAABACADAEAF",
        device_type="iPhone", protocol_version="14.1", locale=0x0407, policy_key=3942919513,
        parameters=(("CollectionId", "5"), ("ItemId", "5:12")), options=frozenset({"SaveInSent", "AcceptMultiPart"}),
    )
    assert q.device_id_guid == "{A3A2A1A0-A5A4-A7A6-A8A9-AAABACADAEAF}"
    assert q.parameter("itemid") == "5:12"
    assert encode_base64(q) == FULL
    assert q.fields() == [
        ("Form", "base64"),
        ("ProtocolVersion", "14.1"),
        ("Command", "SmartReply (3)"),
        ("Locale", "0x0407 (de-DE)"),
        ("DeviceId", "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"),
        ("DeviceId (GUID)", "{A3A2A1A0-A5A4-A7A6-A8A9-AAABACADAEAF}"),
        ("PolicyKey", "3942919513"),
        ("DeviceType", "iPhone"),
        ("User", "alice"),
        ("CollectionId", "5"),
        ("ItemId", "5:12"),
        ("Options", "SaveInSent, AcceptMultiPart"),
    ]


def test_command_table() -> None:
    # MS-ASHTTP 2.2.1.1.1.3 (and Find, 23, of the current edition)
    assert COMMAND_NAMES[9] == "FolderSync" and COMMAND_NAMES[22] == "ValidateCert" and COMMAND_NAMES[23] == "Find"
    assert [PARAMETER_NAMES[t] for t in range(9)] == [
        "AttachmentName", "CollectionId", "CollectionName", "ItemId", "LongId", "ParentId", "Occurrence",
        "Options", "User",
    ]
    for code, name in COMMAND_NAMES.items():
        q = EasQuery(form="base64", command=name, protocol_version="16.1", locale=0x0409, device_id="d")
        assert decode_query(encode_base64(q)).command_code == code


# ---------------------------------------------------------------------------------------------- tolerance


@pytest.mark.parametrize(
    "variant, note",
    [
        (FULL.rstrip("="), "padding missing"),
        (FULL.replace("+", "-").replace("/", "_"), None),
        (FULL.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D"), "percent-encoded"),
        (FULL.replace("=", "%3d"), "percent-encoded"),
        ("  " + FULL[:20] + "\n " + FULL[20:] + "\r\n", "whitespace"),
        ("?" + FULL, None),
        ("https://mail.example.com/Microsoft-Server-ActiveSync?" + FULL, None),
        ("/Microsoft-Server-ActiveSync?" + FULL, None),
    ],
)
def test_tolerated_base64_variants(variant: str, note: str | None) -> None:
    q = decode_query(variant)
    assert q == decode_query(FULL)
    if note is not None:
        assert any(note in n for n in q.notes), q.notes


def test_url_safe_alphabet_is_noted() -> None:
    data = bytes([0x8d, 0x00, 0x09, 0x04, 0x02, 0xFB, 0xFF, 0x00, 0x00])  # base64 has + and /
    text = b64(data)
    assert "+" in text or "/" in text
    safe = text.replace("+", "-").replace("/", "_")
    q = decode_query(safe)
    assert q.device_id_hex == "FBFF"
    assert "URL-safe base64 alphabet" in q.notes
    assert encode_base64(q) == text


def test_plain_details() -> None:
    q = decode_query(
        "cmd=smartforward&user=DOMAIN%5Cjane+doe&DeviceId=ABC&DeviceType=Android"
        "&ItemId=7%3A1&collectionid=7&SaveInSent=T&Extra=%C3%A9&&"
    )
    assert q.command == "SmartForward" and q.command_code == 2
    assert q.user == "DOMAIN\\jane doe"
    assert q.parameters == (("ItemId", "7:1"), ("CollectionId", "7"), ("Extra", "é"))
    assert q.options == frozenset({"SaveInSent"})
    assert encode_plain(q) == (
        "Cmd=SmartForward&User=DOMAIN%5Cjane%20doe&DeviceId=ABC&DeviceType=Android"
        "&ItemId=7%3A1&CollectionId=7&Extra=%C3%A9&SaveInSent=T"
    )


def test_plain_oddities_are_noted_not_fatal() -> None:
    q = decode_query("User=a&Cmd=Sync&Cmd=Ping&SaveInSent=F")
    assert q.command == "Sync"
    assert any("Cmd appears more than once" in n for n in q.notes)
    assert q.parameters == (("SaveInSent", "F"),)
    q = decode_query("User=a&DeviceId=b")
    assert q.command is None and "no Cmd parameter" in q.notes
    q = decode_query("Cmd=Frobnicate&DeviceId=b")
    assert q.command == "Frobnicate" and q.command_code is None


def test_unknown_codes_decode_to_placeholders_that_encode_back() -> None:
    data = hexbytes("8d 30 09 04 01 41 00 00  2a 01 58  07 01 84")  # command 48, tag 42, option bits 0x80|0x04
    q = decode_query(b64(data))
    assert q.command == "Command48" and q.command_code == 48
    assert q.parameters == (("Tag42", "X"),)
    assert q.options == frozenset({"0x04", "0x80"})
    assert encode_base64(q) == b64(data)
    assert len(q.notes) == 2


def test_legacy_command_codes() -> None:
    q = decode_query(b64(hexbytes("79 05 09 04 01 41 00 00")))  # version byte 121 -> 12.1; code 5
    assert (q.protocol_version, q.command) == ("12.1", "GetHierarchy")


# --------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "query, field, offset",
    [
        ("", None, 0),
        ("   ", None, 0),
        ("https://host/Microsoft-Server-ActiveSync", None, 0),
        ("jAAJB", "base64", 4),  # 5 characters: one over
        ("jAA===", "base64", 5),
        ("jAAJ-A+_", "base64", 4),
        (b64(hexbytes("8d 00 09 04 01 41 03 01 02 03")), "PolicyKey length", 6),
        (b64(hexbytes("8d 00 09 04 01 41 00 02 c3 28")), "DeviceType", 8),
        (b64(hexbytes("8d 00 09 04 01 41 00 00 01 05 41")), "CollectionId", 10),
        (b64(hexbytes("8d 00 09 04 01 41 00 00 07 02 01 02")), "Options", 9),
        (b64(hexbytes("8d 00 09 04 01 41 00 00 08 02 ff fe")), "User", 10),
        ("Cmd=Sync&User=%zz", "User", 14),
        ("Cmd=Sync&User=%XX", "User", 14),  # X is no hex digit, whatever its case
        ("Cmd=Sync&User=%C3", "User", 14),
        ("Cmd=Sync&Us%2=x", "Us%2", 11),
    ],
)
def test_errors_name_field_and_offset(query: str, field: str | None, offset: int) -> None:
    with pytest.raises(QueryError) as info:
        decode_query(query)
    assert (info.value.field, info.value.offset) == (field, offset)
    assert f"offset 0x{offset:X} ({offset})" in str(info.value)


@pytest.mark.parametrize("sample, complete", [(SPEC_BASE64_BYTES, set()), (FULL_BYTES, {33, 36, 42, 49})])
def test_every_truncation_raises_query_error(sample: bytes, complete: set[int]) -> None:
    # every cut inside a fixed field or a counted value; cuts between two parameters leave a complete query
    for cut in range(1, len(sample)):
        if cut in complete:
            continue
        with pytest.raises(QueryError) as info:
            decode_query(b64(sample[:cut]))
        assert info.value.offset is not None and info.value.offset <= cut


def test_encode_errors() -> None:
    q = decode_query(FULL)
    with pytest.raises(QueryError, match="MS-ASAcceptMultiPart") as info:
        encode_plain(q)
    assert info.value.field == "Options"
    plain = decode_query("Cmd=Sync&DeviceId=a&DeviceType=b")
    with pytest.raises(QueryError) as info:
        encode_base64(plain)
    assert info.value.field == "ProtocolVersion"
    with pytest.raises(QueryError) as info:
        encode_base64(dataclasses.replace(plain, protocol_version="14.1"))
    assert info.value.field == "Locale"
    with pytest.raises(QueryError) as info:
        encode_base64(EasQuery(command="Sync", protocol_version="14.1", locale=0, parameters=(("Bogus", "1"),)))
    assert info.value.field == "Bogus"
    with pytest.raises(QueryError) as info:
        encode_base64(EasQuery(command="Nope", protocol_version="14.1", locale=0))
    assert info.value.field == "Command"
    with pytest.raises(QueryError) as info:
        encode_base64(EasQuery(command="Sync", protocol_version="14.1", locale=0, device_type="x" * 256))
    assert info.value.field == "DeviceType"


def test_plain_to_base64_conversion() -> None:
    # what a tool (tools/capture_lab.py) builds: names only, no codes
    q = EasQuery(
        form="base64", command="ItemOperations", user="alice", device_id="EASI0001A", device_type="TestDevice",
        protocol_version="14.1", locale=0x0409, parameters=(("SaveInSent", "T"),),
    )
    back = decode_query(encode_base64(q))
    assert back.command_code == 19 and back.options == frozenset({"SaveInSent"}) and back.parameters == ()
    assert decode_query(encode_plain(back)).options == frozenset({"SaveInSent"})


# --------------------------------------------------------------------------------------------- properties

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
_short_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
_command = st.sampled_from(sorted(COMMAND_NAMES.items()))
_param_name = st.sampled_from([PARAMETER_NAMES[t] for t in (0, 1, 2, 3, 4, 5, 6)])
_options = st.frozensets(st.sampled_from(["SaveInSent", "AcceptMultiPart", "0x04", "0x80"]))


@st.composite
def base64_queries(draw: st.DrawFn) -> EasQuery:
    code, name = draw(_command)
    raw_id = draw(st.binary(min_size=0, max_size=16))
    printable = bool(raw_id) and all(0x20 <= b < 0x7F for b in raw_id)
    version = draw(st.sampled_from(["12.1", "14.0", "14.1", "16.0", "16.1"]))
    return EasQuery(
        form="base64",
        command=name,
        command_code=code,
        user=draw(st.none() | _text),
        device_id=(raw_id.decode("ascii") if printable else raw_id.hex().upper()) if raw_id else None,
        device_id_hex=raw_id.hex().upper() if raw_id else None,
        device_type=draw(st.none() | _short_text.filter(bool)),
        protocol_version=version,
        locale=draw(st.integers(0, 0xFFFF)),
        policy_key=draw(st.none() | st.integers(0, 0xFFFFFFFF)),
        parameters=tuple(draw(st.lists(st.tuples(_param_name, _text), max_size=4))),
        options=draw(_options),
    )


@st.composite
def plain_queries(draw: st.DrawFn) -> EasQuery:
    code, name = draw(_command)
    extra = st.tuples(_param_name | st.sampled_from(["Foo", "x y", "é"]), _text)
    return EasQuery(
        form="plain",
        command=name,
        command_code=code,
        user=draw(st.none() | _text),
        device_id=draw(st.none() | _text),
        device_type=draw(st.none() | _text),
        parameters=tuple(draw(st.lists(extra, max_size=4))),
        options=draw(st.frozensets(st.just("SaveInSent"))),
    )


@given(st.text())
@example("%")
@example("====")
@example("A")
@example("AAAA")
@example("\ud800")
@example("Cmd=%ed%a0%80")
def test_decode_arbitrary_text_returns_or_raises_query_error(text: str) -> None:
    try:
        q = decode_query(text)
    except QueryError:
        return
    assert q.form in ("plain", "base64")
    assert all(isinstance(label, str) and isinstance(value, str) for label, value in q.fields())


@given(st.binary(max_size=80))
@example(b"\x8d\x00\x09\x04\x00\x00\x00")
def test_decode_arbitrary_base64_bytes_returns_or_raises_query_error(data: bytes) -> None:
    text = b64(data)
    try:
        q = decode_query(text)
    except QueryError:
        return
    if q.form == "base64" and q.protocol_version is not None and q.notes == ():
        assert encode_base64(q) == text


@given(base64_queries())
def test_generated_queries_round_trip_base64(q: EasQuery) -> None:
    text = encode_base64(q)
    assert decode_query(text) == q
    assert encode_base64(decode_query(text)) == text


@given(base64_queries())
def test_generated_queries_round_trip_plain(q: EasQuery) -> None:
    q = dataclasses.replace(q, options=q.options & {"SaveInSent"})
    plain = decode_query(encode_plain(q))
    assert plain == dataclasses.replace(
        q, form="plain", device_id_hex=None, protocol_version=None, locale=None, policy_key=None
    )


@given(plain_queries())
def test_generated_plain_queries_round_trip(q: EasQuery) -> None:
    text = encode_plain(q)
    assert decode_query(text) == q
    assert encode_plain(decode_query(text)) == text


# ------------------------------------------------------------------------------- base64 encoding, by hand


def test_encode_base64_writes_names_placeholders_and_options_as_the_spec_lays_them_out() -> None:
    q = EasQuery(
        command="Sync", protocol_version="14.1", locale=0x0409, device_id="d", device_type="t", user="u",
        parameters=(("collectionid", "5"), ("Tag9", "x")), options=frozenset({"SaveInSent", "0x04"}),
    )
    # MS-ASHTTP 2.2.1.1.1.1: version 141, command 0 (Sync), locale LE, counted device id, no policy key, counted
    # device type; then tag, length, value per parameter (CollectionId is tag 1, whatever its case; an unknown
    # tag keeps its number), User (8), and Options (7): SaveInSent 0x01 with the unknown bit 0x04.
    expected = bytes([141, 0, 0x09, 0x04, 1, *b"d", 0, 1, *b"t", 1, 1, *b"5", 9, 1, *b"x", 8, 1, *b"u", 7, 1, 0x05])
    assert base64.b64decode(encode_base64(q)) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bogus", "parameter 'Bogus' has no tag in the base64 form (MS-ASHTTP 2.2.1.1.1.5)"),
        ("Tag256", "parameter 'Tag256' has no tag in the base64 form (MS-ASHTTP 2.2.1.1.1.5)"),
        ("Options", "Options belongs in the options field"),
        ("user", "user belongs in the user field"),
        ("Tag7", "Tag7 belongs in the options field"),
    ],
)
def test_encode_base64_refuses_a_parameter_without_a_tag_of_its_own(name: str, message: str) -> None:
    q = EasQuery(command="Sync", protocol_version="14.1", locale=0, parameters=((name, "1"),))
    with pytest.raises(QueryError) as info:
        encode_base64(q)
    assert (info.value.reason, info.value.field) == (message, name)


@pytest.mark.parametrize("option", ["0x03", "0x00", "Bogus", "0x4"])
def test_encode_base64_refuses_an_option_that_is_not_one_bit(option: str) -> None:
    q = EasQuery(command="Sync", protocol_version="14.1", locale=0, options=frozenset({option}))
    with pytest.raises(QueryError) as info:
        encode_base64(q)
    assert (info.value.reason, info.value.field) == (f"unknown option {option!r}", "Options")


def test_encode_base64_takes_the_last_tag_the_last_locale_and_a_placeholder_for_a_named_bit() -> None:
    q = EasQuery(command="Sync", protocol_version="14.1", locale=0xFFFF, parameters=(("Tag255", "x"),),
                 options=frozenset({"0x01"}))
    assert base64.b64decode(encode_base64(q)) == bytes([141, 0, 0xFF, 0xFF, 0, 0, 0, 255, 1, *b"x", 7, 1, 0x01])
    with pytest.raises(QueryError) as info:
        encode_base64(dataclasses.replace(q, locale=0x10000))  # the locale is two bytes
    assert (info.value.reason, info.value.field) == ("the base64 form needs a locale (0-0xFFFF)", "Locale")


def test_a_missing_parameter_is_none() -> None:
    assert EasQuery(command="Sync", parameters=(("ItemId", "1"),)).parameter("CollectionId") is None


def test_a_base64_field_that_is_not_utf8_names_the_byte() -> None:
    # version, command, locale, no device id, no policy key, device type "A" then 0xFF (byte 8)
    with pytest.raises(QueryError) as info:
        decode_query(base64.b64encode(bytes([141, 0, 0, 0, 0, 0, 2, 0x41, 0xFF])).decode())
    assert (info.value.reason, info.value.offset, info.value.field) == (
        "not UTF-8 text: invalid start byte", 8, "DeviceType")


# ------------------------------------------------------------------------ encoding refusals, one by one

_SYNC = EasQuery(command="Sync", protocol_version="14.1", locale=0)
_LONE = "\ud800"  # a lone surrogate: not Unicode text, has no UTF-8 form


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"protocol_version": None}, "the base64 form needs a protocol version (such as 14.1)", "ProtocolVersion"),
        ({"protocol_version": "25.6"}, "protocol version '25.6' does not fit the version byte", "ProtocolVersion"),
        ({"protocol_version": "fourteen"}, "protocol version 'fourteen' does not fit the version byte",
         "ProtocolVersion"),
        ({"protocol_version": "14.10"}, "protocol version '14.10' does not fit the version byte", "ProtocolVersion"),
        ({"command": None}, "the base64 form needs a command", "Command"),
        ({"command": "Nope"}, "command 'Nope' has no MS-ASHTTP command code", "Command"),
        ({"command": "Command256"}, "command 'Command256' has no MS-ASHTTP command code", "Command"),
        ({"command_code": 256}, "command code 256 does not fit a byte", "Command"),
        ({"command_code": -1}, "command code -1 does not fit a byte", "Command"),
        ({"locale": None}, "the base64 form needs a locale (0-0xFFFF)", "Locale"),
        ({"locale": -1}, "the base64 form needs a locale (0-0xFFFF)", "Locale"),
        ({"device_id_hex": "0G"}, "device_id_hex is not hex", "DeviceId"),
        ({"device_id": _LONE}, "DeviceId is not Unicode text (lone surrogate)", "DeviceId"),
        ({"device_id": "d" * 256}, "256 bytes do not fit a one-byte length", "DeviceId"),
        ({"device_id_hex": "AB" * 256}, "256 bytes do not fit a one-byte length", "DeviceId"),
        ({"policy_key": 0x1_0000_0000}, "policy key does not fit in 32 bits", "PolicyKey"),
        ({"policy_key": -1}, "policy key does not fit in 32 bits", "PolicyKey"),
        ({"device_type": _LONE}, "DeviceType is not Unicode text (lone surrogate)", "DeviceType"),
        ({"device_type": "t" * 256}, "256 bytes do not fit a one-byte length", "DeviceType"),
        ({"parameters": (("ItemId", _LONE),)}, "ItemId is not Unicode text (lone surrogate)", "ItemId"),
        ({"parameters": (("ItemId", "é" * 128),)}, "256 bytes do not fit a one-byte length", "ItemId"),
        ({"user": _LONE}, "User is not Unicode text (lone surrogate)", "User"),
        ({"user": "u" * 256}, "256 bytes do not fit a one-byte length", "User"),
    ],
)
def test_encode_base64_refusals_name_the_field_and_say_why(changes: dict[str, object], reason: str,
                                                           field: str) -> None:
    with pytest.raises(QueryError) as info:
        encode_base64(dataclasses.replace(_SYNC, **changes))  # type: ignore[arg-type]
    assert (info.value.reason, info.value.field) == (reason, field)


def test_encode_base64_fills_each_field_to_its_edge() -> None:
    # MS-ASHTTP 2.2.1.1.1.1: one version byte (25.5 -> 255), one command byte (a placeholder up to 255, a name in
    # any case), a four-byte policy key (the largest, little-endian), one-byte lengths (255 bytes fit).
    q = EasQuery(command="Command255", protocol_version=" 25.5 ", locale=0, device_id="d" * 255,
                 policy_key=0xFFFFFFFF, device_type="", user="")
    data = base64.b64decode(encode_base64(q))
    assert data == bytes([255, 255, 0, 0, 255, *b"d" * 255, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0, 8, 0])
    lower = EasQuery(command="itemoperations", protocol_version="2.5", locale=0, policy_key=0)
    assert base64.b64decode(encode_base64(lower)) == bytes([25, 19, 0, 0, 0, 4, 0, 0, 0, 0, 0])
    lowest = EasQuery(command="Sync", command_code=255, protocol_version="0.0", locale=0)
    assert base64.b64decode(encode_base64(lowest)) == bytes([0, 255, 0, 0, 0, 0, 0])


def test_encode_base64_keeps_save_in_sent_only_when_true() -> None:
    # SaveInSent travels as Options bit 0x01 (MS-ASHTTP 2.2.1.1.1.5); F, its default, is left out, and the
    # parameters after it are still written (ItemId is tag 3)
    def parameters_of(value: str) -> bytes:
        q = dataclasses.replace(_SYNC, parameters=(("SaveInSent", value), ("ItemId", "1")))
        return base64.b64decode(encode_base64(q))[7:]

    assert parameters_of("t") == bytes([3, 1, *b"1", 7, 1, 0x01])
    assert parameters_of("F") == bytes([3, 1, *b"1"])


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (frozenset({"AcceptMultiPart"}),
         "option AcceptMultiPart has no plain-text form (send the MS-ASAcceptMultiPart: T header instead)"),
        (frozenset({"0x04"}), "option 0x04 has no plain-text form"),
    ],
)
def test_encode_plain_refuses_options_it_cannot_say(options: frozenset[str], reason: str) -> None:
    with pytest.raises(QueryError) as info:
        encode_plain(EasQuery(command="Sync", options=options))
    assert (info.value.reason, info.value.field) == (reason, "Options")


def test_encode_plain_refuses_text_that_is_not_unicode() -> None:
    with pytest.raises(QueryError) as info:
        encode_plain(EasQuery(command="Sync", user=_LONE))
    assert (info.value.reason, info.value.field) == ("plain query is not Unicode text (lone surrogate)",
                                                     "plain query")


# ----------------------------------------------------------------------------------------- display rows


def test_fields_rows_in_the_base64_layout_with_secrets_hidden_and_notes_last() -> None:
    q = EasQuery(form="base64", command="Command99", protocol_version="14.1", locale=0x0001,
                 device_id="a b", policy_key=0, device_type="t", user="u",
                 parameters=(("access_token", "SECRET"), ("ItemId", "5")),
                 options=frozenset({"0x04", "AcceptMultiPart", "SaveInSent", "0x80"}), notes=("odd",))
    assert q.fields() == [
        ("Form", "base64"), ("ProtocolVersion", "14.1"), ("Command", "Command99"), ("Locale", "0x0001"),
        ("DeviceId", "a b"), ("PolicyKey", "0"), ("DeviceType", "t"), ("User", "u"),
        ("access_token", "(hidden)"), ("ItemId", "5"),
        # named options by their bit (SaveInSent 0x01, AcceptMultiPart 0x02), then placeholders by name
        ("Options", "SaveInSent, AcceptMultiPart, 0x04, 0x80"),
        ("Note", "odd"),
    ]
    assert EasQuery(command="Sync", command_code=0, locale=0x0409).fields() == [
        ("Form", "plain"), ("Command", "Sync (0)"), ("Locale", "0x0409 (en-US)")]


@pytest.mark.parametrize(("device_id", "shown"), [
    (b"a b", "a b"), (b" ", " "), (b"~", "~"),  # 0x20-0x7E: printable ASCII, shown as text
    (b"a\x7f", "617F"), (b"a\x1f", "611F"), (b"\xe9", "E9"),  # anything else: upper-case hex
])
def test_a_base64_device_id_is_text_when_printable_else_hex(device_id: bytes, shown: str) -> None:
    data = bytes([141, 0, 0x09, 0x04, len(device_id), *device_id, 0, 0])
    assert decode_query(b64(data)).device_id == shown


# ------------------------------------------------------------------- decoding: each field's refusal and note

_HEAD = [141, 0, 0x09, 0x04]  # MS-ASHTTP 2.2.1.1.1.1: version 14.1, Sync, locale 0x0409


@pytest.mark.parametrize(
    ("data", "reason", "offset", "field"),
    [
        ([141], "the query ends before the Command byte", 1, "Command"),
        ([141, 0, 0x09], "2 bytes announced, 1 left", 2, "Locale"),
        (_HEAD, "the query ends before the DeviceId length byte", 4, "DeviceId length"),
        ([*_HEAD, 3, 0x41], "3 bytes announced, 1 left", 5, "DeviceId"),
        ([*_HEAD, 0], "the query ends before the PolicyKey length byte", 5, "PolicyKey length"),
        ([*_HEAD, 0, 4, 1, 2], "4 bytes announced, 2 left", 6, "PolicyKey"),
        ([*_HEAD, 0, 0], "the query ends before the DeviceType length byte", 6, "DeviceType length"),
        ([*_HEAD, 0, 0, 2, 0x41], "2 bytes announced, 1 left", 7, "DeviceType"),
        ([*_HEAD, 0, 0, 0, 1], "the query ends before the CollectionId length byte", 8, "CollectionId length"),
        ([*_HEAD, 0, 0, 0, 9], "the query ends before the Tag9 length byte", 8, "Tag9 length"),
        ([*_HEAD, 0, 0, 0, 7, 1], "the query ends before the Options byte", 9, "Options"),
        ([*_HEAD, 0, 0, 0, 8, 3, 0x75], "3 bytes announced, 1 left", 9, "User"),
        ([*_HEAD, 0, 0, 0, 7, 0], "Options must be 1 byte, not 0", 8, "Options"),
        ([*_HEAD, 0, 3, 0, 0, 0], "policy key length must be 0 or 4, not 3", 5, "PolicyKey length"),
    ],
)
def test_a_cut_or_bad_base64_field_says_what_where_and_which(data: list[int], reason: str, offset: int,
                                                              field: str) -> None:
    with pytest.raises(QueryError) as info:
        decode_query(b64(bytes(data)))
    assert (info.value.reason, info.value.offset, info.value.field) == (reason, offset, field)


def test_every_oddity_of_a_base64_query_is_noted_in_order() -> None:
    data = bytes([99, 30, 0x09, 0x04, 17, *b"a" * 17, 0, 17, *b"t" * 17,
                  2, 1, *b"c", 5, 1, *b"p", 9, 1, *b"x", 7, 1, 0x01, 7, 1, 0x02, 8, 1, *b"u", 8, 1, *b"v"])
    q = decode_query(b64(data))
    assert q.notes == (
        "protocol version byte 99 is not one MS-ASHTTP 2.2.1.1.1.1 names",
        "command code 30 is not in MS-ASHTTP 2.2.1.1.1.3",
        "device ID of 17 bytes (MS-ASHTTP allows 0-16)",
        "device type of 17 bytes (MS-ASHTTP allows 0-16)",
        "parameter tag 2 (CollectionName) is in the 2009 edition of MS-ASHTTP only; the current edition lists tags"
        " 0, 1, 3, 4, 6, 7, 8",
        "parameter tag 5 (ParentId) is in the 2009 edition of MS-ASHTTP only; the current edition lists tags"
        " 0, 1, 3, 4, 6, 7, 8",
        "parameter tag 9 is not in MS-ASHTTP 2.2.1.1.1.5",
        "Options appears more than once; the bits are combined",
        "User appears more than once; the first is used",
    )
    assert (q.protocol_version, q.command, q.command_code, q.locale) == ("9.9", "Command30", 30, 0x0409)
    assert (q.device_id, q.device_type, q.user) == ("a" * 17, "t" * 17, "u")
    assert q.parameters == (("CollectionName", "c"), ("ParentId", "p"), ("Tag9", "x"), ("User", "v"))
    assert q.options == frozenset({"SaveInSent", "AcceptMultiPart"})
    # 16 bytes is the most MS-ASHTTP allows: no note
    edge = decode_query(b64(bytes([*_HEAD, 16, *b"a" * 16, 0, 16, *b"t" * 16])))
    assert edge.notes == () and edge.device_id_guid is None  # printable: text, not a GUID


def test_every_oddity_of_a_plain_query_is_noted() -> None:
    q = decode_query("User=a&Cmd=Sync&cmd=Ping&User=b")
    assert q.notes == ("Cmd appears more than once (offset 16); the first is used",
                       "User appears more than once (offset 25); the first is used")
    assert decode_query("Cmd=Frobnicate").notes == ("command 'Frobnicate' is not in MS-ASHTTP 2.2.1.1.1.3",)
    assert decode_query("User=a").notes == ("no Cmd parameter",)


@pytest.mark.parametrize(
    ("query", "reason", "offset", "field"),
    [
        ("Cmd=Sync&User=%zzz", "bad percent escape '%zz'", 14, "User"),
        ("Cmd=Sync&User=a%z", "bad percent escape '%z'", 15, "User"),
        ("Cmd=Sync&user=%zz", "bad percent escape '%zz'", 14, "User"),  # the field by its canonical name
        ("Cmd=Sync&Foo=%zz", "bad percent escape '%zz'", 13, "Foo"),  # an unknown one by its own
        ("Cmd=Sync&User=+\ud800", "character that is not Unicode text", 15, "User"),
        ("Cmd=Sync&User=%C3+", "percent-decoded bytes are not UTF-8: invalid continuation byte", 14, "User"),
    ],
)
def test_a_bad_plain_value_says_what_where_and_which(query: str, reason: str, offset: int, field: str) -> None:
    with pytest.raises(QueryError) as info:
        decode_query(query)
    assert (info.value.reason, info.value.offset, info.value.field) == (reason, offset, field)


def test_plain_values_are_form_decoded() -> None:
    # HTML form encoding, as the query of MS-ASHTTP 2.2.1.1.1 uses it: + is a space, %XX a byte in either case
    q = decode_query("Cmd=Sync&&User=a+b&DeviceId=%c3%a9%C3%A9&ItemId=5:1=x&")
    assert (q.user, q.device_id) == ("a b", "éé")
    assert q.parameters == (("ItemId", "5:1=x"),)  # the first = splits name from value


# ------------------------------------------------------------- decoding: the base64 text's tolerances, exactly


def test_every_tolerance_of_a_base64_text_is_noted_in_order() -> None:
    # 8d 00 09 04 03 fb ff fe 00 00 (14.1, Sync, en-US, a 3-byte binary device ID) is "jQAJBAP7//4AAA==": here
    # URL-safe ("_" for "/"), its padding dropped, its "j" percent-encoded (%6A) and a space inside
    q = decode_query("%6AQAJ BAP7__4AAA")
    assert q.notes == (
        "whitespace inside the base64 text ignored",
        "percent-encoded base64 text decoded",
        "URL-safe base64 alphabet",
        "base64 padding missing",
    )
    assert (q.protocol_version, q.command, q.locale, q.device_id_hex) == ("14.1", "Sync", 0x0409, "FBFFFE")


@pytest.mark.parametrize(("text", "device_id"), [
    ("jQAJBAE-AAA=", ">"),  # 8d 00 09 04 01 3e 00 00: "+" in the standard alphabet, "-" URL-safe
    ("jQAJBAE_AAA=", "?"),  # 8d 00 09 04 01 3f 00 00: "/" in the standard alphabet, "_" URL-safe
])
def test_either_url_safe_character_alone_marks_the_url_safe_alphabet(text: str, device_id: str) -> None:
    q = decode_query(text)
    assert (q.device_id, q.notes) == (device_id, ("URL-safe base64 alphabet",))


def test_missing_padding_is_noted_whatever_the_last_character() -> None:
    # "jQAJBAAAAUX" lacks one "="; its last character carries bits past the last byte (ignored): 8d 00 09 04 00 00
    # 01 45, device type "E"
    q = decode_query("jQAJBAAAAUX")
    assert (q.device_type, q.notes) == ("E", ("base64 padding missing",))


@pytest.mark.parametrize(("query", "note"), [
    (FULL[:20] + " " + FULL[20:], "whitespace inside the base64 text ignored"),
    (FULL.replace("=", "%3D"), "percent-encoded base64 text decoded"),
    (b64(b"Cmd=Sync"), "the base64 text wraps a plain-text query (like the example of MS-ASHTTP 2.2.1.1.1)"),
])
def test_each_tolerance_alone_leaves_one_note(query: str, note: str) -> None:
    assert decode_query(query).notes == (note,)


@pytest.mark.parametrize(("query", "reason", "offset"), [
    ("", "empty query", 0),
    ("jAA===", "more than two padding characters", 5),
    ("jAAJB", "base64 text of 5 characters leaves one character over", 4),
    # "-" at 4 with "/" (no "+"): both alphabets; the offset is that of the first URL-safe character
    ("XAAJ-A/A", "mixes the standard and URL-safe base64 alphabets", 4),
    ("XAAJ_A+A", "mixes the standard and URL-safe base64 alphabets", 4),
])
def test_a_bad_base64_text_says_why(query: str, reason: str, offset: int) -> None:
    with pytest.raises(QueryError) as info:
        decode_query(query)
    assert (info.value.reason, info.value.offset) == (reason, offset)


@pytest.mark.parametrize("url", [
    "http://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Sync&ItemId=a?b",
    "HTTPS://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Sync&ItemId=a?b",
])
def test_a_whole_url_gives_the_query_after_its_first_question_mark(url: str) -> None:
    # RFC 3986 3.4: the query starts at the first "?"; a later "?" is part of it
    q = decode_query(url)
    assert (q.command, q.parameters, q.notes) == ("Sync", (("ItemId", "a?b"),), ())


def test_base64_bytes_with_a_control_character_are_binary_even_with_an_equals_sign() -> None:
    # 79 00 09 04 03 "a=b" 00 00: valid UTF-8 holding "=", but its command byte 00 is a control character
    q = decode_query(b64(bytes([121, 0, 0x09, 0x04, 3, *b"a=b", 0, 0])))
    assert (q.protocol_version, q.command, q.device_id, q.notes) == ("12.1", "Sync", "a=b", ())
    # "Cmd=Sync" and DEL (0x7F), a control character: read as binary, version 0x43, command 0x6D, locale "d=",
    # then a device ID length of 0x53 = 83 with 4 bytes left
    with pytest.raises(QueryError) as info:
        decode_query(b64(b"Cmd=Sync\x7f"))
    assert (info.value.reason, info.value.offset, info.value.field) == ("83 bytes announced, 4 left", 5, "DeviceId")
