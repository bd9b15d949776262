"""A real mitmdump with the addon: requests with bytes that are not UTF-8 in each field, a server reason phrase
that is not UTF-8, then normal traffic; every flow is in the capture with its exact bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import io

from capture.mitm import flow_from_record
from capture.reader import CaptureReader
from eas.wiretext import wire_bytes
from tests.addon.conftest import start_mitmdump

BAD_REASON_DEVICE = b"REASON"


def request_bytes(
    *,
    method: bytes = b"POST",
    path: bytes = b"/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=GOOD&DeviceType=T",
    host: bytes = b"mail.example.com",
    content_type: bytes = b"application/vnd.ms-sync.wbxml",
    version: bytes = b"14.1",
    policy_key: bytes = b"1307199584",
) -> bytes:
    return (
        method + b" " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nContent-Type: " + content_type
        + b"\r\nMS-ASProtocolVersion: " + version + b"\r\nX-MS-PolicyKey: " + policy_key
        + b"\r\nContent-Length: 0\r\n\r\n"
    )  # fmt: skip


# (what the byte 0xFF is in, the request, the field's raw bytes as the capture must give them back)
CASES: list[tuple[str, dict[str, bytes]]] = [
    ("path", {"path": b"/Microsoft-Server-ActiveSync/\xff?Cmd=Ping&User=alice&DeviceId=P&DeviceType=T"}),
    ("user", {"path": b"/Microsoft-Server-ActiveSync?Cmd=Ping&User=al\xffice&DeviceId=U&DeviceType=T"}),
    ("device_id", {"path": b"/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=D\xff1&DeviceType=T"}),
    ("method", {"method": b"PO\xffST"}),
    ("host", {"host": b"mail\xff.example.com"}),
    ("content_type", {"content_type": b"application/vnd.ms-sync.wbxml\xff"}),
    ("version", {"version": b"14.\xff"}),
    ("policy_key", {"policy_key": b"13\xff07"}),
    ("reason", {"path": b"/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=REASON&DeviceType=T"}),
]
NORMAL_AFTER = 5
HEADER_NAMES = {"host": b"Host", "content_type": b"Content-Type", "version": b"MS-ASProtocolVersion",
                "policy_key": b"X-MS-PolicyKey"}  # fmt: skip


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class RawOrigin:
    """An origin that answers every request with an empty 200; its reason phrase is `O\\xffK` for the device
    REASON (http.server cannot send such a status line)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, name="raw-origin", daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        with conn:
            while head := read_head(conn):
                reason = b"O\xffK" if b"DeviceId=" + BAD_REASON_DEVICE in head else b"OK"
                conn.sendall(b"HTTP/1.1 200 " + reason + b"\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw_origin() -> Iterator[RawOrigin]:
    origin = RawOrigin()
    try:
        yield origin
    finally:
        origin.close()


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        return read_head(sock)


def test_bytes_that_are_not_utf8_never_stop_the_capture(
    raw_origin: RawOrigin, mitm_confdir: Path, tmp_path: Path
) -> None:
    capture = tmp_path / "capture.sqlite"
    flows_file = tmp_path / "flows.mitm"
    # keep_host_header: reverse mode would otherwise send (and record) the origin address as Host. "wait": the
    # analysis (user, DeviceId, version in flow.metadata) reaches each flow before mitmproxy saves it.
    options = {
        "activesync_capture": str(capture),
        "keep_host_header": "true",
        "save_stream_file": str(flows_file),
        "activesync_annotate": "wait",
    }
    proxy = start_mitmdump(raw_origin.port, mitm_confdir, addon=True, options=options)
    sent = [request_bytes(**fields) for _, fields in CASES] + [request_bytes() for _ in range(NORMAL_AFTER)]
    try:
        answers = [exchange(proxy.port, request) for request in sent]
    finally:
        exit_code = proxy.stop()
    assert all(answer.startswith(b"HTTP/1.1 200 ") for answer in answers), answers
    assert answers[len(CASES) - 1].startswith(b"HTTP/1.1 200 O\xffK\r\n")
    assert exit_code == 0, proxy.output
    assert "capture disabled" not in proxy.output, proxy.output
    with CaptureReader(capture) as reader:
        rows = reader.flows(limit=None)
        assert len(rows) == len(sent), proxy.output
        records = [reader.flow(row.id) for row in rows]
    for (field, fields), record in zip(CASES, records):
        rebuilt = flow_from_record(record)
        if field in HEADER_NAMES:
            assert dict(rebuilt.request.headers.fields)[HEADER_NAMES[field]] == fields[field], field
        elif field == "reason":
            assert rebuilt.response is not None and rebuilt.response.data.reason == b"O\xffK"
        else:
            attribute = "method" if field == "method" else "path"
            assert getattr(rebuilt.request.data, attribute) == fields[attribute], field
    user_row = records[1].row
    assert user_row.user is not None and wire_bytes(user_row.user) == b"al\xffice"
    device_row = records[2].row
    assert device_row.device_id is not None and wire_bytes(device_row.device_id) == b"D\xff1"
    assert [record.row.device_id for record in records[len(CASES):]] == ["GOOD"] * NORMAL_AFTER
    # mitmproxy's own flow file holds every flow too, its metadata showing the bytes as \xNN.
    with flows_file.open("rb") as file:
        saved = list(io.FlowReader(file).stream())
    assert len(saved) == len(sent)
    assert saved[1].metadata["activesync.user"] == "al\\xffice"
