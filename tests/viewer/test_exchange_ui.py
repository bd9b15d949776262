"""The exchange screen through the real TUI: focus on the body, next / previous flow, wrap, problems, copy, curl."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from tests.viewer.conftest import (
    BASE_TS,
    SYNC_REQUEST,
    SYNC_RESPONSE,
    eas_flow,
    standard_flows,
    write_capture,
)
from tests.viewer.helpers import flow_list, wait_for, wait_loaded, wait_screen
from tests.viewer.servers import EasServer
from viewer.app import make_app
from viewer.curl import curl_command, encode_curl_command
from viewer.screens.exchange import ExchangeScreen, ProblemTable
from viewer.widgets.code_view import CodeView
from viewer.widgets.xml_tree import XmlTree

SIZES = [(80, 24), (200, 50)]


async def open_exchange(pilot, app, down: int = 0) -> ExchangeScreen:  # type: ignore[no-untyped-def]
    await wait_loaded(pilot, app, 5)
    await pilot.press(*(["j"] * down), "enter")
    screen = await wait_screen(pilot, app, ExchangeScreen)
    await wait_for(pilot, lambda: isinstance(app.focused, CodeView), "focus on the body")
    return screen  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", SIZES)
async def test_opening_an_exchange_focuses_the_body(capture: Path, size: tuple[int, int]) -> None:
    app = make_app(capture)
    async with app.run_test(size=size) as pilot:
        await open_exchange(pilot, app, down=1)
        body = app.focused
        assert isinstance(body, CodeView) and body.id == "request-xml"
        await pilot.press("j", "j")
        assert body.cursor_line == 2  # keys work at once, no Tab first
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.focused, CodeView) and app.focused.id == "both-request", "side by side")
        await pilot.press("1", "t")
        await wait_for(pilot, lambda: isinstance(app.focused, XmlTree), "the tree")
        tree = app.focused
        assert isinstance(tree, XmlTree)
        await pilot.press("minus")
        assert all(not child.is_expanded for child in tree.root.children)
        await pilot.press("plus")
        assert all(child.is_expanded for child in tree.root.children if child.allow_expand)


async def test_next_and_previous_flow_without_the_list(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(pilot, app)
        assert screen.flow.record.row.id == 1
        await pilot.press("2")  # the response tab stays open from flow to flow
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen) and app.screen.flow.record.row.id == 2, "flow 2")
        await wait_screen(pilot, app, ExchangeScreen)
        assert app.screen.query_one("#exchange-tabs", TabbedContent).active == "tab-response"
        await wait_for(pilot, lambda: isinstance(app.focused, CodeView) and app.focused.id == "response-xml", "the response")
        assert len(app.screen_stack) == 2  # replaced, not stacked: Escape goes back to the list
        assert flow_list(app).cursor == 1
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen) and app.screen.flow.record.row.id == 1, "flow 1")
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: app.notices and app.notices[-1][1] == "No more flows above.", "the first flow")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExchangeScreen), "the list")


async def test_wrap_shows_a_long_line_on_several_rows(tmp_path: Path) -> None:
    import eas

    long_value = "x" * 300
    request = bytes(eas.encode(f'<Sync xmlns="AirSync"><Collections><Collection><SyncKey>{long_value}</SyncKey>'
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
        assert view.virtual_size.height == view.line_count
        await pilot.press("w")
        assert view.wrap and view.virtual_size.height >= view.line_count + 300 // 80
        rows = [view.render_line(y).text for y in range(view.virtual_size.height)]
        assert f"<SyncKey>{long_value}</SyncKey>" in "".join(row.strip() for row in rows)  # every character shown
        assert all(len(row.rstrip()) <= view.size.width for row in rows)
        await pilot.press("w")
        assert not view.wrap and view.virtual_size.height == view.line_count


async def test_problems_table_shows_whole_messages(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite"
    write_capture(path, standard_flows())
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 5)
        await pilot.press("j", "j", "j", "enter")  # the Ping with a body that does not decode
        screen = await wait_screen(pilot, app, ExchangeScreen)
        await pilot.press("4")
        await wait_for(pilot, lambda: screen.query(ProblemTable), "the problems table")
        table = screen.query_one(ProblemTable)
        await wait_for(pilot, lambda: table.row_count > 0, "problem rows")
        assert app.focused is table
        reasons = [row[3] for row in screen.view.problems]
        longest = max(reasons, key=len)
        reason_column = table.columns[table.ordered_columns[3].key].width  # type: ignore[index]
        assert sum(c.get_render_width(table) for c in table.ordered_columns) <= table.size.width
        assert len(longest) > reason_column or reason_column >= len(longest)
        index = reasons.index(longest)
        assert table.get_row_at(index)[3].plain == longest  # the whole message, wrapped when long
        if len(longest) > reason_column:
            assert table.rows[table.ordered_rows[index].key].height > 1


async def test_y_copies_the_xml_and_the_current_element(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(pilot, app, down=1)
        await pilot.press("y")
        assert app.clipboard == screen.view.request_text
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.focused, XmlTree), "the tree")
        tree = app.focused
        assert isinstance(tree, XmlTree)
        node = next(n for n in _walk(tree.root) if n.data == "SyncKey")
        tree.move_cursor(node)
        await pilot.press("y")
        assert app.clipboard.startswith("<SyncKey") and app.clipboard.rstrip().endswith("</SyncKey>")
        assert "<Collections" not in app.clipboard


def _walk(node):  # type: ignore[no-untyped-def]
    yield node
    for child in node.children:
        yield from _walk(child)


def _run_shell(command: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(["bash", "-c", command], capture_output=True, timeout=60, env=env, check=False)


def test_curl_command_sends_the_same_bytes_and_no_password(tmp_path: Path) -> None:
    body = SYNC_REQUEST
    with EasServer() as server:
        url = f"{server.url}/Microsoft-Server-ActiveSync?Cmd=Sync&User=jdoe&DeviceId=ABC123&DeviceType=iPhone"
        headers = [("Host", server.url.split("//")[1]), ("Authorization", "Basic amRvZTpzM2NyZXQ="),
                   ("MS-ASProtocolVersion", "16.1"), ("Content-Type", "application/vnd.ms-sync.wbxml"),
                   ("Content-Length", "20")]
        command = curl_command("POST", url, headers, body)
        assert "s3cret" not in command and "amRvZTpzM2NyZXQ=" not in command and "-u jdoe" in command
        # without the password prompt: the same command with the Authorization header given back
        result = _run_shell(f"cd {tmp_path} && " + command.replace("-u jdoe", "-H 'Authorization: Basic amRvZTpzM2NyZXQ='"))
        assert result.returncode == 0, result.stderr
        (received,) = server.received
        assert received.method == "POST" and received.body == body
        assert ("MS-ASProtocolVersion", "16.1") in received.headers
        assert received.target == url.split(server.url)[1]
        assert (tmp_path / "response.wbxml").exists()


def test_encode_curl_command_encodes_the_xml_it_carries(tmp_path: Path) -> None:
    import eas

    xml = eas.to_xml(eas.decode(SYNC_REQUEST))
    with EasServer() as server:
        url = f"{server.url}/Microsoft-Server-ActiveSync?Cmd=Sync"
        command = encode_curl_command("POST", url, [("Content-Type", "application/vnd.ms-sync.wbxml")], xml)
        result = _run_shell(f"cd {tmp_path} && " + command)
        assert result.returncode == 0, result.stderr
        (received,) = server.received
        assert received.body == SYNC_REQUEST


async def test_copy_as_curl_from_the_exchange(capture: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(pilot, app, down=1)
        screen.copy_request(as_encode=False)
        assert app.clipboard.startswith("printf %s ") and " | base64 -d | curl " in app.clipboard
        assert "s3cret" not in app.clipboard and "-u jdoe" in app.clipboard
        screen.copy_request(as_encode=True)
        assert app.clipboard.startswith("eas-inspector encode - <<'EAS_XML' | curl ")
        assert "<Sync" in app.clipboard and app.clipboard.endswith("EAS_XML\n")


async def test_palette_lists_the_copy_commands(capture: Path) -> None:
    from viewer.commands import InspectorCommands

    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exchange(pilot, app)
        provider = InspectorCommands(app.screen)
        titles = [title for title, _, _ in provider._commands()]
        for title in ("copy: Request as curl", "copy: Request as eas-inspector encode | curl", "flow: Next", "view: Wrap long lines"):
            assert title in titles


async def test_exchange_at_ts_of_the_stored_flow(tmp_path: Path) -> None:
    path = tmp_path / "one.sqlite"
    write_capture(path, [eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, ts=BASE_TS)])
    app = make_app(path)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_loaded(pilot, app, 1)
        await pilot.press("enter")
        await wait_screen(pilot, app, ExchangeScreen)
        await wait_for(pilot, lambda: isinstance(app.focused, CodeView), "the body")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: app.notices and app.notices[-1][1] == "No more flows below.", "the last flow")
