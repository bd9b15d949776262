"""mitmproxy's real console in tmux: a rejected ActiveSync edit is one line in the event log and the flow stays."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import http, io

from tests.addon.conftest import ADDON_SCRIPT, SYNC_REQUEST
from tests.addon.test_addon import eas_flow

MITMPROXY = Path(sys.executable).parent / "mitmproxy"
SIZE = (160, 48)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def tmux(session: str, *args: str) -> str:
    """A tmux command on the session's own server (`-L`): one server per test, so that no test starts its session
    while another's last kill-session is taking a shared server down ("server exited unexpectedly")."""
    return subprocess.run(["tmux", "-L", session, *args], check=True, capture_output=True, text=True).stdout


def screen(session: str) -> str:
    return tmux(session, "capture-pane", "-p", "-t", session)


def wait_for(session: str, pattern: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if re.search(pattern, shown):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not on the screen after {timeout} s:\n{shown}")


def command(session: str, text: str) -> None:
    """Type a command into the console's command prompt (`:`) and run it."""
    tmux(session, "send-keys", "-t", session, ":")
    time.sleep(0.3)
    tmux(session, "send-keys", "-t", session, "-l", text)
    tmux(session, "send-keys", "-t", session, "Enter")


@pytest.fixture
def console(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path, Path]]:
    """mitmproxy's console at 160x48 on a flow file with one EAS Sync flow; EDITOR writes the marker's text."""
    flows = tmp_path / "flows.mitm"
    with flows.open("wb") as out:
        io.FlowWriter(out).add(eas_flow())
    edited_text: str = request.param
    editor = tmp_path / "editor.sh"
    text_file = tmp_path / "edited.xml"
    text_file.write_text(edited_text, encoding="utf-8")
    editor.write_text(f'#!/bin/sh\ncat "{text_file}" > "$1"\n', encoding="utf-8")
    editor.chmod(0o700)
    session = f"eas-console-{os.getpid()}-{tmp_path.name}"
    env = {
        "EDITOR": str(editor), "TMPDIR": str(tmp_path), "TERM": "xterm-256color", "LANG": "C.UTF-8",
    }
    exports = " ".join(f"{name}={value}" for name, value in env.items())
    cmd = (
        f"env {exports} {MITMPROXY} -r {flows} -s {ADDON_SCRIPT} --set server=false "
        f"--set confdir={tmp_path / 'confdir'} --set activesync_capture= ; sleep 30"
    )
    tmux(session, "new-session", "-d", "-s", session, "-x", str(SIZE[0]), "-y", str(SIZE[1]), cmd)
    try:
        yield session, tmp_path, flows
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], capture_output=True)


def saved_request_body(session: str, tmp_path: Path) -> bytes | None:
    saved = tmp_path / "saved.mitm"
    command(session, f"save.file @all {saved}")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not saved.exists():
        time.sleep(0.2)
    time.sleep(0.5)
    with saved.open("rb") as src:
        (f,) = list(io.FlowReader(src).stream())
    assert isinstance(f, http.HTTPFlow)
    return f.request.raw_content


@pytest.mark.slow
@pytest.mark.parametrize(
    ("console", "reason"),
    [
        ("<Sync xmlns='AirSync'><Collections>", r"line \d+"),
        ("<Sync xmlns='AirSync'><NoSuchTag/></Sync>", "NoSuchTag"),
    ],
    indirect=["console"],
    ids=["bad-xml", "unknown-tag"],
)
def test_a_rejected_edit_is_one_line_in_the_event_log_and_the_flow_is_unchanged(
    console: tuple[str, Path, Path], reason: str
) -> None:
    session, tmp_path, _ = console
    wait_for(session, r"POST +mail\.example\.com")
    tmux(session, "send-keys", "-t", session, "Enter")  # open the flow
    wait_for(session, r"ActiveSync")
    command(session, 'console.edit.focus "request-body (ActiveSync)"')
    try:
        wait_for(session, "ActiveSync edit not applied", timeout=10.0)  # the status bar shows it for a moment
    except AssertionError:
        pass  # a loaded machine can miss the status bar's moment: the event log below keeps the entry
    command(session, "console.view.eventlog")
    log = wait_for(session, "ActiveSync edit not applied")
    assert "Unhandled error" not in log and "Traceback" not in log
    assert log.count("error:") == 1, log  # one entry (the screen wraps it at the terminal's width)
    entry = " ".join(log[log.index("ActiveSync edit not applied") :].split("\u21e9")[0].split())
    assert re.search(reason, entry), entry
    kept = re.search(r"your text: (\S+?\.xml)", entry)
    assert kept is not None, log
    assert "Sync" in Path(kept.group(1)).read_text(encoding="utf-8")  # the edit is not lost
    assert saved_request_body(session, tmp_path) == SYNC_REQUEST
