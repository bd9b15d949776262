"""Bodies that are not one WBXML document: content encodings, sniffing, MIME, text, XML/JSON and binary previews."""

from __future__ import annotations

import email.parser
import email.policy
import importlib
import json
import zlib
from email.message import EmailMessage, Message
from typing import Any

from lxml import etree

from .errors import EasError, LimitError

__all__ = [
    "ContentEncodingError",
    "MAX_DECODED_SIZE",
    "decode_content_encoding",
    "media_type",
    "sniff",
    "describe_bytes",
    "looks_like_wbxml",
    "is_text",
    "render_text",
    "render_rfc822",
    "render_xml",
    "render_json",
    "hex_preview",
]

# A decompressed body larger than this is refused (a compression bomb is not a body to show).
MAX_DECODED_SIZE = 256 * 1024 * 1024
# How much text a rendering shows before it cuts.
TEXT_LIMIT = 64 * 1024
PREVIEW_LIMIT = 200


class ContentEncodingError(EasError):
    """A Content-Encoding that cannot be undone (unknown coding, corrupt data, no decoder installed)."""


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type value, lower case, without parameters ("" when absent)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _inflate(data: bytes, wbits: int) -> bytes:
    decomp = zlib.decompressobj(wbits)
    out = decomp.decompress(data, MAX_DECODED_SIZE + 1)
    if len(out) > MAX_DECODED_SIZE or decomp.unconsumed_tail:
        raise LimitError(f"decompressed body is larger than {MAX_DECODED_SIZE} bytes", 0)
    if not decomp.eof:
        raise ContentEncodingError("compressed data ends early", len(data))
    return out


def _optional_decoder(module_names: tuple[str, ...], function: str) -> Any:
    """The decoder function of the first of `module_names` that is installed, or None.

    Imported when a body needs it, not at the top: brotli and zstandard are optional packages (mitmproxy
    brings them), and importing eas must not fail, nor pay for them, where they are absent.
    """
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        decoder = getattr(module, function, None)
        if decoder is not None:
            return decoder
    return None


def _decode_one(data: bytes, coding: str) -> bytes:
    if coding in ("", "identity"):
        return data
    try:
        if coding in ("gzip", "x-gzip"):
            return _inflate(data, 16 + zlib.MAX_WBITS)
        if coding == "deflate":
            # RFC 9110 says zlib-wrapped; some servers send raw deflate, so try both.
            try:
                return _inflate(data, zlib.MAX_WBITS)
            except zlib.error:
                return _inflate(data, -zlib.MAX_WBITS)
    except zlib.error as err:
        raise ContentEncodingError(f"{coding} data is corrupt: {err}", 0) from err
    if coding in ("br", "zstd"):
        # No decoder of our own: use one only when the environment happens to have it.
        modules = ("brotli", "brotlicffi") if coding == "br" else ("zstandard", "compression.zstd")
        decoder = _optional_decoder(modules, "decompress")
        if decoder is None:
            raise ContentEncodingError(f"Content-Encoding {coding}: no {coding} decoder is installed", None)
        try:
            result = decoder(data)
        except Exception as err:  # the optional decoders raise their own error types
            raise ContentEncodingError(f"{coding} data is corrupt: {err}", 0) from err
        if not isinstance(result, bytes):
            raise ContentEncodingError(f"{coding} decoder returned {type(result).__name__}", None)
        return result
    raise ContentEncodingError(f"unknown Content-Encoding {coding!r}", None)


def decode_content_encoding(data: bytes, content_encoding: str | None) -> bytes:
    """Undo a Content-Encoding (gzip, deflate via zlib; br/zstd only with an installed decoder).

    Codings listed in order of application are removed last-first.

    Raises:
        ContentEncodingError: unknown coding, corrupt data, or no decoder for br/zstd.
        LimitError: the result would exceed MAX_DECODED_SIZE.
    """
    if not content_encoding or not data:
        return data
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        data = _decode_one(data, coding)
    return data


def looks_like_wbxml(data: bytes) -> bool:
    """True when the bytes start like a WBXML document (version 1.0-1.3, then public id and charset)."""
    return len(data) >= 4 and data[0] <= 0x03 and data[1] <= 0x01


def is_text(data: bytes) -> bool:
    """True when the bytes read as text: valid UTF-8 (or Latin-1 without control bytes), mostly printable."""
    if not data:
        return True
    sample = data[:4096]
    if b"\x00" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start >= len(sample) - 3:  # a multi-byte character cut by the sample
            text = sample[: err.start].decode("utf-8")
        else:
            text = sample.decode("latin-1")
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t\f")
    return printable >= 0.95 * max(len(text), 1)


def _starts_like_mime(data: bytes) -> bool:
    head = data[:2048].lstrip()
    first_line = head.split(b"\n", 1)[0]
    name, sep, _ = first_line.partition(b":")
    if not sep or not name or b" " in name.strip():
        return False
    lower = head.lower()
    return any(
        key in lower
        for key in (b"\nsubject:", b"\nfrom:", b"\nto:", b"\nmime-version:", b"\ncontent-type:", b"\ndate:")
    ) or name.lower() in (b"from", b"to", b"subject", b"mime-version", b"date", b"received", b"return-path")


def sniff(data: bytes) -> str:
    """A short kind for bytes by their content: pdf, png, jpeg, gif, zip, gzip, wbxml, rfc822, xml, html, json, text,
    binary, or empty."""
    if not data:
        return "empty"
    magic = (
        (b"%PDF-", "pdf"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xff\xd8\xff", "jpeg"),
        (b"GIF87a", "gif"),
        (b"GIF89a", "gif"),
        (b"PK\x03\x04", "zip"),
        (b"\x1f\x8b", "gzip"),
    )
    for prefix, kind in magic:
        if data.startswith(prefix):
            return kind
    if is_text(data):
        head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if head.startswith(b"<!doctype html") or head.startswith(b"<html") or b"<body" in head:
            return "html"
        if head.startswith(b"<?xml") or head.startswith(b"<"):
            return "xml"
        if head.startswith(b"{") or head.startswith(b"["):
            return "json"
        if _starts_like_mime(data):
            return "rfc822"
        return "text"
    if looks_like_wbxml(data):
        return "wbxml"
    return "binary"


_KIND_LABEL = {
    "pdf": "PDF document",
    "png": "PNG image",
    "jpeg": "JPEG image",
    "gif": "GIF image",
    "zip": "ZIP archive (or Office document)",
    "gzip": "gzip data",
    "wbxml": "WBXML",
    "rfc822": "MIME message (rfc822)",
    "xml": "XML",
    "html": "HTML",
    "json": "JSON",
    "text": "text",
    "binary": "binary data",
    "empty": "empty",
}


def _decode_text(data: bytes, charset: str | None = None) -> str:
    for encoding in (charset, "utf-8"):
        if not encoding:
            continue
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _one_line(text: str, limit: int = PREVIEW_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe_bytes(data: bytes) -> str:
    """One line: what the bytes are (by content), their size, and a short preview when they are text."""
    kind = sniff(data)
    line = f"{_KIND_LABEL.get(kind, kind)}, {len(data)} bytes"
    if kind == "rfc822":
        subject = _mime_subject(data)
        if subject:
            line += f", Subject: {_one_line(subject, 80)}"
    elif kind in ("text", "html", "xml", "json"):
        line += f": {_one_line(_decode_text(data[:PREVIEW_LIMIT * 4]))}"
    return line


def _mime_subject(data: bytes) -> str | None:
    try:
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(data[:65536], headersonly=True)
        subject = message.get("Subject")
    except Exception:  # the stdlib parser is lenient, but header decoding can still fail on garbage
        return None
    return str(subject) if subject is not None else None


def hex_preview(data: bytes, limit: int = 64) -> str:
    """Hex and ASCII of the first `limit` bytes, 16 a line, like a hex dump."""
    lines = []
    for start in range(0, min(len(data), limit), 16):
        chunk = data[start : start + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{start:08x}  {hexes:<47}  {ascii_}")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit} more bytes")
    return "\n".join(lines)


def _cut(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    return text[:TEXT_LIMIT] + f"\n... ({len(text) - TEXT_LIMIT} more characters)"


def render_text(data: bytes, content_type: str | None = None) -> str:
    """The body as text (charset from Content-Type, else UTF-8, else Latin-1), cut at TEXT_LIMIT characters."""
    return _cut(_decode_text(data, _charset(content_type)))


def _part_text(part: Message) -> str:
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, bytes):
                return _decode_text(content)
            return str(content)
    except Exception:  # broken transfer encodings or charsets: fall back to the raw payload
        pass
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return _decode_text(payload, part.get_content_charset())
    return str(part.get_payload())


def render_rfc822(data: bytes) -> str:
    """A MIME message as readable text: its headers, then each text part, then one line per attachment."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
    lines: list[str] = []
    for name, value in message.items():
        try:
            shown = str(value)
        except Exception:  # undecodable encoded-words: show the raw header
            shown = repr(value)
        lines.append(f"{name}: {shown}")
    for defect in message.defects:
        lines.append(f"(MIME defect: {type(defect).__name__})")
    for number, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        if ctype.startswith("text/") and disposition != "attachment":
            lines.append("")
            lines.append(f"--- part {number}: {ctype}, {size} bytes ---")
            lines.append(_part_text(part).rstrip("\n"))
        else:
            name = f" {filename!r}" if filename else ""
            kind = describe_bytes(payload) if isinstance(payload, bytes) else ctype
            lines.append("")
            lines.append(f"--- part {number}: {ctype} attachment{name}: {kind} ---")
    return _cut("\n".join(lines))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def render_xml(data: bytes) -> tuple[str, str | None]:
    """Pretty XML of a text XML body (Autodiscover POX), and its root's local name.

    Raises:
        etree.XMLSyntaxError: not well-formed XML.
    """
    root = etree.fromstring(data, _safe_parser())
    etree.indent(root, space="  ")
    text = etree.tostring(root, encoding="unicode")
    return text, etree.QName(root).localname


def render_json(data: bytes) -> str:
    """Pretty JSON (2-space indent).

    Raises:
        ValueError: not valid JSON.
    """
    return _cut(json.dumps(json.loads(_decode_text(data)), indent=2, ensure_ascii=False))
