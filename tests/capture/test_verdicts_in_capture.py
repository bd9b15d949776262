"""The verdict and the diagnosis facts in a real SQLite capture: columns, filters, the migration from schema 1."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

import eas
from capture.model import CaptureError, FlowFilter, FlowInput
from capture.reader import CaptureReader
from capture.schema import SCHEMA_VERSION
from capture.writer import CaptureWriter
from tests.addon import scripted_eas as s

V1_CAPTURE = Path(__file__).resolve().parents[1] / "data" / "capture-v1.sqlite"
T0 = 1_800_000_000.0


def flow_input(step: s.Step, index: int, device_id: str = "DEVLOOP", error: str | None = None) -> FlowInput:
    ts = T0 + index
    response = error is None
    return FlowInput(
        method="POST", scheme="https", target_host="mail.example.com", port=443,
        path=s.request_path(step.command, device_id), http_version="HTTP/1.1",
        request_headers=tuple(s.request_headers().items()), request_body=step.request_body,
        timestamps={"request_start": ts, "response_end": ts + 0.2} if response else {"request_start": ts, "error": ts + 1},
        response_http_version="HTTP/1.1" if response else None,
        response_status=step.status if response else None, response_reason="" if response else None,
        response_headers=(((("Content-Type", s.WBXML_TYPE),) if step.response_body else ()) + step.headers)
        if response else None,
        response_body=step.response_body if response else None,
        error=error,
    )  # fmt: skip


def write(path: Path, inputs: list[FlowInput]) -> None:
    with CaptureWriter(path) as writer:
        for item in inputs:
            writer.add(item)


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """DEVLOOP's scenario (FolderSync, three Syncs with Status 3), a 401, a Ping with no response."""
    path = tmp_path / "verdicts.sqlite"
    steps = list(s.scenarios()[0].steps)
    inputs = [flow_input(step, index) for index, step in enumerate(steps)]
    inputs.append(flow_input(s.Step("FolderSync", s.folder_sync_request("0"), 401), 10))
    inputs.append(flow_input(s.Step("Ping", s.ping_request(480)), 11, error="connection reset by peer"))
    write(path, inputs)
    return path


def test_each_flow_stores_its_outcome_worst_status_and_problems(capture: Path) -> None:
    with CaptureReader(capture) as reader:
        rows = reader.flows(order="id", limit=None)
    assert [(row.command, row.http_status, row.outcome) for row in rows] == [
        ("FolderSync", 200, "ok"), ("Sync", 200, "failed"), ("Sync", 200, "failed"), ("Sync", 200, "failed"),
        ("FolderSync", 401, "failed"), ("Ping", None, "failed"),
    ]
    sync = rows[1]
    assert sync.eas_status == 3
    assert sync.eas_status_meaning is not None and "synchronization key" in sync.eas_status_meaning.lower()
    (status,) = sync.statuses
    assert (status.path, status.code, status.outcome) == ("Sync/Collections/Collection/Status", 3, "failed")
    # failures count as problems now: a failed status, an HTTP 401, no response after a reset
    assert [row.problem_count > 0 for row in rows] == [False, True, True, True, True, True]
    assert rows[0].response_sync_key == "1"  # FolderSync's answered key


def test_outcome_filters_use_the_index(capture: Path) -> None:
    with CaptureReader(capture) as reader:
        assert [row.id for row in reader.flows(FlowFilter(failed_only=True), order="id")] == [2, 3, 4, 5, 6]
        assert [row.id for row in reader.flows(FlowFilter(outcome="ok"))] == [1]
        assert reader.count_flows(FlowFilter(outcome="failed", command="Sync")) == 3
        assert reader.count_flows(FlowFilter(device_id="DEVLOOP")) == 6
        plan = reader._query("EXPLAIN QUERY PLAN SELECT id FROM flows WHERE outcome = 'failed' ORDER BY ts_start")
    assert any("flows_outcome" in str(step) for step in plan)


def test_sessions_count_failures_as_problems(capture: Path) -> None:
    with CaptureReader(capture) as reader:
        (session,) = reader.sessions()
    assert (session.flow_count, session.problem_count) == (6, 5)


def test_evidence_in_time_order_with_facts_and_transport_error(capture: Path) -> None:
    with CaptureReader(capture) as reader:
        evidence = list(reader.evidence())
        record = reader.flow(6)
    assert [item.flow_id for item in evidence] == [1, 2, 3, 4, 5, 6]
    assert evidence[1].facts.command == "Sync" and evidence[1].facts.collections[0].status == 3
    assert evidence[1].facts.collections[0].request_sync_key == "k5"
    assert evidence[5].facts.transport_error == "connection reset by peer"
    assert evidence[0].duration == pytest.approx(0.2)
    assert record.facts is not None and record.facts.transport_error == "connection reset by peer"
    assert record.reasons[0] == "no response: connection reset by peer"


def test_evidence_carries_what_an_importer_says_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "partial.sqlite"
    item = flow_input(s.Step("Sync", s.sync_request("k1"), 200, s.sync_response(1, "k2")), 0)
    write(path, [FlowInput(**{**item.__dict__, "extra": {"missing": ["response_body"]}})])
    with CaptureReader(path) as reader:
        (evidence,) = reader.evidence()
    assert evidence.missing == frozenset({"response_body"})


def test_folder_names_and_sync_key_chain(tmp_path: Path) -> None:
    path = tmp_path / "chain.sqlite"
    steps = [
        s.Step("FolderSync", s.folder_sync_request("0"), response_body=s.folder_sync_response()),
        s.Step("Sync", s.sync_request("0"), response_body=s.sync_response(1, "a")),
        s.Step("Sync", s.sync_request("a"), response_body=s.sync_response(1, "b")),
        s.Step("Sync", s.sync_request("b"), response_body=s.sync_response(3)),
        s.Step("Sync", s.sync_request("0", collection="2"), response_body=s.sync_response(1, "x", collection="2")),
    ]
    write(path, [flow_input(step, index) for index, step in enumerate(steps)])
    with CaptureReader(path) as reader:
        (session,) = reader.sessions()
        assert reader.folder_names(session.id) == {"1": "INBOX", "2": "Calendar"}
        chain = reader.sync_key_chain(session.id, "1")
        rows = reader.flows(FlowFilter(command="Sync"), order="id")
    assert [(link.flow_id, link.request_sync_key, link.response_sync_key, link.status) for link in chain] == [
        (2, "0", "a", 1), (3, "a", "b", 1), (4, "b", None, 3),
    ]
    assert [row.response_sync_key for row in rows] == ["a", "b", None, "x"]


def test_a_schema_1_capture_is_upgraded_when_opened_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    shutil.copy(V1_CAPTURE, path)
    with pytest.raises(CaptureError, match="older"):
        CaptureReader(path)
    CaptureWriter(path).close()
    with CaptureReader(path) as reader:
        assert reader.schema_version == SCHEMA_VERSION == 2
        rows = reader.flows(order="id", limit=None)
        (session,) = reader.sessions()
        evidence = list(reader.evidence())
    # the fixture: FolderSync 200, three Syncs with Status 3, a FolderSync 401 (schema 1 counted no problem)
    assert [(row.command, row.outcome, row.eas_status) for row in rows] == [
        ("FolderSync", "ok", 1), ("Sync", "failed", 3), ("Sync", "failed", 3), ("Sync", "failed", 3),
        ("FolderSync", "failed", None),
    ]
    assert session.problem_count == 4
    assert [item.facts.command for item in evidence] == ["FolderSync", "Sync", "Sync", "Sync", "FolderSync"]
    connection = sqlite3.connect(path)
    try:
        indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        connection.close()
    assert "flows_outcome" in indexes


def test_outcome_filter_is_fast_on_many_flows(tmp_path: Path) -> None:
    path = tmp_path / "many.sqlite"
    shutil.copy(V1_CAPTURE, path)
    CaptureWriter(path).close()
    connection = sqlite3.connect(path)
    try:  # 100,000 rows by copying the stored ones (the writer's speed is not what this measures)
        connection.execute("BEGIN")
        for copy in range(1, 20_001):
            connection.execute(
                "INSERT INTO flows (session_id, ts_start, method, host, url, command, request_size, scheme, "
                "target_host, port, path, http_version, timestamps, connection, request_headers, outcome, facts) "
                "SELECT session_id, ts_start + ? * 10, method, host, url, command, request_size, "
                "scheme, target_host, port, path, http_version, timestamps, connection, request_headers, outcome, "
                "facts FROM flows WHERE id <= 5",
                (copy,),
            )
        connection.execute("COMMIT")
    finally:
        connection.close()
    with CaptureReader(path) as reader:
        started = time.perf_counter()
        page = reader.flows(FlowFilter(failed_only=True), limit=200)
        count = reader.count_flows(FlowFilter(outcome="ok"))
        elapsed = time.perf_counter() - started
    assert len(page) == 200 and count == 20_001
    assert elapsed < 1.0


def test_search_finds_a_failed_collection_under_a_top_level_success_as_the_failure(tmp_path: Path) -> None:
    """The search index's summary says what the flow comment says: the worst Status (a collection's 3), not the
    first (the top-level 1), so searching `failed` finds the Sync and not its ok neighbour."""
    path = tmp_path / "mixed.sqlite"
    mixed = s.Step("Sync", s.sync_request("k5"), 200, eas.encode(
        '<Sync xmlns="AirSync"><Status>1</Status><Collections><Collection><SyncKey>k5</SyncKey>'
        "<CollectionId>1</CollectionId><Status>3</Status></Collection></Collections></Sync>"))
    fine = s.Step("Sync", s.sync_request("k5"), 200, s.sync_response(1, "k6"))
    write(path, [flow_input(mixed, 0), flow_input(fine, 1)])
    with CaptureReader(path) as reader:
        assert [row.id for row in reader.flows(FlowFilter(text="failed"))] == [1]
        assert [row.id for row in reader.flows(FlowFilter(text='"Status=3"'))] == [1]
        assert reader.flows(FlowFilter(text="failed"))[0].eas_status == 3
    with sqlite3.connect(path) as connection:
        (summary,) = connection.execute("SELECT summary FROM flow_text WHERE rowid = 1").fetchone()
    assert summary.startswith("EAS Sync 14.1 user=alice device=DEVLOOP HTTP 200 failed: "
                              "Sync/Collections/Collection/Status=3 (invalid synchronization key")
    assert "Status=1" not in summary
