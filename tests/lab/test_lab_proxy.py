"""A real client (pyactivesync, TLS) and requests we encode, through mitmdump + the addon to the lab: all captured, exact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import eas
from capture.model import FlowRecord
from capture.reader import CaptureReader
from eas.multipart import MULTIPART_CONTENT_TYPE, parse_multipart
from eas.verdicts import judge

from .conftest import LAB_PATH, LAB_USER
from tests.addon.conftest import launch_mitmdump

from .test_lab_replay import ADDON_SCRIPT, WBXML, sync_xml, texts

pytestmark = pytest.mark.lab

PYAS_DEVICE = "LABPROXYPYAS01"
OWN_DEVICE = "LABPROXYOWN01"


@dataclass(frozen=True)
class Sent:
    """One HTTP exchange as the client saw it."""

    method: str
    url: str
    body: bytes
    status: int
    response_body: bytes
    who: str


@dataclass(frozen=True)
class ProxyRun:
    sent: list[Sent]
    records: list[FlowRecord]
    client_log: list[str]


def recorder(sent: list[Sent], who: str) -> Any:
    """A requests response hook that notes every exchange (redirects included) as it went over the wire."""

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        request = response.request
        raw = request.body
        body = raw if isinstance(raw, bytes) else raw.encode() if isinstance(raw, str) else b""
        sent.append(Sent(request.method or "", request.url or "", body, response.status_code, response.content, who))

    return hook


def run_pyactivesync(port: int, confdir: Path, sent: list[Sent], log: list[str]) -> None:
    """pyactivesync (EAS 16.1, https only) through the proxy, trusting mitmproxy's CA."""
    from pyactivesync import Client  # type: ignore[import-untyped]

    client = Client(f"127.0.0.1:{port}", LAB_USER[0], LAB_USER[1], device_id=PYAS_DEVICE, verify_ssl=True)
    session = client._transport.session
    session.trust_env = False  # REQUESTS_CA_BUNDLE from the environment would override `verify`
    session.verify = str(confdir / "mitmproxy-ca-cert.pem")
    session.hooks["response"].append(recorder(sent, "pyactivesync"))
    client._provisioned = True  # SOGo answers Policy Status 2 (no policy), which pyactivesync treats as an error
    try:
        folders = client.list_folders()
        inbox = next(folder for folder in folders if int(folder.type) == 2)
        first = client.sync_folder(inbox.id, "0")
        items = client.sync_folder(inbox.id, first.sync_key)
        log.append(f"sync: key {items.sync_key}, {len(items.added)} added")
        calls: list[tuple[str, Callable[[], object]]] = [
            ("estimate", lambda: client.get_item_estimate(inbox.id, items.sync_key)),
            ("fetch", lambda: client.fetch_item(inbox.id, items.added[0].server_id) if items.added else None),
            ("search GAL", lambda: client.search_gal("bob")),
            ("oof", lambda: client.get_oof()),
        ]
        for label, call in calls:
            try:
                log.append(f"{label}: {call()!r:.80}")
            except Exception as err:  # noqa: BLE001 - the client may refuse SOGo's answer; the traffic is what counts
                log.append(f"{label} failed: {err!r:.80}")
    finally:
        client.close()


def run_own_requests(port: int, sent: list[Sent]) -> None:
    """EAS 14.1 requests encoded by eas.encode, over plain HTTP through the same proxy."""
    session = requests.Session()
    session.trust_env = False
    session.auth = LAB_USER
    session.hooks["response"].append(recorder(sent, "eas.encode"))
    url = f"http://127.0.0.1:{port}{LAB_PATH}"

    def post(command: str, xml: str | None, headers: dict[str, str] | None = None) -> requests.Response:
        params = {"Cmd": command, "User": LAB_USER[0], "DeviceId": OWN_DEVICE, "DeviceType": "SmartPhone"}
        sent_headers = {"MS-ASProtocolVersion": "14.1", "Content-Type": WBXML, **(headers or {})}
        body = eas.encode(xml) if xml is not None else b""
        answer = session.post(url, params=params, data=body, headers=sent_headers, timeout=60)
        assert answer.status_code == 200, (command, answer.status_code)
        return answer

    try:
        assert session.options(url, timeout=30).status_code == 200
        folders = eas.decode(post("FolderSync", '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>').content)
        inbox = next(add.findtext("{FolderHierarchy}ServerId") or "" for add in folders.iter("{FolderHierarchy}Add")
                     if add.findtext("{FolderHierarchy}Type") == "2")
        key = texts(eas.decode(post("Sync", sync_xml(inbox, "0")).content), "SyncKey")[0]
        changes = eas.decode(post("Sync", sync_xml(inbox, key, (
            "<GetChanges>1</GetChanges><WindowSize>50</WindowSize><Options><airsyncbase:BodyPreference>"
            "<airsyncbase:Type>2</airsyncbase:Type></airsyncbase:BodyPreference></Options>"))).content)
        server_ids = texts(changes, "ServerId")
        assert server_ids, "alice's INBOX is empty (the lab seeds 5 messages)"
        post("ItemOperations", (
            '<ItemOperations xmlns="ItemOperations" xmlns:airsync="AirSync" xmlns:airsyncbase="AirSyncBase">'
            f"<Fetch><Store>Mailbox</Store><airsync:CollectionId>{inbox}</airsync:CollectionId>"
            f"<airsync:ServerId>{server_ids[0]}</airsync:ServerId><Options><airsyncbase:BodyPreference>"
            "<airsyncbase:Type>4</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch></ItemOperations>"),
            headers={"MS-ASAcceptMultiPart": "T"})
        post("Settings", '<Settings xmlns="Settings"><UserInformation><Get/></UserInformation></Settings>')
        post("Ping", None)  # empty Ping: Status 3
    finally:
        session.close()


@pytest.fixture(scope="module")
def proxy_run(lab_origin: str, tmp_path_factory: pytest.TempPathFactory) -> ProxyRun:
    work = tmp_path_factory.mktemp("lab-proxy")
    capture = work / "cap.sqlite"
    confdir = work / "conf"
    # reverse mode towards the plain-HTTP lab; mitmproxy answers TLS or plain HTTP on the same port
    proxy = launch_mitmdump(
        confdir, ["-s", str(ADDON_SCRIPT), "--mode", f"reverse:{lab_origin}", "--set", f"activesync_capture={capture}"]
    )
    sent: list[Sent] = []
    log: list[str] = []
    try:
        run_pyactivesync(proxy.port, confdir, sent, log)
        run_own_requests(proxy.port, sent)
    finally:
        exit_code = proxy.stop()
    assert exit_code == 0, proxy.output
    assert "Traceback" not in proxy.output, proxy.output
    with CaptureReader(capture) as reader:
        records = [reader.flow(row.id) for row in sorted(reader.flows(limit=None), key=lambda row: row.id)]
    return ProxyRun(sent, records, log)


def wbxml_bodies(record: FlowRecord) -> list[tuple[str, bytes]]:
    """(which, bytes) of every WBXML document in the flow: whole bodies, and part 0 of a multipart answer."""
    found: list[tuple[str, bytes]] = []
    for which, headers, body in (
        ("request", record.request_headers, record.request_body),
        ("response", record.response_headers or (), record.response_body or b""),
    ):
        content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
        if not body:
            continue
        if content_type.startswith(MULTIPART_CONTENT_TYPE):
            found.append((f"{which} part 0", parse_multipart(body)[0]))
        elif content_type.startswith(WBXML) and body[:1] == b"\x03":
            found.append((which, body))
    return found


def test_both_clients_talked_to_the_server(proxy_run: ProxyRun) -> None:
    by_client = {who: [s for s in proxy_run.sent if s.who == who] for who in ("pyactivesync", "eas.encode")}
    assert len(by_client["pyactivesync"]) >= 4, proxy_run.client_log
    assert len(by_client["eas.encode"]) == 7
    assert all(s.status == 200 for s in proxy_run.sent), [(s.url, s.status) for s in proxy_run.sent]
    assert any(s.url.startswith("https://") for s in by_client["pyactivesync"])


def test_every_flow_is_captured_as_sent(proxy_run: ProxyRun) -> None:
    assert len(proxy_run.records) == len(proxy_run.sent), proxy_run.client_log
    for sent, record in zip(proxy_run.sent, proxy_run.records):
        assert (record.row.method, record.request_body) == (sent.method, sent.body), sent.url
        assert record.row.http_status == sent.status
        assert record.response_body == sent.response_body, sent.url
    pyas = [r for s, r in zip(proxy_run.sent, proxy_run.records) if s.who == "pyactivesync"]
    # TLS towards the client only: the lab itself speaks plain HTTP
    assert all((r.connection.get("client") or {}).get("tls") for r in pyas), [r.connection for r in pyas[:1]]
    assert not any(r.tls for r in proxy_run.records)
    assert {"FolderSync", "Sync"} <= {r.row.command for r in pyas}


def test_no_decode_problem_on_any_flow(proxy_run: ProxyRun) -> None:
    for record in proxy_run.records:
        errors = [p for p in record.exchange().problems if p.severity == "error"]
        assert errors == [], (record.row.id, record.row.command, errors)
        # the capture counts every judgement that is not ok (issue 12): decode problems, HTTP, statuses
        verdict = judge(record.exchange(), transport_error=record.error)
        assert record.row.problem_count == len(verdict.reasons)
        assert record.row.outcome == verdict.outcome


def test_no_schema_warning_on_either_client(proxy_run: ProxyRun) -> None:
    # issue 13, Version awareness: each request is checked against the version its client speaks (pyactivesync:
    # 16.1; eas.encode: 14.1), and the real traffic of both gives no schema or version warning.
    versions = set()
    for record in proxy_run.records:
        exchange = record.exchange()
        versions.add(exchange.protocol_version)
        schema = [p.reason for p in exchange.problems if p.reason.startswith("schema")]
        assert schema == [], (record.row.id, record.row.command, exchange.protocol_version, schema)
    assert {"14.1", "16.1"} <= versions


def test_every_wbxml_body_re_encodes_byte_exact(proxy_run: ProxyRun) -> None:
    checked = 0
    for record in proxy_run.records:
        for which, body in wbxml_bodies(record):
            root = eas.decode(body, strict=True)
            assert eas.encode(root) == body, (record.row.id, record.row.command, which)
            assert eas.encode(eas.decode_to_xml(body)) == body, (record.row.id, record.row.command, which)
            checked += 1
    assert checked >= 15
