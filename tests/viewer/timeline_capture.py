"""A capture whose timeline is known from the times and statuses written here (one device session of 612 s)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from capture.model import FlowInput
from tests.viewer.conftest import BASE_TS, SYNC_REQUEST, SYNC_RESPONSE, eas_flow, write_capture
from tests.viewer.verdict_capture import sync_answer, sync_request, wbxml

INBOX_ID = "5"
CALENDAR_ID = "7"


FOLDER_SYNC = wbxml('<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>')
FOLDER_SYNC_ANSWER = wbxml(
    '<FolderSync xmlns="FolderHierarchy"><Status>1</Status><SyncKey>F1</SyncKey><Changes><Count>2</Count>'
    f"<Add><ServerId>{INBOX_ID}</ServerId><ParentId>0</ParentId><DisplayName>Inbox</DisplayName><Type>2</Type></Add>"
    f"<Add><ServerId>{CALENDAR_ID}</ServerId><ParentId>0</ParentId><DisplayName>Calendar</DisplayName><Type>8</Type>"
    "</Add></Changes></FolderSync>"
)
PING = wbxml(
    '<Ping xmlns="Ping"><HeartbeatInterval>300</HeartbeatInterval><Folders><Folder>'
    f"<Id>{INBOX_ID}</Id><Class>Email</Class></Folder></Folders></Ping>"
)


def _ping_answer(status: int) -> bytes:
    return wbxml(f'<Ping xmlns="Ping"><Status>{status}</Status></Ping>')


def _held(flow: FlowInput, seconds: float) -> FlowInput:
    """The flow answered `seconds` after its request (a Ping held open)."""
    start = flow.timestamps["request_start"]
    return replace(flow, timestamps={"request_start": start, "request_end": start + 0.01,
                                     "response_start": start + seconds - 0.01, "response_end": start + seconds})


def timeline_flows() -> list[FlowInput]:
    """Times from BASE_TS (a multiple of 10 s), each flow's verdict from its statuses:

    #1 +0 FolderSync naming Inbox and Calendar, ok      #2 +1 Sync Inbox ok      #3 +1.5 Sync Calendar ok
    #4 +2 Ping held 300 s, Status 1 (ok)
    #5-#9 +303..+305 a burst of five Syncs of Inbox: ok, Status 3, Status 3 (failed), ok, ok
    a gap of five minutes
    #10 +600 Sync Calendar HTTP 503 (failed)           #11 +601 Ping held 10 s, Status 2 (ok)
    #12 +612 Sync Inbox Status 12 (a warning, MS-ASCMD 2.2.3.177.17)
    #13 another device's Sync, in its own session.
    """
    return [
        eas_flow("FolderSync", FOLDER_SYNC, FOLDER_SYNC_ANSWER, ts=BASE_TS),
        eas_flow("Sync", sync_request("0", INBOX_ID), sync_answer("K1", INBOX_ID, 1), ts=BASE_TS + 1),
        eas_flow("Sync", sync_request("0", CALENDAR_ID), sync_answer("C1", CALENDAR_ID, 1), ts=BASE_TS + 1.5),
        _held(eas_flow("Ping", PING, _ping_answer(1), ts=BASE_TS + 2), 300),
        eas_flow("Sync", sync_request("K1", INBOX_ID), sync_answer("K2", INBOX_ID, 1), ts=BASE_TS + 303),
        eas_flow("Sync", sync_request("K2", INBOX_ID), sync_answer("K2", INBOX_ID, 3), ts=BASE_TS + 303.5),
        eas_flow("Sync", sync_request("K2", INBOX_ID), sync_answer("K2", INBOX_ID, 3), ts=BASE_TS + 304),
        eas_flow("Sync", sync_request("0", INBOX_ID), sync_answer("K3", INBOX_ID, 1), ts=BASE_TS + 304.5),
        eas_flow("Sync", sync_request("K3", INBOX_ID), sync_answer("K4", INBOX_ID, 1), ts=BASE_TS + 305),
        eas_flow("Sync", sync_request("C1", CALENDAR_ID), b"", status=503, ts=BASE_TS + 600),
        _held(eas_flow("Ping", PING, _ping_answer(2), ts=BASE_TS + 601), 10),
        eas_flow("Sync", sync_request("K4", INBOX_ID), sync_answer("K4", INBOX_ID, 12), ts=BASE_TS + 612),
        eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, ts=BASE_TS + 4, user="asmith", device="XYZ9",
                 device_type="Android"),
    ]


def write_timeline_capture(path: Path) -> Path:
    write_capture(path, timeline_flows())
    return path
