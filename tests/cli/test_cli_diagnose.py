"""`eas-inspector diagnose`, `list` and `explain`'s verdict lines, run as real processes on real captures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.addon import scripted_eas as s
from tests.capture.test_verdicts_in_capture import V1_CAPTURE, flow_input, write

ROOT = Path(__file__).resolve().parents[2]
LAB_SESSION = ROOT / "tests" / "data" / "real" / "lab-session.mitm"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eas_inspector", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every scripted scenario written through the capture writer, one device each, in order."""
    path = tmp_path_factory.mktemp("cli") / "faults.sqlite"
    inputs = []
    for scenario in s.scenarios():
        for step in scenario.steps:
            inputs.append(flow_input(step, len(inputs), device_id=scenario.device_id))
    write(path, inputs)
    return path


def test_diagnose_json_lists_findings_with_their_flows(faults: Path) -> None:
    result = cli("diagnose", "--json", str(faults))
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert set(findings[0]) >= {"rule", "severity", "device_id", "user", "flows", "summary", "advice", "spec"}
    got = {(f["device_id"], f["rule"]): f["flows"] for f in findings if f["severity"] != "info"}
    # flow ids: the scenarios' steps numbered from 1 in order (DEVLOOP 1-4, DEVRESET 5-11, DEVAUTH 12-14 ...)
    assert got[("DEVLOOP", "sync-key-invalid-loop")] == [2, 3, 4]
    assert got[("DEVRESET", "sync-key-reset-churn")] == [8, 10, 11]
    assert got[("DEVAUTH", "auth-failures")] == [12, 13, 14]
    assert got[("DEV12", "folder-sync-required-ignored")] == [27, 28, 29]
    severities = [f["severity"] for f in findings]
    assert severities.index("warning") > max(i for i, sev in enumerate(severities) if sev == "error")


def test_diagnose_one_device_and_text_grouped_by_session(faults: Path) -> None:
    result = cli("diagnose", "--device", "DEVPING", str(faults))
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "session alice/DEVPING (SmartPhone) at mail.example.com"
    assert lines[1].startswith("  warning ping-heartbeat-out-of-range: ")
    assert "flows: 24, 25" in result.stdout
    assert "DEVLOOP" not in result.stdout


def test_list_json_one_object_per_flow(faults: Path) -> None:
    result = cli("list", "--json", "--device", "DEVLOOP", str(faults))
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [(e["id"], e["command"], e["outcome"]) for e in entries] == [
        (1, "FolderSync", "ok"), (2, "Sync", "failed"), (3, "Sync", "failed"), (4, "Sync", "failed")]
    assert entries[1]["collection"] == "INBOX" and entries[1]["collection_id"] == "1"
    assert entries[1]["time"] == "2027-01-15T08:00:01.000Z"
    assert entries[1]["user"] == "alice" and entries[1]["http_status"] == 200 and entries[1]["problems"] == 1
    assert [(st["path"], st["code"], st["ok"]) for st in entries[1]["statuses"]] == [
        ("Sync/Collections/Collection/Status", 3, False)]


def test_list_filters_by_command_and_failure(faults: Path) -> None:
    syncs = json.loads(cli("list", "--json", "--command", "Ping", "--failed", str(faults)).stdout)
    assert syncs == []  # Ping Status 5 and 1 are no failures
    failed = json.loads(cli("list", "--json", "--failed", str(faults)).stdout)
    assert {e["device_id"] for e in failed} == {"DEVLOOP", "DEVAUTH", "DEVBUSY"}
    text = cli("list", "--device", "DEVAUTH", str(faults)).stdout.splitlines()
    assert text[0].startswith("#12 2027-01-15T08:00:11.000Z alice DEVAUTH FolderSync HTTP 401 failed")


def test_a_bad_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    for command in ("diagnose", "list"):
        result = cli(command, str(bad))
        assert result.returncode == 1
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"eas-inspector {command}: ")
    missing = cli("diagnose", str(tmp_path / "missing.sqlite"))
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_an_older_capture_is_upgraded_and_diagnosed(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    shutil.copy(V1_CAPTURE, old)
    result = cli("diagnose", "--json", str(old))
    assert result.returncode == 0, result.stderr
    rules = {f["rule"]: f["flows"] for f in json.loads(result.stdout)["findings"]}
    assert rules["sync-key-invalid-loop"] == [2, 3, 4]


def test_clean_lab_session_has_no_warning_or_error() -> None:
    result = cli("diagnose", "--json", str(LAB_SESSION))
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [f for f in findings if f["severity"] in ("error", "warning")] == []
    listed = json.loads(cli("list", "--json", str(LAB_SESSION)).stdout)
    assert [e["id"] for e in listed] == list(range(1, len(listed) + 1))  # import order
    assert len(listed) > 50
    # SOGo's own failures in the recording: FolderDelete 500, ValidateCert Status 17, Find 501 (no findings: once each)
    failed = {(e["command"], e["http_status"]) for e in listed if e["outcome"] == "failed"}
    assert failed == {("FolderDelete", 500), ("ValidateCert", 200), ("Find", 501)}


def test_explain_summary_reads_the_verdict(faults: Path) -> None:
    result = cli("explain", str(faults))
    assert result.returncode == 0
    blocks = result.stdout.split("\n=== ")
    sync = next(block for block in blocks if block.startswith("#2 "))
    assert "Outcome: failed (Sync/Collections/Collection/Status = 3: " in sync
    assert "EAS status Sync/Collections/Collection/Status = 3 (" in sync and "[failed, Sync collection]" in sync
    auth = next(block for block in blocks if block.startswith("#12 "))
    assert "Outcome: failed (HTTP 401 Unauthorized)" in auth
