"""Screenshots of the session timeline at 80x24 and 200x50 (UTC times); the assertions are in test_timeline_ui.py.

Update after an intended change with `pytest tests/viewer/test_timeline_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.viewer.helpers import main, wait_for, wait_loaded, wait_screen
from tests.viewer.test_snapshots import SIZES, utc  # noqa: F401 - utc is a fixture
from tests.viewer.timeline_capture import write_timeline_capture
from viewer.app import make_app
from viewer.screens.timeline import TimelineScreen


@pytest.fixture
def timeline_capture(tmp_path: Path, utc: None) -> Path:  # noqa: F811
    return write_timeline_capture(tmp_path / "timeline.sqlite")


@pytest.mark.parametrize("size", SIZES)
def test_timeline(snap_compare: Any, timeline_capture: Path, size: tuple[int, int]) -> None:
    app = make_app(timeline_capture)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_loaded(pilot, app, 13)
        await wait_for(pilot, lambda: main(app).folder_names, "the folder names")
        await pilot.press("T")
        screen = await wait_screen(pilot, app, TimelineScreen)
        await wait_for(pilot, lambda: screen.view.timeline.cell_count > 1, "the grid laid out")
        await pilot.press("right")  # the burst of Inbox: two of its flows failed
        await wait_for(pilot, lambda: "worst failed" in str(screen.query_one("#timeline-detail").render()), "detail")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
