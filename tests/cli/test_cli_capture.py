"""`eas-inspector import` and `eas-inspector export`, run as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mitmproxy import io
from mitmproxy.test import tflow, tutils

from capture.reader import CaptureReader
from tests.capture.test_store import eas_flow

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env_path = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r}); from eas_inspector.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def write_traffic(path: Path) -> None:
    with path.open("wb") as file:
        writer = io.FlowWriter(file)
        writer.add(eas_flow("FolderSync", timestamp=100.0))
        writer.add(tflow.tflow(req=tutils.treq(path=b"/index.html"), resp=True))
        writer.add(eas_flow("Sync", timestamp=101.0))


def test_import_into_a_new_capture_in_captures(tmp_path: Path) -> None:
    write_traffic(tmp_path / "traffic.mitm")
    result = cli("import", "traffic.mitm", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (capture,) = (tmp_path / "captures").glob("eas-*.sqlite")
    assert result.stdout.strip() == (
        f"imported 2 EAS/Autodiscover flows into {Path('captures') / capture.name}; skipped 1 other HTTP flow"
    )
    with CaptureReader(capture) as reader:
        assert [row.command for row in reader.flows(order="id")] == ["FolderSync", "Sync"]


def test_import_then_export_mitm_and_har(tmp_path: Path) -> None:
    write_traffic(tmp_path / "traffic.mitm")
    assert cli("import", "traffic.mitm", "my.sqlite", cwd=tmp_path).returncode == 0
    result = cli("export", "my.sqlite", "--mitm", "out.mitm", cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "exported 2 flows to out.mitm")
    with (tmp_path / "out.mitm").open("rb") as file:
        assert len(list(io.FlowReader(file).stream())) == 2
    result = cli("export", "my.sqlite", "--har", "out.har", cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "exported 2 flows to out.har")
    assert len(json.loads((tmp_path / "out.har").read_text())["log"]["entries"]) == 2


def test_bad_input_exits_1_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not flows")
    (tmp_path / "notes.sqlite").write_text("not a capture" * 100)
    cases = [
        ("import", "missing.mitm"),
        ("import", "notes.txt", "x.sqlite"),
        ("export", "missing.sqlite", "--har", "x.har"),
        ("export", "notes.sqlite", "--mitm", "x.mitm"),
    ]
    for args in cases:
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 1, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert result.stderr.startswith("eas-inspector: "), result.stderr
    write_traffic(tmp_path / "traffic.mitm")
    assert cli("import", "traffic.mitm", "ok.sqlite", cwd=tmp_path).returncode == 0
    # a missing folder is made (capture.exportfile); one that cannot be (a file is in the way) is one line
    result = cli("export", "ok.sqlite", "--mitm", str(tmp_path / "notes.txt" / "x.mitm"), cwd=tmp_path)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
