"""Fixtures for the live tests against the real ActiveSync lab server (SOGo, ../shared/lab): start it or skip."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parent.parent.parent
LAB_SCRIPT = REPO.parent / "shared" / "lab" / "eas-server.sh"
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
    if not LAB_SCRIPT.is_file():
        pytest.skip(f"lab server: {why}, and {LAB_SCRIPT} (the shared lab beside the repository) is missing")
    if os.geteuid() != 0:
        pytest.skip(f"lab server: {why}; starting it needs root (run {LAB_SCRIPT} as root)")
    if LAB_ORIGIN != "http://127.0.0.1:18081":
        pytest.skip(f"lab server: {why}; EAS_LAB_ORIGIN points elsewhere, not starting the default lab")
    try:
        started = subprocess.run(["bash", str(LAB_SCRIPT)], capture_output=True, timeout=START_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"lab server: {LAB_SCRIPT} did not finish within {START_TIMEOUT} s")
    if started.returncode != 0:
        tail = (started.stdout + started.stderr).decode("utf-8", "replace").strip().splitlines()[-5:]
        pytest.skip(f"lab server: {LAB_SCRIPT} exited {started.returncode}: {' | '.join(tail)}")
    why = _lab_answers(LAB_ORIGIN)
    if why is not None:
        pytest.skip(f"lab server: started by {LAB_SCRIPT}, but {why}")
    yield LAB_ORIGIN
