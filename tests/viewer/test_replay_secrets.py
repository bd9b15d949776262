"""The replay editor with a password in the body (issue 13): the XML shows it as "(hidden) N characters"; what
goes to the server (a real HTTP server on 127.0.0.1 that records the bytes) is the password, never the placeholder."""

from __future__ import annotations

from pathlib import Path

import eas
from tests.eas.test_hidden_secrets import DEVICE_PASSWORD, PASSWORD, passwords
from tests.viewer.conftest import SYNC_RESPONSE, eas_flow, write_capture
from tests.viewer.helpers import focus, notifications, wait_for, wait_screen
from tests.viewer.servers import Answer, EasServer
from tests.viewer.test_replay_ui import SIZE, WBXML, open_editor, replays
from viewer.app import make_app
from viewer.screens.editor import EditorScreen
from viewer.screens.exchange import ExchangeScreen
from viewer.widgets.xml_text import XmlTextArea

PLACEHOLDER = "(hidden) 9 characters"


def settings_capture(tmp_path: Path, port: int, keep_credentials: bool) -> Path:
    path = tmp_path / "settings.sqlite"
    flow = eas_flow("Settings", DEVICE_PASSWORD, SYNC_RESPONSE, scheme="http", host="127.0.0.1", port=port)
    write_capture(path, [flow], keep_credentials=keep_credentials)
    return path


async def test_an_edit_of_another_element_sends_the_original_password(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = settings_capture(tmp_path, srv.port, keep_credentials=True)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            area = editor.query_one("#replay-xml", XmlTextArea)
            assert f"<Password>{PLACEHOLDER}</Password>" in area.text and PASSWORD not in area.text
            area.text = area.text.replace("<Model>X</Model>", "<Model>Y</Model>")
            editor.refresh_notes()  # what the editor does after a pause in typing; the placeholder stays as it was
            await pilot.pause()
            assert f"<Password>{PLACEHOLDER}</Password>" in area.text
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: srv.received, "the request")
            received = srv.received[0].body
            assert passwords(received) == [PASSWORD]
            assert eas.decode(received).findtext(".//{Settings}Model") == "Y"
            assert PLACEHOLDER.encode() not in received
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")


async def test_an_unedited_replay_sends_the_original_bytes(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = settings_capture(tmp_path, srv.port, keep_credentials=True)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            await open_editor(pilot, app)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: srv.received, "the request")
            assert srv.received[0].body == DEVICE_PASSWORD
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")


async def test_a_password_the_capture_hid_is_not_sent_until_typed(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = settings_capture(tmp_path, srv.port, keep_credentials=False)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            area = editor.query_one("#replay-xml", XmlTextArea)
            await pilot.press("ctrl+s")  # unedited: the stored body holds the placeholder, not the password
            await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "an error")
            message = next(m for s, m in notifications(app) if s == "error")
            assert "\n" not in message and "Password" in message and "the capture hid the original value" in message
            status = str(editor.query_one("#replay-status").render())
            assert status.startswith("Not sent:") and "\n" not in status
            assert srv.received == []
            assert isinstance(app.screen, EditorScreen)

            # the device password typed over the placeholder (and the Basic password the capture hid too)
            placeholder = next(line for line in area.text.splitlines() if "<Password>" in line).strip()
            area.text = area.text.replace(placeholder, "<Password>n3w-pass</Password>")
            editor.refresh_notes()  # the notes made again keep the typed password as typed
            await pilot.pause()
            assert "<Password>n3w-pass</Password>" in area.text
            await focus(pilot, app, "#replay-password")
            await pilot.press(*"s3cret", "ctrl+s")
            await wait_for(pilot, lambda: srv.received, "the request")
            assert passwords(srv.received[0].body) == ["n3w-pass"]
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            assert len(replays(path)) == 1
