"""`eas-inspector decode` of WBXML as people paste it: base64 (z-push logs), hex in its usual spellings."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A FolderSync response with Status 9, as z-push logged it (Z-Hub/Z-Push issue 196: `WBXML-OUT: AwFqAAAHVkwDOQABAQ==`).
WBXML = bytes.fromhex("03016a000007564c0339000101")
PLAIN_XML = '<FolderSync xmlns="FolderHierarchy">\n  <Status>9</Status>\n</FolderSync>\n'


def decode(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from eas_inspector.cli import main; "
         "sys.exit(main(sys.argv[1:]))", "decode", "--plain", *args],
        input=stdin, capture_output=True, timeout=60,
    )


PASTES = {
    "base64": b"AwFqAAAHVkwDOQABAQ==\n",
    "base64 without padding": b"AwFqAAAHVkwDOQABAQ",
    "a whole z-push log line": b"05/08/2026 11:13:31 [13624] [WBXML] WBXML-OUT: AwFqAAAHVkwDOQABAQ==\n",
    "hex": b"03016a000007564c0339000101\n",
    "spaced hex": b"03 01 6a 00 00 07 56 4c 03 39 00 01 01\n",
    "0x-prefixed hex": b"0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56, 0x4c, 0x03, 0x39, 0x00, 0x01, 0x01",
    "hex without leading zeros (TbSync's debug log)": b"3 1 6a 0 0 7 56 4c 3 39 0 1 1",
    "xxd": b"00000000: 0301 6a00 0007 564c 0339 0001 01         ..j...VL.9...\n",
    "hexdump -C": b"00000000  03 01 6a 00 00 07 56 4c  03 39 00 01 01           |..j...VL.9...|\n0000000d\n",
}


@pytest.mark.parametrize("paste", sorted(PASTES))
def test_pasted_text_is_recognised(paste: str) -> None:
    result = decode("-", stdin=PASTES[paste])
    assert (result.returncode, result.stdout.decode(), result.stderr) == (0, PLAIN_XML, b"")


def test_binary_still_decodes() -> None:
    assert decode("-", stdin=WBXML).stdout.decode() == PLAIN_XML


def test_the_form_can_be_given_and_mismatches_are_one_line() -> None:
    assert decode("--base64", "-", stdin=base64.b64encode(WBXML)).stdout.decode() == PLAIN_XML
    assert decode("--hex", "-", stdin=WBXML.hex().encode()).stdout.decode() == PLAIN_XML
    wrong = decode("--hex", "-", stdin=b"AwFqAAAHVkwDOQABAQ==")
    assert wrong.returncode == 1
    assert wrong.stderr == b"eas-inspector: <stdin>: not hex: characters other than 0-9 and a-f\n"
    odd = decode("--hex", "-", stdin=b"03016")
    assert odd.stderr == b"eas-inspector: <stdin>: not hex: an odd number of digits (5)\n"
    neither = decode("-", stdin=b"this is not wbxml at all\n")
    assert neither.returncode == 1
    assert neither.stderr == (
        b"eas-inspector: <stdin>: text that is neither hex nor base64 (give --base64 or --hex to see why)\n"
    )
