"""Edit and replay through the real TUI, against real servers on 127.0.0.1; replays are stored and diffed."""

from __future__ import annotations

import base64
from pathlib import Path

from textual.widgets import DataTable, Input, Switch

from capture.model import FlowFilter
from capture.reader import CaptureReader
from tests.viewer.conftest import (
    SYNC_REQUEST,
    SYNC_RESPONSE,
    SYNC_RESPONSE_BAD,
    eas_flow,
    write_capture,
)
from tests.viewer.helpers import wait_screen, focus, notifications, wait_for, wait_loaded
from tests.viewer.servers import Answer, EasServer, ForwardProxy, SilentServer, free_port
from viewer.app import make_app
from viewer.screens.editor import EditorScreen
from viewer.screens.exchange import ExchangeScreen
from viewer.widgets.xml_text import XmlTextArea

SIZE = (120, 36)
WBXML = [("Content-Type", "application/vnd.ms-sync.wbxml")]


def capture_for(tmp_path: Path, port: int, keep_credentials: bool = True) -> Path:
    path = tmp_path / "replay.sqlite"
    write_capture(
        path,
        [eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, scheme="http", host="127.0.0.1", port=port)],
        keep_credentials=keep_credentials,
    )
    return path


async def open_editor(pilot, app) -> EditorScreen:  # type: ignore[no-untyped-def]
    await wait_loaded(pilot, app, 1)
    await pilot.press("e")
    await wait_screen(pilot, app, EditorScreen, "editor screen")
    screen = app.screen
    assert isinstance(screen, EditorScreen)
    return screen


def replays(path: Path, original: int = 1) -> list[int]:
    with CaptureReader(path) as reader:
        return [r.id for r in reader.flows(FlowFilter(replay_of=original), limit=None)]


async def test_unedited_replay_sends_the_original_bytes_and_is_stored(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE_BAD)) as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            assert editor.query_one("#replay-verify", Switch).value is True
            assert not editor.query_one("#credentials").display
            auth_input = next(w for w in editor.query(Input) if w.value.startswith("Basic "))
            assert auth_input.password, "credentials are masked"
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            shown = app.screen
            assert isinstance(shown, ExchangeScreen)
            got = srv.received[0]
            assert got.body == SYNC_REQUEST
            assert got.target.startswith("/Microsoft-Server-ActiveSync?Cmd=Sync&User=jdoe")
            assert dict(got.headers)["Authorization"] == "Basic " + base64.b64encode(b"jdoe:s3cret").decode()
            assert replays(path) == [shown.flow.record.row.id]
            assert shown.flow.record.row.replay_of == 1
            assert shown.flow.original is not None and shown.flow.original.record.row.id == 1
            assert shown.flow.record.response_body == SYNC_RESPONSE_BAD
            assert any(s == "information" and m.startswith("HTTP 200 OK") for s, m in notifications(app))
            diff = shown.query_one("#diff", DataTable)
            assert diff.row_count >= 1


async def test_diff_shows_changed_status_element_by_element(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE_BAD)) as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            await open_editor(pilot, app)
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            screen = app.screen
            assert screen.query_one("#exchange-tabs").active == "tab-diff"  # type: ignore[attr-defined]
            diff = screen.query_one("#diff", DataTable)
            rows = [tuple(str(c) for c in diff.get_row_at(i)) for i in range(diff.row_count)]
            # the replay's response carries a collection Status 3 the original response did not have
            assert any(path_.endswith("/Collection/Status") and "3" in new for _, path_, _, new in rows), rows
            assert all(mark in "+-~" for mark, _, _, _ in rows)


async def test_edited_xml_is_encoded_and_sent(tmp_path: Path) -> None:
    import eas

    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            area = editor.query_one("#replay-xml", XmlTextArea)
            assert "<SyncKey>0</SyncKey>" in area.text
            edited = area.text.replace("<SyncKey>0</SyncKey>", "<SyncKey>42</SyncKey>")
            area.text = edited
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: srv.received, "the request")
            assert srv.received[0].body == eas.encode(edited)
            assert srv.received[0].body != SYNC_REQUEST
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")


async def test_xml_that_cannot_be_encoded_sends_nothing(tmp_path: Path) -> None:
    with EasServer() as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            area = editor.query_one("#replay-xml", XmlTextArea)
            area.text = '<Sync xmlns="AirSync">\n  <Collections>\n    <Bogus>1</Bogus>\n  </Collections>\n</Sync>\n'
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "an error")
            assert srv.received == []
            assert isinstance(app.screen, EditorScreen)
            status = str(editor.query_one("#replay-status").render())
            assert status.startswith("Not sent:")
            assert editor.query_one("#replay-status").has_class("error")
            assert replays(path) == []
            if "line 3" in status:  # the encoder knows the line: the cursor is put on it
                assert area.cursor_location[0] == 2 and app.focused is area


async def test_redacted_credentials_are_asked_for(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = capture_for(tmp_path, srv.port, keep_credentials=False)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            assert editor.auth == "redacted"
            assert editor.query_one("#credentials").display
            assert editor.query_one("#replay-user", Input).value == "jdoe"
            assert editor.query_one("#replay-password", Input).password
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: notifications(app), "a notification")
            assert notifications(app)[-1] == ("error", "The capture hid the password: type it first.")
            assert srv.received == []
            await focus(pilot, app, "#replay-password")
            await pilot.press(*"n3w-pass", "ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            assert dict(srv.received[0].headers)["Authorization"] == "Basic " + base64.b64encode(b"jdoe:n3w-pass").decode()
            with CaptureReader(path) as reader:
                stored = reader.flow(replays(path)[0])
            assert "n3w-pass" not in str(stored.request_headers)
            assert base64.b64encode(b"jdoe:n3w-pass").decode() not in str(stored.request_headers)


async def test_replay_to_another_url_through_a_proxy(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv, ForwardProxy() as proxy:
        path = capture_for(tmp_path, free_port())  # the captured server is gone
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            editor.query_one("#replay-url", Input).value = f"{srv.url}/Microsoft-Server-ActiveSync"
            editor.query_one("#replay-proxy", Input).value = proxy.url
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            assert proxy.request_lines[0].startswith(f"POST {srv.url}/Microsoft-Server-ActiveSync?Cmd=Sync")
            assert dict(srv.received[0].headers)["Host"] == f"127.0.0.1:{srv.port}"
            assert srv.received[0].body == SYNC_REQUEST


async def test_refused_connection_is_a_clear_message_and_nothing_is_stored(tmp_path: Path) -> None:
    path = capture_for(tmp_path, free_port())
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "an error")
        severity, message = notifications(app)[-1]
        assert message.startswith("connection refused by 127.0.0.1:")
        assert str(editor.query_one("#replay-status").render()).startswith("Connection refused:")
        assert not editor.sending and isinstance(app.screen, EditorScreen)
        assert replays(path) == []


async def test_timeout_is_a_clear_message(tmp_path: Path) -> None:
    with SilentServer() as srv:
        path = capture_for(tmp_path, int(srv.url.rsplit(":", 1)[1]))
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            editor.query_one("#replay-timeout", Input).value = "0.3"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "an error")
            assert str(editor.query_one("#replay-status").render()).startswith("Timeout: no answer from 127.0.0.1")


async def test_escape_cancels_a_running_send(tmp_path: Path) -> None:
    with SilentServer() as srv:
        path = capture_for(tmp_path, int(srv.url.rsplit(":", 1)[1]))
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            await pilot.press("ctrl+s")
            assert editor.sending
            await wait_for(pilot, srv.got_request.is_set, "the server got the request")
            # the UI answers while the request is in flight
            await pilot.press("ctrl+s")
            assert notifications(app)[-1] == ("warning", "Already sending; Escape cancels.")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not editor.sending, "send cancelled")
            assert "Cancel" in str(editor.query_one("#replay-status").render())
            assert isinstance(app.screen, EditorScreen)
            assert replays(path) == []
            await pilot.press("escape")
            assert not isinstance(app.screen, EditorScreen)


async def test_http_error_answer_is_stored_and_explained(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(401, [], b"")) as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            await open_editor(pilot, app)
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            severity, message = next((s, m) for s, m in notifications(app) if m.startswith("HTTP 401"))
            assert severity == "error" and "401 Unauthorized" in message
            assert len(replays(path)) == 1


async def test_tls_switch_turns_verification_off(tmp_path: Path) -> None:
    from tests.viewer.servers import self_signed_context

    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE), tls=self_signed_context(tmp_path)) as srv:
        path = tmp_path / "tls.sqlite"
        write_capture(path, [eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, scheme="https", host="127.0.0.1", port=srv.port)])
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "a TLS error")
            assert str(editor.query_one("#replay-status").render()).startswith("TLS error:")
            editor.query_one("#replay-verify", Switch).value = False
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            assert srv.received[0].body == SYNC_REQUEST


async def test_replay_is_shown_even_when_the_capture_cannot_store_it(tmp_path: Path) -> None:
    import sqlite3

    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE_BAD)) as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        app.replay_store_timeout = 0.5
        async with app.run_test(size=SIZE) as pilot:
            await open_editor(pilot, app)
            lock = sqlite3.connect(path, timeout=0, isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")  # another writer holds the capture
            try:
                await pilot.press("ctrl+s")
                await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
                screen = app.screen
                assert isinstance(screen, ExchangeScreen)
                assert not screen.flow.stored and screen.flow.record.row.replay_of == 1
                assert screen.flow.record.response_body == SYNC_RESPONSE_BAD
                assert "(not stored)" in str(screen.query_one("#exchange-summary").render())
                assert any(s == "error" and "not stored" in m for s, m in notifications(app))
            finally:
                lock.execute("ROLLBACK")
                lock.close()


async def test_original_links_to_its_replays(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            await open_editor(pilot, app)
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            replay = app.screen
            assert isinstance(replay, ExchangeScreen)
            await pilot.press("o")  # to the original
            await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen) and app.screen is not replay, "original")
            original = app.screen
            assert isinstance(original, ExchangeScreen)
            assert original.flow.record.row.id == 1
            assert original.flow.replay_ids == (replay.flow.record.row.id,)
            assert f"replayed as #{replay.flow.record.row.id}" in str(original.query_one("#exchange-summary").render())
            await pilot.press("r")
            await wait_for(pilot, lambda: app.screen is not original, "latest replay")
            assert app.screen.flow.record.row.id == replay.flow.record.row.id  # type: ignore[attr-defined]


async def test_schema_check_blocks_an_invalid_request_until_switched_off(tmp_path: Path) -> None:
    from viewer.screens.editor import schema_problems

    invalid = ('<Sync xmlns="AirSync"><Collections><Collection><CollectionId>1</CollectionId></Collection>'
               "</Collections></Sync>")
    found = schema_problems(invalid)  # MS-ASCMD 2.2.3.166.4: a Sync collection needs its SyncKey
    assert found is not None and any("Expected is ( SyncKey )" in problem for problem in found), found
    with EasServer(lambda r: Answer(200, WBXML, SYNC_RESPONSE)) as srv:
        path = capture_for(tmp_path, srv.port)
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            editor = await open_editor(pilot, app)
            assert editor.query_one("#replay-schema", Switch).value is True
            area = editor.query_one("#replay-xml", XmlTextArea)
            area.text = invalid
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "schema error")
            assert srv.received == []
            assert str(editor.query_one("#replay-status").render()).startswith("Schema: ")
            editor.query_one("#replay-schema", Switch).value = False
            await pilot.press("ctrl+s")
            await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
            assert len(srv.received) == 1
