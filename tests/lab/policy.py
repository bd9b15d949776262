"""Whether the lab server must run here: a missing lab fails the live tests where it should start, else skips them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
LAB_SCRIPT = REPO.parent / "shared" / "lab" / "eas-server.sh"
# Where scripts/run-tests writes the output of its start of the lab.
START_LOG = Path(os.environ.get("TMPDIR") or "/tmp") / "eas-lab-start.log"
LOG_TAIL_LINES = 15


def lab_must_run() -> str | None:
    """Why the lab server must run on this machine (root, Debian with apt, the lab script beside the repository,
    no EAS_NO_LAB), or None where a missing lab is a skip."""
    if os.environ.get("EAS_NO_LAB"):
        return None
    if os.geteuid() != 0 or not Path("/etc/debian_version").is_file() or shutil.which("apt-get") is None:
        return None
    if not LAB_SCRIPT.is_file():
        return None
    return f"root on Debian with apt-get and {LAB_SCRIPT}"


def log_tail(text: str | None = None) -> str:
    """The last lines of `text`, else of the run-tests start log, else a note that there is none."""
    if text is None:
        try:
            text = START_LOG.read_text("utf-8", "replace")
        except OSError:
            return f"(no start log at {START_LOG})"
    lines = text.strip().splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(lines) if lines else "(the start log is empty)"


def lab_missing(why: str, log: str | None = None) -> NoReturn:
    """Fail where the lab must run (with the tail of its start log), skip elsewhere; EAS_NO_LAB=1 opts out."""
    must = lab_must_run()
    if must is None:
        reason = "EAS_NO_LAB is set" if os.environ.get("EAS_NO_LAB") else "this machine cannot start it"
        pytest.skip(f"lab server: {why} ({reason})")
    pytest.fail(
        f"lab server: {why}, on a machine where it must run ({must}; EAS_NO_LAB=1 opts out).\n"
        f"tail of the start log:\n{log_tail(log)}",
        pytrace=False,
    )
