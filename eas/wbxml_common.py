"""WBXML 1.3 (WAP-192) basics shared by the decoder and the encoder: global tokens, header values, integers."""

from __future__ import annotations

import bisect
import re
from typing import Final

from .constants import WBXML_NS
from .errors import LimitError, MalformedError, TruncatedError


# Hard limit on element nesting, both ways (real EAS documents stay below 20).
MAX_DEPTH: Final = 512

# WAP-192 section 7.1: global tokens, the same in every code page.
SWITCH_PAGE: Final = 0x00
END: Final = 0x01
ENTITY: Final = 0x02
STR_I: Final = 0x03
LITERAL: Final = 0x04
EXT_I_0: Final = 0x40
PI: Final = 0x43
LITERAL_C: Final = 0x44
EXT_T_0: Final = 0x80
STR_T: Final = 0x83
LITERAL_A: Final = 0x84
EXT_0: Final = 0xC0
OPAQUE: Final = 0xC3
LITERAL_AC: Final = 0xC4
GLOBAL_NAMES: Final = {
    0x00: "SWITCH_PAGE", 0x01: "END", 0x02: "ENTITY", 0x03: "STR_I", 0x04: "LITERAL",
    0x40: "EXT_I_0", 0x41: "EXT_I_1", 0x42: "EXT_I_2", 0x43: "PI", 0x44: "LITERAL_C",
    0x80: "EXT_T_0", 0x81: "EXT_T_1", 0x82: "EXT_T_2", 0x83: "STR_T", 0x84: "LITERAL_A",
    0xC0: "EXT_0", 0xC1: "EXT_1", 0xC2: "EXT_2", 0xC3: "OPAQUE", 0xC4: "LITERAL_AC",
}
# WAP-192 section 5.8.2: bit 7 of a tag token = attributes follow, bit 6 = content follows.
ATTRS_FLAG: Final = 0x80
CONTENT_FLAG: Final = 0x40

# WAP-192 section 5.4: version byte = (major - 1) << 4 | minor. MS-ASWBXML 2.1.2 sends 0x03 (1.3).
DEFAULT_VERSION: Final = 0x03
# WAP-192 section 7.2: public identifier 0x01 = unknown or missing (what MS-ASWBXML 2.1.2 sends).
DEFAULT_PUBLICID: Final = 0x01
# WAP-192 section 5.6: charset is an IANA MIBenum; 0x6A (106) = UTF-8, what MS-ASWBXML 2.1.2 sends.
UTF8: Final = 106
# What MS-ASWBXML 2.1.2 documents send: version 1.3, unknown public id, UTF-8, no string table.
STANDARD_HEADER: Final = bytes((DEFAULT_VERSION, DEFAULT_PUBLICID, UTF8, 0))
# Charsets decoded natively; any other is decoded as UTF-8 in lenient mode (and refused in strict mode).
CODECS: Final = {106: "utf-8", 3: "ascii", 4: "latin-1"}

# The marker namespace as a Clark-name prefix, and its declaration on the root.
MARKER_CLARK_PREFIX: Final = "{" + WBXML_NS + "}"
MARKER_DECLARATION: Final = b' xmlns:wbxml="' + WBXML_NS.encode() + b'"'

_NUL: Final = re.compile(b"\x00")


def decode_mb_u_int32(data: bytes, offset: int) -> tuple[int, int]:
    """Read a WAP-192 section 5.1 mb_u_int32 (7 bits a byte, high bit = more follows).

    Returns:
        (value, number of bytes consumed).
    Raises:
        TruncatedError: the input ends inside the integer.
        LimitError: more than 5 bytes, or a value above 2**32 - 1.
    """
    value = 0
    end = len(data)
    for consumed in range(1, 6):
        pos = offset + consumed - 1
        if pos >= end:
            raise TruncatedError("input ends inside an mb_u_int32", offset)
        byte = data[pos]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            if value > 0xFFFFFFFF:
                raise LimitError("mb_u_int32 exceeds 32 bits", offset)
            return value, consumed
    raise LimitError("mb_u_int32 longer than 5 bytes", offset)


def index_at(data: bytes, offset: int, what: str) -> tuple[int, int]:
    """decode_mb_u_int32 for a number the XML keeps as a number (an index, a code point).

    A leading 0x80 byte adds nothing to the value (WAP-192 5.1 integers carry 7 bits a byte, most significant
    first), so only a minimal integer can be written back byte for byte: such padding is refused.
    """
    value, used = decode_mb_u_int32(data, offset)
    if data[offset] == 0x80:
        raise MalformedError(f"{what} written with redundant leading 0x80 bytes (cannot be kept as a number)", offset)
    return value, used


def encode_mb_u_int32(value: int) -> bytes:
    """Write `value` (0 .. 2**32 - 1) as a minimal WAP-192 section 5.1 mb_u_int32."""
    if value < 0x80:
        return _SMALL_MB[value]
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"mb_u_int32 out of range: {value}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


_SMALL_MB: Final = [bytes((n,)) for n in range(0x80)]


def skip_attr_list(data: bytes, i: int) -> int:
    """Index just past the END closing an attribute list (or PI) that starts at `i` (WAP-192 5.8.3)."""
    start = i
    while True:
        tok = data[i]
        if tok == END:
            return i + 1
        if tok == SWITCH_PAGE:
            i += 2
        elif tok in (STR_I, 0x40, 0x41, 0x42):
            j = data.find(b"\x00", i + 1)
            if j < 0:
                raise TruncatedError("input ends inside an inline string", i)
            i = j + 1
        elif tok in (ENTITY, LITERAL, STR_T, 0x80, 0x81, 0x82, LITERAL_A):
            i += 1 + decode_mb_u_int32(data, i + 1)[1]
        elif tok == OPAQUE:
            length, used = decode_mb_u_int32(data, i + 1)
            i += 1 + used + length
            if i > len(data):
                raise TruncatedError("OPAQUE data runs past the end of the input", start)
        elif tok in (PI, LITERAL_C, LITERAL_AC):
            raise MalformedError(f"global token {GLOBAL_NAMES[tok]} inside an attribute list", i)
        else:
            i += 1


class StringTable:
    """The string table (WAP-192 section 5.7): NUL-terminated strings addressed by byte offset.

    Lookups bisect a list of the NUL offsets (built once), so many references cost no rescans; the bytes
    references pull into the output are budgeted, since a few bytes of STR_T can repeat a long string.
    """

    __slots__ = ("data", "budget", "_ends")

    def __init__(self, data: bytes, budget: int) -> None:
        self.data = data
        self.budget = budget
        self._ends: list[int] | None = None

    def get(self, index: int, offset: int) -> bytes:
        """The string at `index`; MalformedError when there is none, LimitError when over budget."""
        data = self.data
        if index >= len(data):
            raise MalformedError(f"string table reference {index} outside the table ({len(data)} bytes)", offset)
        if self._ends is None:
            self._ends = [match.start() for match in _NUL.finditer(data)]
        k = bisect.bisect_left(self._ends, index)
        if k == len(self._ends):
            raise MalformedError(f"string table entry at {index} is not NUL-terminated", offset)
        string = data[index : self._ends[k]]
        self.budget -= len(string)
        if self.budget < 0:
            raise LimitError("string table references expand far beyond the document's size", offset)
        return string
