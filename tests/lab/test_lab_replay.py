"""Capture a real Sync with the real addon in mitmdump, edit and replay it through the TUI against the lab server."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from lxml import etree
from textual.pilot import Pilot

import eas
from capture.model import FlowFilter, FlowRecord
from capture.reader import CaptureReader
from tests.addon.conftest import launch_mitmdump
from tests.viewer.helpers import flow_list, focus, wait_for, wait_loaded, wait_screen
from viewer.app import EasInspectorApp, make_app
from viewer.screens.editor import EditorScreen
from viewer.screens.exchange import ExchangeScreen
from viewer.widgets.xml_text import XmlTextArea

from .conftest import LAB_PATH, LAB_USER, REPO

pytestmark = pytest.mark.lab

ADDON_SCRIPT = REPO / "activesync_addon.py"
WBXML = "application/vnd.ms-sync.wbxml"
DEVICE_ID = "LABREPLAY01"
SIZE = (120, 40)
# SOGo answers a Sync with every item whatever its WindowSize, FilterType or TruncationSize (probed: WindowSize 1
# and 2, FilterType 0 to 7 and TruncationSize 10 and 200 all bring the 5 seeded messages, whole, in the same way;
# FilterType counts from the IMAP delivery date, which is the day the lab was seeded). It honours the body type
# asked for: the edit that changes the answer is BodyPreference Type 1 (plain text) -> 2 (HTML), after which the
# seeded multipart/alternative message comes with its HTML part.
CAPTURED_FILTER = "<FilterType>0</FilterType>"
CAPTURED_BODY_TYPE = "<airsyncbase:Type>1</airsyncbase:Type>"
EDITED_BODY_TYPE = "<airsyncbase:Type>2</airsyncbase:Type>"


# ------------------------------------------------------------------ the captured session
@dataclass(frozen=True)
class LabCapture:
    """A capture the addon wrote while a device synced alice's INBOX through it."""

    path: Path
    flow_count: int
    sync_id: int  # the Sync that asked for changes (FilterType 0); its SyncKey stays valid on SOGo
    sync_body: bytes
    collection_id: str


class Device:
    """An EAS 14.1 device whose requests the project encodes itself (eas.encode)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url + LAB_PATH
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only
        self.session.auth = LAB_USER
        self.policy_key: str | None = None

    def post(self, command: str, xml: str) -> requests.Response:
        headers = {"MS-ASProtocolVersion": "14.1", "Content-Type": WBXML, "User-Agent": "eas-inspector-lab/1.0"}
        if self.policy_key:
            headers["X-MS-PolicyKey"] = self.policy_key
        params = {"Cmd": command, "User": LAB_USER[0], "DeviceId": DEVICE_ID, "DeviceType": "SmartPhone"}
        answer = self.session.post(self.url, params=params, data=eas.encode(xml), headers=headers, timeout=60)
        assert answer.status_code == 200, (command, answer.status_code, answer.content[:200])
        return answer


def texts(root: etree._Element, local_name: str) -> list[str]:
    return [el.text or "" for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == local_name]


def sync_xml(collection_id: str, sync_key: str, inner: str = "") -> str:
    return (
        '<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
        f"<SyncKey>{sync_key}</SyncKey><CollectionId>{collection_id}</CollectionId>{inner}"
        "</Collection></Collections></Sync>"
    )


@pytest.fixture(scope="module")
def lab_capture(lab_origin: str, tmp_path_factory: pytest.TempPathFactory) -> LabCapture:
    """FolderSync 0, Sync INBOX 0, Sync INBOX with the new key through mitmdump + the addon; the capture once it stopped."""
    work = tmp_path_factory.mktemp("lab-replay")
    capture = work / "cap.sqlite"
    proxy = launch_mitmdump(
        work / "conf", ["-s", str(ADDON_SCRIPT), "--mode", f"reverse:{lab_origin}", "--set", f"activesync_capture={capture}"]
    )
    try:
        device = Device(f"http://127.0.0.1:{proxy.port}")
        provision = eas.decode(device.post("Provision", (
            '<Provision xmlns="Provision"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>'
            "</Policy></Policies></Provision>")).content)
        keys = texts(provision, "PolicyKey")  # SOGo: policy Status 2, no key (then none is needed)
        device.policy_key = keys[0] if keys else None
        folders = eas.decode(device.post(
            "FolderSync", '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>').content)
        inbox = [add.findtext("{FolderHierarchy}ServerId") or "" for add in folders.iter("{FolderHierarchy}Add")
                 if add.findtext("{FolderHierarchy}Type") == "2"]
        assert inbox and inbox[0], "no INBOX in alice's FolderSync"
        first = eas.decode(device.post("Sync", sync_xml(inbox[0], "0")).content)
        key = texts(first, "SyncKey")[0]
        changes = device.post("Sync", sync_xml(inbox[0], key, (
            f"<DeletesAsMoves>1</DeletesAsMoves><GetChanges>1</GetChanges><WindowSize>2</WindowSize><Options>{CAPTURED_FILTER}"
            f"<airsyncbase:BodyPreference>{CAPTURED_BODY_TYPE}"
            "<airsyncbase:TruncationSize>200</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>")))
        sync_body = changes.request.body
        assert isinstance(sync_body, bytes)
    finally:
        exit_code = proxy.stop()
    assert exit_code == 0, proxy.output
    with CaptureReader(capture) as reader:
        rows = sorted(reader.flows(limit=None), key=lambda row: row.id)
    assert [row.command for row in rows] == ["Provision", "FolderSync", "Sync", "Sync"], proxy.output
    return LabCapture(capture, len(rows), rows[-1].id, sync_body, inbox[0])


def copy_capture(source: Path, directory: Path) -> Path:
    """A private copy of the capture (each test adds its own replays)."""
    target = directory / "cap.sqlite"
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


# ------------------------------------------------------------------ driving the TUI
async def open_editor_on(pilot: Pilot[Any], app: EasInspectorApp, capture: LabCapture) -> EditorScreen:
    """Select the Sync flow with the keyboard and open the editor (e)."""
    flows = await wait_loaded(pilot, app, capture.flow_count)
    index = flows.index_of(capture.sync_id)
    assert index is not None
    await focus(pilot, app, "#flows")
    await pilot.press("home", *["down"] * index)
    await wait_for(pilot, lambda: (row := flow_list(app).current_row) is not None and row.id == capture.sync_id, "the Sync selected")
    await pilot.press("e")
    editor = await wait_screen(pilot, app, EditorScreen, "editor screen")
    assert isinstance(editor, EditorScreen) and editor.flow.record.row.id == capture.sync_id
    return editor


async def send_to_lab(pilot: Pilot[Any], app: EasInspectorApp, editor: EditorScreen, lab_origin: str) -> ExchangeScreen:
    """Point the replay at the lab itself (the capture holds the proxy's URL), type the hidden password, send."""
    from textual.widgets import Input

    assert editor.auth == "redacted" and editor.query_one("#credentials").display
    assert editor.query_one("#replay-user", Input).value == LAB_USER[0]
    editor.query_one("#replay-url", Input).value = lab_origin + LAB_PATH
    await focus(pilot, app, "#replay-password")
    await pilot.press(*LAB_USER[1], "ctrl+s")
    assert editor.sending, str(editor.query_one("#replay-status").render())
    await app.workers.wait_for_complete()  # the send worker (its own timeout bounds it), then the flow loader
    await wait_for(pilot, lambda: not editor.sending, "replay finished")
    await app.workers.wait_for_complete()
    shown = await wait_screen(pilot, app, ExchangeScreen, "the replay's exchange")
    assert isinstance(shown, ExchangeScreen)
    return shown


def stored_replays(path: Path, original: int) -> list[FlowRecord]:
    with CaptureReader(path) as reader:
        return [reader.flow(row.id) for row in reader.flows(FlowFilter(replay_of=original), limit=None)]


def error_problems(record: FlowRecord) -> list[object]:
    return [problem for problem in record.exchange().problems if problem.severity == "error"]


def added_bodies(body: bytes | None) -> dict[str, str]:
    """ServerId -> body text of the items a Sync response adds."""
    if not body:
        return {}
    root = eas.decode(body)
    return {
        add.findtext("{AirSync}ServerId") or "": add.findtext(".//{AirSyncBase}Data") or ""
        for add in root.iter("{AirSync}Add")
    }


# ------------------------------------------------------------------ the tests
def test_edited_sync_is_replayed_to_the_server_and_stored_with_a_diff(
    lab_capture: LabCapture, lab_origin: str, tmp_path: Path
) -> None:
    asyncio.run(edit_and_replay(lab_capture, lab_origin, copy_capture(lab_capture.path, tmp_path)))


async def edit_and_replay(lab_capture: LabCapture, lab_origin: str, path: Path) -> None:
    """Body type 1 -> 2 in the editor, send to the lab, check what is stored and what the diff shows."""
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor_on(pilot, app, lab_capture)
        area = editor.query_one("#replay-xml", XmlTextArea)
        assert area.text.count(CAPTURED_BODY_TYPE) == 1, area.text
        area.text = area.text.replace(CAPTURED_BODY_TYPE, EDITED_BODY_TYPE)
        edited_xml = area.text
        shown = await send_to_lab(pilot, app, editor, lab_origin)

        assert shown.flow.stored and shown.flow.record.row.replay_of == lab_capture.sync_id
        assert shown.flow.original is not None and shown.flow.original.record.row.id == lab_capture.sync_id
        replays = stored_replays(path, lab_capture.sync_id)
        assert [r.row.id for r in replays] == [shown.flow.record.row.id]
        replay = replays[0]
        assert urlsplit(replay.row.url).netloc == urlsplit(lab_origin).netloc
        assert replay.request_body == eas.encode(edited_xml) != lab_capture.sync_body
        assert texts(eas.decode(replay.request_body), "Type") == ["2"]
        assert replay.row.http_status == 200
        assert replay.response_body and error_problems(replay) == []
        assert replay.row.command == "Sync" and replay.row.eas_status == 1, replay.row.eas_status_meaning

        with CaptureReader(path) as reader:
            original = reader.flow(lab_capture.sync_id)
        old_bodies, new_bodies = added_bodies(original.response_body), added_bodies(replay.response_body)
        assert old_bodies and new_bodies.keys() == old_bodies.keys(), (old_bodies, new_bodies)
        changed = {server_id for server_id, data in new_bodies.items() if data != old_bodies[server_id]}
        assert changed, new_bodies  # the multipart/alternative message now comes as HTML
        assert all(new_bodies[server_id].lstrip().startswith("<html") for server_id in changed), new_bodies
        assert shown.query_one("#exchange-tabs").active == "tab-diff"  # type: ignore[attr-defined]
        from textual.widgets import DataTable

        await wait_for(pilot, lambda: shown.query("#diff"), "the diff table")
        diff = shown.query_one("#diff", DataTable)
        await wait_for(pilot, lambda: diff.row_count > 0, "diff rows")
        rows = [tuple(str(cell) for cell in diff.get_row_at(i)) for i in range(diff.row_count)]
        for server_id in changed:
            assert any(
                mark == "~" and f"Add[ServerId={server_id}]" in element and element.endswith("Data")
                for mark, element, _, _ in rows
            ), (server_id, rows)


def test_unedited_replay_reaches_the_server_byte_for_byte(
    lab_capture: LabCapture, lab_origin: str, tmp_path: Path
) -> None:
    from mitmproxy import http, io

    path = copy_capture(lab_capture.path, tmp_path)
    flows_file = tmp_path / "via-proxy.mitm"
    proxy = launch_mitmdump(tmp_path / "conf", ["--mode", "regular", "-w", str(flows_file)])
    try:
        asyncio.run(replay_unedited(lab_capture, lab_origin, path, f"http://127.0.0.1:{proxy.port}"))
    finally:
        assert proxy.stop() == 0, proxy.output
    with flows_file.open("rb") as f:
        seen = [flow for flow in io.FlowReader(f).stream() if isinstance(flow, http.HTTPFlow)]
    assert len(seen) == 1, proxy.output
    sent = seen[0]
    assert sent.request.raw_content == lab_capture.sync_body
    assert sent.request.pretty_url.startswith(lab_origin + LAB_PATH + "?Cmd=Sync&User=alice&DeviceId=" + DEVICE_ID)
    assert sent.response is not None and sent.response.status_code == 200
    replays = stored_replays(path, lab_capture.sync_id)
    assert len(replays) == 1
    assert replays[0].request_body == lab_capture.sync_body
    assert replays[0].response_body == sent.response.raw_content
    assert replays[0].row.http_status == 200 and error_problems(replays[0]) == []
    assert replays[0].row.eas_status == 1, replays[0].row.eas_status_meaning


async def replay_unedited(lab_capture: LabCapture, lab_origin: str, path: Path, proxy_url: str) -> None:
    """Send the captured Sync as it is, through the proxy at `proxy_url`."""
    from textual.widgets import Input

    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor_on(pilot, app, lab_capture)
        editor.query_one("#replay-proxy", Input).value = proxy_url
        shown = await send_to_lab(pilot, app, editor, lab_origin)
        assert shown.flow.record.row.replay_of == lab_capture.sync_id
