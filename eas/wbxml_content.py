"""The decoder's slow paths for content: text checks, round-trip markers, buffered content tokens, the header."""

from __future__ import annotations

import base64
import re
from typing import Final

from .errors import MalformedError, TruncatedError
from .wbxml_common import (
    CODECS, DEFAULT_PUBLICID, DEFAULT_VERSION, STANDARD_HEADER, StringTable, UTF8, decode_mb_u_int32,
    encode_mb_u_int32,
)


# Bytes that stop the fast text path: controls (XML 1.0 holds only TAB, LF, CR and CR needs `&#13;`),
# markup characters and anything non-ASCII (then validity is checked by decoding).
TEXT_CARE: Final = re.compile(rb"[\x00-\x08\x0b-\x1f&<>\x80-\xff]")
# One or more `TAG+content STR_I text END` in a row, each maybe after a SWITCH_PAGE to a known page, whose
# text has no control character (its non-ASCII bytes are then checked in one go: valid UTF-8, no U+FFFE /
# U+FFFF). Page 13 is left out: its number is CR, which the run's escaping rewrites.
LEAF_RUN: Final = re.compile(rb"(?:(?:\x00[\x00-\x0c\x0e-\x19])?[\x45-\x7f]\x03[\t\n\r\x20-\xff]+\x00\x01)+")
NONCHARACTER: Final = re.compile(rb"\xef\xbf[\xbe\xbf]")

# Control bytes XML 1.0 cannot hold (all but TAB, LF, CR); with NONCHARACTER, what UTF-8 text must avoid.
_CONTROL: Final = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
ALWAYS_CARE: Final = re.compile(b"")  # a match on any input: every text takes the careful path
# Characters XML 1.0 (section 2.2 Char) cannot hold; surrogates never survive Python's UTF-8 decoder.
XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(raw: bytes) -> bytes:
    """XML character data of bytes known to be text: & < > escaped, CR as `&#13;` (XML parsing keeps it)."""
    if 0x26 in raw:  # an int needle: a byte compare, where a bytes needle sets up a substring search
        raw = raw.replace(b"&", b"&amp;")
    if 0x3C in raw:
        raw = raw.replace(b"<", b"&lt;")
    if 0x3E in raw:
        raw = raw.replace(b">", b"&gt;")
    if 0x0D in raw:
        raw = raw.replace(b"\r", b"&#13;")
    return raw


def as_text(raw: bytes, codec: str) -> str | None:
    """`raw` decoded in the document's charset, or None when it is not text XML 1.0 can hold."""
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return None
    if XML_ILLEGAL.search(text):
        return None
    return text


def xml_text(raw: bytes, codec: str) -> bytes | None:
    """`raw` as escaped UTF-8 XML character data, or None when XML cannot hold it."""
    if codec == "utf-8":
        if _CONTROL.search(raw):
            return None
        if not raw.isascii():
            try:
                raw.decode()
            except UnicodeDecodeError:
                return None
            if raw.find(b"\xef\xbf") >= 0 and NONCHARACTER.search(raw):
                return None
        return raw.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;").replace(b"\r", b"&#13;")
    text = as_text(raw, codec)
    if text is None:
        return None
    return escape(raw if codec == "utf-8" else text.encode())


def b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def marker_attr(name: str, value: str | bytes) -> bytes:
    value_b = value.encode() if isinstance(value, str) else value
    return b" wbxml:" + name.encode() + b'="' + value_b + b'"'


def with_attrs(open_tag: bytes, attrs: list[bytes]) -> bytes:
    joined = b"".join(attrs)
    if open_tag.endswith(b"/>"):
        return open_tag[:-2] + joined + b"/>"
    return open_tag[:-1] + joined + b">"


def add_switch(xml: bytes, pend: list[int]) -> bytes:
    """`xml` (one placeholder element) with a wbxml:switch marker for the pending SWITCH_PAGE tokens."""
    head, rest = xml.split(b">", 1)
    return with_attrs(head + b">", [marker_attr("switch", " ".join(map(str, pend)))]) + rest


def flush_pieces(pieces: list[Piece], codec: str) -> tuple[list[bytes], bool]:
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
        xml, ns = mixed_piece(piece, codec, bool(switches) or bool(chunks) and not chunks[-1].endswith(b">"))
        if switches:
            xml = add_switch(xml, switches)
            switches = []
        chunks.append(xml)
        need_ns = need_ns or ns
    return chunks, need_ns


Piece = tuple[str, object]


def leaf_content(pieces: list[Piece], codec: str, opaque_tag: bool) -> tuple[list[bytes], bytes]:
    """Marker attributes and XML text for the buffered content tokens of a leaf element."""
    if len(pieces) == 1 and pieces[0][0] == "w":
        payload_w = pieces[0][1]
        assert isinstance(payload_w, tuple)
        wide_markers, wide_text = leaf_content([("o", payload_w[0])], codec, opaque_tag)
        return [*wide_markers, marker_attr("length-bytes", str(payload_w[1]))], wide_text
    if len(pieces) == 1:
        kind, payload = pieces[0]
        if kind == "s":
            assert isinstance(payload, bytes)
            text = xml_text(payload, codec)
            if text is None:
                return [marker_attr("text", "base64")], b64(payload)
            if opaque_tag or not payload:
                return [marker_attr("pieces", f"s{len(payload.decode(codec, 'replace'))}")], text
            return [], text
        if kind == "o":
            assert isinstance(payload, bytes)
            opaque_text = xml_text(payload, codec)
            if opaque_text is None:
                return [marker_attr("opaque", "base64")], b64(payload)
            return [marker_attr("opaque", "text")], opaque_text
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
            piece_text = as_text(payload, codec)
            if piece_text is None:
                texts = None
            else:
                texts.append(piece_text)
        elif kind == "t":
            assert isinstance(payload, tuple)
            piece_text = as_text(payload[1], codec)
            if piece_text is None:
                texts = None
            else:
                texts.append(piece_text)
        elif kind == "e":
            assert isinstance(payload, int)
            if payload > 0x10FFFF or 0xD800 <= payload <= 0xDFFF or XML_ILLEGAL.match(chr(payload)):
                texts = None
            else:
                texts.append(chr(payload))
        else:
            texts.append("")
    items: list[str] = []
    if texts is not None:
        for (kind, payload), piece_text in zip(pieces, texts):
            items.append(_piece_item(kind, payload, len(piece_text)))
        return [marker_attr("pieces", " ".join(items))], escape("".join(texts).encode())
    raw: list[bytes] = []
    for kind, payload in pieces:
        length = 0
        if kind in ("s", "o", "w"):
            data = payload[0] if isinstance(payload, tuple) else payload
            assert isinstance(data, bytes)
            raw.append(data)
            length = len(data)
        items.append(_piece_item(kind, payload, length))
    return [marker_attr("pieces", " ".join(items)), marker_attr("text", "base64")], b64(b"".join(raw))


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


def mixed_piece(piece: Piece, codec: str, placeholder: bool = False) -> tuple[bytes, bool]:
    """XML for one content token in an element that also has child elements; (xml, needs WBXML_NS).

    Text is written inline unless `placeholder` (it must carry a marker) or it is not XML text.
    """
    kind, payload = piece
    if kind == "w":
        assert isinstance(payload, tuple)
        wide = f'<wbxml:opaque length-bytes="{payload[1]}">'.encode()
        return wide + b64(payload[0]) + b"</wbxml:opaque>", True
    if kind == "t":
        assert isinstance(payload, tuple)
        return f'<wbxml:strref index="{payload[0]}"/>'.encode(), True
    if kind == "s":
        raw = payload
        assert isinstance(raw, bytes)
        text = xml_text(raw, codec)
        # Whitespace-only text between elements is layout to the encoder: it needs a placeholder.
        as_str = as_text(raw, codec)
        if text is not None and as_str and not as_str.isspace() and not placeholder:
            return text, False
        return b"<wbxml:str>" + b64(raw) + b"</wbxml:str>", True
    if kind == "o":
        assert isinstance(payload, bytes)
        return b"<wbxml:opaque>" + b64(payload) + b"</wbxml:opaque>", True
    return f"<wbxml:entity>{payload}</wbxml:entity>".encode(), True


def read_header(data: bytes, strict: bool) -> tuple[list[bytes], str, bytes, int]:
    """Parse the WAP-192 section 5.3 header; returns (root marker attributes, codec, string table, body)."""
    if data[:4] == STANDARD_HEADER:
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
    codec = CODECS.get(charset)
    if codec is None:
        if strict:
            raise MalformedError(f"unsupported charset MIBenum {charset}", charset_offset)
        codec = "utf-8"
    attrs: list[bytes] = []
    if version != DEFAULT_VERSION:
        attrs.append(marker_attr("version", f"1.{version}"))
    if publicid_index >= 0:
        StringTable(strtbl, len(strtbl)).get(publicid_index, 1)
        attrs.append(marker_attr("publicid", f"strtbl:{publicid_index}"))
    elif publicid != DEFAULT_PUBLICID:
        attrs.append(marker_attr("publicid", str(publicid)))
    if charset != UTF8:
        attrs.append(marker_attr("charset", str(charset)))
    if table_length:
        attrs.append(marker_attr("strtbl", b64(strtbl)))
    canonical = bytes((version,)) + (
        b"\x00" + encode_mb_u_int32(publicid_index) if publicid_index >= 0 else encode_mb_u_int32(publicid)
    ) + encode_mb_u_int32(charset) + encode_mb_u_int32(table_length) + strtbl
    if data[:i] != canonical:  # an mb_u_int32 written with more bytes than needed
        attrs.append(marker_attr("header", b64(data[:i])))
    return attrs, codec, strtbl, i
