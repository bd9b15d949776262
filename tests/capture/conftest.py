"""Shared by the capture tests: the loopback origin server, mitmproxy's configuration directory, the real CLI in a
subprocess, and what a capture holds, read back."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http

from capture.reader import CaptureReader
from tests.addon.conftest import mitm_confdir, origin
from tests.capture import forms

__all__ = ["mitm_confdir", "origin"]

ROOT = Path(__file__).resolve().parents[2]

# What the lab session did, from tests/data/real/capture.log (written while it ran, not by the code under test).
LAB_FIRST_COMMANDS = ["Options", "Provision", "FolderSync", "FolderSync", "Sync", "Sync", "GetItemEstimate"]
LAB_PING_STATUSES = [2, 1, 5, 3]
LAB_USERS = {"alice", "bob"}
LAB_DEVICES = {"EA5100000000000000000000000000A1", "EA5100000000000000000000000000B2", "PYAS0003C"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`eas-inspector ARGS` as a real process (this checkout on its path)."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from eas_inspector.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@dataclass(frozen=True)
class Stored:
    """One stored flow, as the tests compare them."""

    method: str
    command: str | None
    http_status: int | None
    eas_status: int | None
    user: str | None
    device_id: str | None
    request_body: bytes
    response_body: bytes | None
    extra: dict[str, Any]


def stored(capture: Path) -> list[Stored]:
    with CaptureReader(capture) as reader:
        return [
            Stored(record.row.method, record.row.command, record.row.http_status, record.row.eas_status,
                   record.row.user, record.row.device_id, record.request_body, record.response_body, record.extra)
            for record in reader.records()
        ]


def assert_lab_session(flows: list[Stored]) -> None:
    """The imported flows are the lab session's: its commands, statuses, users and devices."""
    assert [flow.command for flow in flows[: len(LAB_FIRST_COMMANDS)]] == LAB_FIRST_COMMANDS
    assert [flow.http_status for flow in flows[:2]] == [200, 200]
    assert flows[1].eas_status == 1  # Provision: Status 1
    assert [flow.eas_status for flow in flows if flow.command == "Ping"] == LAB_PING_STATUSES
    assert [flow.eas_status for flow in flows if flow.command == "MoveItems"] == [3, 3]
    assert [(flow.command, flow.http_status) for flow in flows if (flow.http_status or 0) >= 500] == [
        ("FolderDelete", 500), ("Find", 501)
    ]
    assert {flow.user for flow in flows} == LAB_USERS
    assert {flow.device_id for flow in flows} == LAB_DEVICES


@pytest.fixture(scope="session")
def lab_flows() -> list[http.HTTPFlow]:
    return forms.lab_flows()


@pytest.fixture(scope="session")
def lab_reference(tmp_path_factory: pytest.TempPathFactory) -> list[Stored]:
    """The lab session imported from the .mitm mitmproxy recorded: what every other form is compared with."""
    directory = tmp_path_factory.mktemp("reference")
    result = cli("import", str(forms.LAB_SESSION), "reference.sqlite", cwd=directory)
    assert result.returncode == 0, result.stderr
    return stored(directory / "reference.sqlite")
