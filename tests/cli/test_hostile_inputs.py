"""Every command on hostile .mitm files and damaged captures (issue 17.5): no traceback, one line for each failure
naming what and where, the readable flows used, and a non-zero exit status when something could not be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from eas_inspector.cli import main
from tests.capture.hostile import DAMAGED_CAPTURES, GOOD_FLOWS, RECORD_DAMAGE, damaged_capture, hostile_mitm_files

HOSTILE_MITM = hostile_mitm_files()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def assert_one_line_errors(lines: list[str], where: str) -> None:
    assert lines, "a failure says so"
    assert not any("Traceback" in line or line.startswith(" ") for line in lines), lines
    assert all(line.startswith("eas-inspector: ") or " could not be written" in line for line in lines), lines
    assert any(where in line for line in lines), lines


@pytest.mark.parametrize("name", sorted(HOSTILE_MITM))
def test_explain_of_a_hostile_mitm_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    source = tmp_path / f"{name}.mitm"
    source.write_bytes(HOSTILE_MITM[name])
    status, out, errors = run(capsys, "explain", str(source))
    if status == 0:  # mitmproxy read the odd values (a negative port, a huge time): every flow is explained
        assert out.count("=== #") == GOOD_FLOWS + 1 and not errors
        return
    assert status == 1
    assert_one_line_errors(errors, str(source))
    if name != "not-a-flow-file":
        assert out.count("=== #") >= 1, "the flows before the damage are explained"
        assert any("flow " in line for line in errors), "the line says which flow"


@pytest.mark.parametrize("name", sorted(HOSTILE_MITM))
def test_import_of_a_hostile_mitm_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    source = tmp_path / f"{name}.mitm"
    source.write_bytes(HOSTILE_MITM[name])
    status, out, errors = run(capsys, "import", str(source), str(tmp_path / "c.sqlite"))
    assert not any("Traceback" in line or line.startswith(" ") for line in errors), errors
    if name == "not-a-flow-file":
        assert status == 1 and len(errors) == 1 and errors[0].startswith("eas-inspector: ")
        return
    imported = int(out.split()[1])
    assert imported >= 1, "the flows before the damage are imported"
    if status == 0:  # mitmproxy read the odd values
        assert imported == GOOD_FLOWS + 1 and not errors
        return
    assert status == 3, errors  # a partial import (cmd_capture.EXIT_PARTIAL)
    assert_one_line_errors(errors, "flow")


@pytest.mark.parametrize("damage", sorted(DAMAGED_CAPTURES))
def test_explain_and_export_of_a_damaged_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    capture = damaged_capture(tmp_path / "c.sqlite", damage)
    results = {
        "explain": run(capsys, "explain", str(capture)),
        "har": run(capsys, "export", str(capture), "--har", str(tmp_path / "out.har")),
        "mitm": run(capsys, "export", str(capture), "--mitm", str(tmp_path / "out.mitm")),
    }
    for command, (status, out, errors) in results.items():
        if damage in RECORD_DAMAGE:
            assert status == 1, (command, errors)
            assert_one_line_errors(errors, "flow 2: the ")
            assert sum("flow 2" in line for line in errors) == 1, errors
        else:  # damage in a listed column only: read as unknown, the record is whole
            assert status == 0 and not errors, (command, errors)
    explained = results["explain"][1]
    assert explained.count("=== #") == GOOD_FLOWS - (damage in RECORD_DAMAGE)
    assert "=== #1 " in explained and "=== #3 " in explained
    exported = GOOD_FLOWS - (damage in RECORD_DAMAGE)
    assert f"exported {exported} flows" in results["har"][1] and f"exported {exported} flows" in results["mitm"][1]
