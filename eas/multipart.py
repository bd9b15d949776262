"""The application/vnd.ms-sync.multipart body of ItemOperations (MS-ASCMD 2.2.2.10.1): a part table, then parts."""

from __future__ import annotations

import struct
from typing import NamedTuple

from .constants import MULTIPART_CONTENT_TYPE
from .errors import LimitError, MultipartError, TruncatedError

__all__ = [
    "MULTIPART_CONTENT_TYPE",
    "MAX_PARTS",
    "PartEntry",
    "parse_part_table",
    "parse_multipart",
    "build_multipart",
]

# More parts than any ItemOperations response carries; a larger count is garbage, not a table to walk.
MAX_PARTS = 100_000

# MS-ASCMD 2.2.2.10.1 (multipart response layout):
#   int32 LE  PartsCount
#   PartsCount x (int32 LE Offset, int32 LE Length)   offsets count from the start of the body
#   the parts' bytes; part 0 is the WBXML ItemOperations response, the others are what its <Part> elements
#   point to (the value of <Part> is the index into this table).
_INT32 = struct.Struct("<i")
_ENTRY = struct.Struct("<ii")


class PartEntry(NamedTuple):
    """One row of the part table: where the part starts in the body and how long it is."""

    offset: int
    length: int


def parse_part_table(data: bytes) -> list[PartEntry]:
    """Read and check the part table of a multipart body.

    Raises:
        TruncatedError: the body ends inside the table, or a part runs past the end (offset = where it starts).
        MultipartError: a negative count, offset or length, or a part that starts inside the table.
        LimitError: a part count above MAX_PARTS.
    """
    if len(data) < _INT32.size:
        raise TruncatedError(f"multipart body of {len(data)} bytes has no 4-byte part count", 0)
    (count,) = _INT32.unpack_from(data, 0)
    if count < 0:
        raise MultipartError(f"negative part count {count}", 0)
    if count == 0:
        raise MultipartError("part count 0: a multipart body has at least the WBXML part", 0)
    if count > MAX_PARTS:
        raise LimitError(f"part count {count} is above the limit of {MAX_PARTS}", 0)
    table_end = _INT32.size + count * _ENTRY.size
    if table_end > len(data):
        raise TruncatedError(
            f"part table of {count} entries needs {table_end} bytes, body has {len(data)}", len(data)
        )
    entries: list[PartEntry] = []
    for index in range(count):
        at = _INT32.size + index * _ENTRY.size
        offset, length = _ENTRY.unpack_from(data, at)
        if offset < 0 or length < 0:
            raise MultipartError(f"part {index}: negative offset {offset} or length {length}", at)
        if offset < table_end and length > 0:
            raise MultipartError(f"part {index}: offset {offset} points into the part table (ends at {table_end})", at)
        if offset + length > len(data):
            raise TruncatedError(
                f"part {index}: {length} bytes at offset {offset} run past the end of the {len(data)}-byte body",
                offset,
            )
        entries.append(PartEntry(offset, length))
    return entries


def parse_multipart(data: bytes) -> list[bytes]:
    """The parts of a multipart body, in table order (part 0 is the WBXML response).

    Raises:
        TruncatedError, MultipartError, LimitError: as `parse_part_table`.
    """
    return [data[entry.offset : entry.offset + entry.length] for entry in parse_part_table(data)]


def build_multipart(parts: list[bytes]) -> bytes:
    """A multipart body holding `parts` in order (for tests and replays)."""
    table_end = _INT32.size + len(parts) * _ENTRY.size
    table = bytearray(_INT32.pack(len(parts)))
    offset = table_end
    for part in parts:
        table += _ENTRY.pack(offset, len(part))
        offset += len(part)
    return bytes(table) + b"".join(parts)
