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
from viewer.widgets.code_view import CodeView
from viewer.widgets.flow_detail import FlowDetail, FlowSplit

SIZE = (120, 36)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((200, 50), id="200x50")]


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


@pytest.mark.parametrize("size", SIZES)
def test_flow_list(snap_compare: Any, snapshot_capture: Path, size: tuple[int, int]) -> None:
    app = make_app(snapshot_capture)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot, app, 5)
        await pilot.press("down", "m", "down")
        await wait_for(pilot, lambda: "sync key" in str(app.main_screen.query_one("#flow-header").render()), "header")
        if app.main_screen.query_one(FlowDetail).display:
            app.main_screen.query_one(FlowSplit).toggle()  # the list alone, whole width (the split has its pictures)
            await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_split(snap_compare: Any, snapshot_capture: Path, size: tuple[int, int]) -> None:
    """The list and the selected flow's detail: on by default at 200 columns, by `v` at 80; at 200 with a
    selection in the detail's response."""
    app = make_app(snapshot_capture)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot, app, 5)
        pane = app.main_screen.query_one(FlowDetail)
        if not pane.display:
            app.main_screen.query_one(FlowSplit).toggle()  # as `v` does, without its toast
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: pane.shown_id == 3, "the detail of flow #3")
        if size[0] >= 160:
            response = pane.query_one("#detail-response", CodeView)
            response.focus()
            await pilot.press("j", "shift+down", "shift+right", "shift+right", "shift+right")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_exchange(snap_compare: Any, snapshot_capture: Path, size: tuple[int, int]) -> None:
    app = make_app(snapshot_capture)

    async def run_before(pilot: Pilot[Any]) -> None:
        app.animation_level = "none"  # the tab underline slides otherwise: a picture mid-way differs
        await wait_loaded(pilot, app, 5)
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen), "exchange")
        await wait_for(pilot, lambda: isinstance(app.focused, CodeView), "the body in focus")
        await pilot.press("2")
        await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "response-xml", "the response")
        await pilot.press("j")
        await wait_for(pilot, lambda: getattr(app.focused, "cursor_line", 0) == 1, "the cursor on line 2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


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
