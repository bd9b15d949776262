"""eas.wiretext: text decoded from wire bytes, its exact bytes back and the forms that are safe to show, by hand."""

from __future__ import annotations

import codecs

import pytest

from eas.wiretext import SHOWN_ERRORS, error_line, is_clean, shown, shown_errors, terminal_text, wire_bytes


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("", True),
        ("Content-Type", True),
        ("caf\u00e9", True),  # valid UTF-8 C3 A9 decoded
        ("\u2603 snow", True),
        ("caf\udce9", False),  # the byte E9 alone: not UTF-8, a surrogate escape
        ("\udcff", False),
        ("\ud800", False),  # a surrogate no byte makes
        ("\u00e9\udc80", False),  # non-ASCII, then an escape
    ],
)
def test_is_clean(text: str, clean: bool) -> None:
    assert is_clean(text) is clean


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("", b""),
        ("Sync", b"Sync"),
        ("caf\u00e9", b"caf\xc3\xa9"),
        ("caf\udce9", b"caf\xe9"),
        ("\udcff\udcfe", b"\xff\xfe"),
        ("\udc80", b"\x80"),
        # U+D800 and U+DFFF cannot come from a byte: kept as their UTF-8 form, never an error
        ("a\ud800b", b"a\xed\xa0\x80b"),
        ("\udfff", b"\xed\xbf\xbf"),
        ("\udc7f", b"\xed\xb1\xbf"),  # below the escapes' range U+DC80-U+DCFF
    ],
)
def test_wire_bytes(text: str, raw: bytes) -> None:
    assert wire_bytes(text) == raw


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("\udcff\ud800", b"\xff\xed\xa0\x80"),
        ("\ud800\udcff", b"\xed\xa0\x80\xff"),
        ("\udc7f\udc80\udcff\udd00", b"\xed\xb1\xbf\x80\xff\xed\xb4\x80"),  # each edge of the escapes' range
        ("\ud800x\udcfey\udfff\udce9\u00e9", b"\xed\xa0\x80x\xfey\xed\xbf\xbf\xe9\xc3\xa9"),
    ],
)
def test_wire_bytes_of_escapes_beside_a_surrogate_no_byte_made(text: str, raw: bytes) -> None:
    """Each surrogate escape is still its byte when the text also holds a surrogate that is no escape."""
    assert wire_bytes(text) == raw


def test_shown_of_an_escape_beside_a_surrogate_no_byte_made() -> None:
    assert shown("caf\udce9\ud800") == "caf\\xe9\\xed\\xa0\\x80"


@pytest.mark.parametrize(
    ("text", "display"),
    [
        ("Sync", "Sync"),
        ("caf\u00e9", "caf\u00e9"),  # valid text as it is
        ("caf\udce9", "caf\\xe9"),
        ("\u00e9\udcff", "\u00e9\\xff"),  # valid characters kept beside an escaped byte
        ("\udc80x\udc9f", "\\x80x\\x9f"),
        ("\ud800", "\\xed\\xa0\\x80"),
    ],
)
def test_shown(text: str, display: str) -> None:
    assert shown(text) == display


def _encode_error(text: str, start: int, end: int) -> UnicodeEncodeError:
    return UnicodeEncodeError("ascii", text, start, end, "ordinal not in range(128)")


@pytest.mark.parametrize(
    ("text", "start", "end", "replacement"),
    [
        ("ab\udcffcd", 2, 3, "\\xff"),
        ("\u00e9", 0, 1, "\\xe9"),  # a character that is not a surrogate, in its \x form
        ("\u2603", 0, 1, "\\u2603"),
        ("\U0001f600", 0, 1, "\\U0001f600"),
        ("\ud7ff", 0, 1, "\\ud7ff"),  # just below the surrogates
        ("\ue000", 0, 1, "\\ue000"),  # just above them
        ("\ud800", 0, 1, "\\xed\\xa0\\x80"),  # the first surrogate
        ("\udfff", 0, 1, "\\xed\\xbf\\xbf"),  # the last one
        ("x\udc80\u00e9\u2603y", 1, 4, "\\x80\\xe9\\u2603"),  # only the span start:end
    ],
)
def test_shown_errors_replaces_the_span(text: str, start: int, end: int, replacement: str) -> None:
    assert shown_errors(_encode_error(text, start, end)) == (replacement, end)


def test_shown_errors_as_an_output_streams_handler() -> None:
    codecs.register_error(SHOWN_ERRORS, shown_errors)
    assert "caf\udce9 \u2603!".encode("ascii", SHOWN_ERRORS) == b"caf\\xe9 \\u2603!"
    assert "caf\udce9 \u00e9".encode("utf-8", SHOWN_ERRORS) == b"caf\\xe9 \xc3\xa9"


def test_shown_errors_reraises_a_decoding_error() -> None:
    error = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    with pytest.raises(UnicodeDecodeError) as raised:
        shown_errors(error)
    assert raised.value is error


@pytest.mark.parametrize(
    ("text", "display"),
    [
        ("plain text", "plain text"),
        ("caf\u00e9 \u2603", "caf\u00e9 \u2603"),
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
        ("a\x00b\tc\x7fd", "a\\x00b\\x09c\\x7fd"),
        ("line\r\nnext", "line\\x0d\\x0anext"),
        ("c1 \x80 \x9b \x9f end \xa0", "c1 \\x80 \\x9b \\x9f end \xa0"),  # U+00A0 is no control
        ("sep\u2028par\u2029", "sep\\u2028par\\u2029"),
        ("bad \udcff\x1b", "bad \\xff\\x1b"),  # a byte that was not UTF-8, then ESC
        ("\udc9b[2J", "\\x9b[2J"),  # the byte 9B alone is shown, not sent as a C1 CSI
    ],
)
def test_terminal_text(text: str, display: str) -> None:
    assert terminal_text(text) == display


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("one line", "one line"),
        ("  padded  \n", "padded"),
        ("first\r\n  second \n\nthird", "first / second / third"),
        ("a\rb\x0bc\x0cd\x85e\u2028f\u2029g", "a / b / c / d / e / f / g"),
        ("tab\tinside", "tab\\x09inside"),  # a blank that is no line break stays, escaped
        ("\x1b[31mred\x1b[0m\nnext", "\\x1b[31mred\\x1b[0m / next"),
        ("bad byte \udcfe\n", "bad byte \\xfe"),
    ],
)
def test_error_line(message: str, line: str) -> None:
    assert error_line(message) == line


def test_error_line_of_an_exception() -> None:
    assert error_line(ValueError("cannot read\n  flow 3 \x07")) == "cannot read / flow 3 \\x07"  # type: ignore[arg-type]
