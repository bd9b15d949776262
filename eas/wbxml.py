"""WBXML 1.3 (WAP-192) decoding and encoding over the MS-ASWBXML code pages, byte-exact both ways."""

from __future__ import annotations

# Theory of operation
# ===================
#
# Decoding. A WBXML document (WAP-192 section 5.3) is a header (version, publicid, charset, string table)
# followed by a token stream: one root element, optionally surrounded by processing instructions. The
# decoder never builds elements one by one: it walks the token stream once, appending ready-made UTF-8
# XML byte strings to a list, and hands the joined bytes to lxml's C parser in one go (the fastest way
# to build an lxml tree): `parser.feed(xml); parser.close()` on a reused per-thread parser, libxml2's push
# parser, which builds the same tree as `etree.fromstring` in 10-20% less time. Per code page it
# precomputes a table of 256 entries indexed by the raw token byte: `(open_tag, close_tag, flags)` for tag
# tokens, `None` for global tokens, attribute-carrying tags and (strict mode) unknown tokens. The hot loop
# does one list lookup per tag; everything unusual (markers, placeholders, buffered text) is on a general
# path, taken when the token is not in the table or when one flag, `irregular`, says so (no root yet,
# pending SWITCH_PAGE tokens, content held back). The commonest document start (standard header, a plain root
# tag after at most one SWITCH_PAGE) is one dict lookup (_ROOT_STARTS), and a root whose document needs
# no marker gets its declarations from a cache, so a small document costs few fixed steps. A single
# `TAG+content STR_I text END` leaf is found with bytes.find and checked by one regex; a run of such
# leaves is matched by one regex, checked (UTF-8, no control characters), escaped and split in C, so each
# leaf costs a few Python steps; a SWITCH_PAGE straight before a tag of the new page is taken with that
# tag, and runs of END are handled in place. (`needle in data` with a bytes needle costs ~0.4 us on small
# bytes, `data.find(needle)` ~0.07 us: the hot paths use find or int needles.) Bounds: an IndexError from
# reading past the end becomes TruncatedError; every length (string table, OPAQUE, STR_T index) is
# checked against what remains; mb_u_int32 is at most 5 bytes; nesting is capped at MAX_DEPTH. Content
# tokens of an element are held back until its END or its first child says whether it is a leaf (markers
# then describe the tokens) or mixed content.
#
# XML shape. One namespace per code page, the URI being the page name (`AirSync`, `Email`, ...). The
# root's page is the default namespace, other pages get their prefix; every declaration is written once
# on the root, only for pages that carry a tag. Text is UTF-8; CR is written `&#13;` so XML parsing keeps
# it. Whatever XML cannot hold (bytes that are not text in the document's charset, control characters)
# is written as base64 with a marker.
#
# Charsets (WAP-192 5.6, IANA MIBenum): UTF-8 (106, what MS-ASWBXML sends), US-ASCII (3) and ISO-8859-1
# (4) are decoded natively. Any other is read as UTF-8 in lenient mode (text that is not UTF-8 then shows as
# base64) and refused in strict mode; wbxml:charset keeps the number so the encoder writes it back and
# encodes text in the same charset.
#
# Round-trip markers. Anything a real encoder may choose differently from our canonical encoding is kept
# as an attribute in the namespace WBXML_NS (prefix `wbxml`, declared only when used):
#   root:        wbxml:version="1.1"   wbxml:publicid="4" | "strtbl:N"   wbxml:charset="4" (IANA MIBenum)
#                wbxml:strtbl="<base64>"   wbxml:prolog="<base64 of PIs (and switches among them) before the root>"
#                wbxml:trailer="<base64 of bytes after the root>"
#                wbxml:header="<base64>" the raw header when an mb_u_int32 in it was not minimal
#   any element: wbxml:switch="1 1"   SWITCH_PAGE tokens sent before the tag when not exactly the one needed
#                wbxml:end-switch="2"  SWITCH_PAGE tokens sent between the content and END
#                wbxml:content="empty" the tag had the content flag but nothing before END
#                wbxml:token="0x2A"    the tag token when the page gives the name another token
#                wbxml:attrs="<base64>" the raw attribute list of a tag sent with the 0x80 flag
#   leaf text:   wbxml:opaque="text" | "base64"   one OPAQUE token, shown as text or as base64
#                wbxml:length-bytes="3"  that OPAQUE's length was written with more bytes than needed
#                wbxml:text="base64"  the STR_I bytes (or pieces, below) are not XML text: base64 of them
#                wbxml:pieces="s3 e8364 t0 o2 p1"  the text was sent as several tokens: STR_I of 3
#                characters, ENTITY U+20AC (one character), STR_T at string-table offset 0 (as many
#                characters as that string), OPAQUE of 2 characters, SWITCH_PAGE 1; `w2:3` is an OPAQUE
#                of 2 whose length took 3 bytes. With wbxml:text="base64" the counts are bytes of the
#                base64-decoded text.
# Placeholders (elements in WBXML_NS) stand for what MS-ASWBXML never sends, so lenient decoding loses
# nothing: wbxml:tag-PP-TT (unknown page PP or token TT, hex), wbxml:literal index="N" (LITERAL tags),
# wbxml:ext token="0x40" (extension tokens), wbxml:pi (a processing instruction, base64), and inside
# mixed content wbxml:str / wbxml:opaque (base64; length-bytes="N" as above), wbxml:entity (code point),
# wbxml:strref index="N" (STR_T). Pending SWITCH_PAGE tokens before such a token become its wbxml:switch.
# An index or code point written with redundant leading 0x80 bytes is refused (MalformedError): the
# number in the XML could not give those bytes back.
#
# Encoding. XML without markers encodes canonically: SWITCH_PAGE only when the page changes, the content
# flag only when there is content, STR_I for text; for tags in page.opaque_tags the text is sent as an
# OPAQUE of its UTF-8 bytes (ComposeMail Mime written as text does what one expects); binary OPAQUE data
# needs wbxml:opaque="base64". Namespaces resolve through PAGE_BY_NAMESPACE, so the spellings of older
# specs (`AirSync:`, `POOMMAIL:`) work. Whitespace-only text in an element that has child nodes is layout
# and ignored; text of an element without child nodes is kept verbatim. Comments and processing
# instructions of the XML are ignored. The walk is iterative over a precomputed Clark-name table.

import base64
import binascii
import bisect
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Final, Union

from lxml import etree

from .codepages import CODE_PAGES, ENCODER_TOKENS, PAGE_BY_NAMESPACE, WBXML_NS
from .errors import (
    EasError,
    EncodeError,
    LimitError,
    MalformedError,
    TruncatedError,
    UnknownCodePageError,
    UnknownTokenError,
)

__all__ = [
    "MAX_DEPTH",
    "decode",
    "decode_to_xml",
    "encode",
    "to_xml",
    "parse_xml",
    "decode_mb_u_int32",
    "encode_mb_u_int32",
]

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
_GLOBAL_NAMES: Final = {
    0x00: "SWITCH_PAGE", 0x01: "END", 0x02: "ENTITY", 0x03: "STR_I", 0x04: "LITERAL",
    0x40: "EXT_I_0", 0x41: "EXT_I_1", 0x42: "EXT_I_2", 0x43: "PI", 0x44: "LITERAL_C",
    0x80: "EXT_T_0", 0x81: "EXT_T_1", 0x82: "EXT_T_2", 0x83: "STR_T", 0x84: "LITERAL_A",
    0xC0: "EXT_0", 0xC1: "EXT_1", 0xC2: "EXT_2", 0xC3: "OPAQUE", 0xC4: "LITERAL_AC",
}
# WAP-192 section 5.8.2: bit 7 of a tag token = attributes follow, bit 6 = content follows.
_ATTRS_FLAG: Final = 0x80
_CONTENT_FLAG: Final = 0x40

# WAP-192 section 5.4: version byte = (major - 1) << 4 | minor. MS-ASWBXML 2.1.2 sends 0x03 (1.3).
_DEFAULT_VERSION: Final = 0x03
# WAP-192 section 7.2: public identifier 0x01 = unknown or missing (what MS-ASWBXML 2.1.2 sends).
_DEFAULT_PUBLICID: Final = 0x01
# WAP-192 section 5.6: charset is an IANA MIBenum; 0x6A (106) = UTF-8, what MS-ASWBXML 2.1.2 sends.
_UTF8: Final = 106
# What MS-ASWBXML 2.1.2 documents send: version 1.3, unknown public id, UTF-8, no string table.
_STANDARD_HEADER: Final = bytes((_DEFAULT_VERSION, _DEFAULT_PUBLICID, _UTF8, 0))
# Charsets decoded natively; any other is decoded as UTF-8 in lenient mode (and refused in strict mode).
_CODECS: Final = {106: "utf-8", 3: "ascii", 4: "latin-1"}

_W: Final = "{" + WBXML_NS + "}"
_W_DECL: Final = b' xmlns:wbxml="' + WBXML_NS.encode() + b'"'

# Bytes that stop the fast text path: controls (XML 1.0 holds only TAB, LF, CR and CR needs `&#13;`),
# markup characters and anything non-ASCII (then validity is checked by decoding).
_TEXT_CARE: Final = re.compile(rb"[\x00-\x08\x0b-\x1f&<>\x80-\xff]")
# Characters XML 1.0 (section 2.2 Char) cannot hold; surrogates never survive Python's UTF-8 decoder.
# One or more `TAG+content STR_I text END` in a row, each maybe after a SWITCH_PAGE to a known page, whose
# text has no control character (its non-ASCII bytes are then checked in one go: valid UTF-8, no U+FFFE /
# U+FFFF). Page 13 is left out: its number is CR, which the run's escaping rewrites.
_LEAF_RUN: Final = re.compile(rb"(?:(?:\x00[\x00-\x0c\x0e-\x19])?[\x45-\x7f]\x03[\t\n\r\x20-\xff]+\x00\x01)+")
_NONCHARACTER: Final = re.compile(rb"\xef\xbf[\xbe\xbf]")
# Control bytes XML 1.0 cannot hold (all but TAB, LF, CR); with _NONCHARACTER, what UTF-8 text must avoid.
_NUL: Final = re.compile(b"\x00")
_CONTROL: Final = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ALWAYS_CARE: Final = re.compile(b"")  # a match on any input: every text takes the careful path
_XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_DECLARATION: Final = re.compile(r"^\s*<\?xml[^>]*\?>")
_PLACEHOLDER_TAG: Final = re.compile(r"tag-([0-9A-Fa-f]{2})-([0-9A-Fa-f]{2})")

# Table entry flags.
_F_NS: Final = 1  # the open tag carries a wbxml: name or marker, so the root must declare WBXML_NS
_F_OPAQUE: Final = 2  # the tag's text is canonically OPAQUE, so the STR_I fast path does not apply


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


def _index_at(data: bytes, offset: int, what: str) -> tuple[int, int]:
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


# ---------------------------------------------------------------------------------------------------------
# Decoder tables

_Entry = tuple[bytes, Union[bytes, None], int]
_Table = list[Union[_Entry, None]]


def _page_table(page_number: int, prefixed: bool, strict: bool) -> _Table:
    """The 256-entry token table of one code page (known or not) for one output variant."""
    page = CODE_PAGES[page_number] if page_number < len(CODE_PAGES) else None
    table: _Table = [None] * 256
    for token in range(0x05, 0x40):
        name = page.tags.get(token) if page is not None else None
        if name is None:
            if strict:
                continue
            qname = f"wbxml:tag-{page_number:02X}-{token:02X}".encode()
            attrs = b""
            flags = _F_NS
        else:
            assert page is not None
            qname = (f"{page.prefix}:{name}" if prefixed else name).encode()
            flags = _F_OPAQUE if name in page.opaque_tags else 0
            attrs = b""
            if page.tokens[name] != token:
                attrs = f' wbxml:token="0x{token:02X}"'.encode()
                flags |= _F_NS
        table[token] = (b"<" + qname + attrs + b"/>", None, flags)
        table[token | _CONTENT_FLAG] = (b"<" + qname + attrs + b">", b"</" + qname + b">", flags)
    return table


def _build_tables(prefixed: bool, strict: bool) -> list[_Table | None]:
    tables: list[_Table | None] = [None] * 256
    for page in CODE_PAGES:
        tables[page.number] = _page_table(page.number, prefixed, strict)
    return tables


_TABLES: Final = {(p, s): _build_tables(p, s) for p in (False, True) for s in (False, True)}
_ROOT_TABLES: dict[tuple[int, bool], list[_Table | None]] = {}
_DEFAULT_DECL: Final = [f' xmlns="{page.name}"'.encode() for page in CODE_PAGES]
_PREFIX_DECL: Final = [f' xmlns:{page.prefix}="{page.name}"'.encode() for page in CODE_PAGES]


def _root_tables(page_number: int, strict: bool) -> list[_Table | None]:
    """The page tables of a document whose root is on `page_number`: that page unprefixed, others prefixed."""
    tables = _ROOT_TABLES.get((page_number, strict))
    if tables is None:
        tables = list(_TABLES[(True, strict)])
        tables[page_number] = _TABLES[(False, strict)][page_number]
        _ROOT_TABLES[(page_number, strict)] = tables
    return tables


def _root_starts(strict: bool) -> dict[bytes, tuple[int, list[_Table | None], _Table, bytes, bytes, bytes]]:
    """The commonest document start, a plain root tag with content (after one SWITCH_PAGE unless on page 0).

    Keyed by its bytes (`T` or `00 P T`): (page, page tables, its table, open tag, close tag, open tag with
    the declaration of its page, for documents that use no other page).
    """
    starts = {}
    for page in CODE_PAGES:
        tables = _root_tables(page.number, strict)
        table = tables[page.number]
        assert table is not None
        for token in range(0x05 | _CONTENT_FLAG, 0x80):
            entry = table[token]
            if entry is None or entry[2] or entry[1] is None:
                continue
            open_b, close_b = entry[0], entry[1]
            key = bytes((token,)) if page.number == 0 else bytes((SWITCH_PAGE, page.number, token))
            starts[key] = (page.number, tables, table, open_b, close_b, open_b[:-1] + _DEFAULT_DECL[page.number] + b">")
    return starts


_ROOT_STARTS: Final = {strict: _root_starts(strict) for strict in (False, True)}
# (bare root open tag, pages used, WBXML_NS used) -> the root's open tag with its declarations.
_ROOT_HEADS: dict[tuple[bytes, frozenset[int], bool], bytes] = {}
_UNKNOWN_PAGE_TABLES: dict[int, _Table] = {}


def _unknown_page(page_number: int) -> _Table:
    table = _UNKNOWN_PAGE_TABLES.get(page_number)
    if table is None:
        table = _UNKNOWN_PAGE_TABLES[page_number] = _page_table(page_number, True, False)
    return table


# ---------------------------------------------------------------------------------------------------------
# Decoder helpers (slow paths only)


def _escape(raw: bytes) -> bytes:
    if 0x26 in raw:  # an int needle: ~20x faster than a one-byte bytes needle
        raw = raw.replace(b"&", b"&amp;")
    if 0x3C in raw:
        raw = raw.replace(b"<", b"&lt;")
    if 0x3E in raw:
        raw = raw.replace(b">", b"&gt;")
    if 0x0D in raw:
        raw = raw.replace(b"\r", b"&#13;")
    return raw


def _as_text(raw: bytes, codec: str) -> str | None:
    """`raw` decoded in the document's charset, or None when it is not text XML 1.0 can hold."""
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return None
    if _XML_ILLEGAL.search(text):
        return None
    return text


def _xml_text(raw: bytes, codec: str) -> bytes | None:
    """`raw` as escaped UTF-8 XML character data, or None when XML cannot hold it."""
    if codec == "utf-8":
        if _CONTROL.search(raw):
            return None
        if not raw.isascii():
            try:
                raw.decode()
            except UnicodeDecodeError:
                return None
            if raw.find(b"\xef\xbf") >= 0 and _NONCHARACTER.search(raw):
                return None
        return raw.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;").replace(b"\r", b"&#13;")
    text = _as_text(raw, codec)
    if text is None:
        return None
    return _escape(raw if codec == "utf-8" else text.encode())


def _b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def _attr(name: str, value: str | bytes) -> bytes:
    value_b = value.encode() if isinstance(value, str) else value
    return b" wbxml:" + name.encode() + b'="' + value_b + b'"'


def _with_attrs(open_tag: bytes, attrs: list[bytes]) -> bytes:
    joined = b"".join(attrs)
    if open_tag.endswith(b"/>"):
        return open_tag[:-2] + joined + b"/>"
    return open_tag[:-1] + joined + b">"


def _add_switch(xml: bytes, pend: list[int]) -> bytes:
    """`xml` (one placeholder element) with a wbxml:switch marker for the pending SWITCH_PAGE tokens."""
    head, rest = xml.split(b">", 1)
    return _with_attrs(head + b">", [_attr("switch", " ".join(map(str, pend)))]) + rest


def _flush_pieces(pieces: list[_Piece], codec: str) -> tuple[list[bytes], bool]:
    """Buffered content tokens of an element that turned out to have child elements, as mixed content."""
    chunks: list[bytes] = []
    need_ns = False
    switches: list[int] = []
    for piece in pieces:
        if piece[0] == "p":
            assert isinstance(piece[1], int)
            switches.append(piece[1])
            continue
        # Text right after text would merge with it in XML: only the first of a run may be inline.
        xml, ns = _mixed_piece(piece, codec, bool(switches) or bool(chunks) and not chunks[-1].endswith(b">"))
        if switches:
            xml = _add_switch(xml, switches)
            switches = []
        chunks.append(xml)
        need_ns = need_ns or ns
    return chunks, need_ns


def _skip_attr_list(data: bytes, i: int) -> int:
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
            raise MalformedError(f"global token {_GLOBAL_NAMES[tok]} inside an attribute list", i)
        else:
            i += 1


class _StringTable:
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


_Piece = tuple[str, object]


def _leaf_content(pieces: list[_Piece], codec: str, opaque_tag: bool) -> tuple[list[bytes], bytes]:
    """Marker attributes and XML text for the buffered content tokens of a leaf element."""
    if len(pieces) == 1 and pieces[0][0] == "w":
        payload_w = pieces[0][1]
        assert isinstance(payload_w, tuple)
        wide_markers, wide_text = _leaf_content([("o", payload_w[0])], codec, opaque_tag)
        return [*wide_markers, _attr("length-bytes", str(payload_w[1]))], wide_text
    if len(pieces) == 1:
        kind, payload = pieces[0]
        if kind == "s":
            assert isinstance(payload, bytes)
            text = _xml_text(payload, codec)
            if text is None:
                return [_attr("text", "base64")], _b64(payload)
            if opaque_tag or not payload:
                return [_attr("pieces", f"s{len(payload.decode(codec, 'replace'))}")], text
            return [], text
        if kind == "o":
            assert isinstance(payload, bytes)
            opaque_text = _xml_text(payload, codec)
            if opaque_text is None:
                return [_attr("opaque", "base64")], _b64(payload)
            return [_attr("opaque", "text")], opaque_text
    # Several tokens, or one that is not the canonical choice: describe each.
    texts: list[str] | None = []
    for kind, payload in pieces:
        if texts is None:
            break
        if kind == "w":  # OPAQUE with a wide length: (bytes, length bytes)
            assert isinstance(payload, tuple)
            payload = payload[0]
        if kind in ("s", "o", "w"):
            assert isinstance(payload, bytes)
            piece_text = _as_text(payload, codec)
            if piece_text is None:
                texts = None
            else:
                texts.append(piece_text)
        elif kind == "t":
            assert isinstance(payload, tuple)
            piece_text = _as_text(payload[1], codec)
            if piece_text is None:
                texts = None
            else:
                texts.append(piece_text)
        elif kind == "e":
            assert isinstance(payload, int)
            if payload > 0x10FFFF or 0xD800 <= payload <= 0xDFFF or _XML_ILLEGAL.match(chr(payload)):
                texts = None
            else:
                texts.append(chr(payload))
        else:
            texts.append("")
    items: list[str] = []
    if texts is not None:
        for (kind, payload), piece_text in zip(pieces, texts):
            items.append(_piece_item(kind, payload, len(piece_text)))
        return [_attr("pieces", " ".join(items))], _escape("".join(texts).encode())
    raw: list[bytes] = []
    for kind, payload in pieces:
        length = 0
        if kind in ("s", "o", "w"):
            data = payload[0] if isinstance(payload, tuple) else payload
            assert isinstance(data, bytes)
            raw.append(data)
            length = len(data)
        items.append(_piece_item(kind, payload, length))
    return [_attr("pieces", " ".join(items)), _attr("text", "base64")], _b64(b"".join(raw))


def _piece_item(kind: str, payload: object, length: int) -> str:
    if kind == "t":
        assert isinstance(payload, tuple)
        return f"t{payload[0]}"
    if kind in ("e", "p"):
        return f"{kind}{payload}"
    if kind == "w":  # OPAQUE of `length` units whose length was written with payload[1] bytes
        assert isinstance(payload, tuple)
        return f"w{length}:{payload[1]}"
    return f"{kind}{length}"


def _mixed_piece(piece: _Piece, codec: str, placeholder: bool = False) -> tuple[bytes, bool]:
    """XML for one content token in an element that also has child elements; (xml, needs WBXML_NS).

    Text is written inline unless `placeholder` (it must carry a marker) or it is not XML text.
    """
    kind, payload = piece
    if kind == "w":
        assert isinstance(payload, tuple)
        wide = f'<wbxml:opaque length-bytes="{payload[1]}">'.encode()
        return wide + _b64(payload[0]) + b"</wbxml:opaque>", True
    if kind == "t":
        assert isinstance(payload, tuple)
        return f'<wbxml:strref index="{payload[0]}"/>'.encode(), True
    if kind == "s":
        raw = payload
        assert isinstance(raw, bytes)
        text = _xml_text(raw, codec)
        # Whitespace-only text between elements is layout to the encoder: it needs a placeholder.
        as_str = _as_text(raw, codec)
        if text is not None and as_str and not as_str.isspace() and not placeholder:
            return text, False
        return b"<wbxml:str>" + _b64(raw) + b"</wbxml:str>", True
    if kind == "o":
        assert isinstance(payload, bytes)
        return b"<wbxml:opaque>" + _b64(payload) + b"</wbxml:opaque>", True
    return f"<wbxml:entity>{payload}</wbxml:entity>".encode(), True


# ---------------------------------------------------------------------------------------------------------
# Decoder


def _read_header(data: bytes, strict: bool) -> tuple[list[bytes], str, bytes, int]:
    """Parse the WAP-192 section 5.3 header; returns (root marker attributes, codec, string table, body)."""
    if data[:4] == _STANDARD_HEADER:
        return [], "utf-8", b"", 4
    if not data:
        raise TruncatedError("empty input: no WBXML header", 0)
    version = data[0]
    if not 0x01 <= version <= 0x03:
        raise MalformedError(f"unsupported WBXML version byte 0x{version:02X} (expected 0x01-0x03)", 0)
    i = 1
    publicid, used = decode_mb_u_int32(data, i)
    i += used
    publicid_index = -1
    if publicid == 0:
        publicid_index, used = decode_mb_u_int32(data, i)
        i += used
    charset_offset = i
    charset, used = decode_mb_u_int32(data, i)
    i += used
    table_offset = i
    table_length, used = decode_mb_u_int32(data, i)
    i += used
    if table_length > len(data) - i:
        raise TruncatedError(f"string table of {table_length} bytes runs past the end of the input", table_offset)
    strtbl = data[i : i + table_length]
    i += table_length
    codec = _CODECS.get(charset)
    if codec is None:
        if strict:
            raise MalformedError(f"unsupported charset MIBenum {charset}", charset_offset)
        codec = "utf-8"
    attrs: list[bytes] = []
    if version != _DEFAULT_VERSION:
        attrs.append(_attr("version", f"1.{version}"))
    if publicid_index >= 0:
        _StringTable(strtbl, len(strtbl)).get(publicid_index, 1)
        attrs.append(_attr("publicid", f"strtbl:{publicid_index}"))
    elif publicid != _DEFAULT_PUBLICID:
        attrs.append(_attr("publicid", str(publicid)))
    if charset != _UTF8:
        attrs.append(_attr("charset", str(charset)))
    if table_length:
        attrs.append(_attr("strtbl", _b64(strtbl)))
    canonical = bytes((version,)) + (
        b"\x00" + encode_mb_u_int32(publicid_index) if publicid_index >= 0 else encode_mb_u_int32(publicid)
    ) + encode_mb_u_int32(charset) + encode_mb_u_int32(table_length) + strtbl
    if data[:i] != canonical:  # an mb_u_int32 written with more bytes than needed
        attrs.append(_attr("header", _b64(data[:i])))
    return attrs, codec, strtbl, i


# Notes, for eas.annotate.decode_annotated: the decoder writes XML comments with the meanings of values right
# after the elements, so libxml2 builds them with the tree. A note is one of:
#   static: (page number, tag name) -> (comment, comment of an empty element): the noted tables carry it after
#     the end tag, so the hot loop writes it with the tag;
#   a kind, flagged in the noted tables (flags the fast path for tags skips, so decoding without notes pays
#   nothing: a branch after it, and the leaf runs, write a _F_VALUE or _F_PLACE leaf with its note):
#     _F_VALUE  a leaf whose note depends on its text: looked up in notes.memo by (page, token, text), made by
#               notes.note_of on a miss;
#     _F_PLACE  the same, also by the open tags of its parent and grandparent, the root's page and open tag
#               (in notes.place_memo: such notes also depend on the caller's context);
#     _F_PASS   its note needs the whole tree: the decoder lists its tag (notes.passed) for a pass after;
#     _F_REDO   the decoder cannot write the notes of this document (notes.missed).
# A _F_VALUE or _F_PLACE element that is not a plain leaf (children, markers, several tokens), an element
# with a static note and the wbxml:content="empty" marker, a tag sent with another token of its name set
# notes.missed: the caller decodes again without notes. Placeholders get no note. The root never gets one.
_F_VALUE: Final = 4
_F_PLACE: Final = 8
_F_PASS: Final = 16
_F_REDO: Final = 32
_NoteKey = tuple[Union[int, bytes], ...]
_StaticNotes = dict[tuple[int, str], tuple[bytes, bytes]]
_NoteKinds = dict[tuple[int, str], int]


class _Notes:
    """What _decode_xml writes besides the document, and what it reports back: one per call."""

    __slots__ = ("static", "kinds", "memo", "place_memo", "note_of", "passed", "missed")

    def __init__(self, static: _StaticNotes, kinds: _NoteKinds, memo: dict[_NoteKey, bytes],
                 place_memo: dict[_NoteKey, bytes], note_of: Callable[[_NoteKey], bytes | None]) -> None:
        self.static = static
        self.kinds = kinds
        self.memo = memo  # note key -> comment bytes (b"": no note), of _F_VALUE leaves; note_of fills it
        self.place_memo = place_memo  # the same for _F_PLACE leaves
        self.note_of = note_of  # the comment for a key the memo lacks; None: it cannot be written here
        self.passed: set[tuple[int, int]] = set()  # (page, token) of the _F_PASS elements written
        self.missed = False  # a note could not be written: the output is not annotated right


_NOTED_TABLES: dict[tuple[int, int, int],
                    tuple[list[_Table | None], list[_Table | None], _StaticNotes, _NoteKinds]] = {}


def _noted_tables(tables: list[_Table | None], strict: bool, notes: _Notes) -> list[_Table | None]:
    """`tables` with the static notes and note kinds of the pages they name (cached per list and notes).

    The root's own entry must come from the plain tables: a note after the root's end tag is not XML."""
    static, kinds = notes.static, notes.kinds
    key = (id(tables), id(static), id(kinds))
    cached = _NOTED_TABLES.get(key)
    if cached is not None and cached[0] is tables and cached[2] is static and cached[3] is kinds:
        return cached[1]
    noted = list(tables)
    for page_number in {number for number, _ in static} | {number for number, _ in kinds}:
        table = tables[page_number]
        if table is None:
            continue
        page = CODE_PAGES[page_number]
        copy = list(table)
        for token in range(0x05, 0x40):
            name = page.tags.get(token)
            if name is None:
                continue
            note = static.get((page_number, name))
            kind = kinds.get((page_number, name), 0)
            if note is None and not kind:
                continue
            empty, full = table[token], table[token | _CONTENT_FLAG]
            assert empty is not None and full is not None and full[1] is not None
            if page.tokens[name] != token:  # another token for the name (wbxml:token): not noted here
                note, kind = (b"", b""), _F_REDO
            elif note is None:
                note = (b"", b"")
            copy[token] = (empty[0] + note[1], None, empty[2] | kind)
            copy[token | _CONTENT_FLAG] = (full[0], full[1] + note[0], full[2] | kind)
        noted[page_number] = copy
    if len(_NOTED_TABLES) > 1024:
        _NOTED_TABLES.clear()
    _NOTED_TABLES[key] = (tables, noted, static, kinds)
    return noted


def _leaf_note(notes: _Notes, kind: int, page: int, token: int, text: bytes,
               stack: list[tuple[bytes, int, bytes, int, Sequence[bytes]]], root_page: int, root_open: bytes) -> bytes:
    """The comment for a _F_VALUE or _F_PLACE leaf (text: its XML text), b"" for none (see _Notes)."""
    if kind == _F_VALUE:
        key: _NoteKey = (page, token, text)
        note = notes.memo.get(key)
    else:
        key = (page, token, text, stack[-1][2], stack[-2][2] if len(stack) > 1 else b"", root_page, root_open)
        note = notes.place_memo.get(key)
    if note is None:
        note = notes.note_of(key)
        if note is None:
            notes.missed = True
            return b""
    return note


def _decode_xml(data: bytes, strict: bool, notes: _Notes | None = None) -> bytes:
    """The XML text (UTF-8) of a WBXML document; see the theory of operation above.

    notes: comments written after elements (see _Notes); where a marker or a placeholder is written (the root
    then declares WBXML_NS), they may be missing or misplaced.
    """
    if data[:4] == _STANDARD_HEADER:
        root_attrs: list[bytes] = []
        codec, strtbl, i = "utf-8", b"", 4
    else:
        root_attrs, codec, strtbl, i = _read_header(data, strict)
    utf8 = codec == "utf-8"
    n = len(data)
    # Open elements: (close tag, index of the open tag in out, bare open tag, flags, markers).
    stack: list[tuple[bytes, int, bytes, int, Sequence[bytes]]]
    used_pages: set[int]
    start_key = data[i : i + 1]
    if start_key == b"\x00":
        start_key = data[i : i + 3]
    root_start = _ROOT_STARTS[strict].get(start_key)
    close_b: bytes | None
    root_open: bytes | None
    if root_start is not None:  # the commonest start, taken in one step (the general path below does the same)
        page, tables, table, root_bare, close_b, root_open = root_start
        if notes is not None:  # the root's own entry (above) stays plain
            tables = _noted_tables(tables, strict, notes)
            noted_table = tables[page]
            assert noted_table is not None
            table = noted_table
        open_b = root_bare
        root_page = page
        used_pages = {page}
        stack = [(close_b, 0, open_b, 0, ())]
        out = [open_b]
        irregular = False
        i += len(start_key)
    else:
        root_open = None
        root_bare = b""
        root_page = -1
        used_pages = set()
        tables = _TABLES[(True, strict)]
        if notes is not None:
            tables = _noted_tables(tables, strict, notes)
        page = 0
        first_table = tables[0]
        assert first_table is not None
        table = first_table
        stack = []
        out = []
        # The next tag or END needs the general path: no root yet, pending switches, or buffered content.
        irregular = True
    # Content tokens held back (by index in stack) until it is known whether the element is a leaf.
    buffered: dict[int, list[_Piece]] = {}
    pend: list[int] = []  # SWITCH_PAGE tokens not yet attached to a tag, END or text
    pend_base = 0  # the page before the first pending switch
    pend_at = 0  # the offset of the first pending switch
    # The current page was reached by switches that no tag consumed: the next tag must note it as used.
    page_unmarked = False
    need_ns = bool(root_attrs)
    prolog: list[bytes] = []
    # out.append / data.find are called on their objects, not through local aliases: the compiled build
    # (mypyc, setup.py) makes list.append a direct C call, where an alias is a Python-level call.
    care = _TEXT_CARE.search if utf8 else _ALWAYS_CARE.search
    leaf_run = _LEAF_RUN.match
    # Leaves before this offset are taken one by one: a run there was already tried (keeps decoding linear).
    no_run_before = 0 if utf8 else n
    known_pages = len(CODE_PAGES)
    # STR_T and LITERAL may repeat table strings: at most 16 output bytes per input byte come from them.
    string_table: _StringTable | None = None  # made when a STR_T or LITERAL needs it
    try:
        while True:
            tok = data[i]
            entry = table[tok]
            if entry is None and tok == SWITCH_PAGE and not irregular:
                # The canonical switch (to another page, right before a tag of it) is taken with that tag.
                new_page = data[i + 1]
                new_table = tables[new_page]
                if new_table is not None and new_page != page:
                    entry = new_table[data[i + 2]]
                    if entry is not None:
                        used_pages.add(new_page)
                        page = new_page
                        table = new_table
                        i += 2
                        tok = data[i]
            if entry is not None:
                open_b, close_b, flags = entry
                if not (irregular or flags):
                    if close_b is None:
                        out.append(open_b)
                        i += 1
                        continue
                    # Fast path: TAG+content STR_I text END.
                    if data[i + 1] == STR_I:
                        j = data.find(b"\x00", i + 2)
                        # Another leaf may follow (its tag is followed by STR_I), or the text is long (the
                        # run regex checks long text several times faster than _TEXT_CARE): try a run. A
                        # single short leaf is cheaper one by one (below).
                        more = j - i > 40 or j > 0 and j + 3 < n and data[j + 3] == STR_I
                        run = leaf_run(data, i) if more and i >= no_run_before else None
                        if run is not None:
                            run_bytes = data[i : run.end() - 2]
                            if not run_bytes.isascii():
                                try:
                                    run_bytes.decode()
                                except UnicodeDecodeError:
                                    run = None
                                else:
                                    if _NONCHARACTER.search(run_bytes):
                                        run = None
                                if run is None:  # the leaves of this run go one by one (no rescans)
                                    no_run_before = i + len(run_bytes)
                        if run is not None:
                            # A run of such leaves: escaped (& < > CR) and split in C, one step per leaf.
                            # Tag bytes (0x45-0x7F), the 03/00/01 framing and the pages of the switches
                            # never equal `&<>` or CR, so escaping the whole run leaves the framing intact.
                            text_run = run_bytes
                            if 0x26 in text_run or 0x3C in text_run or 0x3E in text_run or 0x0D in text_run:
                                text_run = (
                                    text_run.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
                                    .replace(b">", b"&gt;").replace(b"\r", b"&#13;")
                                )
                            start = i
                            i = run.end()
                            if run_bytes.find(b"\x00\x01\x00") < 0:  # no SWITCH_PAGE inside: one table
                                before = len(out)
                                for leaf in text_run.split(b"\x00\x01"):
                                    leaf_entry = table[leaf[0]]
                                    if leaf_entry is None or leaf_entry[2]:
                                        if leaf_entry is not None and (leaf_entry[2] == _F_VALUE
                                                                       or leaf_entry[2] == _F_PLACE):
                                            assert notes is not None and leaf_entry[1] is not None
                                            leaf_text = leaf[2:]
                                            note = notes.memo.get((page, leaf[0], leaf_text)) \
                                                if leaf_entry[2] == _F_VALUE else None
                                            if note is None:
                                                note = _leaf_note(notes, leaf_entry[2], page, leaf[0], leaf_text, stack,
                                                                  root_page, out[0])
                                            out.extend((leaf_entry[0], leaf_text, leaf_entry[1] + note))
                                            continue
                                        # Not plain (opaque, placeholder): resume there, slowly.
                                        resume = (len(out) - before) // 3
                                        i = start + sum(len(x) + 2 for x in run_bytes.split(b"\x00\x01")[:resume])
                                        no_run_before = start + len(run_bytes)  # the rest one by one: no rescans
                                        break
                                    out.extend((leaf_entry[0], leaf[2:], leaf_entry[1]))  # type: ignore[arg-type]
                                continue
                            switch_to = -1  # a SWITCH_PAGE seen before the leaf, and where it began
                            switch_at = 0
                            for k, leaf in enumerate(text_run.split(b"\x00\x01")):
                                if not leaf:  # SWITCH_PAGE 1: its two bytes were taken for a separator
                                    switch_to, switch_at = 1, k
                                    continue
                                if not leaf[0]:  # SWITCH_PAGE n
                                    switch_to, switch_at, leaf = leaf[1], k, leaf[2:]
                                if switch_to < 0:
                                    leaf_entry = table[leaf[0]]
                                else:
                                    leaf_table = tables[switch_to] if switch_to != page else None
                                    leaf_entry = leaf_table[leaf[0]] if leaf_table is not None else None
                                leaf_flags = -1 if leaf_entry is None else leaf_entry[2]
                                if leaf_flags != 0 and leaf_flags != _F_VALUE and leaf_flags != _F_PLACE:
                                    # Not plain (opaque, placeholder, redundant switch): resume there, slowly.
                                    resume = switch_at if switch_to >= 0 else k
                                    i = start + sum(len(x) + 2 for x in run_bytes.split(b"\x00\x01")[:resume])
                                    no_run_before = start + len(run_bytes)  # the rest one by one: no rescans
                                    break
                                assert leaf_entry is not None and leaf_entry[1] is not None
                                if switch_to >= 0:
                                    page = switch_to
                                    assert leaf_table is not None
                                    table = leaf_table
                                    used_pages.add(page)
                                    switch_to = -1
                                close_tag = leaf_entry[1]
                                if leaf_flags:  # a noted leaf (decode_annotated): its note goes with the end tag
                                    assert notes is not None
                                    close_tag += _leaf_note(notes, leaf_flags, page, leaf[0], leaf[2:], stack,
                                                            root_page, out[0])
                                out.extend((leaf_entry[0], leaf[2:], close_tag))
                            continue
                        if j > 0 and data[j + 1] == END:
                            chunk = data[i + 2 : j]
                            if chunk:
                                if care(chunk) is None:
                                    out.extend((open_b, chunk, close_b))
                                    i = j + 2
                                    continue
                                text = _xml_text(chunk, codec)
                                if text is not None:
                                    out.extend((open_b, text, close_b))
                                    i = j + 2
                                    continue
                    if len(stack) >= MAX_DEPTH:
                        raise LimitError(f"elements nested deeper than {MAX_DEPTH}", i)
                    stack.append((close_b, len(out), open_b, flags, ()))
                    out.append(open_b)
                    i += 1
                    continue
                if (flags == _F_VALUE or flags == _F_PLACE) and not irregular:
                    # Noted tables only: a plain leaf (or empty element) whose note the decoder writes.
                    assert notes is not None
                    text_b: bytes | None = b""
                    next_i = i + 1
                    if close_b is not None:
                        text_b = None
                        if data[i + 1] == STR_I:
                            j = data.find(b"\x00", i + 2)
                            if j > 0 and data[j + 1] == END:
                                chunk = data[i + 2 : j]
                                if chunk:
                                    text_b = chunk if care(chunk) is None else _xml_text(chunk, codec)
                                    next_i = j + 2
                    if text_b is not None:
                        # (page, token, text) -> note, the commonest hit, looked up here (no call)
                        note = notes.memo.get((page, tok, text_b)) if flags == _F_VALUE else None
                        if note is None:
                            note = _leaf_note(notes, flags, page, tok, text_b, stack, root_page, out[0])
                        # one item for the end tag and its note: mixed content looks at the last item's end
                        if close_b is None:
                            out.append(open_b + note)
                        else:
                            out.extend((open_b, text_b, close_b + note))
                        i = next_i
                        continue
                adv = 1
                extra: list[bytes] | None = None
            elif tok == END:
                if not irregular:
                    element = stack.pop()
                    if len(out) != element[1] + 1:
                        out.append(element[0])
                        i += 1
                        # Closing tags come in runs: take the following ENDs here. Each closes an element
                        # that has content (the child just closed).
                        while stack and data[i] == END:
                            out.append(stack.pop()[0])
                            i += 1
                        if not stack:
                            break
                        continue
                    stack.append(element)
                if not stack:
                    raise MalformedError("END outside any element", i)
                close_b, idx, open_b, flags, open_markers = stack.pop()
                pieces = buffered.pop(len(stack), None)
                new_markers: list[bytes] = []
                if pend:
                    new_markers.append(_attr("end-switch", " ".join(map(str, pend))))
                    pend = []
                    page_unmarked = True
                irregular = page_unmarked
                if pieces is not None:
                    content_markers, text = _leaf_content(pieces, codec, bool(flags & _F_OPAQUE))
                    new_markers.extend(content_markers)
                    out.append(text)
                    out.append(close_b)
                    if not text and notes is not None and close_b.find(b">") + 1 < len(close_b):
                        notes.missed = True  # an empty element: its static note is the other one
                elif len(out) == idx + 1:
                    new_markers.append(_attr("content", "empty"))
                    open_b = open_b[:-1] + b"/>"
                    if notes is not None and close_b.find(b">") + 1 < len(close_b):
                        notes.missed = True  # its static note went with the end tag that is not written
                else:
                    out.append(close_b)
                if new_markers:
                    need_ns = True
                    out[idx] = _with_attrs(open_b, [*open_markers, *new_markers])
                i += 1
                if not stack:
                    break
                continue
            elif tok == SWITCH_PAGE:
                new_page = data[i + 1]
                new_table = tables[new_page]
                if new_table is None:
                    if strict:
                        raise UnknownCodePageError(f"SWITCH_PAGE to unknown code page {new_page}", i)
                    new_table = _unknown_page(new_page)
                if not irregular and new_page != page and new_table[data[i + 2]] is not None:
                    # The canonical switch: to another page, right before a tag of it.
                    if new_page < known_pages:
                        used_pages.add(new_page)
                    page = new_page
                    table = new_table
                    i += 2
                    continue
                if not pend:
                    pend_base = page
                    pend_at = i
                pend.append(new_page)
                page = new_page
                table = new_table
                irregular = True
                i += 2
                continue
            elif tok == STR_I or tok == OPAQUE or tok == STR_T or tok == ENTITY:
                if not stack:
                    raise MalformedError(f"{_GLOBAL_NAMES[tok]} outside the root element", i)
                piece: _Piece
                if tok == STR_I:
                    j = data.find(b"\x00", i + 1)
                    if j < 0:
                        raise TruncatedError("input ends inside an inline string (STR_I)", i)
                    piece = ("s", data[i + 1 : j])
                    next_i = j + 1
                elif tok == OPAQUE:
                    length, used = decode_mb_u_int32(data, i + 1)
                    start = i + 1 + used
                    if length > n - start:
                        raise TruncatedError(f"OPAQUE of {length} bytes runs past the end of the input", i)
                    piece = ("o", data[start : start + length])
                    if used > 1 and used != len(encode_mb_u_int32(length)):
                        piece = ("w", (piece[1], used))  # a length written wider than needed
                    next_i = start + length
                elif tok == STR_T:
                    index, used = _index_at(data, i + 1, "STR_T index")
                    if string_table is None:
                        string_table = _StringTable(strtbl, 16 * n + 65536)
                    piece = ("t", (index, string_table.get(index, i)))
                    next_i = i + 1 + used
                else:
                    code_point, used = _index_at(data, i + 1, "ENTITY code point")
                    piece = ("e", code_point)
                    next_i = i + 1 + used
                top_index = len(stack) - 1
                pieces_list = buffered.get(top_index)
                if pieces_list is None and len(out) == stack[top_index][1] + 1:
                    pieces_list = buffered[top_index] = []
                if pieces_list is not None:
                    if pend:
                        pieces_list.extend(("p", p) for p in pend)
                        pend = []
                        page_unmarked = True
                    pieces_list.append(piece)
                    irregular = True
                else:
                    xml, ns = _mixed_piece(piece, codec, bool(pend) or not out[-1].endswith(b">"))
                    if pend:
                        xml = _add_switch(xml, pend)
                        pend = []
                        page_unmarked = True
                    need_ns = need_ns or ns
                    out.append(xml)
                i = next_i
                continue
            elif tok == LITERAL or tok == LITERAL_C or tok == LITERAL_A or tok == LITERAL_AC:
                if strict:
                    raise UnknownTokenError(f"{_GLOBAL_NAMES[tok]} is not used by MS-ASWBXML", i)
                index, used = _index_at(data, i + 1, f"{_GLOBAL_NAMES[tok]} index")
                if string_table is None:
                    string_table = _StringTable(strtbl, 16 * n + 65536)
                name = string_table.get(index, i)
                shown = _escape(name.decode("utf-8", "replace").encode()).replace(b'"', b"&quot;")
                qname = b"wbxml:literal"
                opening = b"<" + qname + f' index="{index}" name="'.encode() + shown + b'"'
                if tok & _CONTENT_FLAG:
                    open_b, close_b = opening + b">", b"</" + qname + b">"
                else:
                    open_b, close_b = opening + b"/>", None
                flags = _F_NS
                adv = 1 + used
                extra = None
                if tok & _ATTRS_FLAG:
                    attr_end = _skip_attr_list(data, i + adv)
                    extra = [_attr("attrs", _b64(data[i + adv : attr_end]))]
                    adv = attr_end - i
            elif tok & 0x3F >= 0x05:  # a tag with attributes, or (strict) an unknown tag
                base = table[tok & 0x7F]
                if base is None or not tok & _ATTRS_FLAG:
                    raise UnknownTokenError(f"unknown tag token 0x{tok & 0x3F:02X} in code page {page}", i)
                if strict:
                    raise UnknownTokenError(f"tag token 0x{tok:02X} carries attributes, unused by MS-ASWBXML", i)
                open_b, close_b, flags = base
                attr_end = _skip_attr_list(data, i + 1)
                extra = [_attr("attrs", _b64(data[i + 1 : attr_end]))]
                adv = attr_end - i
            else:  # EXT_*, PI
                if strict:
                    raise UnknownTokenError(f"{_GLOBAL_NAMES[tok]} is not used by MS-ASWBXML", i)
                if tok == PI:
                    end_pi = _skip_attr_list(data, i + 1)
                    raw_pi = data[i:end_pi]
                    if not stack:
                        if pend:  # switches before a PI in the prolog travel with it
                            raw_pi = data[pend_at:end_pi]
                            pend = []
                        prolog.append(raw_pi)
                        i = end_pi
                        continue
                    xml = b"<wbxml:pi>" + _b64(raw_pi) + b"</wbxml:pi>"
                    i = end_pi
                else:
                    if not stack:
                        raise MalformedError(f"{_GLOBAL_NAMES[tok]} outside the root element", i)
                    kind = tok & 0xC0
                    if kind == 0x40:
                        j = data.find(b"\x00", i + 1)
                        if j < 0:
                            raise TruncatedError("input ends inside an EXT_I string", i)
                        xml = f'<wbxml:ext token="0x{tok:02X}">'.encode() + _b64(data[i + 1 : j]) + b"</wbxml:ext>"
                        i = j + 1
                    elif kind == 0x80:
                        index, used = _index_at(data, i + 1, f"{_GLOBAL_NAMES[tok]} index")
                        xml = f'<wbxml:ext token="0x{tok:02X}" index="{index}"/>'.encode()
                        i += 1 + used
                    else:
                        xml = f'<wbxml:ext token="0x{tok:02X}"/>'.encode()
                        i += 1
                if len(stack) - 1 in buffered:
                    out.extend(_flush_pieces(buffered.pop(len(stack) - 1), codec)[0])
                if pend:
                    xml = _add_switch(xml, pend)
                    pend = []
                    page_unmarked = True
                need_ns = True
                out.append(xml)
                continue
            # The general path for a tag: (open_b, close_b, flags), extra markers, adv bytes.
            markers: list[bytes] = extra if extra is not None else []
            if pend:
                if pend != ([] if page == pend_base else [page]):
                    markers.append(_attr("switch", " ".join(map(str, pend))))
                pend = []
            if page < known_pages:
                used_pages.add(page)
            if markers or flags & _F_NS:
                need_ns = True
            irregular = page_unmarked = False
            if not stack:
                if tok in (LITERAL, LITERAL_C, LITERAL_A, LITERAL_AC) or page >= known_pages:
                    root_page = 256
                else:
                    root_page = page
                    tables = _root_tables(page, strict)
                    root_table = tables[page]
                    assert root_table is not None
                    root_entry = root_table[tok & 0x7F]  # from the plain table: no note after the root
                    if notes is not None:
                        tables = _noted_tables(tables, strict, notes)
                        root_table = tables[page]
                        assert root_table is not None
                    table = root_table
                    used_pages.add(page)
                    assert root_entry is not None
                    open_b, close_b, flags = root_entry
                if close_b is None:
                    out.append(_with_attrs(open_b, markers) if markers else open_b)
                    i += adv
                    break
                stack.append((close_b, len(out), open_b, flags, markers))
                out.append(_with_attrs(open_b, markers) if markers else open_b)
                i += adv
                continue
            if flags >= _F_VALUE:  # noted tables only (see _Notes)
                assert notes is not None
                if flags & _F_PASS:
                    notes.passed.add((page, tok & 0x3F))
                else:
                    notes.missed = True
            if len(stack) - 1 in buffered:
                flushed, ns = _flush_pieces(buffered.pop(len(stack) - 1), codec)
                out.extend(flushed)
                need_ns = need_ns or ns
            if close_b is None:
                if markers:
                    cut = open_b.find(b"/>") + 2  # a static note may follow the tag (noted tables)
                    out.append(_with_attrs(open_b[:cut], markers) + open_b[cut:])
                else:
                    out.append(open_b)
                i += adv
                continue
            if len(stack) >= MAX_DEPTH:
                raise LimitError(f"elements nested deeper than {MAX_DEPTH}", i)
            stack.append((close_b, len(out), open_b, flags, markers))
            out.append(_with_attrs(open_b, markers) if markers else open_b)
            i += adv
    except IndexError as err:
        raise TruncatedError("input ends inside the document", n) from err
    # The root is closed.
    if prolog:
        root_attrs.append(_attr("prolog", _b64(b"".join(prolog))))
        need_ns = True
    if i < n:
        if strict:
            raise MalformedError(f"{n - i} bytes after the root element", i)
        root_attrs.append(_attr("trailer", _b64(data[i:])))
        need_ns = True
    if root_open is not None and not root_attrs and out[0] is root_bare:  # a plain root
        if not need_ns and len(used_pages) == 1:  # one page, no markers
            out[0] = root_open
            return b"".join(out)
        head_key = (root_bare, frozenset(used_pages), need_ns)
        head = _ROOT_HEADS.get(head_key)
        if head is None:
            decls = [_PREFIX_DECL[used_page] for used_page in sorted(used_pages) if used_page != root_page]
            head = root_open[:-1] + b"".join(decls) + (_W_DECL if need_ns else b"") + b">"
            if len(_ROOT_HEADS) < 4096:
                _ROOT_HEADS[head_key] = head
        out[0] = head
        return b"".join(out)
    decls = [_DEFAULT_DECL[root_page]] if 0 <= root_page < known_pages else []
    if len(used_pages) > 1 or root_page not in used_pages:
        decls.extend(_PREFIX_DECL[used_page] for used_page in sorted(used_pages) if used_page != root_page)
    if need_ns:
        decls.append(_W_DECL)
    # Declarations go right after the root's name.
    first = out[0]
    cut = first.find(b" ")
    if cut < 0:
        cut = len(first) - (2 if first.endswith(b"/>") else 1)
    out[0] = first[:cut] + b"".join(decls) + b"".join(root_attrs) + first[cut:]
    return b"".join(out)


_local = threading.local()


def _internal_parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; this one reads only XML the decoder wrote.
    parser: etree.XMLParser | None = getattr(_local, "decode_parser", None)
    if parser is None:
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, load_dtd=False)
        _local.decode_parser = parser
    return parser


def _safe_parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "safe_parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
        )
        _local.safe_parser = parser
    return parser


def decode(data: bytes | bytearray | memoryview, *, strict: bool = False) -> etree._Element:
    """Decode a WBXML document to an lxml tree.

    Args:
        data: the whole document (not incremental).
        strict: refuse unknown code pages and tokens, attributes, literals, extensions, PIs, unsupported
            charsets and trailing bytes instead of keeping them as placeholders.
    Returns:
        The root element.
    Raises:
        TruncatedError: the input ends early. MalformedError (UnknownTokenError, UnknownCodePageError,
        LimitError): anything else wrong; each names the byte offset.
    """
    return _parse_decoded(_decode_xml(data if type(data) is bytes else bytes(data), strict))


def _parse_decoded(xml: bytes) -> etree._Element:
    """The tree of XML text written by _decode_xml."""
    try:
        parser = _local.decode_parser
    except AttributeError:
        parser = _internal_parser()
    try:
        # The feed interface (libxml2's push parser) builds the same tree as etree.fromstring in 10-20% less
        # time on every shape measured. A parse error resets the parser, and so does close().
        parser.feed(xml)
        root: etree._Element = parser.close()
    except etree.XMLSyntaxError as err:  # a decoder bug: never let it escape as a foreign error
        raise MalformedError(f"decoded XML did not parse: {err}") from err
    return root


def to_xml(root: etree._Element, pretty: bool = True) -> str:
    """Serialize a decoded (possibly annotated) tree as XML text; CR is written `&#13;`."""
    text: str = etree.tostring(root, encoding="unicode", pretty_print=pretty)
    return text


def decode_to_xml(data: bytes | bytearray | memoryview, *, strict: bool = False, pretty: bool = True) -> str:
    """`to_xml(decode(data, strict=strict), pretty)`."""
    return to_xml(decode(data, strict=strict), pretty)


def parse_xml(text: str | bytes) -> etree._Element:
    """Parse XML written by hand or by `to_xml` with a parser that resolves no entity and fetches nothing.

    Raises:
        EncodeError: malformed XML (with the line of the problem).
    """
    try:
        if isinstance(text, str):
            text = _XML_DECLARATION.sub("", text, count=1)
        root = etree.fromstring(text, _safe_parser())
    except etree.XMLSyntaxError as err:
        lineno: object = getattr(err, "lineno", None)
        raise EncodeError(f"malformed XML: {err.msg}", line=lineno if isinstance(lineno, int) else None) from err
    except ValueError as err:
        raise EncodeError(f"malformed XML: {err}") from err
    if root is None:
        raise EncodeError("malformed XML: no root element")
    return root


# ---------------------------------------------------------------------------------------------------------
# Encoder

# Clark name -> (page, empty-tag bytes, content-tag bytes, is opaque tag), for every namespace spelling and every
# tag spelling (codepages.TAG_ALIASES).
_Info = tuple[int, bytes, bytes, bool]
_TAG_INFO: Final[dict[str, _Info]] = {
    "{" + namespace + "}" + name: (
        page.number, bytes((token,)), bytes((token | _CONTENT_FLAG,)), page.tags[token] in page.opaque_tags
    )
    for namespace, page in PAGE_BY_NAMESPACE.items()
    for name, token in ENCODER_TOKENS[page.number].items()
}
_SWITCH: Final = [bytes((SWITCH_PAGE, p)) for p in range(256)]
_ROOT_MARKERS: Final = {"version", "publicid", "charset", "strtbl", "header", "prolog", "trailer"}
_ELEMENT_MARKERS: Final = {
    "switch", "end-switch", "content", "token", "attrs", "opaque", "text", "pieces", "length-bytes"
}


def _tag(node: etree._Element) -> object:
    """A node's tag: a str for elements, a factory function for comments, PIs and entities.

    lxml-stubs type every tag as str; read through getattr, the compiled module checks nothing here.
    """
    return getattr(node, "tag")


def _fail(el: etree._Element, reason: str) -> EncodeError:
    node_tag = _tag(el)
    tag = node_tag if isinstance(node_tag, str) else None
    line: object = el.sourceline
    return EncodeError(reason, element=tag, line=line if isinstance(line, int) else None)


def _b64decode(el: etree._Element, text: str | None) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise _fail(el, f"invalid base64: {err}") from err


def _pages(el: etree._Element, value: str) -> list[int]:
    try:
        pages = [int(p, 0) for p in value.split()]
    except ValueError as err:
        raise _fail(el, f"bad page list {value!r}") from err
    if any(not 0 <= p <= 255 for p in pages):
        raise _fail(el, f"page out of range in {value!r}")
    return pages


def _int_attr(el: etree._Element, name: str, value: str | None, limit: int = 0xFFFFFFFF) -> int:
    try:
        number = int(value or "", 0)
    except ValueError as err:
        raise _fail(el, f"{name}={value!r} is not a number") from err
    if not 0 <= number <= limit:
        raise _fail(el, f"{name}={value!r} out of range")
    return number


def _encode_text(el: etree._Element, text: str, codec: str) -> bytes:
    try:
        return text.encode(codec)
    except UnicodeEncodeError as err:
        raise _fail(el, f"text cannot be written in the document's charset {codec}") from err


class _Encoder:
    """State of one encode call (slow paths; the common path is inlined in `encode`)."""

    def __init__(self, out: bytearray, codec: str, strtbl: bytes) -> None:
        self.out = out
        self.codec = codec
        self.strtbl = strtbl
        self.string_table = _StringTable(strtbl, 1 << 62)

    def string(self, el: etree._Element, text: str, opaque: bool) -> None:
        raw = _encode_text(el, text, self.codec)
        if opaque:
            self.out += b"\xc3" + encode_mb_u_int32(len(raw)) + raw
        else:
            if 0 in raw:
                raise _fail(el, "text contains NUL, which STR_I cannot carry")
            self.out += b"\x03" + raw + b"\x00"

    def table_text(self, el: etree._Element, index: int) -> str:
        try:
            raw = self.string_table.get(index, 0)
        except EasError as err:
            raise _fail(el, f"wbxml:pieces: {err.reason}") from err
        try:
            return raw.decode(self.codec)
        except UnicodeDecodeError:
            return ""

    def leaf_content(self, el: etree._Element, text: str, markers: dict[str, str], opaque: bool, cur: int) -> int:
        """Write the content tokens of a leaf with markers; returns the current page afterwards."""
        out = self.out
        pieces = markers.get("pieces")
        as_base64 = markers.get("text") == "base64"
        if pieces is not None:
            written = self.pieces(el, text, pieces, as_base64, cur)
            if written is not None:
                return written
        opaque_marker = markers.get("opaque")
        if opaque_marker is not None and "length-bytes" in markers:
            raw = _b64decode(el, text) if opaque_marker == "base64" else _encode_text(el, text, self.codec)
            length = encode_mb_u_int32(len(raw))
            width = _int_attr(el, "length-bytes", markers["length-bytes"], 5)
            out += b"\xc3" + b"\x80" * max(0, width - len(length)) + length + raw
        elif opaque_marker == "base64":
            raw = _b64decode(el, text)
            out += b"\xc3" + encode_mb_u_int32(len(raw)) + raw
        elif opaque_marker == "text":
            self.string(el, text, True)
        elif as_base64:
            raw = _b64decode(el, text)
            if 0 in raw:
                raise _fail(el, "STR_I data cannot contain NUL")
            out += b"\x03" + raw + b"\x00"
        elif text:
            self.string(el, text, opaque)
        return cur

    def pieces(self, el: etree._Element, text: str, spec: str, as_base64: bool, cur: int) -> int | None:
        """Write content as described by wbxml:pieces; None (nothing written) when it does not fit the text."""
        payload: str | bytes = _b64decode(el, text) if as_base64 else text
        chunk = bytearray()
        pos = 0
        try:
            for item in spec.split():
                kind, arg_text, width_text = item[0], *item[1:].partition(":")[::2]
                arg = int(arg_text)
                if kind == "w":  # OPAQUE with its length written in `width` bytes
                    width = int(width_text)
                    part = payload[pos : pos + arg]
                    if len(part) != arg or not 1 <= width <= 5:
                        return None
                    pos += arg
                    raw = part if isinstance(part, bytes) else _encode_text(el, part, self.codec)
                    length = encode_mb_u_int32(len(raw))
                    if width < len(length):
                        return None
                    chunk += b"\xc3" + b"\x80" * (width - len(length)) + length + raw
                elif kind == "s" or kind == "o":
                    part = payload[pos : pos + arg]
                    if len(part) != arg:
                        return None
                    pos += arg
                    raw = part if isinstance(part, bytes) else _encode_text(el, part, self.codec)
                    if kind == "s":
                        if 0 in raw:
                            return None
                        chunk += b"\x03" + raw + b"\x00"
                    else:
                        chunk += b"\xc3" + encode_mb_u_int32(len(raw)) + raw
                elif kind == "t":
                    if arg >= len(self.strtbl):
                        return None
                    if not as_base64:
                        pos += len(self.table_text(el, arg))
                        if pos > len(payload):  # stale marker: stop before more table lookups
                            return None
                    chunk += b"\x83" + encode_mb_u_int32(arg)
                elif kind == "e":
                    if not as_base64:
                        pos += 1
                    chunk += b"\x02" + encode_mb_u_int32(arg)
                elif kind == "p":
                    if not 0 <= arg <= 255:
                        return None
                    chunk += _SWITCH[arg]
                    cur = arg
                else:
                    return None
        except ValueError:
            return None
        if pos != len(payload):
            return None
        self.out += chunk
        return cur

    def placeholder(self, el: etree._Element, local: str) -> _Info | bytes:
        """Resolve an element in WBXML_NS: a tag placeholder (-> _Info) or a content token (-> bytes)."""
        match = _PLACEHOLDER_TAG.fullmatch(local)
        if match:
            page, token = int(match.group(1), 16), int(match.group(2), 16)
            if not 0x05 <= token <= 0x3F:
                raise _fail(el, f"tag token 0x{token:02X} outside 0x05-0x3F")
            return page, bytes((token,)), bytes((token | _CONTENT_FLAG,)), False
        if local == "literal":
            index = encode_mb_u_int32(_int_attr(el, "index", el.get("index")))
            return -1, bytes((LITERAL,)) + index, bytes((LITERAL_C,)) + index, False
        text = el.text
        if local == "str":
            raw = _b64decode(el, text)
            if 0 in raw:
                raise _fail(el, "STR_I data cannot contain NUL")
            return b"\x03" + raw + b"\x00"
        if local == "opaque":
            raw = _b64decode(el, text)
            length = encode_mb_u_int32(len(raw))
            width_attr = el.get("length-bytes")
            width = len(length) if width_attr is None else _int_attr(el, "length-bytes", width_attr, 5)
            return b"\xc3" + b"\x80" * max(0, width - len(length)) + length + raw
        if local == "strref":
            return b"\x83" + encode_mb_u_int32(_int_attr(el, "index", el.get("index")))
        if local == "entity":
            return b"\x02" + encode_mb_u_int32(_int_attr(el, "entity", (text or "").strip()))
        if local == "pi":
            return _b64decode(el, text)
        if local == "ext":
            token = _int_attr(el, "token", el.get("token"), 0xFF)
            if token in (0x40, 0x41, 0x42):
                raw = _b64decode(el, text)
                if 0 in raw:
                    raise _fail(el, "EXT_I data cannot contain NUL")
                return bytes((token,)) + raw + b"\x00"
            if token in (0x80, 0x81, 0x82):
                return bytes((token,)) + encode_mb_u_int32(_int_attr(el, "index", el.get("index")))
            if token in (0xC0, 0xC1, 0xC2):
                return bytes((token,))
            raise _fail(el, f"0x{token:02X} is not an extension token")
        raise _fail(el, f"unknown placeholder wbxml:{local}")


def _markers(el: etree._Element, items: Sequence[tuple[str | bytes, str | bytes]], root: bool) -> dict[str, str]:
    markers: dict[str, str] = {}
    for name_any, value_any in items:
        name, value = str(name_any), str(value_any)
        if name.startswith(_W):
            local = name[len(_W) :]
            if local in _ELEMENT_MARKERS or (root and local in _ROOT_MARKERS):
                markers[local] = value
            elif local not in _ROOT_MARKERS:
                raise _fail(el, f"unknown marker attribute wbxml:{local}")
        elif str(_tag(el)).startswith(_W):
            continue  # placeholders carry their own plain attributes
        else:
            raise _fail(el, f"attribute {name!r} has no WBXML encoding in EAS")
    return markers


def _root_element(tree: etree._Element | etree._ElementTree | str | bytes) -> etree._Element:
    if isinstance(tree, (str, bytes, bytearray)):
        return parse_xml(bytes(tree) if isinstance(tree, bytearray) else tree)
    if isinstance(tree, etree._ElementTree):
        root = tree.getroot()
        if root is None:
            raise EncodeError("empty element tree")
        return root
    if isinstance(tree, etree._Element):
        return tree
    raise EncodeError(f"cannot encode a {type(tree).__name__}")


def _header(root: etree._Element, markers: dict[str, str]) -> tuple[bytes, str, bytes]:
    """Header bytes, codec and string table from the root's markers (WAP-192 section 5.3)."""
    version = _DEFAULT_VERSION
    if "version" in markers:
        match = re.fullmatch(r"1\.([1-3])", markers["version"].strip())
        if not match:
            raise _fail(root, f"unsupported wbxml:version {markers['version']!r}")
        version = int(match.group(1))
    strtbl = _b64decode(root, markers["strtbl"]) if "strtbl" in markers else b""
    header = bytearray((version,))
    publicid = markers.get("publicid")
    if publicid is not None and publicid.startswith("strtbl:"):
        header += b"\x00" + encode_mb_u_int32(_int_attr(root, "publicid", publicid[7:]))
    else:
        header += encode_mb_u_int32(_int_attr(root, "publicid", publicid) if publicid else _DEFAULT_PUBLICID)
    charset = _int_attr(root, "charset", markers["charset"]) if "charset" in markers else _UTF8
    header += encode_mb_u_int32(charset) + encode_mb_u_int32(len(strtbl)) + strtbl
    if "header" in markers:
        header = bytearray(_b64decode(root, markers["header"]))
    return bytes(header), _CODECS.get(charset, "utf-8"), strtbl


def _prolog(root: etree._Element, markers: dict[str, str]) -> tuple[bytes, int]:
    """The bytes of wbxml:prolog (PIs, maybe SWITCH_PAGE tokens) and the code page they leave current."""
    if "prolog" not in markers:
        return b"", 0
    prolog = _b64decode(root, markers["prolog"])
    page, i = 0, 0
    try:
        while i < len(prolog):
            if prolog[i] == SWITCH_PAGE:
                page, i = prolog[i + 1], i + 2
            elif prolog[i] == PI:
                i = _skip_attr_list(prolog, i + 1)
            else:
                raise MalformedError(f"0x{prolog[i]:02X} is neither a PI nor a SWITCH_PAGE", i)
    except (EasError, IndexError) as err:
        raise _fail(root, f"wbxml:prolog is not a sequence of processing instructions: {err}") from err
    return prolog, page


def _comment_only_text(el: etree._Element) -> str | None:
    """For an element whose child nodes are only comments/PIs: its text runs that are not layout."""
    runs = [el.text]
    for child in el:
        child_tag = _tag(child)
        if isinstance(child_tag, str):
            return None
        if child_tag is etree.Entity:
            raise _fail(child, f"entity reference {child.text} cannot be encoded (entities are never resolved)")
        runs.append(child.tail)
    return "".join(run for run in runs if run and not run.isspace())


def encode(tree: etree._Element | etree._ElementTree | str | bytes) -> bytes:
    """Encode an XML tree (or XML text) to WBXML; see the theory of operation for markers and rules.

    Raises:
        EncodeError: malformed XML, an element in no code page, a bad marker; names element and line.
    """
    root = _root_element(tree)
    if not isinstance(_tag(root), str):
        raise _fail(root, "the root is not an element")
    root_items = root.items()
    root_markers = _markers(root, root_items, True) if root_items else {}
    header, codec, strtbl = _header(root, root_markers)
    prolog, cur = _prolog(root, root_markers)
    out = bytearray(header + prolog)
    enc = _Encoder(out, codec, strtbl)
    utf8 = codec == "utf-8"
    tag_info = _TAG_INFO
    switch = _SWITCH
    # Open containers: (the iterator over their parent's children, END preamble bytes, the element).
    stack: list[tuple[Iterator[etree._Element], bytes, etree._Element]] = []
    children: Iterator[etree._Element] = iter((root,))
    while True:
        for el in children:
            tag = _tag(el)
            if not isinstance(tag, str):
                if tag is etree.Entity:
                    raise _fail(el, f"entity reference {el.text} cannot be encoded (entities are never resolved)")
                tail = el.tail
                if tail and not tail.isspace():
                    enc.string(el, tail, False)
                continue
            info = tag_info.get(tag)
            items = el.items()
            text = el.text
            kids = len(el)
            if kids and not isinstance(_tag(el[0]), str):
                leaf_text = _comment_only_text(el)
                if leaf_text is not None:
                    kids = 0
                    text = leaf_text
            if info is None or items:
                # Slow path: markers, placeholders, errors.
                markers = _markers(el, items, el is root) if items else {}
                if info is None:
                    resolved = _resolve_unknown(enc, el, tag)
                    if isinstance(resolved, bytes):
                        if "switch" in markers:
                            for p in _pages(el, markers["switch"]):
                                out += switch[p]
                                cur = p
                        out += resolved
                        tail = el.tail
                        if tail and stack and not tail.isspace():
                            enc.string(el, tail, False)
                        continue
                    info = resolved
                page, empty_b, content_b, opaque = info
                if "switch" in markers:
                    for p in _pages(el, markers["switch"]):
                        out += switch[p]
                        cur = p
                if page >= 0 and page != cur:
                    out += switch[page]
                    cur = page
                if "token" in markers:
                    token = _int_attr(el, "token", markers["token"], 0x3F)
                    if token < 0x05:
                        raise _fail(el, "wbxml:token must be 0x05-0x3F")
                    empty_b, content_b = bytes((token,)), bytes((token | _CONTENT_FLAG,))
                attrs = _b64decode(el, markers["attrs"]) if "attrs" in markers else b""
                if attrs:
                    empty_b = bytes((empty_b[0] | _ATTRS_FLAG,)) + empty_b[1:]
                    content_b = bytes((content_b[0] | _ATTRS_FLAG,)) + content_b[1:]
                end_switch = _pages(el, markers["end-switch"]) if "end-switch" in markers else []
                end_b = b"".join(switch[p] for p in end_switch)
                if kids:
                    out += content_b
                    out += attrs
                    if text and not text.isspace():
                        enc.string(el, text, False)
                    if len(stack) >= MAX_DEPTH:
                        raise _fail(el, f"elements nested deeper than {MAX_DEPTH}")
                    stack.append((children, end_b, el))
                    children = iter(el)
                    break
                if text or "content" in markers or "opaque" in markers or "pieces" in markers or "text" in markers:
                    out += content_b
                    out += attrs
                    cur = enc.leaf_content(el, text or "", markers, opaque, cur)
                    if end_switch:
                        out += end_b
                        cur = end_switch[-1]
                    out += b"\x01"
                else:
                    out += empty_b
                    out += attrs
            else:
                page, empty_b, content_b, opaque = info
                if page != cur:
                    out += switch[page]
                    cur = page
                if kids:
                    out += content_b
                    if text and not text.isspace():
                        enc.string(el, text, False)
                    if len(stack) >= MAX_DEPTH:
                        raise _fail(el, f"elements nested deeper than {MAX_DEPTH}")
                    stack.append((children, b"", el))
                    children = iter(el)
                    break
                if text:
                    out += content_b
                    if opaque or not utf8:
                        enc.string(el, text, opaque)
                        out += b"\x01"
                    else:
                        out += b"\x03"
                        out += text.encode()
                        out += b"\x00\x01"
                else:
                    out += empty_b
            if stack:
                tail = el.tail
                if tail and not tail.isspace():
                    enc.string(el, tail, False)
        else:
            if not stack:
                break
            children, end_b, closed = stack.pop()
            if end_b:
                out += end_b
                cur = end_b[-1]
            out += b"\x01"
            if stack:
                tail = closed.tail
                if tail and not tail.isspace():
                    enc.string(closed, tail, False)
    if "trailer" in root_markers:
        out += _b64decode(root, root_markers["trailer"])
    return bytes(out)


def _resolve_unknown(enc: _Encoder, el: etree._Element, tag: str) -> _Info | bytes:
    """A tag missing from the code pages: a placeholder, or an EncodeError saying why it cannot be encoded."""
    if tag.startswith(_W):
        return enc.placeholder(el, tag[len(_W) :])
    if tag.startswith("{"):
        namespace = tag[1 : tag.index("}")]
        if namespace in PAGE_BY_NAMESPACE:
            raise _fail(el, f"code page {PAGE_BY_NAMESPACE[namespace].name} has no tag of this name")
        raise _fail(el, f"namespace {namespace!r} is not an MS-ASWBXML code page")
    raise _fail(el, "element in no namespace: EAS tags need the namespace of their code page")
