"""eas.multipart: the part table of application/vnd.ms-sync.multipart (MS-ASCMD 2.2.2.10.1)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eas.errors import EasError, LimitError, MultipartError, TruncatedError
from eas.multipart import MAX_PARTS, build_multipart, parse_multipart, parse_part_table

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange"
REAL = (DATA / "itemoperations_multipart.response.bin").read_bytes()  # SOGo, two Fetches of attachments

# A hand-made body, annotated:
#   02 00 00 00              2 parts
#   14 00 00 00 03 00 00 00  part 0 at 0x14, 3 bytes
#   17 00 00 00 02 00 00 00  part 1 at 0x17, 2 bytes
#   03 01 6A | 68 69         "WBXML" head | "hi"
SMALL = bytes.fromhex("02000000" "1400000003000000" "1700000002000000" "03016a" "6869")


def test_small_annotated_vector() -> None:
    assert parse_multipart(SMALL) == [b"\x03\x01\x6a", b"hi"]
    assert [tuple(e) for e in parse_part_table(SMALL)] == [(0x14, 3), (0x17, 2)]


def test_real_sogo_response() -> None:
    parts = parse_multipart(REAL)
    assert len(parts) == 3
    assert parts[0].startswith(b"\x03\x01\x6a")  # the WBXML ItemOperations response
    assert parts[1].startswith(b"%PDF-")
    assert parts[2].startswith(b"\x89PNG")


@given(st.lists(st.binary(max_size=64), min_size=1, max_size=8))
def test_build_then_parse(parts: list[bytes]) -> None:
    assert parse_multipart(build_multipart(parts)) == parts


def test_every_truncation_of_the_real_body_fails_cleanly() -> None:
    for end in range(len(REAL)):
        with pytest.raises(TruncatedError):
            parse_multipart(REAL[:end])


def test_truncated_table_reports_where() -> None:
    with pytest.raises(TruncatedError) as info:
        parse_multipart(struct.pack("<i", 3) + b"\x00" * 8)
    assert info.value.offset == 12


def test_part_past_the_end_reports_its_offset() -> None:
    body = struct.pack("<iii", 1, 12, 100) + b"abc"
    with pytest.raises(TruncatedError) as info:
        parse_multipart(body)
    assert info.value.offset == 12
    assert "offset 0xC (12)" in str(info.value)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (struct.pack("<i", -1), MultipartError),
        (struct.pack("<i", 0), MultipartError),
        (struct.pack("<i", MAX_PARTS + 1), LimitError),
        (struct.pack("<iii", 1, -5, 1), MultipartError),
        (struct.pack("<iii", 1, 12, -1), MultipartError),
        (struct.pack("<iii", 1, 4, 4) + b"zz", MultipartError),  # points into its own table
        (b"", TruncatedError),
        (b"\x01\x00", TruncatedError),
    ],
)
def test_bad_tables(body: bytes, error: type[EasError]) -> None:
    with pytest.raises(error):
        parse_multipart(body)


def test_empty_part_is_allowed() -> None:
    assert parse_multipart(struct.pack("<iii", 1, 12, 0)) == [b""]


@given(st.binary(max_size=200))
@example(struct.pack("<i", 0x7FFFFFFF))
@example(struct.pack("<iii", 1, 0x7FFFFFFF, 0x7FFFFFFF))
def test_arbitrary_bytes_parse_or_raise_eas_error(data: bytes) -> None:
    try:
        parts = parse_multipart(data)
    except EasError:
        return
    assert all(isinstance(p, bytes) for p in parts)
