"""The session timeline through Textual's pilot: T, the rows and the outcome colour of every cell at 80x24 and
200x50, moving over cells, Enter to a flow (list and exchange), the palette and F1 (capture: timeline_capture.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

from tests.viewer.helpers import flow_list, main, wait_for, wait_loaded, wait_screen
from tests.viewer.conftest import BASE_TS, eas_flow, write_capture
from tests.viewer.timeline_capture import sync_answer, sync_request, write_timeline_capture
from viewer.app import make_app
from viewer.commands import InspectorCommands
from viewer.screens.exchange import ExchangeScreen
from viewer.screens.help import HelpScreen
from viewer.screens.timeline import TimelineScreen

GREEN, YELLOW, RED = (Style.parse(colour).color for colour in ("green", "yellow", "red"))

# The rows of session 1 (timeline_capture.py), collections first, each cell as (glyph, colour): a digit counts
# the flows starting in the cell on its outcome's colour, ━ a flow running through it, · nothing.
# 80 columns: "FolderSync" and a gap name the rows (11), 69 cells: 10 s cells, 62 of them from BASE_TS.
CELLS_80 = {
    "Inbox": {0: ("1", GREEN), 30: ("5", RED), 61: ("1", YELLOW)},  # #2; #5-#9 (two Status 3); #12 Status 12
    "Calendar": {0: ("1", GREEN), 60: ("1", RED)},  # #3; #10 HTTP 503
    "FolderSync": {0: ("1", GREEN)},
    "Ping": {0: ("1", GREEN), **{i: ("━", GREEN) for i in range(1, 31)}, 60: ("1", GREEN), 61: ("━", GREEN)},
}
# 200 columns: 189 cells: 5 s cells, 123 of them; the burst splits at +305 s (#5-#8, then #9).
CELLS_200 = {
    "Inbox": {0: ("1", GREEN), 60: ("4", RED), 61: ("1", GREEN), 122: ("1", YELLOW)},
    "Calendar": {0: ("1", GREEN), 120: ("1", RED)},
    "FolderSync": {0: ("1", GREEN)},
    "Ping": {0: ("1", GREEN), **{i: ("━", GREEN) for i in range(1, 61)}, 120: ("1", GREEN), 121: ("━", GREEN),
             122: ("━", GREEN)},
}
LAYOUTS = [pytest.param((80, 24), 62, CELLS_80, id="80x24"), pytest.param((200, 50), 123, CELLS_200, id="200x50")]
LABEL_WIDTH = 11


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_timeline_capture(tmp_path / "timeline.sqlite")


def cells_of(line: Text) -> list[tuple[str, Color | None]]:
    """(glyph, colour) of each cell of a row: the background of a count, the foreground of anything else."""
    out = []
    for offset in range(LABEL_WIDTH, len(line.plain)):
        style = Style()
        for span in line.spans:
            if span.start <= offset < span.end:
                style += Style.parse(span.style) if isinstance(span.style, str) else span.style
        glyph = line.plain[offset]
        out.append((glyph, style.bgcolor if glyph.isdigit() or glyph == "+" else style.color))
    return out


async def open_timeline(pilot: Any, app: Any, total: int = 13, named: bool = True) -> TimelineScreen:
    await wait_loaded(pilot, app, total)
    if named:
        await wait_for(pilot, lambda: main(app).folder_names, "the folder names")
    await pilot.press("T")
    screen: TimelineScreen = await wait_screen(pilot, app, TimelineScreen)
    await wait_for(pilot, lambda: screen.view.timeline.cell_count > 1, "the grid laid out")
    return screen


@pytest.mark.parametrize(("size", "cell_count", "expected"), LAYOUTS)
async def test_T_draws_each_cell_in_the_colour_of_its_worst_outcome(
        capture: Path, size: tuple[int, int], cell_count: int, expected: dict[str, dict[int, tuple[str, Color]]]
) -> None:
    app = make_app(capture)
    async with app.run_test(size=size) as pilot:
        screen = await open_timeline(pilot, app)
        view = screen.view
        assert view.labels == ["Inbox", "Calendar", "FolderSync", "Ping"]  # folder names from the FolderSync
        assert view.timeline.cell_count == cell_count
        for lane_index, (name, cells) in enumerate(expected.items()):
            line = view.lane_line(lane_index)
            assert line.plain[:LABEL_WIDTH].rstrip() == name
            wanted = [cells.get(index, ("·", None)) for index in range(cell_count)]
            got = [(glyph, colour if glyph != "·" else None) for glyph, colour in cells_of(line)]
            assert got == wanted, name


async def test_moving_shows_the_flows_of_a_cell_and_enter_goes_to_the_chosen_one(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_timeline(pilot, app)
        view = screen.view
        assert (view.cursor_lane, view.cursor_cell) == (0, 0)  # Inbox's first cell
        await pilot.press("right")  # over the gap to the burst
        await wait_for(pilot, lambda: view.cursor_cell == 30, "the burst's cell")
        detail = str(screen.query_one("#timeline-detail").render())
        assert "Inbox: 5 started, 0 running through, worst failed" in detail
        for flow_id, status, outcome in ((5, 1, "ok"), (6, 3, "failed"), (7, 3, "failed"), (8, 1, "ok"), (9, 1, "ok")):
            assert f"#{flow_id} Sync HTTP 200 Status {status} {outcome}" in detail
        assert screen.chosen_flow == 5  # the first of the cell
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert screen.chosen_flow == 7
        await pilot.press("down")  # Calendar: the nearest cell that holds a flow
        assert (view.cursor_lane, view.cursor_cell, screen.chosen_flow) == (1, 0, 3)
        await pilot.press("shift+right", "enter")  # Calendar's cell 1 holds nothing: nowhere to go
        await wait_for(pilot, lambda: any("No flow in this cell" in text for _, text in app.notices), "the warning")
        assert isinstance(app.screen, TimelineScreen) and view.cursor_cell == 1
        await pilot.press("up")  # back on Inbox, nearest to cell 1: cell 0
        assert (view.cursor_lane, view.cursor_cell, screen.chosen_flow) == (0, 0, 2)
        detail = str(screen.query_one("#timeline-detail").render())
        assert "Inbox: 1 started, 0 running through, worst ok" in detail
        await pilot.press("right", "right_square_bracket", "right_square_bracket", "enter")
        exchange = await wait_screen(pilot, app, ExchangeScreen)
        assert exchange.flow.record.row.id == 7
        # the list under it: every session by time (#1 #2 #3 #4, #13, #5 #6 #7 ...): #7 is row 7
        await wait_for(pilot, lambda: flow_list(app).cursor == 7, "the list's cursor on #7")
        assert flow_list(app).current_row.id == 7  # type: ignore[union-attr]


async def test_enter_on_a_flow_the_filter_leaves_out_lists_its_session(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_loaded(pilot, app, 13)
        main(app).set_filter(command="FolderSync")
        screen = await open_timeline(pilot, app, 1)
        await pilot.press("down", "down", "down")  # Ping: the held Ping #4
        assert screen.chosen_flow == 4
        await pilot.press("enter")
        await wait_screen(pilot, app, ExchangeScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: main(app).filter.command is None, "the command filter dropped")
        assert main(app).filter.session_id == 1
        await wait_for(pilot, lambda: flow_list(app).current_row is not None
                       and flow_list(app).current_row.id == 4, "the cursor on #4")  # type: ignore[union-attr]
        assert flow_list(app).cursor == 3


async def test_timeline_key_in_palette_and_help(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_loaded(pilot, app, 13)
        keys = {binding.id: binding.key for binding in main(app).BINDINGS}  # type: ignore[union-attr]
        assert keys["main-timeline"] == "T"
        commands = {title: callback for title, callback, _ in InspectorCommands(app.screen)._commands()}
        commands["view: Timeline of the session"]()
        screen = await wait_screen(pilot, app, TimelineScreen)
        assert screen.view.labels[0] == "Inbox" or screen.view.labels[0] == "5"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TimelineScreen), "back on the list")
        await pilot.press("f1")
        help_screen = await wait_screen(pilot, app, HelpScreen)
        table = help_screen.query_one(DataTable)
        rows = [tuple(str(cell) for cell in table.get_row_at(index)) for index in range(table.row_count)]
        assert ("flows", "T", "Timeline") in rows
        assert ("timeline", "Enter", "Open the flow") in rows
        assert ("timeline", "right_square_bracket", "Next flow of the cell") in rows
        assert ("timeline", "left, h", "Previous cell with flows") in rows


async def test_every_session_and_no_flow_asks_for_a_session(tmp_path: Path) -> None:
    app = make_app(write_timeline_capture(tmp_path / "t.sqlite"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 13)
        main(app).set_filter(command="Nothing")
        await wait_loaded(pilot, app, 0)
        await pilot.press("T")
        await wait_for(pilot, lambda: any("device session" in text for _, text in app.notices), "the warning")
        assert not isinstance(app.screen, TimelineScreen)



async def test_rows_beyond_the_screen_scroll_with_the_cursor(tmp_path: Path) -> None:
    """Thirty collections at 80x24: the grid shows fewer rows, and moving down brings the cursor's row in."""
    flows = [eas_flow("Sync", sync_request("0", f"c{index:02d}"), sync_answer("1", f"c{index:02d}", 1),
                      ts=BASE_TS + index) for index in range(30)]
    write_capture(tmp_path / "many.sqlite", flows)
    app = make_app(tmp_path / "many.sqlite")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_timeline(pilot, app, 30, named=False)
        view = screen.view
        shown_rows = view.size.height - 2  # under the time labels and the ruler
        assert 5 < shown_rows < 30
        assert view.render().plain.splitlines()[2].startswith("c00 ")
        for _ in range(29):
            await pilot.press("down")
        assert view.cursor_lane == 29 and view.top == 30 - shown_rows
        lines = view.render().plain.splitlines()
        assert lines[-1].startswith("c29 ") and lines[2].startswith(f"c{30 - shown_rows:02d} ")
        assert "c29: 1 started" in str(screen.query_one("#timeline-detail").render())
