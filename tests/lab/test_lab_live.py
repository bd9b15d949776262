"""Live round trips with the real SOGo server: requests encoded by eas.encode, every answer decoded and re-encoded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
import requests
from lxml import etree

import eas
from eas.multipart import MULTIPART_CONTENT_TYPE, parse_multipart

from .conftest import LAB_PATH

pytestmark = pytest.mark.lab

WBXML = "application/vnd.ms-sync.wbxml"


@dataclass
class LabDevice:
    """A fresh EAS device (new device ID per test session, so no server state from earlier runs)."""

    origin: str
    device_id: str = field(default_factory=lambda: uuid.uuid4().hex.upper())
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.trust_env = False
        self.session.auth = ("alice", "alicepw")

    def post(self, command: str, xml: str | None, headers: dict[str, str] | None = None) -> requests.Response:
        body = eas.encode(xml) if xml is not None else b""
        sent_headers = {"MS-ASProtocolVersion": "14.1", "Content-Type": WBXML, **(headers or {})}
        params = {"Cmd": command, "User": "alice", "DeviceId": self.device_id, "DeviceType": "EasInspectorTest"}
        return self.session.post(self.origin + LAB_PATH, params=params, data=body, headers=sent_headers, timeout=60)


def check_wbxml(data: bytes) -> etree._Element:
    """Strict decode (no unknown token), then byte-exact re-encode, both from the tree and from the XML text."""
    root = eas.decode(data, strict=True)
    assert eas.encode(root) == data
    assert eas.encode(eas.decode_to_xml(data)) == data
    return root


def check_exchange(response: requests.Response) -> eas.Exchange:
    """Run eas.analyze on what went over the wire; no decode problem on either side, WBXML bodies round-trip."""
    request = response.request
    body = request.body if isinstance(request.body, bytes) else b""
    sent_headers = [(name, value if isinstance(value, str) else value.decode("latin-1"))
                    for name, value in request.headers.items()]
    exchange = eas.analyze(
        request.method or "POST", request.url or "", sent_headers, body,
        response.status_code, list(response.headers.items()), response.content,
    )
    errors = [problem for problem in exchange.problems if problem.severity == "error"]
    assert errors == [], errors
    if body:
        check_wbxml(body)
    if response.content and response.headers.get("Content-Type", "").startswith(WBXML):
        check_wbxml(response.content)
    return exchange


def texts(root: etree._Element, local_name: str) -> list[str]:
    return [el.text or "" for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == local_name]


@dataclass
class Inbox:
    device: LabDevice
    collection_id: str
    sync_key: str
    items: list[etree._Element]


@pytest.fixture(scope="module")
def device(lab_origin: str) -> LabDevice:
    return LabDevice(lab_origin)


@pytest.fixture(scope="module")
def inbox(device: LabDevice) -> Inbox:
    """FolderSync from 0, then the INBOX synced from 0 with MIME bodies; every exchange checked on the way."""
    answer = device.post("FolderSync", '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>')
    assert answer.status_code == 200
    check_exchange(answer)
    root = eas.decode(answer.content)
    inbox_ids = [add.findtext("{FolderHierarchy}ServerId") for add in root.iter("{FolderHierarchy}Add")
                 if add.findtext("{FolderHierarchy}Type") == "2"]
    assert inbox_ids and inbox_ids[0]
    collection_id = inbox_ids[0]

    def sync(sync_key: str, extra: str = "") -> requests.Response:
        return device.post("Sync", (
            '<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
            f"<SyncKey>{sync_key}</SyncKey><CollectionId>{collection_id}</CollectionId>{extra}"
            "</Collection></Collections></Sync>"))

    first = sync("0")
    check_exchange(first)
    key = texts(eas.decode(first.content), "SyncKey")[0]
    changes = sync(key, "<GetChanges>1</GetChanges><WindowSize>50</WindowSize><Options>"
                        "<airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type>"
                        "</airsyncbase:BodyPreference></Options>")
    assert changes.status_code == 200
    check_exchange(changes)
    items: list[etree._Element] = []
    if changes.content:
        root = eas.decode(changes.content)
        key = texts(root, "SyncKey")[0]
        items = list(root.iter("{AirSync}Add"))
    return Inbox(device, collection_id, key, items)


def test_foldersync_and_sync_inbox(inbox: Inbox) -> None:
    if not inbox.items:
        pytest.skip("alice's INBOX on the lab server is empty (the lab seeds 5 messages)")
    subjects = [el.text for add in inbox.items for el in add.iter("{Email}Subject")]
    assert len(subjects) == len(inbox.items)


def test_empty_ping_answers_status_3(device: LabDevice, inbox: Inbox) -> None:
    # a device that never sent a Ping has no folder list to repeat: Status 3 (MS-ASCMD 2.2.3.177.13)
    answer = device.post("Ping", None)
    assert answer.status_code == 200
    exchange = check_exchange(answer)
    assert [note.code for note in exchange.eas_statuses] == [3]


def test_itemoperations_multipart(inbox: Inbox) -> None:
    if not inbox.items:
        pytest.skip("alice's INBOX on the lab server is empty (the lab seeds 5 messages)")
    with_files = [add for add in inbox.items if list(add.iter("{AirSyncBase}FileReference"))]
    server_id = (with_files or inbox.items)[0].findtext("{AirSync}ServerId")
    answer = inbox.device.post("ItemOperations", (
        '<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase">'
        f"<Fetch><Store>Mailbox</Store><airsync:CollectionId>{inbox.collection_id}</airsync:CollectionId>"
        f"<airsync:ServerId>{server_id}</airsync:ServerId><Options><airsyncbase:BodyPreference>"
        "<airsyncbase:Type>4</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch></ItemOperations>"),
        headers={"MS-ASAcceptMultiPart": "T"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith(MULTIPART_CONTENT_TYPE)
    exchange = check_exchange(answer)
    assert exchange.response_body is not None and exchange.response_body.parts
    parts = parse_multipart(answer.content)
    root = check_wbxml(parts[0])
    assert texts(root, "Status")[:1] == ["1"]
    part_numbers = [int(text) for text in texts(root, "Part")]
    assert part_numbers and all(1 <= number < len(parts) for number in part_numbers)
    assert b"Subject:" in parts[part_numbers[0]]  # the MIME message itself


def test_getitemestimate_and_settings(inbox: Inbox) -> None:
    estimate = inbox.device.post("GetItemEstimate", (
        '<GetItemEstimate xmlns="GetItemEstimate" xmlns:airsync="AirSync"><Collections><Collection>'
        f"<airsync:SyncKey>{inbox.sync_key}</airsync:SyncKey><CollectionId>{inbox.collection_id}</CollectionId>"
        "<airsync:Options><airsync:FilterType>0</airsync:FilterType></airsync:Options></Collection></Collections>"
        "</GetItemEstimate>"))
    assert estimate.status_code == 200
    check_exchange(estimate)
    settings = inbox.device.post("Settings", (
        '<Settings xmlns="Settings"><UserInformation><Get/></UserInformation></Settings>'))
    assert settings.status_code == 200
    check_exchange(settings)
    root = eas.decode(settings.content)
    assert "alice@example.com" in texts(root, "PrimarySmtpAddress")
