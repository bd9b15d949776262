"""Browsing through the real TUI: sessions -> flows -> exchange, filters, sort, problems, help, palette."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, DataTable, Input, Select

from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from tests.viewer.conftest import GARBAGE, SYNC_REQUEST, SYNC_RESPONSE, BASE_TS, eas_flow, standard_flows, write_capture
from tests.viewer.helpers import wait_screen, focus, flow_list, main, notifications, screen_name, wait_for, wait_loaded
from viewer.app import make_app
from viewer.screens.exchange import ExchangeScreen
from viewer.screens.help import HelpScreen
from viewer.widgets.code_view import CodeView

SIZE = (120, 36)


# What the filters must show of the standard capture (conftest.standard_flows, ids 1-5 in time order), written
# from the flows it holds, never asked of the reader the viewer uses: 1 FolderSync (its response breaks the
# FolderSync schema), 2 and 3 Sync (3 answered Status 3, a problem: issue 12), 4 Ping answered 401 with a
# truncated request body, 5 the Android's Sync.
ALL = [1, 2, 3, 4, 5]
JDOE_IPHONE = [1, 2, 3, 4]
ASMITH_ANDROID = [5]
SYNC = [2, 3, 5]
HTTP_401 = [4]
WITH_PROBLEMS = [1, 3, 4]
TEXT_FOLDERSYNC = [1]


async def test_first_screen_shows_sessions_and_flows(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        total, ids = len(ALL), ALL
        flows = await wait_loaded(pilot, app, total)
        assert [flows.row_at(i).id for i in range(total)] == ids  # type: ignore[union-attr]
        with CaptureReader(capture) as reader:
            sessions = reader.sessions()
        table = main(app).query_one("#sessions", DataTable)
        assert table.row_count == len(sessions) + 1
        assert table.get_row_at(0)[0] == "(all sessions)"
        assert {table.get_row_at(i)[1] for i in range(1, table.row_count)} == {"ABC123", "XYZ9"}
        assert app.focused is flows
        status = str(main(app).query_one("#status").render())
        assert f"1/{total} flows" in status


async def test_selecting_a_session_lists_its_flows(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app)
        with CaptureReader(capture) as reader:
            android = next(s for s in reader.sessions() if s.device_type == "Android")
        table = main(app).query_one("#sessions", DataTable)
        table.focus()
        index = next(i for i in range(table.row_count) if table.get_row_at(i)[1] == "XYZ9")
        table.move_cursor(row=index)
        total, ids = len(ASMITH_ANDROID), ASMITH_ANDROID
        flows = await wait_loaded(pilot, app, total)
        assert main(app).filter.session_id == android.id
        assert flows.row_at(0).id == ids[0]  # type: ignore[union-attr]
        await pilot.press("enter")  # Enter on a session goes to its flows
        assert app.focused is flows
        await pilot.press("a")
        await wait_loaded(pilot, app, len(ALL))
        assert main(app).filter.session_id is None


async def test_filters_command_status_problems_and_text(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app)
        screen = main(app)
        screen.query_one("#filter-command", Select).value = "Sync"
        total, ids = len(SYNC), SYNC
        flows = await wait_loaded(pilot, app, total)
        assert [flows.row_at(i).id for i in range(total)] == ids  # type: ignore[union-attr]

        await pilot.press("c")  # clear
        await wait_loaded(pilot, app, len(ALL))
        await focus(pilot, app, "#filter-status")
        await pilot.press(*"401", "enter")
        total, ids = len(HTTP_401), HTTP_401
        await wait_loaded(pilot, app, total)
        assert flow_list(app).total == total and flow_list(app).row_at(0).id == ids[0]  # type: ignore[union-attr]

        await pilot.press("c", "p")
        total, ids = len(WITH_PROBLEMS), WITH_PROBLEMS
        await wait_loaded(pilot, app, total)
        assert screen.query_one("#filter-problems", Checkbox).value is True
        assert [flow_list(app).row_at(i).id for i in range(total)] == ids  # type: ignore[union-attr]

        await pilot.press("c", "slash")
        assert app.focused is screen.query_one("#filter-text", Input)
        await pilot.press(*"FolderSync", "enter")
        total, ids = len(TEXT_FOLDERSYNC), TEXT_FOLDERSYNC
        await wait_loaded(pilot, app, total)
        assert [flow_list(app).row_at(i).id for i in range(total)] == ids  # type: ignore[union-attr]
        assert screen.filter.text == "FolderSync"
        assert app.focused is flow_list(app)


async def test_bad_status_filter_is_a_notification(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app)
        await focus(pilot, app, "#filter-status")
        await pilot.press(*"abc", "enter")
        await wait_for(pilot, lambda: notifications(app), "a notification")
        assert any(
            severity == "error" and message.startswith("status filter 'abc': expected a number (401, 3)")
            for severity, message in notifications(app)
        )


async def test_sort_and_reverse(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("O")
        newest, by_command = ALL[-1], 1  # FolderSync sorts before Ping and Sync
        await wait_for(pilot, lambda: flow_list(app).row_at(0) is not None and flow_list(app).row_at(0).id == newest, "newest first")
        assert main(app).filter.descending
        await pilot.press("O", "o")
        await wait_for(pilot, lambda: main(app).filter.order == "command" and flow_list(app).row_at(0) is not None
                       and flow_list(app).row_at(0).id == by_command, "sorted by command")


async def test_next_problem_jumps_to_the_next_flow_with_problems(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app)
        problem_ids, all_ids = WITH_PROBLEMS, ALL
        assert problem_ids, "the standard capture has flows with problems"
        positions = [all_ids.index(i) for i in problem_ids]
        for position in positions:
            if position == flows.cursor:
                continue
            await pilot.press("n")
            assert flows.cursor == position
        await pilot.press("n")
        await pilot.pause()
        assert notifications(app)[-1] == ("information", "No more flows with problems below.")
        await pilot.press("N")
        assert flows.cursor in positions


async def test_next_problem_scans_pages_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "many.sqlite"
    flows_in = [eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, ts=BASE_TS + i) for i in range(450)]
    flows_in.append(eas_flow("Ping", b"\x03\x01\x6a\x00\x45\xff\xff", b"", ts=BASE_TS + 1000, status=401))
    writer = CaptureWriter(path)
    for f in flows_in:
        writer.add(f)
    writer.close()
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app, 451)
        assert flows.loaded_rows <= 200
        problem_ids, all_ids = [451], list(range(1, 452))  # only the last flow, a truncated Ping, has problems
        target = min(all_ids.index(i) for i in problem_ids)
        await pilot.press("n")
        await wait_for(pilot, lambda: flows.cursor == target, "cursor on the far problem")


async def test_open_exchange_shows_request_response_headers_and_raw(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app)
        first = flows.row_at(0)
        assert first is not None
        await pilot.press("enter")
        await wait_screen(pilot, app, ExchangeScreen, "exchange screen")
        screen = app.screen
        assert isinstance(screen, ExchangeScreen)
        assert screen.flow.record.row.id == first.id
        assert "#1" in str(screen.query_one("#exchange-summary").render())
        await pilot.press("5")
        assert screen.query_one("#exchange-tabs").active == "tab-raw"  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: screen.query("#raw-request"), "raw pane mounted")
        raw = screen.query_one("#raw-request", CodeView).text
        assert raw.startswith("00000000  " + " ".join(f"{b:02x}" for b in screen.flow.record.request_body[:8]))
        await pilot.press("1")
        screen.query_one("#request-tabs").active = "request-headers-pane"  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: screen.query("#request-headers"), "headers pane mounted")
        headers = screen.query_one("#request-headers", DataTable)
        await wait_for(pilot, lambda: headers.row_count, "header rows")
        cells = [str(c) for i in range(headers.row_count) for c in headers.get_row_at(i)]
        assert any("MS-ASProtocolVersion" in c for c in cells)
        assert not any("s3cret" in c for c in cells), "credentials are never shown in clear"
        await pilot.press("t")
        assert screen.query_one("#request-tabs").active == "request-tree-pane"  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert screen_name(app) == "MainScreen"


async def test_help_lists_all_keys(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        described = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        assert {"Next problem", "Edit & replay", "Send", "Raw bytes", "Problems only", "Help"} <= described
        await pilot.press("escape")
        assert screen_name(app) == "MainScreen"


async def test_command_palette_filter_errors_only(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.press(*"errors only")
        await wait_for(pilot, lambda: "filter: Errors only" in str(app.screen.query("CommandList").first().get_option_at_index(0).prompt) if app.screen.query("CommandList") and app.screen.query("CommandList").first().option_count else False, "palette hit")
        await pilot.press("enter")
        total = len(WITH_PROBLEMS)
        await wait_loaded(pilot, app, total)
        assert main(app).filter.problems_only


async def test_follow_shows_new_flows_without_stealing_the_selection(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    write_capture(path, standard_flows())
    app = make_app(path, follow=True)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        await pilot.press("down", "down")
        selected = flows.current_row
        assert selected is not None
        writer = CaptureWriter(path)
        try:
            writer.add_sync(eas_flow("Ping", b"", b"", ts=BASE_TS + 100))
            writer.add_sync(eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, ts=BASE_TS + 101, device="NEW1"))
        finally:
            writer.close()
        await wait_for(pilot, lambda: flows.total == 7, "two new flows")
        await wait_for(pilot, lambda: flows.current_row is not None, "rows reloaded")
        assert flows.current_row.id == selected.id  # type: ignore[union-attr]
        table = main(app).query_one("#sessions", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4, "the new device session")
        assert "following" in str(main(app).query_one("#status").render())


async def test_a_file_that_is_not_a_capture_is_a_notification(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("not sqlite")
    app = make_app(bogus)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: notifications(app), "a notification")
        severity, message = notifications(app)[0]
        assert severity == "error" and "cannot open" in message
        assert screen_name(app) == "MainScreen"


async def test_selecting_a_problem_with_an_offset_shows_that_byte(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app)
        # The Ping's request (conftest.GARBAGE) stops inside an element: the problem is at its end, offset 8.
        index = ALL.index(4)
        with CaptureReader(capture) as reader:
            located = [p for p in reader.flow(4).exchange().problems if p.offset is not None]
        assert [(p.where, p.offset) for p in located] == [("request body", len(GARBAGE))]
        problem = located[0]
        flows.move_cursor(index)
        await pilot.press("enter")
        await wait_screen(pilot, app, ExchangeScreen, "exchange")
        screen = app.screen
        await pilot.press("4")
        await wait_for(pilot, lambda: screen.query("#problems"), "problems pane")
        table = screen.query_one("#problems", DataTable)
        await wait_for(pilot, lambda: table.row_count, "problem rows")
        offsets = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        row = offsets.index(f"0x{problem.offset:X} ({problem.offset})")
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        which = "response" if "response" in problem.where else "request"
        await wait_for(pilot, lambda: screen.query(f"#raw-{which}"), "raw pane")
        area = screen.query_one(f"#raw-{which}", CodeView)
        await wait_for(pilot, lambda: app.focused is area, "hex dump focused")
        assert screen.query_one("#exchange-tabs").active == "tab-raw"  # type: ignore[attr-defined]
        assert area.cursor_location[0] == problem.offset // 16


async def test_command_palette_flow_replay_opens_the_editor(capture: Path) -> None:
    from viewer.screens.editor import EditorScreen

    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app)
        await pilot.press("ctrl+p", *"flow: replay")
        await wait_for(
            pilot,
            lambda: bool(app.screen.query("CommandList")) and app.screen.query_one("CommandList").option_count > 0,
            "palette hits",
        )
        await pilot.press("enter")
        await wait_screen(pilot, app, EditorScreen, "editor")
        assert app.screen.flow.record.row.id == ALL[0]  # type: ignore[attr-defined]


async def test_follow_newest_first_keeps_the_selected_flow(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    write_capture(path, standard_flows())
    app = make_app(path, follow=True)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        await pilot.press("O")
        await wait_for(pilot, lambda: main(app).filter.descending and flows.row_at(0) is not None and flows.row_at(0).id == 5, "newest first")
        await pilot.press("down")
        selected = flows.current_row
        assert selected is not None and selected.id == 4
        writer = CaptureWriter(path)
        try:
            writer.add_sync(eas_flow("Ping", b"", b"", ts=BASE_TS + 100))
        finally:
            writer.close()
        await wait_for(pilot, lambda: flows.total == 6, "the new flow")
        await wait_for(pilot, lambda: flows.current_row is not None, "rows reloaded")
        assert flows.current_row.id == 4  # type: ignore[union-attr]
        assert flows.row_at(0).id == 6  # type: ignore[union-attr]


async def test_follow_keeps_session_and_flow_when_a_flow_lands_before_the_selection(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    write_capture(path, standard_flows())
    app = make_app(path, follow=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(pilot, app, 5)
        with CaptureReader(path) as reader:
            jdoe = next(s for s in reader.sessions() if s.user == "jdoe")
        table = main(app).query_one("#sessions", DataTable)
        index = next(i for i in range(table.row_count) if table.get_row_at(i)[0] == "jdoe")
        table.move_cursor(row=index)
        flows = await wait_loaded(pilot, app, len(JDOE_IPHONE))
        flows.focus()
        await pilot.press("down", "down")
        selected = flows.current_row
        assert selected is not None and flows.cursor == 2
        writer = CaptureWriter(path)
        try:  # a long Ping that started before the selected flow, stored when it ended
            writer.add_sync(eas_flow("Ping", b"", b"", ts=selected.ts_start - 0.5))
            writer.add_sync(eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, ts=BASE_TS + 50, device="OTHER"))
        finally:
            writer.close()
        total = len(JDOE_IPHONE) + 1  # the Ping; the Sync of device OTHER is another session
        await wait_for(pilot, lambda: flows.total == total, "the new flow of the session")
        await wait_for(pilot, lambda: flows.current_row is not None and flows.cursor == 3, "selection followed")
        assert flows.current_row.id == selected.id  # type: ignore[union-attr]
        assert main(app).filter.session_id == jdoe.id
        await wait_for(pilot, lambda: table.row_count == 4, "the new device's session row")
        assert table.get_row_at(table.cursor_row)[0] == "jdoe"
