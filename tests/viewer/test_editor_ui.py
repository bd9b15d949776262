"""The replay editor at any size: the XML gets the room, notes follow edits, the password is asked once."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from textual.widgets import Collapsible, Input

from capture.reader import CaptureReader
from eas_inspector.cmd_view import keep_capture, unused_path
from tests.viewer.conftest import standard_flows, write_capture
from tests.viewer.helpers import focus, wait_for, wait_loaded, wait_screen
from tests.viewer.servers import Answer, EasServer
from tests.viewer.test_replay_ui import WBXML, capture_for, open_editor
from tests.viewer.conftest import SYNC_RESPONSE
from viewer.app import make_app
from viewer.screens.editor import EditorScreen
from viewer.screens.exchange import ExchangeScreen
from viewer.widgets.xml_text import XmlTextArea


@pytest.mark.parametrize(("size", "headers_open"), [((80, 24), False), ((200, 50), True)])
async def test_the_xml_gets_most_of_the_screen(tmp_path: Path, size: tuple[int, int], headers_open: bool) -> None:
    path = capture_for(tmp_path, 9)
    app = make_app(path)
    async with app.run_test(size=size) as pilot:
        editor = await open_editor(pilot, app)
        await pilot.pause()
        xml = editor.query_one("#replay-xml", XmlTextArea)
        assert xml.size.height >= size[1] // 2  # at 80x24: 12 rows or more, not one
        assert editor.query_one("#replay-headers-fold", Collapsible).collapsed is not headers_open
        proxy = editor.query_one("#replay-proxy", Input)
        assert proxy.size.width >= len(proxy.placeholder)  # the hint is not cut
        assert app.focused is xml


async def test_notes_follow_an_edit(tmp_path: Path) -> None:
    path = capture_for(tmp_path, 9)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot, app)
        area = editor.query_one("#replay-xml", XmlTextArea)
        assert "<!-- SyncKey 0: initial key" in area.text
        lines = area.text.split("\n")
        row = next(i for i, line in enumerate(lines) if "<SyncKey>0</SyncKey>" in line)
        area.move_cursor((row, lines[row].index(">0<") + 1))
        await pilot.press("delete", *"bogus-key")
        await wait_for(pilot, lambda: "SyncKey 0:" not in area.text, "the SyncKey 0 note gone")
        assert "<SyncKey>bogus-key</SyncKey>" in area.text
        assert area.cursor_location[0] == row  # the cursor stays on its element
        # the note comes back when the value does
        area.move_cursor((row, lines[row].index(">0<") + 1))
        await pilot.press(*(["delete"] * len("bogus-key")), "0")
        await wait_for(pilot, lambda: "<!-- SyncKey 0: initial key" in area.text, "the note back")


async def test_a_half_typed_edit_is_left_alone(tmp_path: Path) -> None:
    path = capture_for(tmp_path, 9)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot, app)
        area = editor.query_one("#replay-xml", XmlTextArea)
        area.move_cursor((0, 0))
        await pilot.press("<", "x")
        await pilot.pause(1.0)
        assert area.text.startswith("<x<Sync")  # not well-formed: nothing rewritten under the user's hands


async def test_the_password_is_asked_once_per_viewer_session(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = capture_for(tmp_path, srv.port, keep_credentials=False)
        app = make_app(path)
        async with app.run_test(size=(120, 36)) as pilot:
            await open_editor(pilot, app)
            await focus(pilot, app, "#replay-password")
            await pilot.press(*"n3w-pass", "ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the first replay")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, ExchangeScreen), "the list")
            await wait_loaded(pilot, app)
            await pilot.press("home", "e")
            editor = await wait_screen(pilot, app, EditorScreen, "the editor again")
            assert editor.query_one("#replay-password", Input).value == "n3w-pass"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: len(srv.received) == 2, "the second replay")
            expected = "Basic " + base64.b64encode(b"jdoe:n3w-pass").decode()
            assert [dict(r.headers)["Authorization"] for r in srv.received] == [expected, expected]


async def test_a_replay_in_a_temporary_capture_says_where_it_is_kept(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = capture_for(tmp_path, srv.port)
        kept = tmp_path / "captures" / "traffic-replays.sqlite"
        app = make_app(path, kept_as=kept)
        async with app.run_test(size=(120, 36)) as pilot:
            await open_editor(pilot, app)
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay")
            assert app.replays_stored == 1
            assert any(f"the capture is kept as {kept} on exit" in message for _, message in app.notices)


def test_keep_capture_copies_replays_owner_only(tmp_path: Path) -> None:
    source = tmp_path / "temporary.sqlite"
    write_capture(source, standard_flows())
    (tmp_path / "captures").mkdir()
    (tmp_path / "captures" / "traffic-replays.sqlite").write_text("taken")
    destination = unused_path(tmp_path / "captures" / "traffic-replays.sqlite")
    assert destination.name == "traffic-replays-2.sqlite"
    keep_capture(source, destination)
    assert stat.S_IMODE(os.stat(destination).st_mode) == 0o600
    with CaptureReader(destination) as reader:
        assert reader.count_flows() == 5
