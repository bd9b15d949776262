"""The verdict and the diagnosis in the viewer: colours and marks, n, the exchange header, folder names, the
collection filter, the SyncKey chain and the diagnosis pane, at 80x24 and 200x50 (capture: verdict_capture.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from textual.widgets import DataTable, Static


from tests.viewer.helpers import flow_list, main, wait_for, wait_loaded, wait_screen
from tests.viewer.verdict_capture import write_verdict_capture
from viewer.app import make_app
from viewer.screens.diagnosis import ChainScreen, DiagnosisScreen
from viewer.screens.exchange import ExchangeScreen, summary

SIZES = [(80, 24), (200, 50)]
RED, YELLOW = Style.parse("red").color, Style.parse("yellow").color


@pytest.fixture
def verdicts(tmp_path: Path) -> Path:
    return write_verdict_capture(tmp_path / "verdicts.sqlite")


def line(app: Any, index: int) -> str:
    flows = flow_list(app)
    return flows.render_line(index - flows.scroll_offset.y).text


def mark_cell(app: Any, index: int) -> tuple[str, Any]:
    """The verdict mark of a row (the second cell of the mark column) and its colour."""
    flows = flow_list(app)
    position = 0
    for segment in flows.render_line(index - flows.scroll_offset.y):
        if position + len(segment.text) > 1:
            return segment.text[1 - position], segment.style.color if segment.style else None
        position += len(segment.text)
    raise AssertionError("no mark column")


@pytest.mark.parametrize("size", SIZES)
async def test_marks_colours_statuses_folders_and_keys_follow_the_verdict(verdicts: Path, size: tuple[int, int]) -> None:
    app = make_app(verdicts)
    async with app.run_test(size=size) as pilot:
        flows = await wait_loaded(pilot, app, 6)
        await wait_for(pilot, lambda: "Inbox" in line(app, 1), "the folder name of collection 5")
        flows.move_cursor(5)  # off the rows looked at: the cursor's style covers their colours
        await pilot.pause()
        assert mark_cell(app, 1)[0] == " "  # ok
        assert mark_cell(app, 3) == ("!", RED)  # Sync Status 3: failed
        assert mark_cell(app, 5)[0] == "~"  # Sync Status 12: warning
        flows.move_cursor(0)
        await pilot.pause()
        assert mark_cell(app, 5) == ("~", YELLOW)
        assert "0 -> K1" in line(app, 1) and "K1 -> K2" in line(app, 2)
        assert " 9 " in line(app, 5)  # no FolderSync named it: its CollectionId
        assert "3 invalid" in line(app, 3)  # the status with its meaning in the Sync table


@pytest.mark.parametrize("size", SIZES)
async def test_n_stops_at_failed_and_warning_flows(verdicts: Path, size: tuple[int, int]) -> None:
    app = make_app(verdicts)
    async with app.run_test(size=size) as pilot:
        flows = await wait_loaded(pilot, app, 6)
        flows.focus()
        await pilot.press("n")
        await wait_for(pilot, lambda: flows.cursor == 3, "flow 4 (failed)")
        await pilot.press("n")
        await wait_for(pilot, lambda: flows.cursor == 4, "flow 5 (failed)")
        await pilot.press("n")
        await wait_for(pilot, lambda: flows.cursor == 5, "flow 6 (warning)")
        await pilot.press("N", "N", "N")
        await wait_for(pilot, lambda: flows.cursor == 3, "back to flow 4, skipping none")


@pytest.mark.parametrize("size", SIZES)
async def test_the_exchange_header_shows_the_verdict_and_the_worst_status(verdicts: Path, size: tuple[int, int]) -> None:
    app = make_app(verdicts)
    async with app.run_test(size=size) as pilot:
        flows = await wait_loaded(pilot, app, 6)
        flows.move_cursor(3)
        flows.focus()
        await pilot.press("enter")
        screen = await wait_screen(pilot, app, ExchangeScreen)
        header = summary(screen.flow)  # the Text the header line shows
        text = header.plain
        assert text in str(screen.query_one("#exchange-summary", Static).render())
        assert text.startswith(" FAILED ")
        assert "EAS status 3 invalid synchronization key" in text and "(Sync collection)" in text
        spans = [span for span in header.spans if "EAS status 3" in text[span.start : span.end]]
        assert [Style.parse(str(span.style)).color for span in spans] == [RED]


@pytest.mark.parametrize("size", SIZES)
async def test_f_keeps_one_collection_and_the_exchange_steps_through_it(verdicts: Path, size: tuple[int, int]) -> None:
    app = make_app(verdicts)
    async with app.run_test(size=size) as pilot:
        flows = await wait_loaded(pilot, app, 6)
        flows.move_cursor(1)
        flows.focus()
        await pilot.press("f")
        await wait_loaded(pilot, app, 4)  # flows 2-5: Inbox's Syncs
        assert main(app).filter.collection_id == "5"
        flows.move_cursor(3)
        await pilot.press("enter")
        screen = await wait_screen(pilot, app, ExchangeScreen)
        assert screen.flow.record.row.id == 5
        await pilot.press("]")
        await wait_for(pilot, lambda: ("information", "No more flows below.") in app.notices, "no next flow of Inbox")
        await pilot.press("[")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ExchangeScreen) and app.screen.flow.record.row.id == 4, "flow 4"
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main(app), "the list")
        flows.focus()
        await pilot.press("f")
        await wait_loaded(pilot, app, 6)


@pytest.mark.parametrize("size", SIZES)
async def test_the_sync_key_chain_lists_the_collection_and_enter_opens_a_flow(verdicts: Path, size: tuple[int, int]) -> None:
    app = make_app(verdicts)
    async with app.run_test(size=size) as pilot:
        flows = await wait_loaded(pilot, app, 6)
        await wait_for(pilot, lambda: main(app).folder_names, "the folder names")
        flows.move_cursor(2)
        flows.focus()
        await pilot.press("K")
        screen = await wait_screen(pilot, app, ChainScreen)
        assert "Inbox" in str(screen.query_one("#chain-title", Static).render())
        table = screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert [(row[0], row[3], row[4]) for row in rows] == [
            ("2", "0 -> K1", "1"),
            ("3", "K1 -> K2", "1"),
            ("4", "K2 -> K2", "3"),
            ("5", "K2 -> K2", "3"),
        ]
        await pilot.press("down", "down", "enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ExchangeScreen) and app.screen.flow.record.row.id == 4, "flow 4"
        )


@pytest.mark.parametrize("size", SIZES)
async def test_the_diagnosis_pane_lists_findings_and_enter_lists_their_flows(verdicts: Path, size: tuple[int, int]) -> None:
    app = make_app(verdicts)
    async with app.run_test(size=size) as pilot:
        flows = await wait_loaded(pilot, app, 6)
        flows.focus()
        await pilot.press("D")
        screen = await wait_screen(pilot, app, DiagnosisScreen)
        table = screen.query_one(DataTable)
        assert [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[1])) for i in range(table.row_count)] == [
            ("error", "sync-key-invalid-loop")
        ]
        await wait_for(pilot, lambda: "Flows: #4 #5" in str(screen.query_one("#finding-detail", Static).render()), "detail")
        detail = str(screen.query_one("#finding-detail", Static).render())
        assert "Inbox" in detail and "Advice:" in detail and "MS-ASCMD" in detail
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is main(app), "the list")
        await wait_loaded(pilot, app, 2)
        assert [flows.row_at(i).id for i in range(2)] == [4, 5]  # type: ignore[union-attr]
        assert "2 flow(s) of a finding" in main(app).filter.describe()
