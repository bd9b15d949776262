"""Text that came from bytes on the wire: the exact bytes back, and a form that is safe to show."""

from __future__ import annotations

import itertools
import re

__all__ = ["SHOWN_ERRORS", "error_line", "terminal_text", "wire_bytes", "shown", "shown_errors", "is_clean"]

# Header names and values, methods, paths and reason phrases are bytes; they travel as str decoded from UTF-8
# with surrogate escapes (as mitmproxy decodes them), so a byte that is not UTF-8, 0xFF say, is the lone
# surrogate U+DCFF. Such a str cannot be encoded strictly (SQLite, a terminal, a JSON file with ensure_ascii off
# all refuse it); these three functions are the one place that says how it turns back into bytes or into text.


def is_clean(text: str) -> bool:
    """True when the text is valid Unicode without surrogates (it came from valid UTF-8, or from no bytes)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# A surrogate that no byte could have made: surrogate escapes are U+DC80-U+DCFF only (PEP 383).
_NOT_FROM_A_BYTE = re.compile(r"([\ud800-\udc7f\udd00-\udfff])")


def wire_bytes(text: str) -> bytes:
    """The bytes the text was decoded from (UTF-8, surrogate escapes back to their bytes).

    A surrogate that no byte could have made (U+D800-U+DC7F, U+DD00-U+DFFF; from a JSON `\\ud800`, say) is kept as
    its UTF-8 form, so this never fails; the surrogate escapes beside it still become their bytes.
    """
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # split() with a group: the surrogates no byte made are the odd pieces
        pieces = _NOT_FROM_A_BYTE.split(text)
        return b"".join(
            piece.encode("utf-8", "surrogatepass" if odd else "surrogateescape")
            for odd, piece in zip(itertools.cycle((False, True)), pieces)
        )


def shown(text: str) -> str:
    """The text with every byte that was not UTF-8 written as `\\xNN` (valid text is returned as it is)."""
    if is_clean(text):
        return text
    return wire_bytes(text).decode("utf-8", "backslashreplace")


# The name under which the command line registers `shown_errors` (codecs.register_error) for its output streams.
SHOWN_ERRORS = "eas-shown"


def shown_errors(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: what an output stream cannot encode, written as `shown` writes it (a surrogate
    escape as `\\xNN`, any other character as `\\uXXXX`), so printing never fails."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    pieces = []
    for char in error.object[error.start : error.end]:
        if 0xD800 <= ord(char) <= 0xDFFF:
            pieces.append(wire_bytes(char).decode("utf-8", "backslashreplace"))
        else:
            pieces.append(char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(pieces), error.end


# C0 and C1 control characters, DEL, and the line and paragraph separators: a terminal acts on them (ESC starts an
# escape sequence that can retitle the window or move the cursor, BEL rings), so an error line shows them escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAKS = re.compile(r"\s*(?:\r\n|[\r\n\u2028\u2029\x0b\x0c\x85])\s*")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_text(text: str) -> str:
    """A value as it may be written to a terminal: every control character (line breaks too) as `\\xNN`, bytes
    that were not UTF-8 as `shown` writes them."""
    return _CONTROL.sub(_escaped, shown(text))


def error_line(message: str) -> str:
    """An error message made safe for a terminal as one line: line breaks (and the blanks around them) become
    " / ", every other control character is written `\\xNN` (ESC as `\\x1b`), bytes that were not UTF-8 as
    `shown` writes them. The one function the command line and the viewer pass every error message through."""
    return terminal_text(_LINE_BREAKS.sub(" / ", str(message).strip()))
