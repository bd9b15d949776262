"""Bytes that are not UTF-8 in any request field or in the reason phrase: stored exactly, never stopping a write."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from mitmproxy import http, io
from mitmproxy.test import tflow, tutils

from capture.importers import import_file
from capture.mitm import export_mitm, flow_from_record, flow_input_from_mitm
from capture.model import CaptureError, FlowFilter, FlowInput
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from eas.wiretext import shown, wire_bytes

WBXML_TYPE = b"application/vnd.ms-sync.wbxml"
GOOD_PATH = b"/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=GOOD&DeviceType=T"


def mitm_flow(
    *,
    method: bytes = b"POST",
    path: bytes = GOOD_PATH,
    host: bytes = b"mail.example.com",
    content_type: bytes = WBXML_TYPE,
    version: bytes = b"14.1",
    policy_key: bytes = b"1307199584",
    reason: bytes = b"OK",
    timestamp: float = 1_763_700_000.0,
) -> http.HTTPFlow:
    request = tutils.treq(
        host="mail.example.com",
        port=443,
        method=method,
        scheme=b"https",
        authority=b"",
        path=path,
        headers=http.Headers(
            [
                (b"Host", host),
                (b"Content-Type", content_type),
                (b"MS-ASProtocolVersion", version),
                (b"X-MS-PolicyKey", policy_key),
            ]
        ),
        content=b"",
        timestamp_start=timestamp,
        timestamp_end=timestamp + 0.01,
    )
    response = tutils.tresp(
        status_code=200, reason=reason, headers=http.Headers([(b"Content-Length", b"0")]), content=b"",
        timestamp_start=timestamp + 0.1, timestamp_end=timestamp + 0.2,
    )  # fmt: skip
    return tflow.tflow(req=request, resp=response)


# One flow per field, each with the byte 0xFF (never valid in UTF-8) in that field and nowhere else.
BAD_FLOWS = {
    "path": {"path": b"/Microsoft-Server-ActiveSync/\xff?Cmd=Ping&User=alice&DeviceId=P&DeviceType=T"},
    "user": {"path": b"/Microsoft-Server-ActiveSync?Cmd=Ping&User=al\xffice&DeviceId=U&DeviceType=T"},
    "device_id": {"path": b"/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=D\xff1&DeviceType=T"},
    "method": {"method": b"PO\xffST"},
    "host": {"host": b"mail\xff.example.com"},
    "content_type": {"content_type": WBXML_TYPE + b"\xff"},
    "version": {"version": b"14.\xff"},
    "policy_key": {"policy_key": b"13\xff07"},
    "reason": {"reason": b"O\xffK"},
}


def field_bytes(flow: http.HTTPFlow, field: str) -> bytes:
    """The raw bytes of one field of a mitmproxy flow."""
    headers = {"host": b"Host", "content_type": b"Content-Type", "version": b"MS-ASProtocolVersion",
               "policy_key": b"X-MS-PolicyKey"}  # fmt: skip
    if field in headers:
        return dict(flow.request.headers.fields)[headers[field]]
    if field == "method":
        return flow.request.data.method
    if field == "reason":
        assert flow.response is not None
        return flow.response.data.reason
    return flow.request.data.path


def test_wire_text_gives_the_bytes_back_and_shows_them_escaped() -> None:
    text = b"al\xffice caf\xc3\xa9".decode("utf-8", "surrogateescape")
    assert wire_bytes(text) == b"al\xffice caf\xc3\xa9"
    assert shown(text) == "al\\xffice café"
    assert shown("café") == "café"


@pytest.mark.parametrize("field", sorted(BAD_FLOWS))
def test_a_value_that_is_not_utf8_is_stored_exactly(tmp_path: Path, field: str) -> None:
    original = mitm_flow(**BAD_FLOWS[field])  # type: ignore[arg-type]
    path = tmp_path / "capture.sqlite"
    with CaptureWriter(path) as writer:
        flow_id = writer.add_sync(flow_input_from_mitm(original))
        later_id = writer.add_sync(flow_input_from_mitm(mitm_flow(timestamp=1_763_700_001.0)))
    with CaptureReader(path) as reader:
        assert reader.count_flows() == 2
        record = reader.flow(flow_id)
        rebuilt = flow_from_record(record)
        assert field_bytes(rebuilt, field) == field_bytes(original, field)
        assert rebuilt.request.data.path == original.request.data.path
        assert rebuilt.request.data.method == original.request.data.method
        # Listing and sessions read back every column; none of them may fail on the stored bytes.
        rows = reader.flows()
        assert [row.id for row in rows] == [flow_id, later_id]
        assert sum(session.flow_count for session in reader.sessions()) == 2


def test_the_user_and_device_id_read_back_as_sent(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    with CaptureWriter(path) as writer:
        user_id = writer.add_sync(flow_input_from_mitm(mitm_flow(**BAD_FLOWS["user"])))  # type: ignore[arg-type]
        device_id = writer.add_sync(flow_input_from_mitm(mitm_flow(**BAD_FLOWS["device_id"])))  # type: ignore[arg-type]
    with CaptureReader(path) as reader:
        user_row = reader.flow(user_id).row
        device_row = reader.flow(device_id).row
        assert user_row.user is not None and wire_bytes(user_row.user) == b"al\xffice"
        assert device_row.device_id is not None and wire_bytes(device_row.device_id) == b"D\xff1"
        # The filter takes the same text the rows give.
        assert [row.id for row in reader.flows(FlowFilter(user=user_row.user))] == [user_id]
        users = {session.user for session in reader.sessions()}
        assert user_row.user in users


def flow_input(number: int, **changes: object) -> FlowInput:
    base = flow_input_from_mitm(mitm_flow(timestamp=1_763_700_000.0 + number))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_one_row_sqlite_refuses_does_not_lose_its_batch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A port beyond SQLite's 64-bit integers and a replay of a flow that does not exist: SQLite refuses both
    # rows whatever their text; the flows queued before, between and after them are written all the same.
    path = tmp_path / "capture.sqlite"
    with CaptureWriter(path) as writer:
        writer.add(flow_input(1))
        writer.add(flow_input(2))
        writer.add(flow_input(3, port=2**70, url="https://mail.example.com/too-big-a-port"))
        writer.add(flow_input(4))
        writer.add(flow_input(5), replay_of=999_999)
        writer.add(flow_input(6))
        writer.flush()
        with pytest.raises(CaptureError, match="cannot store this flow"):
            writer.add_sync(flow_input(7, port=2**70))
        last = writer.add_sync(flow_input(8))
        assert writer.refused_count == 3
    with CaptureReader(path) as reader:
        stamps = [row.ts_start - 1_763_700_000.0 for row in reader.flows()]
        assert stamps == [1, 2, 4, 6, 8]
        assert reader.flow(last).row.ts_start == 1_763_700_008.0
    assert "too-big-a-port could not be written and is left out" in caplog.text


def test_import_of_a_mitm_file_with_such_flows_keeps_every_flow(tmp_path: Path) -> None:
    source = tmp_path / "hostile.mitm"
    originals = [mitm_flow(timestamp=1_763_700_000.0)]
    for number, fields in enumerate(BAD_FLOWS.values()):
        originals.append(mitm_flow(timestamp=1_763_700_001.0 + number, **fields))  # type: ignore[arg-type]
    originals += [mitm_flow(timestamp=1_763_700_100.0)]
    with source.open("wb") as file:
        writer = io.FlowWriter(file)  # type: ignore[no-untyped-call]
        for original in originals:
            writer.add(original)
    capture = tmp_path / "capture.sqlite"
    report = import_file(source, capture)
    assert (report.imported, report.not_stored) == (len(originals), 0)
    exported = tmp_path / "exported.mitm"
    assert export_mitm(capture, exported) == len(originals)
    with exported.open("rb") as file:
        again = list(io.FlowReader(file).stream())
    for original, back in zip(originals, again, strict=True):
        assert isinstance(back, http.HTTPFlow) and back.response is not None and original.response is not None
        assert back.request.data.method == original.request.data.method
        assert back.request.data.path == original.request.data.path
        assert back.request.headers.fields == original.request.headers.fields
        assert back.response.data.reason == original.response.data.reason
