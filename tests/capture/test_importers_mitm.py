"""`eas-inspector import` of mitmproxy .mitm files: the lab session whole, cut short, and damaged."""

from __future__ import annotations

import gc
import os
import pty
import subprocess
import sys
from pathlib import Path

from capture.importers import import_file, mitm, parallel
from capture.model import FlowInput
from capture.reader import CaptureReader
from tests.capture import forms
from tests.capture.conftest import ROOT, Stored, assert_lab_session, cli, stored

LAB_FLOW_COUNT = 76  # tests/data/real/README.md: the flows of lab-session.mitm


def test_the_lab_session_imports_whole_with_its_provenance(tmp_path: Path, lab_reference: list[Stored]) -> None:
    assert len(lab_reference) == LAB_FLOW_COUNT
    assert_lab_session(lab_reference)
    first = lab_reference[0].extra
    assert first["origin"] == {"form": "mitm", "file": "lab-session.mitm", "entry": 1}
    assert (first["rebuilt"], first["missing"], first["hidden"]) == (False, [], [])


def _flow_starts(data: bytes) -> list[int]:
    """Byte offsets where each top-level tnetstring (one flow) starts: `LENGTH:` payload, one type byte."""
    starts, position = [], 0
    while position < len(data):
        starts.append(position)
        colon = data.index(b":", position)
        position = colon + 1 + int(data[position:colon]) + 1
    return starts


def test_a_file_cut_inside_its_last_flow_keeps_the_others_and_says_so(tmp_path: Path) -> None:
    data = forms.LAB_SESSION.read_bytes()
    last = _flow_starts(data)[-1]
    (tmp_path / "cut.mitm").write_bytes(data[: last + 100])
    result = cli("import", "cut.mitm", "cut.sqlite", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == "imported 75 EAS/Autodiscover flows into cut.sqlite"
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"eas-inspector: cut.mitm: flow 76: the file ends inside this flow (cut short?); it starts at byte {last:,}",
        "eas-inspector: cut.mitm: partial import: 75 of 76 flows read, reading stopped at flow 76 (issues above)",
    ]
    assert len(stored(tmp_path / "cut.sqlite")) == 75


def test_garbage_in_the_middle_stops_there_and_keeps_what_came_before(tmp_path: Path) -> None:
    data = forms.LAB_SESSION.read_bytes()
    tenth = _flow_starts(data)[9]
    (tmp_path / "damaged.mitm").write_bytes(data[:tenth] + b"this is not a flow" + data[tenth:])
    result = cli("import", "damaged.mitm", "damaged.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.splitlines()[0] == (
        f"eas-inspector: damaged.mitm: flow 10: not a flow record; it starts at byte {tenth:,}"
    )
    assert len(stored(tmp_path / "damaged.sqlite")) == 9


def test_worker_processes_store_what_the_writer_alone_stores(tmp_path: Path) -> None:
    alone = import_file(forms.LAB_SESSION, tmp_path / "alone.sqlite", workers=0)
    pooled = import_file(forms.LAB_SESSION, tmp_path / "pooled.sqlite", workers=2)
    assert (alone.imported, pooled.imported, alone.issues, pooled.issues) == (76, 76, [], [])
    with CaptureReader(tmp_path / "alone.sqlite") as first, CaptureReader(tmp_path / "pooled.sqlite") as second:
        for one, other in zip(first.records(), second.records(), strict=True):
            assert (one.row.command, one.row.eas_status, one.row.problem_count, one.sync_keys, one.collection_ids) == (
                other.row.command, other.row.eas_status, other.row.problem_count, other.sync_keys,
                other.collection_ids)
            assert (one.request_text, one.response_text, one.extra) == (other.request_text, other.response_text,
                                                                       other.extra)


def _worker_thresholds(_: object) -> tuple[int, ...]:
    return gc.get_threshold()


def test_an_import_collects_garbage_rarely_and_gives_the_process_its_thresholds_back() -> None:
    before = gc.get_threshold()
    assert before != (50_000, 20, 100)
    with parallel.import_collector():
        assert gc.get_threshold() == (50_000, 20, 100)
    assert gc.get_threshold() == before
    with parallel.start_pool(2) as pool:
        assert pool.map(_worker_thresholds, range(4)) == [(50_000, 20, 100)] * 4


def test_a_chunk_of_work_is_many_small_flows_or_a_few_large_ones() -> None:
    small = [mitm.Record(number, 0, b"x" * 100) for number in range(300)]
    assert [len(chunk) for chunk in parallel._chunks(small)] == [128, 128, 44]
    large = [mitm.Record(number, 0, b"x" * 600_000) for number in range(5)]
    assert [len(chunk) for chunk in parallel._chunks(large)] == [2, 2, 1]  # 1 MiB reached at the second
    read = [
        (number, FlowInput(method="POST", scheme="https", target_host="h", port=443, path="/",
                           http_version="HTTP/1.1", request_headers=(), request_body=b"r" * 300_000, timestamps={},
                           response_body=b"s" * 300_000))
        for number in range(3)
    ]
    assert [len(chunk) for chunk in parallel._chunks(read)] == [2, 1]


def test_a_damaged_record_costs_only_its_flow(tmp_path: Path) -> None:
    data = bytearray(forms.LAB_SESSION.read_bytes())
    fifth = _flow_starts(bytes(data))[4]
    colon = data.index(b":", fifth)
    data[colon + 1 : colon + 9] = b"XXXXXXXX"  # inside flow 5, its length prefix intact
    (tmp_path / "one-bad.mitm").write_bytes(bytes(data))
    result = cli("import", "one-bad.mitm", "one-bad.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.splitlines()[0].startswith(f"eas-inspector: one-bad.mitm: flow 5: not a readable flow (")
    assert result.stderr.splitlines()[0].endswith(f"; it starts at byte {fifth:,}")
    assert [flow.extra["origin"]["entry"] for flow in stored(tmp_path / "one-bad.sqlite")] == [
        *range(1, 5), *range(6, 77)
    ]


def test_a_terminal_sees_a_progress_line_and_a_pipe_does_not(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
             "from eas_inspector.cli import main; sys.exit(main(sys.argv[1:]))",
             "import", str(forms.LAB_SESSION), "tty.sqlite"],
            stdout=subprocess.PIPE, stderr=terminal, cwd=tmp_path, timeout=300,
        )
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert process.returncode == 0
    assert b"\rimporting lab-session.mitm: " in shown and b" flows, " in shown
    assert shown.endswith(b"\r\x1b[K")  # the line is cleared before the summary
    piped = cli("import", str(forms.LAB_SESSION), "pipe.sqlite", cwd=tmp_path)
    assert piped.stderr == ""
