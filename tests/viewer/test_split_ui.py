"""The list + detail split of wide terminals, and selecting and copying text in the code views, through the pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.selection import Selection
from textual.geometry import Offset
from textual.widgets import DataTable

from tests.viewer.conftest import SYNC_RESPONSE, eas_flow, write_capture
from tests.viewer.helpers import flow_list, wait_for, wait_loaded, wait_screen
from viewer.app import make_app
from viewer.commands import InspectorCommands
from viewer.screens.exchange import ExchangeScreen
from viewer.screens.help import HelpScreen
from viewer.widgets.code_view import CodeView, selected_lines
from viewer.widgets.flow_detail import FlowDetail

# The annotated XML of the fixtures' Sync request (tests/viewer/conftest.py SYNC_REQUEST, MS-ASWBXML bytes of
# <Sync><Collections><Collection><SyncKey>0</SyncKey><CollectionId>1</CollectionId>...), line by line.
SYNC_REQUEST_LINES = [
    '<Sync xmlns="AirSync">',
    "  <Collections>",
    "    <Collection>",
    "      <SyncKey>0</SyncKey>",
    "      <!-- SyncKey 0: initial key: the server resets this collection's state and answers with a new key -->",
    "      <CollectionId>1</CollectionId>",
]
# The first line of every decoded Sync response of the fixtures (the trailer byte kept as an attribute).
SYNC_RESPONSE_FIRST_LINE = '<Sync xmlns="AirSync" xmlns:wbxml="urn:eas-inspector:wbxml" wbxml:trailer="AQ==">'


def detail(app) -> FlowDetail:  # type: ignore[no-untyped-def]
    return app.main_screen.query_one(FlowDetail)  # type: ignore[no-any-return]


def summary_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(detail(app).query_one("#detail-summary").render())


async def wait_detail(pilot, app, flow_id: int) -> FlowDetail:  # type: ignore[no-untyped-def]
    pane = detail(app)
    await wait_for(pilot, lambda: pane.shown_id == flow_id, f"the detail of flow #{flow_id}")
    await pilot.pause()
    return pane


async def test_narrow_terminal_shows_the_list_alone_with_its_essential_columns(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        await pilot.pause()
        assert not detail(app).display
        assert flows.size.width == 80
        assert {"mark", "id", "command", "collection", "sync_key", "http", "eas"} <= {c.key for c in flows.columns}


async def test_wide_terminal_shows_the_selected_flow_beside_the_list(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(200, 50)) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        pane = await wait_detail(pilot, app, 1)
        assert pane.display and flows.size.width < 200 and pane.size.width > 60
        assert "#1 FolderSync" in summary_text(app)
        assert app.focused is flows  # the list keeps the keys: j / k / Enter
        await pilot.press("j", "j")
        assert flows.cursor == 2  # moved at once, before any detail is read
        await wait_detail(pilot, app, 3)
        text = summary_text(app)
        assert "FAILED" in text and "#3 Sync" in text and "collection 1" in text and "HTTP 200" in text
        assert "Sync/Collections/Collection/Status = 3 (invalid synchronization key" in text
        response = pane.query_one("#detail-response", CodeView)
        request = pane.query_one("#detail-request", CodeView)
        assert response.lines[0] == SYNC_RESPONSE_FIRST_LINE
        assert "      <Status>3</Status>" in response.lines
        assert list(request.lines[: len(SYNC_REQUEST_LINES)]) == SYNC_REQUEST_LINES
        await pilot.press("j")
        await wait_detail(pilot, app, 4)
        text = summary_text(app)
        assert "#4 Ping" in text and "HTTP 401" in text and "problems:" in text
        assert "request body: input ends inside the document" in text
        await pilot.press("enter")  # Enter still opens the whole exchange
        screen = await wait_screen(pilot, app, ExchangeScreen)
        assert screen.flow.record.row.id == 4


async def test_the_detail_waits_until_the_cursor_rests(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_loaded(pilot, app, 5)
        pane = await wait_detail(pilot, app, 1)
        pane.delay = 30.0  # far longer than a key press and the pause after it, however loaded the machine
        seen: list[int | None] = []
        for _ in range(3):
            await pilot.press("j")
            await pilot.pause(0.2)  # time enough to read a flow, were it read at once
            seen.append(pane.shown_id)
        assert seen == [1, 1, 1]  # flows #2 and #3 were passed over, never shown
        pane.delay = 0.01
        await pilot.press("k")
        await wait_detail(pilot, app, 3)
        await pilot.press("j")
        await wait_detail(pilot, app, 4)
        pane.delay = 30.0
        await pilot.press("k", "j")  # away and back before the delay: flow #4's detail stays, summary and all
        assert pane.shown_id == 4 and "#4 Ping" in summary_text(app) and "problems:" in summary_text(app)


async def test_toggle_turns_the_split_on_and_off_at_any_width(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 5)
        await pilot.press("j", "v")
        pane = await wait_detail(pilot, app, 2)
        assert pane.display and "#2 Sync" in summary_text(app)
        await pilot.press("v")
        await pilot.pause()
        assert not pane.display and flow_list(app).size.width == 80
    app = make_app(capture)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_loaded(pilot, app, 5)
        pane = await wait_detail(pilot, app, 1)
        await pilot.press("v")
        await pilot.pause()
        assert not pane.display and flow_list(app).size.width == 200


async def test_resizing_across_the_threshold_switches_the_default(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 5)
        pane = detail(app)
        await pilot.resize_terminal(200, 50)
        await wait_detail(pilot, app, 1)
        assert pane.display
        await pilot.press("v")  # off by choice: stays off while the terminal stays wide
        await pilot.resize_terminal(180, 50)
        await pilot.pause()
        assert not pane.display
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not pane.display
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert pane.display


async def test_the_split_key_is_in_help_and_in_the_palette(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 5)
        titles = [title for title, _, _ in InspectorCommands(app.screen)._commands()]
        assert "view: Split list and detail" in titles
        await pilot.press("f1")
        help_screen = await wait_screen(pilot, app, HelpScreen)
        table = help_screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert ["flows", "v", "Split: list + detail (on from 160 columns)"] in rows


def test_selected_lines_counts_columns_and_keeps_newlines() -> None:
    lines = ["abc", "defg", "hi"]
    assert selected_lines(lines, Selection(Offset(1, 0), Offset(3, 0))) == "bc"
    assert selected_lines(lines, Selection(Offset(2, 0), Offset(0, 1))) == "c\n"
    assert selected_lines(lines, Selection(Offset(1, 0), Offset(1, 2))) == "bc\ndefg\nh"
    assert selected_lines(lines, Selection(None, None)) == "abc\ndefg\nhi"
    assert selected_lines(lines, Selection(Offset(3, 1), Offset(9, 7))) == "g\nhi"


async def open_sync_request(pilot, app) -> tuple[ExchangeScreen, CodeView]:  # type: ignore[no-untyped-def]
    await wait_loaded(pilot, app, 5)
    await pilot.press("j", "enter")
    screen = await wait_screen(pilot, app, ExchangeScreen)
    await wait_for(pilot, lambda: isinstance(app.focused, CodeView) and app.focused.id == "request-xml", "the request")
    view = app.focused
    assert isinstance(view, CodeView)
    return screen, view


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_shift_arrows_select_and_y_copies_exactly_the_selection(capture: Path, size: tuple[int, int]) -> None:
    app = make_app(capture)
    async with app.run_test(size=size) as pilot:
        screen, view = await open_sync_request(pilot, app)
        await pilot.press("j", "j", "j", "shift+down", "shift+end")
        await pilot.press("y")
        assert app.clipboard == SYNC_REQUEST_LINES[3] + "\n" + SYNC_REQUEST_LINES[4]
        await pilot.press("shift+left", "shift+left", "shift+left", "shift+left")
        await pilot.press("y")
        assert app.clipboard == "      <SyncKey>0</SyncKey>\n      <!-- SyncKey 0: initial key: the server resets this collection's state and answers with a new key"
        await pilot.press("shift+up", "shift+right", "shift+right")  # past the line's end: on to the next line
        await pilot.press("y")
        assert app.clipboard == SYNC_REQUEST_LINES[3] + "\n "
        # the moving end from (1, line 5) up to (1, line 3), then left to line 3's start: before the anchor
        await pilot.press("shift+up", "shift+up", "shift+left")
        await pilot.press("y")
        assert app.clipboard == SYNC_REQUEST_LINES[2] + "\n"
        await pilot.press("j")  # a plain move drops the selection: y copies the whole XML again
        await pilot.press("y")
        assert app.clipboard == screen.view.request_text and app.clipboard.startswith(SYNC_REQUEST_LINES[0] + "\n")


async def test_a_mouse_drag_selects_and_y_copies_it(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        _, view = await open_sync_request(pilot, app)
        gutter = len(str(view.line_count)) + 2
        # line 4 is `      <SyncKey>0</SyncKey>`: columns 6 to 15 hold `<SyncKey>0`
        await pilot.mouse_down(view, offset=(gutter + 6, 3))
        await pilot.hover(view, offset=(gutter + 15, 3))
        await pilot.mouse_up(view, offset=(gutter + 15, 3))
        await wait_for(pilot, lambda: view in app.screen.selections, "a selection")
        await pilot.press("y")
        assert app.clipboard == "<SyncKey>0"
        await pilot.press("shift+right", "shift+right")  # Shift+arrows extend what the mouse selected
        await pilot.press("y")
        assert app.clipboard == "<SyncKey>0</"
        await pilot.mouse_down(view, offset=(0, 1))  # from the gutter: the line's first column
        await pilot.hover(view, offset=(gutter + 4, 2))
        await pilot.mouse_up(view, offset=(gutter + 4, 2))
        await pilot.press("y")
        assert app.clipboard == "  <Collections>\n    <"  # the cell under the pointer is included


async def test_y_in_the_detail_copies_its_selection_else_its_xml(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_loaded(pilot, app, 5)
        await pilot.press("j", "j")
        pane = await wait_detail(pilot, app, 3)
        response = pane.query_one("#detail-response", CodeView)
        response.focus()
        await wait_for(pilot, lambda: app.focused is response, "focus on the response")
        await pilot.press("y")
        assert app.clipboard == response.text and app.clipboard.startswith(SYNC_RESPONSE_FIRST_LINE + "\n")
        await pilot.press("shift+down")
        await pilot.press("y")
        assert app.clipboard == SYNC_RESPONSE_FIRST_LINE + "\n"  # the newline selected is copied too


async def test_an_empty_list_empties_the_detail(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_loaded(pilot, app, 5)
        pane = await wait_detail(pilot, app, 1)
        app.main_screen.set_filter(http_status=599)
        await wait_loaded(pilot, app, 0)
        await wait_for(pilot, lambda: pane.shown_id is None and summary_text(app) == "No flow selected.", "an empty detail")
        assert pane.query_one("#detail-response", CodeView).text == ""
        app.main_screen.set_filter(http_status=None)
        await wait_loaded(pilot, app, 5)
        await wait_detail(pilot, app, 1)


async def test_a_drag_selects_the_characters_shown_when_scrolled_sideways_or_wrapped(tmp_path: Path) -> None:
    import eas

    value = "".join(f"{i:03d}," for i in range(60))  # 240 characters, each place distinct
    request = bytes(eas.encode(f'<Sync xmlns="AirSync"><Collections><Collection><SyncKey>{value}</SyncKey>'
                               "</Collection></Collections></Sync>"))
    path = tmp_path / "long.sqlite"
    write_capture(path, [eas_flow("Sync", request, SYNC_RESPONSE)])
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 1)
        await pilot.press("enter")
        await wait_screen(pilot, app, ExchangeScreen)
        await wait_for(pilot, lambda: isinstance(app.focused, CodeView), "the body")
        view = app.focused
        assert isinstance(view, CodeView)
        gutter = len(str(view.line_count)) + 2
        assert view.lines[3] == f"      <SyncKey>{value}</SyncKey>"
        view.scroll_to(x=40, animate=False, immediate=True)  # scrolled sideways, the gutter out of sight
        await pilot.pause()
        await pilot.mouse_down(view, offset=(0, 3))
        await pilot.hover(view, offset=(4, 3))
        await pilot.mouse_up(view, offset=(4, 3))
        await pilot.press("y")
        assert app.clipboard == view.lines[3][40 - gutter : 45 - gutter]
        assert app.clipboard == value[40 - gutter - 15 : 45 - gutter - 15]
        await pilot.press("w")
        await pilot.pause()
        text_width = view.scrollable_content_region.width - gutter
        # row 5 on screen shows line 4's characters from text_width on; `      <SyncKey>` is 15 of them
        await pilot.mouse_down(view, offset=(gutter, 4))
        await pilot.hover(view, offset=(gutter + 4, 4))
        await pilot.mouse_up(view, offset=(gutter + 4, 4))
        await pilot.press("y")
        assert app.clipboard == value[text_width - 15 : text_width - 10]
