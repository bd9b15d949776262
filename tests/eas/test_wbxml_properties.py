"""Property tests of the WBXML codec (hypothesis): round trips both ways, and nothing but EasError on bad input."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from eas import wbxml
from eas.codepages import CODE_PAGES, WBXML_NS
from eas.errors import EasError, EncodeError
from tests.strategies import LENGTHS

DATA = Path(__file__).resolve().parent.parent / "data"
FIXTURES = sorted((DATA / "wbxml").glob("*.wbxml")) + sorted((DATA / "real").glob("*.wbxml"))
SAMPLES = [path.read_bytes() for path in FIXTURES]
HEADER = bytes.fromhex("03 01 6A 00")
W = "{" + WBXML_NS + "}"

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters XML 1.0 can hold (section 2.2), surrogates excluded; CR and TAB included on purpose.
XML_CHARS = st.characters(
    exclude_categories=["Cs"],
    exclude_characters="".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])),
)
TAGS = [(page.name, name) for page in CODE_PAGES for name in sorted(page.tags.values())]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    namespace, name = draw(st.sampled_from(TAGS))
    el = etree.Element(f"{{{namespace}}}{name}")
    if depth < 4 and draw(st.booleans()):
        for child in draw(st.lists(trees(depth + 1), min_size=1, max_size=4)):
            el.append(child)
    else:
        el.text = draw(st.one_of(st.none(), st.text(XML_CHARS, max_size=40)))
    return el


def shape(el: etree._Element) -> tuple[object, ...]:
    """Tag, stripped-of-markers attributes, text (None and "" alike) and children."""
    attrs = tuple(sorted((str(k), str(v)) for k, v in el.attrib.items() if not str(k).startswith(W)))
    return (el.tag, attrs, el.text or "", tuple(shape(child) for child in el))


def decodes_or_refuses(data: bytes, strict: bool = False) -> etree._Element | None:
    try:
        return wbxml.decode(data, strict=strict)
    except EasError:
        return None


def idempotent(root: etree._Element) -> None:
    """What decode produced encodes, and decodes again to the same XML."""
    again = wbxml.encode(root)
    assert wbxml.to_xml(wbxml.decode(again)) == wbxml.to_xml(root)
    assert wbxml.encode(wbxml.to_xml(root)) == again


@SETTINGS
@given(trees())
def test_decode_encode_of_generated_trees(tree: etree._Element) -> None:
    data = wbxml.encode(tree)
    root = wbxml.decode(data)
    assert shape(root) == shape(tree)
    assert wbxml.encode(root) == data
    assert wbxml.encode(wbxml.to_xml(root)) == data
    assert wbxml.encode(wbxml.to_xml(root, pretty=False)) == data


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_eas_error(data: bytes) -> None:
    for strict in (False, True):
        root = decodes_or_refuses(data, strict)
        if root is not None:
            idempotent(root)


@SETTINGS
@given(st.binary(max_size=200))
@example(bytes.fromhex("45 7F 03 78 00 01 00 1E 6A 01 C5 05 03 76 00 01 01 01"))
@example(bytes.fromhex("45 43 05 01 40 61 00 81 05 C2 04 00 44 00 01 01"))
def test_arbitrary_bodies_after_a_valid_header(body: bytes) -> None:
    for strict in (False, True):
        root = decodes_or_refuses(HEADER + body, strict)
        if root is not None:
            idempotent(root)


# Past failures found by mutating the MS-ASWBXML example (see test_wbxml.py): switches before mixed text,
# a root tag with attributes, adjacent text tokens in mixed content, STR_T in mixed content.
PINNED = [
    "03016a00455c4f5003436f6e746163747300014b0332000152033200014e0331000156474d03323a3100015d00114a46033100014c"
    "033000014d0331000101005e0346756e6b2c20446f6e00015f03446f6eeb01690346756e6b0001001156033100010101010101",
    "03016a00f65c4f5003436f6e746163747300014b0332000152033200014e0331000156474d03323a3100015d00114a46033100014c"
    "033000014d033100012900015e0346756e6b2c20446f6e00015f03446f410001690346756e6b0001ab115603310001010101010101",
    "03016a00455c4f03436f6e746163747300014b0332000152033200014e0331000156474d03323a314300035d00114a46033100014c"
    "03b400014d033100010100015e0346756e6b2c20446f6e00015f03446f6e0001690346756e6b000100115603310001010101010101",
    "03016a455c4f5003436f6e746163747300014b03320001523200014e0331000156474d03323a3100015d00114a46033100014c0330"
    "00014d033100010100015e0346756e6b2c20446f6e00015f03446f6e0001690346756e6b0001001156f331000101018301010101",
    "03016a00455c4f5003436f6e746163747300014b0332000152033200014e0331000156474d03323a3100015d0011024a4603310001"
    "4c033000014d03310001010001034675576b2c20446f6e00015f03446f6e00014a0346756e6b000100115603310001010101010101",
]


def test_pinned_past_failures_round_trip_exactly() -> None:
    for hex_data in PINNED:
        data = bytes.fromhex(hex_data)
        root = wbxml.decode(data)
        assert wbxml.encode(root) == data
        assert wbxml.encode(wbxml.to_xml(root)) == data


@SETTINGS
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255), st.sampled_from(["set", "insert", "delete"])),
             min_size=1, max_size=6),
)
def test_mutated_real_bodies_decode_or_raise_eas_error(sample: bytes, edits: list[tuple[int, int, str]]) -> None:
    data = bytearray(sample)
    for position, value, operation in edits:
        if not data:
            break
        index = position % len(data)
        if operation == "set":
            data[index] = value
        elif operation == "insert":
            data.insert(index, value)
        else:
            del data[index]
    for strict in (False, True):
        root = decodes_or_refuses(bytes(data), strict)
        if root is not None:
            idempotent(root)


@SETTINGS
@given(st.sampled_from(SAMPLES), st.integers(min_value=0))
def test_every_fixture_round_trips_from_any_buffer_type(sample: bytes, pick: int) -> None:
    kind = (bytes, bytearray, memoryview)[pick % 3]
    assert wbxml.encode(wbxml.decode(kind(sample))) == sample


MARKERS = ["switch", "end-switch", "content", "token", "attrs", "opaque", "text", "pieces", "length-bytes",
           "version", "publicid", "charset", "strtbl", "header", "prolog", "trailer", "unknown"]
# Markers whose value is bytes written as they are (base64): edited, they may make any document at all.
RAW_MARKERS = {"header", "attrs", "prolog", "trailer", "strtbl"}
MARKER_VALUES = st.one_of(
    st.sampled_from(["", "0", "17", "256", "-1", "0x3F", "0x04", "1 2", "s1", "s0 s1", "e65 s2", "t0", "o3", "p1 s1",
                     "p300", "e1114112", "AAA=", "!!", "base64", "text", "empty", "1.1", "1.9", "strtbl:0"]),
    st.text(st.sampled_from("0123456789 sepot.x=+/A"), max_size=12),
)


@SETTINGS
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(MARKERS), MARKER_VALUES), min_size=1, max_size=4),
)
def test_encoding_edited_markers_succeeds_or_raises_encode_error(
    sample: bytes, edits: list[tuple[int, str, str]]
) -> None:
    root = wbxml.decode(sample)
    elements = list(root.iter())
    for position, name, value in edits:
        elements[position % len(elements)].set(W + name, value)
    raw_bytes_edited = any(name in RAW_MARKERS for _, name, _ in edits)
    for source in (root, wbxml.to_xml(root)):
        try:
            data = wbxml.encode(source)
        except EncodeError as err:
            assert str(err).strip() and "\n" not in str(err)  # one line that says what is wrong
            continue
        if not raw_bytes_edited:  # what the encoder accepts from the other markers, a decoder reads back
            assert wbxml.encode(wbxml.decode(data)) == data


def mb_u_int32(value: int) -> bytes:
    """WAP-192 section 5.1, written here from the spec: 7 bits a byte, most significant first, the high bit set
    on every byte but the last."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


SYNC_SYNCKEY = b"\x45\x4b"  # AirSync page: Sync (0x05) and SyncKey (0x0B), both with content (MS-ASWBXML 2.1.2.1.1)


@SETTINGS
@given(LENGTHS)
@example(127)
@example(128)
@example(16383)
@example(16384)
def test_opaque_lengths_at_every_edge_round_trip(length: int) -> None:
    payload = (bytes(range(256)) * (length // 256 + 1))[:length]
    data = HEADER + SYNC_SYNCKEY + b"\xc3" + mb_u_int32(length) + payload + b"\x01\x01"
    root = wbxml.decode(data)
    key = root[0]
    if length:
        assert key.get(W + "opaque") == "base64" and base64.b64decode(key.text or "") == payload
    assert wbxml.encode(root) == data
    assert wbxml.encode(wbxml.to_xml(root)) == data


@SETTINGS
@given(LENGTHS)
@example(127)
@example(128)
@example(16383)
@example(16384)
def test_string_table_offsets_and_lengths_at_every_edge_round_trip(offset: int) -> None:
    table = b"\x00" * offset + b"key\x00"  # the string "key" at `offset`; the table's length crosses edges too
    data = b"\x03\x01\x6a" + mb_u_int32(len(table)) + table + SYNC_SYNCKEY + b"\x83" + mb_u_int32(offset) + b"\x01\x01"
    root = wbxml.decode(data)
    assert root[0].text == "key"
    assert wbxml.encode(root) == data
    assert wbxml.encode(wbxml.to_xml(root)) == data
    with pytest.raises(EasError):  # one past the table's end is refused
        wbxml.decode(data.replace(b"\x83" + mb_u_int32(offset), b"\x83" + mb_u_int32(len(table)), 1))
