"""capture.har: the HAR 1.2 export of a real capture file, its creator, its count and the flows it leaves out."""

from __future__ import annotations

import json
import resource
import signal
import sqlite3
import stat
from pathlib import Path

import pytest
from mitmproxy.version import VERSION as MITMPROXY_VERSION

from capture.har import export_har, make_har
from capture.model import CaptureError
from capture.reader import CaptureReader
from tests.capture.hostile import write_good_capture

PING_URL = "https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=GOOD&DeviceType=T"
# hostile.good_flows: flow n starts at 1_763_700_000 + n - 1 seconds
STARTED = {1: "2025-11-21T04:40:00+00:00", 2: "2025-11-21T04:40:01+00:00", 3: "2025-11-21T04:40:02+00:00"}
# Flow 3's stored connection names a client address that is not an address: the reader reads the record, building
# a mitmproxy flow of it fails.
UNBUILDABLE_FLOW_3 = """UPDATE flows SET connection = '{"client": {"peername": 5}}' WHERE id = 3"""
UNREADABLE_FLOW_2 = """UPDATE flows SET request_headers = '[["Host", ' WHERE id = 2"""


def capture_with(path: Path, *damage: str) -> Path:
    write_good_capture(path)
    connection = sqlite3.connect(path)
    try:
        for statement in damage:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()
    return path


def started(har: dict[str, object]) -> list[str]:
    return [entry["startedDateTime"] for entry in har["log"]["entries"]]  # type: ignore[index]


def test_make_har_names_mitmproxy_and_this_exporter(tmp_path: Path) -> None:
    with CaptureReader(capture_with(tmp_path / "c.sqlite")) as reader:
        records = list(reader.records([1, 2, 3]))
    har = make_har(records)
    assert har["log"]["version"] == "1.2"
    assert har["log"]["creator"] == {
        "name": "mitmproxy",
        "version": MITMPROXY_VERSION,
        "comment": "exported by eas-inspector",
    }
    assert started(har) == [STARTED[1], STARTED[2], STARTED[3]]
    assert [entry["request"]["url"] for entry in har["log"]["entries"]] == [PING_URL] * 3


def test_make_har_of_a_record_that_cannot_be_a_flow(tmp_path: Path) -> None:
    with CaptureReader(capture_with(tmp_path / "c.sqlite", UNBUILDABLE_FLOW_3)) as reader:
        records = list(reader.records([1, 2, 3]))
    with pytest.raises(CaptureError, match=r"^flow 3: cannot be exported \("):
        make_har(records)
    damaged = ["an earlier line"]
    har = make_har(records, damaged)
    assert started(har) == [STARTED[1], STARTED[2]]
    assert len(damaged) == 2 and damaged[0] == "an earlier line"
    assert damaged[1].startswith("flow 3: cannot be exported (TypeError: ")


def test_export_har_writes_private_indented_json(tmp_path: Path) -> None:
    capture = capture_with(tmp_path / "c.sqlite")
    har_path = tmp_path / "new folder" / "flows.har"
    assert export_har(capture, har_path) == 3
    text = har_path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "log": {\n    "version": "1.2",\n    "creator": {\n      "name": "mitmproxy",\n')
    assert stat.S_IMODE(har_path.stat().st_mode) == 0o600
    assert started(json.loads(text)) == [STARTED[1], STARTED[2], STARTED[3]]
    assert export_har(capture, har_path, flow_ids=[3, 1]) == 2
    assert started(json.loads(har_path.read_text(encoding="utf-8"))) == [STARTED[3], STARTED[1]]


def test_export_har_counts_only_the_flows_it_wrote(tmp_path: Path) -> None:
    capture = capture_with(tmp_path / "c.sqlite", UNREADABLE_FLOW_2, UNBUILDABLE_FLOW_3)
    with pytest.raises(CaptureError, match=r"^flow 2: the request_headers column is damaged"):
        export_har(capture, tmp_path / "all.har")
    damaged = ["an earlier line"]
    assert export_har(capture, tmp_path / "some.har", damaged=damaged) == 1
    assert started(json.loads((tmp_path / "some.har").read_text(encoding="utf-8"))) == [STARTED[1]]
    assert [line.split(" (")[0] for line in damaged] == [
        "an earlier line",
        "flow 2: the request_headers column is damaged",
        "flow 3: cannot be exported",
    ]
    assert export_har(capture, tmp_path / "one.har", flow_ids=[3, 1], damaged=[]) == 1


def test_export_har_that_cannot_be_written_whole(tmp_path: Path) -> None:
    """A write that fails midway (here the file size limit, EFBIG) is one CaptureError naming the file."""
    capture = capture_with(tmp_path / "c.sqlite")
    har_path = tmp_path / "big.har"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, hard))
    try:
        with pytest.raises(CaptureError) as raised:
            export_har(capture, har_path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert str(raised.value) == f"{har_path}: cannot write: File too large"
