"""Reading a capture at any size through the real TUI: columns, search, status filter, follow, marks, help."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

import eas
from capture.writer import CaptureWriter
from tests.viewer.conftest import BASE_TS, SYNC_RESPONSE, eas_flow, standard_flows, write_capture
from tests.viewer.helpers import focus, flow_list, list_alone, main, notifications, wait_for, wait_loaded, wait_screen
from viewer.app import make_app
from viewer.screens import main as main_module
from viewer.screens.help import HelpScreen

SMALL = (80, 24)
LARGE = (200, 50)
LONG_KEY = "vm_10e5_30b271d9_5e-0001"  # 24 characters, like the lab server's keys
LONG_COLLECTION = "mail%2F39165e00aa"


def sync_request(sync_key: str, collection_id: str) -> bytes:
    return bytes(
        eas.encode(
            '<Sync xmlns="AirSync"><Collections><Collection>'
            f"<SyncKey>{sync_key}</SyncKey><CollectionId>{collection_id}</CollectionId>"
            "</Collection></Collections></Sync>"
        )
    )


@pytest.fixture
def long_capture(tmp_path: Path) -> Path:
    path = tmp_path / "long.sqlite"
    flows = standard_flows()
    flows.append(eas_flow("Sync", sync_request(LONG_KEY, LONG_COLLECTION), SYNC_RESPONSE, ts=BASE_TS + 5))
    write_capture(path, flows)
    return path


def header(app: object) -> str:
    return str(main(app).query_one("#flow-header").render())  # type: ignore[arg-type]


def row_of(app: object, index: int) -> str:
    flows = flow_list(app)  # type: ignore[arg-type]
    return flows.render_line(index - flows.scroll_offset.y).text


@pytest.mark.parametrize("width", [80, 160, 250])
async def test_columns_fill_the_width_and_keep_the_essentials(long_capture: Path, width: int) -> None:
    app = make_app(long_capture)
    async with app.run_test(size=(width, 40)) as pilot:
        flows = await wait_loaded(pilot, app, 6)
        await list_alone(pilot, app)  # the list at the whole width (the split's list: test_split_ui.py)
        await wait_for(pilot, lambda: "sync key" in header(app), "the header")
        titles = header(app).split()
        for essential in ("#", "command", "coll.", "sync", "key", "HTTP", "EAS", "status"):
            assert essential in titles
        used = sum(column.width for column in flows.columns)
        assert used == flows.scrollable_content_region.width  # no blank band on the right
        flows.move_cursor(5)
        await pilot.pause()
        line = row_of(app, 5)
        if width >= 250:
            assert f"{LONG_KEY} -> 1" in line and LONG_COLLECTION in line  # extra width goes to these columns first
        if width >= 160:
            # the column holds the key sent and the key answered: a long pair keeps both ends of the key sent
            assert LONG_COLLECTION in line and "vm_10e5_" in line and "5e-0001 -> 1" in line
            assert "device" in titles and "iPhone ABC123" in line  # every session's flows: whose is it
        else:
            assert LONG_KEY not in line and "…" in line  # cut, in the middle, to fit
        assert len(line.rstrip()) <= flows.scrollable_content_region.width


async def test_the_device_column_shows_for_all_sessions_only(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_loaded(pilot, app, 5)
        await list_alone(pilot, app)
        await wait_for(pilot, lambda: "device" in header(app).split(), "the device column")
        table = main(app).query_one("#sessions", DataTable)
        table.move_cursor(row=1)
        await wait_for(pilot, lambda: main(app).filter.session_id is not None, "one session")
        await wait_for(pilot, lambda: "device" not in header(app).split(), "no device column")


async def test_search_matches_prefixes_and_says_why_nothing_matched(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        await wait_loaded(pilot, app, 5)
        await focus(pilot, app, "#filter-text")
        await pilot.press(*"FolderSy", "enter")  # a prefix, no `*`
        flows = await wait_loaded(pilot, app, 1)
        assert flows.row_at(0).command == "FolderSync"  # type: ignore[union-attr]
        main(app).query_one("#filter-text", Input).value = ""
        await wait_loaded(pilot, app, 5)
        await focus(pilot, app, "#filter-text")
        await pilot.press(*'"nosuchword"', "enter")
        await wait_loaded(pilot, app, 0)
        assert flows.empty_message.startswith("No flow contains '\"nosuchword\"': each word matches the start")
        assert "c clears every filter" in flows.empty_message
        assert "No flow contains" in row_of(app, 0)  # shown where the rows would be


@pytest.mark.parametrize(
    ("typed", "expected_ids"),
    [
        ("4xx", [4]),  # the Ping answered 401
        ("!200", [4]),
        ("200-299", [1, 2, 3, 5]),
        ("eas 3-9", [3]),  # the Sync answered status 3
        ("!1", [3]),  # an EAS status other than 1; flows without one are left out
    ],
)
async def test_status_filter_takes_classes_ranges_and_complements(capture: Path, typed: str, expected_ids: list[int]) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        await wait_loaded(pilot, app, 5)
        await focus(pilot, app, "#filter-status")
        await pilot.press(*typed, "enter")
        flows = await wait_loaded(pilot, app, len(expected_ids))
        assert [flows.row_at(i).id for i in range(flows.total)] == expected_ids  # type: ignore[union-attr]


async def test_follow_with_the_cursor_on_the_last_row_follows_new_rows(capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main_module, "FOLLOW_INTERVAL", 0.2)
    app = make_app(capture, follow=True)
    async with app.run_test(size=SMALL) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        await pilot.press("G")
        assert flows.cursor == 4
        with CaptureWriter(capture) as writer:
            writer.add_sync(eas_flow("Ping", b"", b"", ts=BASE_TS + 10))
            writer.add_sync(eas_flow("Ping", b"", b"", ts=BASE_TS + 11))
        await wait_for(pilot, lambda: flows.total == 7 and flows.cursor == 6, "cursor on the new last row")
        assert "7/7 flows" in str(main(app).query_one("#status").render())


async def test_follow_elsewhere_keeps_the_cursor_on_its_flow(capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main_module, "FOLLOW_INTERVAL", 0.2)
    app = make_app(capture, follow=True)
    async with app.run_test(size=SMALL) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        await pilot.press("j")
        with CaptureWriter(capture) as writer:
            writer.add_sync(eas_flow("Ping", b"", b"", ts=BASE_TS + 10))
        # The rows around the cursor load again in a worker after the count grows: wait for the cursor's row.
        await wait_for(pilot, lambda: flows.total == 6 and flows.current_row is not None, "the new row, rows loaded")
        assert flows.cursor == 1 and flows.current_row is not None and flows.current_row.id == 2


async def test_marks_show_in_the_first_column_and_the_status_line(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        await pilot.press("j", "m")
        assert flows.marked == {2}
        assert row_of(app, 1).startswith("●")
        assert "1 marked" in str(main(app).query_one("#status").render())
        await pilot.press("m")
        assert flows.marked == set()


async def test_help_explains_search_status_filter_and_marks(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        await wait_loaded(pilot, app, 5)
        await pilot.press("f1")
        help_screen = await wait_screen(pilot, app, HelpScreen)
        text = str(help_screen.query_one("#help-syntax").render())
        for fact in ('"Sync Add"', "mail%2F39", "4xx", "3-9", "!1", "●", "!  failed (red)", "~  a warning (yellow)", "D lists the", "↻  a replay", "q goes back"):
            assert fact in text, fact
        await pilot.press("q")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")


async def test_ctrl_c_says_how_to_quit_without_markup(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        await wait_loaded(pilot, app, 5)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: list(app._notifications), "a notification")
        (shown,) = list(app._notifications)
        assert shown.message == "Press [b]ctrl+q[/b] to quit the app" and shown.markup  # [b] is bold, not text
        assert notifications(app) == [("information", "Press ctrl+q to quit the app")]


async def test_q_quits_from_the_flow_list(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        await wait_loaded(pilot, app, 5)
        await pilot.press("q")
        await wait_for(pilot, lambda: app._exit, "the app exiting")


async def test_sort_toasts_replace_each_other(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        await wait_loaded(pilot, app, 5)
        await pilot.press("o", "o", "o")
        await pilot.pause()
        shown = [n.message for n in app._notifications if n.message.startswith("Sorted by")]
        assert shown == ["Sorted by EAS status"]  # time -> command -> HTTP status -> EAS status
        assert sum(1 for _, message in notifications(app) if message.startswith("Sorted by")) == 3


async def test_typing_q_in_the_search_field_types_it(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SMALL) as pilot:
        await wait_loaded(pilot, app, 5)
        await focus(pilot, app, "#filter-text")
        await pilot.press("q")
        assert app.is_running and main(app).query_one("#filter-text", Input).value == "q"
