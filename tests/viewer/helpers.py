"""Pilot helpers: wait for a state the workers will reach (bounded number of event-loop turns)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from viewer.app import EasInspectorApp
from viewer.screens.main import MainScreen
from viewer.widgets.flow_list import FlowList

MAX_TURNS = 1000


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], what: str = "condition") -> None:
    """Let the app (and its worker threads) run until `predicate()` is true; fail if it never becomes true."""
    for _ in range(MAX_TURNS):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never reached: {what}")


def flow_list(app: EasInspectorApp) -> FlowList:
    return app.main_screen.query_one(FlowList)


def main(app: EasInspectorApp) -> MainScreen:
    return app.main_screen


async def wait_loaded(pilot: Pilot[Any], app: EasInspectorApp, total: int | None = None) -> FlowList:
    """Wait until the flow list shows its first row (and `total` rows, when given)."""
    flows = flow_list(app)
    await wait_for(
        pilot,
        lambda: not flows.loading and main(app).progress != "counting…" and (flows.total == 0 or flows.row_at(flows.cursor) is not None)
        and (total is None or flows.total == total),
        f"flow list loaded ({total} rows)",
    )
    return flows


def notifications(app: EasInspectorApp) -> list[tuple[str, str]]:
    """(severity, message) of every notification shown so far."""
    return list(app.notices)


def screen_name(app: EasInspectorApp) -> str:
    return type(app.screen).__name__


async def focus(pilot: Pilot[Any], app: EasInspectorApp, selector: str) -> None:
    """Focus a widget of the current screen (as Tab or a click would) and wait until it has focus."""
    widget = app.screen.query_one(selector)
    widget.focus()
    await wait_for(pilot, lambda: app.focused is widget, f"focus on {selector}")


async def wait_screen(pilot: Pilot[Any], app: EasInspectorApp, screen_type: type, what: str = "") -> Any:
    """Wait until the current screen is a `screen_type` that has finished mounting; return it."""
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, screen_type) and app.screen.is_mounted and app.screen.is_attached,
        what or screen_type.__name__,
    )
    await pilot.pause()
    return app.screen


async def list_alone(pilot: Pilot[Any], app: EasInspectorApp) -> None:
    """Hide the flow's detail beside the list (`v`) when the width showed it: the list gets the whole width."""
    detail = app.main_screen.query_one("#flow-detail")
    if detail.display:
        await pilot.press("v")
        await wait_for(pilot, lambda: not detail.display and flow_list(app).size.width == app.size.width, "the list alone")
