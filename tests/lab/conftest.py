"""Fixtures for the live tests against the real lab server (SOGo, ../shared/lab): start it, else fail or skip."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.lab.policy import LAB_SCRIPT, REPO, lab_missing

LAB_ORIGIN = os.environ.get("EAS_LAB_ORIGIN", "http://127.0.0.1:18081")
LAB_PATH = "/Microsoft-Server-ActiveSync"
LAB_USER = ("alice", "alicepw")
START_TIMEOUT = 900  # a first start installs the Debian packages


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.lab)


def _lab_answers(origin: str) -> str | None:
    """None when an authenticated OPTIONS answers 200 with MS-ASProtocolVersions, else why not."""
    try:
        with requests.Session() as session:
            session.trust_env = False  # loopback only: no proxy from the environment
            answer = session.options(origin + LAB_PATH, auth=LAB_USER, timeout=15)
    except requests.RequestException as err:
        return f"{origin} does not answer ({type(err).__name__})"
    if answer.status_code != 200 or "MS-ASProtocolVersions" not in answer.headers:
        return f"{origin}{LAB_PATH} answers OPTIONS with HTTP {answer.status_code}, not an ActiveSync server"
    return None


@pytest.fixture(scope="session")
def lab_origin() -> Iterator[str]:
    """The origin (scheme://host:port) of a running lab server; starts it when it is down and we may."""
    why = _lab_answers(LAB_ORIGIN)
    if why is None:
        yield LAB_ORIGIN
        return
    if os.environ.get("EAS_NO_LAB"):
        pytest.skip(f"lab server: {why}; EAS_NO_LAB is set, not starting it")
    if not LAB_SCRIPT.is_file():
        lab_missing(f"{why}, and {LAB_SCRIPT} (the shared lab beside the repository) is missing")
    if os.geteuid() != 0:
        lab_missing(f"{why}; starting it needs root (run {LAB_SCRIPT} as root)")
    if LAB_ORIGIN != "http://127.0.0.1:18081":
        pytest.skip(f"lab server: {why}; EAS_LAB_ORIGIN points elsewhere, not starting the default lab")
    try:
        started = subprocess.run(["bash", str(LAB_SCRIPT)], capture_output=True, timeout=START_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as err:
        output = (err.stdout or b"") + (err.stderr or b"")
        lab_missing(f"{LAB_SCRIPT} did not finish within {START_TIMEOUT} s", output.decode("utf-8", "replace"))
    output = (started.stdout + started.stderr).decode("utf-8", "replace")
    if started.returncode != 0:
        lab_missing(f"{LAB_SCRIPT} exited {started.returncode}", output)
    why = _lab_answers(LAB_ORIGIN)
    if why is not None:
        lab_missing(f"started by {LAB_SCRIPT}, but {why}", output)
    yield LAB_ORIGIN
