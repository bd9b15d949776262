"""WBXML codec against golden pairs (tests/data/wbxml/<case>.wbxml + .xml) and captured real traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from eas import wbxml
from eas.errors import TruncatedError

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = sorted((DATA / "wbxml").glob("*.wbxml"))
REAL = sorted((DATA / "real").glob("*.wbxml"))
EXPECTED_CASES = {
    "foldersync_response", "opaque_binary", "redundant_switches", "sync_request", "sync_response_contact",
    "text_edges", "unknown_token",
    # issue 13, Names: MS-ASWBXML's current names, Calendar Timezone and ComposeMail Forwardee Name / Email
    "calendar_timezone", "smartforward_forwardees",
}


def test_golden_cases_are_present() -> None:
    assert EXPECTED_CASES <= {path.stem for path in GOLDEN}


@pytest.mark.parametrize("path", GOLDEN, ids=lambda path: path.stem)
def test_golden_pair(path: Path) -> None:
    data = path.read_bytes()
    xml = path.with_suffix(".xml").read_text(encoding="utf-8")
    assert wbxml.decode_to_xml(data) == xml
    assert wbxml.encode(xml) == data
    assert wbxml.encode(wbxml.decode(data)) == data


@pytest.mark.parametrize("path", GOLDEN + REAL, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_fixture_round_trips_and_every_truncation_is_truncated(path: Path) -> None:
    data = path.read_bytes()
    root = wbxml.decode(data)
    assert wbxml.encode(root) == data
    assert wbxml.encode(wbxml.to_xml(root)) == data
    for end in range(len(data)):
        with pytest.raises(TruncatedError):
            wbxml.decode(data[:end])


@pytest.mark.parametrize("path", REAL, ids=lambda path: path.stem)
def test_real_traffic_decodes_strictly(path: Path) -> None:
    # What a real client and server sent uses only MS-ASWBXML: strict mode accepts it.
    root = wbxml.decode(path.read_bytes(), strict=True)
    assert wbxml.encode(root) == path.read_bytes()
