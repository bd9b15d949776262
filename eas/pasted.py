"""WBXML as people paste it: raw bytes, base64 (z-push logs) or hex (spaced, 0x-prefixed, xxd, hexdump -C)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from .errors import EasError

__all__ = ["FORMS", "PastedInputError", "bytes_from_paste"]

FORMS: Final = ("binary", "base64", "hex")

# WAP-192 5.4: the version byte of WBXML 1.3, what MS-ASWBXML documents start with (1.1 and 1.2 seen in the wild).
_WBXML_VERSIONS: Final = (b"\x03", b"\x02", b"\x01")
# Log prefixes before a base64 body: z-push / grommunio-sync `WBXML-IN : `, `WBXML-OUT: `, `WBXML 10K debug data: `.
_LOG_MARKER = re.compile(r"(?:WBXML-IN\s*:|WBXML-OUT\s*:|WBXML 10K debug data:)\s*")
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=_-]+")
# xxd (`00000000: 0301 6a00  ..j.`) and hexdump -C (`00000000  03 01 6a 00  ...  |..j.|`) lines: an offset, the
# bytes in hex, the bytes as characters (after two spaces in xxd, between bars in hexdump -C).
_DUMP_LINE = re.compile(r"^\s*[0-9a-fA-F]{4,16}(:?)(?:\s+(.*))?$")
_HEX_TOKEN = re.compile(r"(?:0x|\\x)?([0-9a-fA-F]{1,2})", re.IGNORECASE)


class PastedInputError(EasError):
    """Input that is not what its form says (or no form fits)."""


def _from_base64(text: str, *, one_word_per_line: bool = False) -> bytes:
    markers = list(_LOG_MARKER.finditer(text))
    if markers:
        text = text[markers[-1].end() :]
    if one_word_per_line and any(len(line.split()) > 1 for line in text.splitlines()):
        raise PastedInputError("not base64: words separated by spaces")
    compact = "".join(text.split())
    if not compact or not _BASE64_TEXT.fullmatch(compact):
        raise PastedInputError("not base64: characters outside the base64 alphabet")
    compact = compact.replace("-", "+").replace("_", "/")  # the URL-safe alphabet too
    compact += "=" * (-len(compact.rstrip("=")) % 4) if "=" not in compact else ""
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as err:
        raise PastedInputError(f"not base64: {err}") from err


def _is_dump(lines: list[str]) -> bool:
    first = _DUMP_LINE.match(lines[0]) if lines else None
    return first is not None and (first[1] == ":" or "|" in lines[0])


def _from_dump(lines: list[str]) -> bytes:
    """The bytes of an xxd or hexdump -C listing."""
    data = bytearray()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.strip() == "*":  # hexdump's "same as above": the repeated lines are not in the paste
            raise PastedInputError("hexdump left out repeated lines (*): run it with -v")
        match = _DUMP_LINE.match(line)
        if not match:
            raise PastedInputError(f"line {number} of the hex dump is not offset and bytes")
        columns = match[2] or ""
        hex_part = columns.split("|", 1)[0] if "|" in columns else columns.split("  ", 1)[0]
        digits = "".join(hex_part.split())
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2})*", digits):
            raise PastedInputError(f"line {number} of the hex dump has characters other than hex digits")
        data.extend(bytes.fromhex(digits))
    return bytes(data)


def _from_hex(text: str) -> bytes:
    lines = text.strip().splitlines()
    if _is_dump(lines):
        return _from_dump(lines)
    tokens = [token for token in re.split(r"[\s,;:]+", text.strip()) if token]
    if not tokens:
        raise PastedInputError("not hex: nothing to read")
    if all(_HEX_TOKEN.fullmatch(token) for token in tokens) and len(tokens) > 1:
        return bytes(int(_HEX_TOKEN.fullmatch(token)[1], 16) for token in tokens)  # type: ignore[index]
    joined = re.sub(r"0x|\\x", "", "".join(tokens), flags=re.IGNORECASE)
    if not re.fullmatch(r"[0-9a-fA-F]*", joined):
        raise PastedInputError("not hex: characters other than 0-9 and a-f")
    if len(joined) % 2:
        raise PastedInputError(f"not hex: an odd number of digits ({len(joined)})")
    return bytes.fromhex(joined)


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if text.strip() and all(c.isprintable() or c in "\r\n\t" for c in text) else None


def bytes_from_paste(data: bytes, form: str | None = None) -> tuple[bytes, str]:
    """The WBXML bytes of `data` and the form they were in ("binary", "base64" or "hex").

    Without `form`, WBXML bytes are taken as they are; text is read as hex or base64, whichever gives a
    document that starts like WBXML (hex first: a hex string is also valid base64 text).

    Raises:
        PastedInputError: `data` is not in the given form, or (without one) text that is neither.
    """
    if form == "binary":
        return data, "binary"
    if form in ("base64", "hex"):
        text = _as_text(data)
        if text is None:
            raise PastedInputError(f"not {form}: the input is not ASCII text")
        return (_from_base64(text) if form == "base64" else _from_hex(text)), form
    if form is not None:
        raise ValueError(f"unknown form {form!r}; one of {', '.join(FORMS)}")
    text = _as_text(data)
    if data.startswith(_WBXML_VERSIONS) or text is None:
        return data, "binary"
    candidates: list[tuple[bytes, str]] = []
    readers = (("hex", _from_hex), ("base64", lambda pasted: _from_base64(pasted, one_word_per_line=True)))
    for name, reader in readers:
        try:
            candidates.append((reader(text), name))
        except PastedInputError:
            continue
    for decoded, name in candidates:
        if decoded.startswith(_WBXML_VERSIONS):
            return decoded, name
    if candidates:
        return candidates[0]
    raise PastedInputError("text that is neither hex nor base64 (give --base64 or --hex to see why)")
