"""A few screenshots of the viewer (fixed terminal size, UTC times, no cursor blink); assertions come first elsewhere.

Update after an intended change with `pytest tests/viewer/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from tests.viewer.conftest import standard_flows, write_capture
from tests.viewer.helpers import wait_for, wait_loaded
from viewer.app import make_app
from viewer.screens.exchange import ExchangeScreen

SIZE = (120, 36)


@pytest.fixture
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def snapshot_capture(tmp_path: Path, utc: None) -> Path:
    path = tmp_path / "eas-test.sqlite"
    write_capture(path, standard_flows())
    return path


def _no_blink(pilot: Pilot[Any]) -> None:
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False


def test_main_screen(snap_compare: Any, snapshot_capture: Path) -> None:
    app = make_app(snapshot_capture)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot, app, 5)
        await pilot.press("down", "down")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any, snapshot_capture: Path) -> None:
    app = make_app(snapshot_capture)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot, app, 5)
        await pilot.press("f1")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_exchange_raw_bytes(snap_compare: Any, snapshot_capture: Path) -> None:
    app = make_app(snapshot_capture)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot, app, 5)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen), "exchange")
        await pilot.press("5")
        await wait_for(pilot, lambda: app.screen.query("#raw-request"), "raw pane")
        _no_blink(pilot)
        app.screen.query_one("#raw-request").focus()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
