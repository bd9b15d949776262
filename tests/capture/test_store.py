"""The capture store: exact round trips, indexes, sessions, search, credentials, crashes, a second process."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tflow, tutils

from capture.mitm import flow_from_record, flow_input_from_mitm
from capture.model import CaptureError, FlowFilter, FlowInput
from capture.reader import CaptureReader
from capture.schema import SCHEMA_VERSION
from capture.writer import CaptureWriter
from eas.auth import stored_authorization
from tests.strategies import HEADERS

ROOT = Path(__file__).resolve().parents[2]
WBXML_TYPE = "application/vnd.ms-sync.wbxml"
BASIC_ALICE = "Basic " + base64.b64encode(b"alice@example.com:alicepw").decode()

# WBXML 1.3, written token by token (MS-ASWBXML): header, SWITCH_PAGE, tags with the content flag (0x40), STR_I.
HEADER = b"\x03\x01\x6a\x00"


def _tag(token: int, *content: bytes) -> bytes:
    return bytes([token | 0x40]) + b"".join(content) + b"\x01" if content else bytes([token])


def _str(value: str) -> bytes:
    return b"\x03" + value.encode() + b"\x00"


# Page 7 FolderHierarchy: FolderSync 0x16, SyncKey 0x12, Status 0x0C.
FOLDERSYNC_REQUEST = HEADER + b"\x00\x07" + _tag(0x16, _tag(0x12, _str("0")))
FOLDERSYNC_RESPONSE = HEADER + b"\x00\x07" + _tag(0x16, _tag(0x0C, _str("1")), _tag(0x12, _str("1")))
# Page 0 AirSync: Sync 0x05, Collections 0x1C, Collection 0x0F, SyncKey 0x0B, CollectionId 0x12, Status 0x0E,
# Commands 0x16, Add 0x07, ServerId 0x0D, ApplicationData 0x1D; page 2 Email: Subject 0x14.
SYNC_REQUEST = HEADER + _tag(0x05, _tag(0x1C, _tag(0x0F, _tag(0x0B, _str("1")), _tag(0x12, _str("5")))))


def sync_response(subject: str = "Quarterly figures", status: str = "1") -> bytes:
    add = _tag(0x07, _tag(0x0D, _str("5:1")), _tag(0x1D, b"\x00\x02", _tag(0x14, _str(subject)), b"\x00\x00"))
    collection = _tag(0x0F, _tag(0x0B, _str("2")), _tag(0x12, _str("5")), _tag(0x0E, _str(status)), _tag(0x16, add))
    return HEADER + _tag(0x05, _tag(0x1C, collection))


def eas_flow(
    command: str = "Sync",
    *,
    user: str = "alice",
    device_id: str = "DEV1",
    device_type: str = "iPhone",
    version: str = "14.1",
    request_body: bytes | None = None,
    response_body: bytes | None = None,
    status_code: int = 200,
    extra_request_headers: tuple[tuple[bytes, bytes], ...] = (),
    response_headers: tuple[tuple[bytes, bytes], ...] | None = None,
    timestamp: float = 1_763_700_000.0,
    host: str = "mail.example.com",
) -> http.HTTPFlow:
    """A complete EAS flow as mitmproxy would record it (regular proxy mode, HTTPS)."""
    if request_body is None:
        request_body = SYNC_REQUEST if command == "Sync" else FOLDERSYNC_REQUEST
    path = f"/Microsoft-Server-ActiveSync?Cmd={command}&User={user}&DeviceId={device_id}&DeviceType={device_type}"
    request_headers = (
        (b"Host", host.encode()),
        (b"Authorization", BASIC_ALICE.encode()),
        (b"MS-ASProtocolVersion", version.encode()),
        (b"Content-Type", WBXML_TYPE.encode()),
        (b"X-MS-PolicyKey", b"1307199584"),
        *extra_request_headers,
        (b"Content-Length", str(len(request_body)).encode()),
    )
    request = tutils.treq(
        host=host,
        port=443,
        method=b"POST",
        scheme=b"https",
        authority=b"",
        path=path.encode(),
        headers=http.Headers(request_headers),
        content=request_body,
        timestamp_start=timestamp,
        timestamp_end=timestamp + 0.01,
    )
    if response_body is None:
        response_body = sync_response() if command == "Sync" else FOLDERSYNC_RESPONSE
    if response_headers is None:
        response_headers = ((b"Content-Type", WBXML_TYPE.encode()), (b"MS-Server-ActiveSync", b"14.1"))
    response = tutils.tresp(
        status_code=status_code,
        reason=b"OK",
        headers=http.Headers((*response_headers, (b"Content-Length", str(len(response_body)).encode()))),
        content=response_body,
        timestamp_start=timestamp + 0.2,
        timestamp_end=timestamp + 0.25,
    )
    return tflow.tflow(req=request, resp=response)


def stored(tmp_path: Path, *flows: http.HTTPFlow, **writer_options: object) -> tuple[CaptureReader, list[int]]:
    path = tmp_path / "capture.sqlite"
    with CaptureWriter(path, **writer_options) as writer:  # type: ignore[arg-type]
        ids = [writer.add_sync(flow_input_from_mitm(f)) for f in flows]
    return CaptureReader(path), ids


# ---------------------------------------------------------------------------------------------------------------
# Round trips


def test_round_trip_rebuilds_the_flow_exactly(tmp_path: Path) -> None:
    original = eas_flow(
        extra_request_headers=((b"X-Dup", b"one"), (b"X-Dup", b"two"), (b"X-Raw", b"caf\xe9 \xff\x00")),
        response_headers=((b"Content-Type", WBXML_TYPE.encode()), (b"Content-Encoding", b"gzip")),
        response_body=gzip.compress(sync_response(), mtime=0),
    )
    original.request.method = "post"  # odd casing must survive: request.method would upper-case it
    original.comment = "seen on the lab server"
    original.marked = ":star:"
    reader, (flow_id,) = stored(tmp_path, original, keep_credentials=True)
    rebuilt = flow_from_record(reader.flow(flow_id))
    assert rebuilt.request.data.method == b"post"
    assert rebuilt.request.url == original.request.url
    assert rebuilt.request.headers.fields == original.request.headers.fields
    assert rebuilt.request.raw_content == original.request.raw_content
    assert rebuilt.response is not None and original.response is not None
    assert rebuilt.response.headers.fields == original.response.headers.fields
    assert rebuilt.response.raw_content == original.response.raw_content  # still gzip, as on the wire
    assert rebuilt.response.status_code == 200 and rebuilt.response.reason == "OK"
    assert rebuilt.request.timestamp_start == original.request.timestamp_start
    assert rebuilt.response.timestamp_end == original.response.timestamp_end
    assert rebuilt.get_state() == original.get_state()


def test_round_trip_of_an_http2_flow_with_trailers_and_metadata(tmp_path: Path) -> None:
    request = tutils.treq(
        http_version=b"HTTP/2.0",
        authority=b"mail.example.com",
        scheme=b"https",
        port=443,
        host="10.0.0.5",
        headers=http.Headers(((b"content-type", WBXML_TYPE.encode()),)),
        content=SYNC_REQUEST,
        trailers=http.Headers(((b"x-checksum", b"abc"),)),
    )
    response = tutils.tresp(http_version=b"HTTP/2.0", reason=b"", trailers=http.Headers(((b"grpc-status", b"0"),)))
    original = tflow.tflow(req=request, resp=response)
    original.metadata["activesync.command"] = "Sync"
    original.metadata["not.json"] = object()  # left out: only scalars are stored
    reader, (flow_id,) = stored(tmp_path, original)
    record = reader.flow(flow_id)
    assert record.row.host == "mail.example.com" and record.target_host == "10.0.0.5"
    assert record.row.url == "https://mail.example.com/path"
    rebuilt = flow_from_record(record)
    assert rebuilt.metadata == {"activesync.command": "Sync"}
    del original.metadata["not.json"]
    assert rebuilt.get_state() == original.get_state()


def test_round_trip_of_streamed_bodies_that_mitmproxy_did_not_keep(tmp_path: Path) -> None:
    original = eas_flow()
    original.request.raw_content = None
    original.response.raw_content = None  # type: ignore[union-attr]
    reader, (flow_id,) = stored(tmp_path, original, keep_credentials=True)
    record = reader.flow(flow_id)
    assert record.request_body == b"" and record.response_body is None and record.response_headers is not None
    assert flow_from_record(record).get_state() == original.get_state()


def test_round_trip_of_an_error_flow_without_response(tmp_path: Path) -> None:
    original = tflow.tflow(req=eas_flow().request, err=True)
    reader, (flow_id,) = stored(tmp_path, original)
    record = reader.flow(flow_id)
    assert record.response_headers is None and record.row.http_status is None
    assert record.error == original.error.msg  # type: ignore[union-attr]
    rebuilt = flow_from_record(record)
    assert rebuilt.response is None
    assert rebuilt.error is not None and rebuilt.error.msg == original.error.msg  # type: ignore[union-attr]
    assert rebuilt.error.timestamp == original.error.timestamp  # type: ignore[union-attr]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=HEADERS,
    request_body=st.binary(max_size=300),
    response_body=st.binary(max_size=300),
)
def test_any_bytes_survive_the_store(
    tmp_path: Path, headers: list[tuple[bytes, bytes]], request_body: bytes, response_body: bytes
) -> None:
    original = tflow.tflow(
        req=tutils.treq(headers=http.Headers(headers), content=request_body),
        resp=tutils.tresp(content=response_body),
    )
    path = tmp_path / f"any-{time.monotonic_ns()}.sqlite"
    with CaptureWriter(path, keep_credentials=True) as writer:
        flow_id = writer.add_sync(flow_input_from_mitm(original))
    with CaptureReader(path) as reader:
        rebuilt = flow_from_record(reader.flow(flow_id))
    assert rebuilt.get_state() == original.get_state()


# ---------------------------------------------------------------------------------------------------------------
# What users browse by


def test_indexed_columns_come_from_the_analysis(tmp_path: Path) -> None:
    reader, (sync_id, folder_id) = stored(tmp_path, eas_flow("Sync"), eas_flow("FolderSync", timestamp=1_763_700_010))
    sync = reader.flow(sync_id).row
    assert (sync.command, sync.user, sync.device_id, sync.device_type) == ("Sync", "alice", "DEV1", "iPhone")
    assert sync.protocol_version == "14.1" and sync.is_eas
    assert sync.collection_id == "5" and sync.http_status == 200 and sync.eas_status == 1
    assert sync.url.startswith("https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Sync")
    assert sync.request_size == len(SYNC_REQUEST) and sync.response_size == len(sync_response())
    assert reader.flow(sync_id).policy_key == "1307199584"
    assert reader.flow(folder_id).row.command == "FolderSync"
    assert reader.commands() == ["FolderSync", "Sync"]
    assert [row.id for row in reader.flows(FlowFilter(command="Sync"))] == [sync_id]
    assert [row.id for row in reader.flows(order="ts_start", descending=True)] == [folder_id, sync_id]
    assert reader.count_flows(FlowFilter(http_status=200)) == 2 and reader.count_flows(FlowFilter(http_status=500)) == 0
    assert reader.max_flow_id() == folder_id


def test_device_sessions_group_by_host_user_device(tmp_path: Path) -> None:
    reader, _ = stored(
        tmp_path,
        eas_flow("FolderSync", version="14.1", timestamp=100.0),
        eas_flow("Sync", version="16.1", timestamp=200.0, response_body=b"\x03\x01\x6a\x00\x45\x44"),
        eas_flow("Sync", device_id="DEV2", timestamp=150.0),
        eas_flow("Sync", user="bob", timestamp=120.0),
    )
    sessions = {(s.user, s.device_id): s for s in reader.sessions()}
    assert set(sessions) == {("alice", "DEV1"), ("alice", "DEV2"), ("bob", "DEV1")}
    alice = sessions["alice", "DEV1"]
    assert (alice.host, alice.device_type) == ("mail.example.com", "iPhone")
    assert (alice.first_seen, alice.last_seen, alice.flow_count) == (100.0, 200.0, 2)
    assert alice.protocol_versions == "14.1,16.1"
    assert alice.problem_count == 1  # the undecodable response
    assert reader.count_flows(FlowFilter(session_id=alice.id)) == 2
    assert [row.id for row in reader.flows(FlowFilter(problems_only=True))] == [2]
    assert reader.sessions()[0] == alice  # most recently seen first


def test_a_batch_counts_each_session_once_whatever_the_order_of_its_flows(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    undecodable = b"\x03\x01\x6a\x00\x45\x44"
    # Neither the first flow of the batch nor its last is the earliest, the latest or the one with a problem.
    batch = (eas_flow(version="16.1", timestamp=200.0), eas_flow(version="14.1", timestamp=100.0),
             eas_flow(version="16.1", timestamp=300.0, response_body=undecodable),
             eas_flow(version="14.1", timestamp=250.0), eas_flow(device_id="DEV2", timestamp=250.0))
    with CaptureWriter(path) as writer:
        for flow in batch:
            writer.add(flow_input_from_mitm(flow))  # queued together: one batch
        writer.flush()
        with CaptureReader(path) as reader:
            sessions = {session.device_id: session for session in reader.sessions()}
        first = sessions["DEV1"]
        assert (first.first_seen, first.last_seen, first.flow_count, first.problem_count) == (100.0, 300.0, 4, 1)
        assert first.protocol_versions == "16.1,14.1"
        assert (sessions["DEV2"].flow_count, sessions["DEV2"].first_seen) == (1, 250.0)
        for flow in (eas_flow(version="12.1", timestamp=50.0), eas_flow(version="14.1", timestamp=150.0)):
            writer.add(flow_input_from_mitm(flow))  # a later batch adds to the session's row
    with CaptureReader(path) as reader:
        (later,) = [session for session in reader.sessions() if session.device_id == "DEV1"]
        assert reader.count_flows(FlowFilter(session_id=first.id)) == 6
    assert (later.id, later.first_seen, later.last_seen, later.flow_count) == (first.id, 50.0, 300.0, 6)
    assert (later.protocol_versions, later.problem_count) == ("16.1,14.1,12.1", 1)


def test_full_text_search_finds_words_of_the_decoded_xml(tmp_path: Path) -> None:
    reader, (sync_id, _) = stored(
        tmp_path, eas_flow("Sync", response_body=sync_response("Quarterly figures")), eas_flow("FolderSync")
    )
    assert [row.id for row in reader.flows(FlowFilter(text="quarterly"))] == [sync_id]  # a word of the email subject
    assert [row.id for row in reader.flows(FlowFilter(text="Quarter*"))] == [sync_id]
    assert reader.count_flows(FlowFilter(text="CollectionId")) == 1  # element names are in the XML text too
    assert reader.count_flows(FlowFilter(text="nowhere-to-be-found")) == 0
    assert reader.count_flows(FlowFilter(text='Cmd=FolderSync "unbalanced')) == 0  # user input never breaks the query
    assert reader.count_flows(FlowFilter(text="FolderSync")) == 1  # the URL is indexed
    assert "Quarterly figures" in (reader.flow(sync_id).response_text or "")


def test_long_opaque_data_is_not_indexed(tmp_path: Path) -> None:
    # Page 20 ItemOperations: ItemOperations 0x05, Response 0x0E, Fetch 0x06, Properties 0x0B, Data 0x0C (opaque).
    data = bytes(range(256)) * 1024
    opaque = b"\xc3" + bytes([0x80 | (len(data) >> 14), 0x80 | ((len(data) >> 7) & 0x7F), len(data) & 0x7F]) + data
    response = HEADER + b"\x00\x14" + _tag(0x05, _tag(0x0E, _tag(0x06, _tag(0x0B, _tag(0x0C, opaque)))))
    reader, (flow_id,) = stored(tmp_path, eas_flow("ItemOperations", response_body=response))
    record = reader.flow(flow_id)
    assert record.response_body == response
    assert record.response_text is not None and len(record.response_text) < 2000
    assert "characters not indexed]" in record.response_text
    assert reader.count_flows(FlowFilter(text="ItemOperations")) == 1


def test_text_search_matches_prefixes_and_phrases(tmp_path: Path) -> None:
    reader, _ = stored(tmp_path, eas_flow(device_id="DEV1"))
    assert reader.count_flows(FlowFilter(text="DEV")) == 1  # a prefix of DeviceId=DEV1, without a `*`
    assert reader.count_flows(FlowFilter(text='"Microsoft-Server-ActiveSync"')) == 1
    assert reader.count_flows(FlowFilter(text='"ActiveSync Server"')) == 0  # a phrase keeps its word order
    assert reader.count_flows(FlowFilter(text='"DEV"')) == 0  # a quoted word matches whole words only


def test_status_filters_take_ranges_and_complements(tmp_path: Path) -> None:
    reader, _ = stored(tmp_path, eas_flow(status_code=200), eas_flow(status_code=401), eas_flow(status_code=503))
    assert reader.count_flows(FlowFilter(http_status=(400, 499, False))) == 1
    assert reader.count_flows(FlowFilter(http_status=(200, 200, True))) == 2
    assert reader.count_flows(FlowFilter(http_status=(400, 599, False))) == 2
    assert reader.count_flows(FlowFilter(http_status=401)) == 1


@pytest.fixture(scope="module")
def one_flow_reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaptureReader]:
    reader, _ = stored(tmp_path_factory.mktemp("one-flow"), eas_flow())
    yield reader
    reader.close()


@settings(max_examples=200, deadline=None)
@given(typed=st.text(max_size=30))
def test_any_typed_search_text_is_a_valid_query(one_flow_reader: CaptureReader, typed: str) -> None:
    assert one_flow_reader.count_flows(FlowFilter(text=typed)) in (0, 1)


def test_replays_link_to_their_original(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    with CaptureWriter(path) as writer:
        original_id = writer.add_sync(flow_input_from_mitm(eas_flow()))
        replay_id = writer.add_sync(flow_input_from_mitm(eas_flow(timestamp=1_763_700_100)), replay_of=original_id)
    with CaptureReader(path) as reader:
        assert reader.flow(replay_id).row.replay_of == original_id
        assert [row.id for row in reader.replays(original_id)] == [replay_id]
        assert flow_from_record(reader.flow(replay_id)).is_replay == "request"


# ---------------------------------------------------------------------------------------------------------------
# Credentials and sizes


def test_credentials_are_redacted_by_default(tmp_path: Path) -> None:
    cookies = ((b"Cookie", b"session=s3cr3t; theme=dark"), (b"Proxy-Authorization", b"Bearer abc.def"))
    reader, (flow_id,) = stored(tmp_path, eas_flow(extra_request_headers=cookies))
    record = reader.flow(flow_id)
    headers = dict(record.request_headers)
    assert headers["Authorization"] == "Basic alice@example.com:<redacted>"
    assert headers["Proxy-Authorization"] == "Bearer <redacted>"
    assert headers["Cookie"] == "session=<redacted>; theme=<redacted>"
    assert record.credentials_redacted
    assert record.row.user == "alice"  # the analysis saw the flow before redaction
    with sqlite3.connect(reader.path) as raw:
        dump = "\n".join(raw.iterdump())
    assert "alicepw" not in dump and "s3cr3t" not in dump and base64.b64encode(b"alicepw").decode() not in dump


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=6, max_size=20))
def test_no_password_reaches_the_file(tmp_path: Path, password: str) -> None:
    secret = base64.b64encode(f"bob:{password}".encode()).decode()
    headers = (
        (b"Authorization", f"Basic {secret}".encode()),
        (b"Proxy-Authorization", f"Basic {secret}".encode()),
        (b"Cookie", f"auth={secret}".encode()),
    )
    path = tmp_path / f"secret-{time.monotonic_ns()}.sqlite"
    with CaptureWriter(path) as writer:
        writer.add_sync(flow_input_from_mitm(eas_flow(extra_request_headers=headers)))
    content = path.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob(path.name + "-*"))
    assert secret.encode() not in content
    assert b"bob:" + password.encode() not in content  # (the password alone may occur by chance, e.g. "000000")


def test_keep_credentials_stores_them_as_sent(tmp_path: Path) -> None:
    reader, (flow_id,) = stored(tmp_path, eas_flow(), keep_credentials=True)
    assert dict(reader.flow(flow_id).request_headers)["Authorization"] == BASIC_ALICE
    assert not reader.flow(flow_id).credentials_redacted


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (BASIC_ALICE, "Basic alice@example.com:<redacted>"),
        ("Basic !!!", "Basic <redacted>"),
        ("NTLM TlRMTVNTUAAB", "NTLM <redacted>"),
        ("Negotiate YII=", "Negotiate <redacted>"),
        ("garbage", "<redacted>"),
    ],
)
def test_redact_authorization(value: str, shown: str) -> None:
    assert stored_authorization(value) == shown


def test_bodies_over_the_limit_are_truncated_and_sizes_kept(tmp_path: Path) -> None:
    big_response = sync_response("x" * 5000)
    reader, (flow_id,) = stored(tmp_path, eas_flow(response_body=big_response), max_body_size=100)
    record = reader.flow(flow_id)
    assert record.response_body == big_response[:100] and record.response_truncated
    assert record.row.response_size == len(big_response)
    assert record.request_body == SYNC_REQUEST and not record.request_truncated
    assert record.row.eas_status == 1  # analysed before truncation


# ---------------------------------------------------------------------------------------------------------------
# The file


def test_capture_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    old_umask = os.umask(0o022)
    try:
        writer = CaptureWriter(path)
        writer.add_sync(flow_input_from_mitm(eas_flow()))
        for file in tmp_path.iterdir():  # the -wal and -shm files take the database's mode
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        writer.close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_schema_version_and_meta(tmp_path: Path) -> None:
    reader, _ = stored(tmp_path, eas_flow())
    meta = reader.meta()
    assert meta["app"] == "eas-inspector" and meta["schema_version"] == str(SCHEMA_VERSION)
    assert reader.schema_version == SCHEMA_VERSION


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    reader, _ = stored(tmp_path, eas_flow())
    reader.close()
    with sqlite3.connect(reader.path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    expected = (
        f"capture schema version {SCHEMA_VERSION + 1} is newer than this eas-inspector understands "
        f"({SCHEMA_VERSION}); upgrade eas-inspector"
    )
    with pytest.raises(CaptureError) as reading:
        CaptureReader(reader.path)
    assert str(reading.value) == f"{reader.path}: {expected}"
    with pytest.raises(CaptureError, match="is newer than this eas-inspector"):
        CaptureWriter(reader.path)


def test_an_older_schema_is_named_as_such(tmp_path: Path) -> None:
    reader, _ = stored(tmp_path, eas_flow())
    reader.close()
    with sqlite3.connect(reader.path) as raw:
        raw.execute("PRAGMA user_version = 0")
    with pytest.raises(CaptureError, match=f"capture schema version 0 is older than this eas-inspector reads \\({SCHEMA_VERSION}\\)"):
        CaptureReader(reader.path)
    with pytest.raises(CaptureError, match="no upgrade from capture schema version 0"):
        CaptureWriter(reader.path)


def test_two_writers_write_the_same_capture_at_once(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    proxy, viewer = CaptureWriter(path), CaptureWriter(path)
    original_id = proxy.add_sync(flow_input_from_mitm(eas_flow(timestamp=100.0)))
    for index in range(50):
        proxy.add(flow_input_from_mitm(eas_flow(timestamp=200.0 + index)))
        if index % 10 == 0:
            viewer.add_sync(flow_input_from_mitm(eas_flow(timestamp=300.0 + index)), replay_of=original_id)
    proxy.close()
    viewer.close()
    with CaptureReader(path) as reader:
        assert reader.count_flows() == 56
        (session,) = reader.sessions()
        assert (session.flow_count, session.first_seen, session.last_seen) == (56, 100.0, 340.0)
        assert len(reader.replays(original_id)) == 5


def test_files_that_are_not_captures_are_refused(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.sqlite"
    text_file.write_bytes(b"these are my notes, not a database" * 100)
    other_db = tmp_path / "other.sqlite"
    with sqlite3.connect(other_db) as raw:
        raw.execute("CREATE TABLE t (x)")
    for path in (text_file, other_db):
        with pytest.raises(CaptureError, match="not an eas-inspector capture"):
            CaptureReader(path)
        with pytest.raises(CaptureError, match="not an eas-inspector capture"):
            CaptureWriter(path)
    assert text_file.read_bytes().startswith(b"these are my notes")  # left untouched
    with pytest.raises(CaptureError, match="no such capture"):
        CaptureReader(tmp_path / "missing.sqlite")


@pytest.fixture
def read_only_directory(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a writable directory, the same directory mounted read-only); skipped where bind mounts are not allowed."""
    source, mounted = tmp_path / "source", tmp_path / "read-only"
    source.mkdir()
    mounted.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root for a read-only bind mount")
    mount = subprocess.run(["mount", "--bind", str(source), str(mounted)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip("bind mounts are not allowed here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)], capture_output=True).returncode != 0:
            pytest.skip("read-only remounts are not allowed here")
        yield source, mounted
    finally:
        subprocess.run(["umount", str(mounted)], check=True)


def test_a_capture_on_a_read_only_file_system_opens(read_only_directory: tuple[Path, Path]) -> None:
    source, mounted = read_only_directory
    with CaptureWriter(source / "capture.sqlite") as writer:
        writer.add_sync(flow_input_from_mitm(eas_flow()))
    with CaptureReader(mounted / "capture.sqlite") as reader:
        assert reader.count_flows() == 1 and reader.flow(1).row.command == "Sync"


def test_a_second_writer_appends_to_the_same_capture(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    with CaptureWriter(path) as first:
        first.add_sync(flow_input_from_mitm(eas_flow(timestamp=100.0)))
    with CaptureWriter(path) as second:
        second.add_sync(flow_input_from_mitm(eas_flow(timestamp=200.0)))
    with CaptureReader(path) as reader:
        (session,) = reader.sessions()
        assert session.flow_count == 2 and session.last_seen == 200.0


def test_add_queues_and_close_flushes(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    writer = CaptureWriter(path)
    for index in range(300):
        writer.add(flow_input_from_mitm(eas_flow(timestamp=1000.0 + index)))
    writer.close()
    assert writer.written_count == 300
    with CaptureReader(path) as reader:
        assert reader.count_flows() == 300 and reader.sessions()[0].flow_count == 300
        assert reader.flows(limit=None, order="id") == reader.flows(limit=None, order="ts_start")
    with pytest.raises(CaptureError, match="closed"):
        writer.add(flow_input_from_mitm(eas_flow()))


def test_add_from_many_threads_at_once(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    writer = CaptureWriter(path)
    inputs = [flow_input_from_mitm(eas_flow(timestamp=float(index))) for index in range(400)]

    def add_share(share: int) -> None:
        for flow_input in inputs[share::4]:
            writer.add(flow_input)

    threads = [threading.Thread(target=add_share, args=(share,)) for share in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    with CaptureReader(path) as reader:
        assert sorted(row.ts_start for row in reader.flows(limit=None)) == [float(i) for i in range(400)]
        assert reader.sessions()[0].flow_count == 400


def test_a_failing_write_is_logged_kept_and_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "capture.sqlite"
    writer = CaptureWriter(path, busy_timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock, like a full disk would fail
    writer.add(flow_input_from_mitm(eas_flow()))
    with pytest.raises(CaptureError, match="database is locked"):
        writer.flush()
    assert writer.pending_count() == 1
    assert isinstance(writer.last_error, sqlite3.OperationalError)
    assert any(r.levelname == "ERROR" and "CANNOT WRITE TO CAPTURE" in r.getMessage() for r in caplog.records)
    with pytest.raises(CaptureError, match="database is locked"):
        writer.add_sync(flow_input_from_mitm(eas_flow()))
    blocker.execute("COMMIT")
    writer.flush()
    assert writer.last_error is None and writer.pending_count() == 0
    writer.close()
    with CaptureReader(path) as reader:
        assert reader.count_flows() == 1


def test_add_sync_that_times_out_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    writer = CaptureWriter(path, busy_timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    writer.add(flow_input_from_mitm(eas_flow(timestamp=1.0)))
    with pytest.raises(CaptureError, match="database is locked|nothing was stored"):
        writer.add_sync(flow_input_from_mitm(eas_flow(timestamp=2.0)), timeout=0.01)
    blocker.execute("COMMIT")
    writer.close()
    with CaptureReader(path) as reader:
        assert [row.ts_start for row in reader.flows()] == [1.0]  # the queued flow, never the abandoned one


def test_close_says_how_many_flows_it_could_not_write(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    writer = CaptureWriter(path, busy_timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    writer.add(flow_input_from_mitm(eas_flow()))
    writer.add(flow_input_from_mitm(eas_flow()))
    with pytest.raises(CaptureError, match="2 flows could not be written"):
        writer.close()
    blocker.execute("ROLLBACK")


def test_an_analysis_problem_never_loses_the_flow(tmp_path: Path) -> None:
    garbage = eas_flow(response_body=b"\x03\x01\x6a\x00\x45\x5c\x44\x00\x01\x01")
    reader, (flow_id,) = stored(tmp_path, garbage)
    record = reader.flow(flow_id)
    assert record.row.problem_count == len(record.problems) >= 1
    assert record.problems[0].where == "response body"
    assert record.response_body == garbage.response.raw_content  # type: ignore[union-attr]


def test_flow_input_from_the_viewer_needs_no_mitmproxy(tmp_path: Path) -> None:
    replay = FlowInput(
        method="POST",
        scheme="https",
        target_host="mail.example.com",
        port=443,
        path="/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=DEV1&DeviceType=iPhone",
        http_version="HTTP/1.1",
        request_headers=(("Content-Type", WBXML_TYPE), ("MS-ASProtocolVersion", "14.1")),
        request_body=FOLDERSYNC_REQUEST,
        timestamps={"request_start": 10.0, "response_end": 10.5},
        response_status=200,
        response_reason="OK",
        response_headers=(("Content-Type", WBXML_TYPE),),
        response_body=FOLDERSYNC_RESPONSE,
    )
    path = tmp_path / "capture.sqlite"
    with CaptureWriter(path) as writer:
        flow_id = writer.add_sync(replay)
    with CaptureReader(path) as reader:
        record = reader.flow(flow_id)
    assert record.row.url == "https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=DEV1&DeviceType=iPhone"
    assert record.row.command == "FolderSync" and record.row.ts_end == 10.5
    assert record.to_input().request_body == FOLDERSYNC_REQUEST
    rebuilt = flow_from_record(record)
    assert rebuilt.response is not None and rebuilt.response.raw_content == FOLDERSYNC_RESPONSE


# ---------------------------------------------------------------------------------------------------------------
# Other processes

_WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.capture.test_store import eas_flow
    from capture.mitm import flow_input_from_mitm
    from capture.writer import CaptureWriter

    writer = CaptureWriter({path!r})
    print("ready", flush=True)
    for seq in range(100000):
        flow = eas_flow(timestamp=1_763_700_000.0 + seq)
        flow.request.headers["X-Seq"] = str(seq)
        writer.add(flow_input_from_mitm(flow))
        print(seq, flush=True)
        time.sleep(0.02)
    """
)


@pytest.mark.slow
def test_sigkill_loses_nothing_completed_a_second_before(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    script = _WRITER_SCRIPT.format(root=str(ROOT), path=str(path))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    added_at: dict[int, float] = {}
    for line in process.stdout:
        added_at[int(line)] = time.monotonic()
        # about 2.4 s of traffic, and on a slow machine until 50 flows were added over a second ago
        if len(added_at) >= 120 and time.monotonic() - added_at[49] > 1.2:
            break
    process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    process.wait()
    assert process.returncode == -signal.SIGKILL
    with CaptureReader(path) as reader:  # read-only, straight after the crash (no recovery by a writer first)
        stored_seqs = {
            int(dict(reader.flow(row.id).request_headers)["X-Seq"]) for row in reader.flows(limit=None)
        }
        (session,) = reader.sessions()
        assert session.flow_count == len(stored_seqs)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    safe = {seq for seq, at in added_at.items() if killed_at - at > 1.0}
    assert len(safe) >= 50
    assert safe <= stored_seqs


_READER_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from capture.model import FlowFilter
    from capture.reader import CaptureReader

    reader = CaptureReader({path!r})
    seen = 0
    while seen < {total}:
        newest = reader.max_flow_id()
        if newest > seen:
            rows = reader.flows(FlowFilter(min_id=seen), order="id", limit=None)
            assert [r.id for r in rows] == list(range(seen + 1, newest + 1)), rows
            assert reader.flow(newest).row.command == "Sync"
            assert sum(s.flow_count for s in reader.sessions()) >= newest
            print(newest, flush=True)
            seen = newest
    """
)


@pytest.mark.slow
def test_a_reader_process_follows_while_the_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    total = 200
    writer = CaptureWriter(path)
    script = _READER_SCRIPT.format(root=str(ROOT), path=str(path), total=total)
    reader_process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    for index in range(total):
        writer.add(flow_input_from_mitm(eas_flow(timestamp=1_763_700_000.0 + index)))
        if index % 20 == 0:
            writer.flush()  # commits in several steps the reader sees one by one
    writer.close()
    stdout, stderr = reader_process.communicate()
    assert reader_process.returncode == 0, stderr
    seen = [int(line) for line in stdout.split()]
    assert seen[-1] == total and seen == sorted(seen)
    assert not path.with_name(path.name + "-journal").exists()


def test_the_reader_cannot_write(tmp_path: Path) -> None:
    reader, _ = stored(tmp_path, eas_flow())
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader._connection.execute("DELETE FROM flows")
    assert reader.count_flows() == 1


def test_records_keep_the_stored_json_summary(tmp_path: Path) -> None:
    reader, (flow_id,) = stored(tmp_path, eas_flow())
    with sqlite3.connect(reader.path) as raw:
        statuses = json.loads(raw.execute("SELECT eas_statuses FROM flows WHERE id = ?", (flow_id,)).fetchone()[0])
    assert statuses and statuses[0][1] == 1
    assert reader.flow(flow_id).exchange().command == "Sync"


def test_flows_filter_by_collection_and_by_flow_ids(tmp_path: Path) -> None:
    # SYNC_REQUEST names CollectionId 5 (written token by token above); FolderSync names none
    reader, ids = stored(tmp_path, eas_flow("FolderSync", request_body=FOLDERSYNC_REQUEST, response_body=FOLDERSYNC_RESPONSE),
                         eas_flow(request_body=SYNC_REQUEST, response_body=sync_response()),
                         eas_flow(request_body=SYNC_REQUEST, response_body=sync_response()))
    assert [row.id for row in reader.flows(FlowFilter(collection_id="5"))] == ids[1:]
    assert reader.count_flows(FlowFilter(collection_id="6")) == 0
    assert [row.id for row in reader.flows(FlowFilter(flow_ids=[ids[2], ids[0]]))] == [ids[0], ids[2]]
    assert reader.count_flows(FlowFilter(flow_ids=[])) == 0
