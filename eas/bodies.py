"""Bodies that are not one WBXML document: content encodings, sniffing, MIME, text, XML/JSON and binary previews."""

from __future__ import annotations

import email.parser
import email.policy
import importlib
import io
import json
import zlib
from collections.abc import Callable
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

# A decompressed body larger than this is not decoded: a compression bomb is not a body to show, and the
# largest real bodies (ItemOperations attachments) stay well below it. The raw bytes are kept whatever this says.
MAX_DECODED_SIZE = 64 * 1024 * 1024
# Decoded output taken from a decoder at a time: a bomb costs at most MAX_DECODED_SIZE plus one step.
_OUTPUT_STEP = 1024 * 1024
# Compressed input handed to a br decoder at a time when the decoder cannot bound its own output (brotli < 1.2,
# brotlicffi): one step's output is then what 16 bytes expand to, at most two meta-blocks of 16 MiB (RFC 7932 9.2).
_DECODER_STEP = 16
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


def _too_large(coding: str) -> LimitError:
    return LimitError(f"{coding} body expands beyond {MAX_DECODED_SIZE} bytes; decoding stopped there", 0)


def _inflate(data: bytes, wbits: int, coding: str) -> bytes:
    decomp = zlib.decompressobj(wbits)
    chunks: list[bytes] = []
    size = _collect(chunks, 0, decomp.decompress(data, _OUTPUT_STEP), coding)
    while not decomp.eof:
        tail = decomp.unconsumed_tail
        chunk = decomp.decompress(tail, _OUTPUT_STEP)
        size = _collect(chunks, size, chunk, coding)
        if not chunk and not tail:
            raise ContentEncodingError("compressed data ends early", len(data))
    return b"".join(chunks)


def _optional_module(names: tuple[str, ...]) -> Any:
    """The first of `names` that is installed, or None.

    Imported when a body needs it, not at the top: brotli and zstandard are optional packages (mitmproxy
    brings them), and importing eas must not fail, nor pay for them, where they are absent.
    """
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _collect(chunks: list[bytes], size: int, chunk: bytes, coding: str) -> int:
    """Append one decoder output chunk, refusing to go past MAX_DECODED_SIZE."""
    size += len(chunk)
    if size > MAX_DECODED_SIZE:
        raise _too_large(coding)
    chunks.append(chunk)
    return size


def _brotli(module: Any, data: bytes) -> bytes:
    """Brotli, MAX_DECODED_SIZE at most: output-limited steps where the module has them (brotli >= 1.2), else the
    input fed in _DECODER_STEP pieces with the total checked after each."""
    decompressor = module.Decompressor()
    chunks: list[bytes] = []
    size = 0
    if hasattr(decompressor, "can_accept_more_data"):
        chunk = decompressor.process(data, output_buffer_limit=_OUTPUT_STEP)
        size = _collect(chunks, size, chunk, "br")
        while not decompressor.is_finished():
            chunk = decompressor.process(b"", output_buffer_limit=_OUTPUT_STEP)
            size = _collect(chunks, size, chunk, "br")
            if not chunk and decompressor.can_accept_more_data():
                break  # every input byte used, and the stream not finished: it ends early
    else:
        feed = getattr(decompressor, "process", None) or decompressor.decompress
        for start in range(0, len(data), _DECODER_STEP):
            size = _collect(chunks, size, feed(data[start : start + _DECODER_STEP]), "br")
    finished = getattr(decompressor, "is_finished", None)
    if finished is not None and not finished():
        raise ContentEncodingError("br data ends early", len(data))
    return b"".join(chunks)


def _zstd(module: Any, data: bytes) -> bytes:
    """Zstandard, MAX_DECODED_SIZE at most: read from a stream reader (zstandard) or with max_length
    (compression.zstd) in bounded steps."""
    chunks: list[bytes] = []
    size = 0
    if hasattr(module, "ZstdDecompressor") and hasattr(module.ZstdDecompressor(), "stream_reader"):
        with module.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
            while chunk := reader.read(_OUTPUT_STEP):
                size = _collect(chunks, size, chunk, "zstd")
        return b"".join(chunks)
    decompressor = module.ZstdDecompressor()
    chunk = decompressor.decompress(data, max_length=_OUTPUT_STEP)
    size = _collect(chunks, size, chunk, "zstd")
    while not decompressor.eof and not decompressor.needs_input:
        size = _collect(chunks, size, decompressor.decompress(b"", max_length=_OUTPUT_STEP), "zstd")
    if not decompressor.eof:
        raise ContentEncodingError("zstd data ends early", len(data))
    return b"".join(chunks)


# The optional decoders: module names to try in order, and the bounded decoding through each (RFC 9110 8.4.1;
# br is RFC 7932, zstd RFC 8878). No decoder of our own: a coding is decoded only when the environment has one.
_OPTIONAL_DECODERS: dict[str, tuple[tuple[str, ...], Callable[[Any, bytes], bytes]]] = {
    "br": (("brotli", "brotlicffi"), _brotli),
    "zstd": (("zstandard", "compression.zstd", "backports.zstd"), _zstd),
}


def _decode_one(data: bytes, coding: str) -> bytes:
    if coding in ("", "identity"):
        return data
    try:
        if coding in ("gzip", "x-gzip"):
            return _inflate(data, 16 + zlib.MAX_WBITS, coding)
        if coding == "deflate":
            # RFC 9110 says zlib-wrapped; some servers send raw deflate, so try both.
            try:
                return _inflate(data, zlib.MAX_WBITS, coding)
            except zlib.error:
                return _inflate(data, -zlib.MAX_WBITS, coding)
    except zlib.error as err:
        raise ContentEncodingError(f"{coding} data is corrupt: {err}", 0) from err
    if coding in _OPTIONAL_DECODERS:
        module_names, decode = _OPTIONAL_DECODERS[coding]
        module = _optional_module(module_names)
        if module is None:
            raise ContentEncodingError(f"Content-Encoding {coding}: no {coding} decoder is installed", None)
        try:
            return decode(module, data)
        except EasError:
            raise
        except Exception as err:  # the optional decoders raise their own error types
            raise ContentEncodingError(f"{coding} data is corrupt: {err}", 0) from err
    raise ContentEncodingError(f"unknown Content-Encoding {coding!r}", None)


def decode_content_encoding(data: bytes, content_encoding: str | None) -> bytes:
    """Undo a Content-Encoding (gzip, deflate via zlib; br/zstd only with an installed decoder).

    Codings listed in order of application are removed last-first.

    Raises:
        ContentEncodingError: unknown coding, corrupt data, or no decoder for br/zstd.
        LimitError: the result would exceed MAX_DECODED_SIZE (decoding stops there; the message says so).
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
