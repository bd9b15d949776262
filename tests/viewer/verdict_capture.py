"""A capture whose verdicts, folder names, SyncKey chain and diagnosis are known from the XML written here."""

from __future__ import annotations

from pathlib import Path

import eas
from capture.model import FlowInput
from tests.viewer.conftest import BASE_TS, eas_flow, write_capture

INBOX_ID = "5"
UNNAMED_ID = "9"


def wbxml(xml: str) -> bytes:
    """XML written here, as WBXML."""
    return bytes(eas.encode(xml))


def sync_request(key: str, collection_id: str) -> bytes:
    """A Sync request of one collection at `key`."""
    return wbxml(
        '<Sync xmlns="AirSync"><Collections><Collection>'
        f"<SyncKey>{key}</SyncKey><CollectionId>{collection_id}</CollectionId>"
        "</Collection></Collections></Sync>"
    )


def sync_answer(key: str, collection_id: str, status: int) -> bytes:
    """A Sync response of one collection: its new key and Status."""
    return wbxml(
        '<Sync xmlns="AirSync"><Collections><Collection>'
        f"<SyncKey>{key}</SyncKey><CollectionId>{collection_id}</CollectionId><Status>{status}</Status>"
        "</Collection></Collections></Sync>"
    )


FOLDER_SYNC = wbxml('<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>')
FOLDER_SYNC_ANSWER = wbxml(
    '<FolderSync xmlns="FolderHierarchy"><Status>1</Status><SyncKey>F1</SyncKey><Changes><Count>1</Count>'
    f"<Add><ServerId>{INBOX_ID}</ServerId><ParentId>0</ParentId><DisplayName>Inbox</DisplayName><Type>2</Type></Add>"
    "</Changes></FolderSync>"
)


def verdict_flows() -> list[FlowInput]:
    """#1 FolderSync naming Inbox; #2-#3 Inbox's chain 0 -> K1 -> K2; #4-#5 K2 answered Status 3 twice (the
    client sends the invalid key again: a loop); #6 another folder answered Status 12 (a warning, MS-ASCMD
    2.2.3.177.17)."""
    return [
        eas_flow("FolderSync", FOLDER_SYNC, FOLDER_SYNC_ANSWER, ts=BASE_TS),
        eas_flow("Sync", sync_request("0", INBOX_ID), sync_answer("K1", INBOX_ID, 1), ts=BASE_TS + 1),
        eas_flow("Sync", sync_request("K1", INBOX_ID), sync_answer("K2", INBOX_ID, 1), ts=BASE_TS + 2),
        eas_flow("Sync", sync_request("K2", INBOX_ID), sync_answer("K2", INBOX_ID, 3), ts=BASE_TS + 3),
        eas_flow("Sync", sync_request("K2", INBOX_ID), sync_answer("K2", INBOX_ID, 3), ts=BASE_TS + 4),
        eas_flow("Sync", sync_request("0", UNNAMED_ID), sync_answer("0", UNNAMED_ID, 12), ts=BASE_TS + 5),
    ]


def write_verdict_capture(path: Path) -> Path:
    write_capture(path, verdict_flows())
    return path
