"""Messages (issue 17.7): one line, control characters escaped; large documents round-trip through the codec."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from eas import wbxml
from eas.constants import WBXML_NS
from eas.errors import EncodeError
from eas.wbxml_encode import MAX_XML_SIZE
from eas.wiretext import error_line, terminal_text
from tests.cli.test_cli_capture import ROOT

ESC, BEL = "\x1b", "\x07"


def cli_bytes(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The real command, its output as the terminal would receive it (bytes)."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from eas_inspector.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *args],
        input=stdin, capture_output=True, timeout=120,
    )


def test_error_line_escapes_control_characters_and_joins_lines() -> None:
    assert error_line(f"bad a{ESC}]0;T{BEL} here") == "bad a\\x1b]0;T\\x07 here"
    assert error_line("first line\n  second line\r\nthird") == "first line / second line / third"
    assert error_line("tab\there, DEL\x7f, C1\x9b") == "tab\\x09here, DEL\\x7f, C1\\x9b"
    assert error_line("not UTF-8: \udcff") == "not UTF-8: \\xff"
    assert error_line("plain, unchanged: é ✓") == "plain, unchanged: é ✓"
    assert terminal_text("a\nb") == "a\\x0ab"


def test_query_output_and_errors_never_write_escape_sequences() -> None:
    shown = cli_bytes("query", f"a{ESC}]0;T{BEL}")
    assert shown.returncode == 0
    assert b"a\\x1b]0;T\\x07" in shown.stdout
    failed = cli_bytes("query", f"%ZZ{ESC}]0;T{BEL}\nsecond")
    assert failed.returncode == 1
    for output in (shown.stdout, shown.stderr, failed.stdout, failed.stderr):
        assert b"\x1b" not in output and b"\x07" not in output
    assert failed.stderr.count(b"\n") == 1 and failed.stderr.startswith(b"eas-inspector: ")


def test_a_decode_error_of_a_file_named_with_control_characters_is_one_line(tmp_path: Path) -> None:
    name = tmp_path / f"x{ESC}[2J\nname.wbxml"
    name.write_bytes(b"\x03\x01\x6a\x00\x45")  # a Sync start tag, then the end of the data
    result = cli_bytes("decode", str(name))
    assert result.returncode == 1
    assert b"\x1b" not in result.stderr and result.stderr.count(b"\n") == 1


def test_an_8_mb_opaque_body_round_trips_through_decode_and_encode(tmp_path: Path) -> None:
    data = bytes(range(256)) * (8 * 1024 * 1024 // 256)
    xml = (f'<ItemOperations xmlns="ItemOperations" xmlns:airsyncbase="AirSyncBase" xmlns:wbxml="{WBXML_NS}">'
           '<Response><Fetch><Properties><Data wbxml:opaque="base64">'
           f"{base64.b64encode(data).decode()}</Data></Properties></Fetch></Response></ItemOperations>")
    original = wbxml.encode(xml)
    assert len(original) > 8 * 1024 * 1024
    decoded = wbxml.decode_to_xml(original)
    assert len(decoded) > 10_000_000  # beyond libxml2's default text node limit
    assert wbxml.encode(decoded) == original
    (tmp_path / "big.wbxml").write_bytes(original)
    via_cli = cli_bytes("decode", "--plain", str(tmp_path / "big.wbxml"))
    assert via_cli.returncode == 0, via_cli.stderr
    encoded = cli_bytes("encode", "-", stdin=via_cli.stdout)
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == original


def test_xml_beyond_the_size_limit_is_refused_with_a_reason() -> None:
    with pytest.raises(EncodeError, match="larger than"):
        wbxml.parse_xml("<a>" + "x" * MAX_XML_SIZE + "</a>")
