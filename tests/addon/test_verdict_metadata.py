"""The flow comment, mark and metadata from the verdict, and the addon's findings and `activesync.diagnose`."""

from __future__ import annotations

import logging

import pytest
from mitmproxy.test import taddons, tflow

import eas
from addon.activesync import ActiveSyncAddon
from addon.metadata import MARK_FAILED, MARK_FINDING, analysis_metadata, annotated, summary_of
from eas.summary import summarize
from tests.addon import scripted_eas as s
from tests.eas.test_summary import mixed_sync

SYNC_PATH = s.request_path("Sync", "DEV1")


def analysed(status: int, body: bytes, request: bytes = s.sync_request("k5"), command: str = "Sync") -> dict[str, object]:
    exchange = eas.analyze("POST", f"https://mail.example.com{s.request_path(command, 'DEV1')}",
                           list(s.request_headers().items()), request, status,
                           [("Content-Type", s.WBXML_TYPE)] if body else [], body)  # fmt: skip
    return {"activesync.kind": "eas", **analysis_metadata("eas", exchange, eas.judge(exchange))}


def test_comment_names_http_status_outcome_and_the_worst_status() -> None:
    failed = analysed(200, s.sync_response(3))
    assert summary_of(failed).startswith(
        "EAS Sync 14.1 user=alice device=DEV1 HTTP 200 failed: Sync/Collections/Collection/Status=3 ("
    )
    assert failed["activesync.outcome"] == "failed" and failed["activesync.problems"] == 1
    refused = analysed(401, b"", s.folder_sync_request("0"), "FolderSync")
    assert summary_of(refused) == "EAS FolderSync 14.1 user=alice device=DEV1 HTTP 401 failed"
    assert refused["activesync.problems"] == 1 and refused["activesync.http_status"] == 401
    fine = analysed(200, s.sync_response(1, "k6"))
    assert summary_of(fine) == (
        "EAS Sync 14.1 user=alice device=DEV1 HTTP 200 ok Sync/Collections/Collection/Status=1 (success)"
    )


def test_failed_flows_are_marked_unless_the_user_marked_them() -> None:
    values = analysed(200, s.sync_response(3))
    metadata: dict[object, object] = {}
    comment, marked = annotated(metadata, "", "", values, complete=True)
    assert marked == MARK_FAILED and comment == metadata["activesync.summary"]
    comment, marked = annotated({}, "my note", ":star:", values, complete=True)
    assert (comment, marked) == ("my note", ":star:")
    ok = analysed(200, s.sync_response(1, "k6"))
    comment, marked = annotated(metadata, comment, MARK_FAILED, ok, complete=True)
    assert marked == ""  # our own mark goes when a later analysis says ok
    with_finding = {**ok, "activesync.finding": "sync-key-invalid-loop: INBOX looped"}
    _, marked = annotated({}, "", "", with_finding, complete=True)
    assert marked == MARK_FINDING


def test_findings_are_logged_once_and_listed_by_the_command(caplog: pytest.LogCaptureFixture) -> None:
    addon = ActiveSyncAddon()
    finding = {"rule": "sync-key-invalid-loop", "severity": "error", "device_id": "DEV1", "user": "alice",
               "host": "mail.example.com", "device_type": "SmartPhone", "flows": [2, 3], "summary": "INBOX looped",
               "advice": "start over at SyncKey 0", "spec": "MS-ASCMD 2.2.3.177.17"}  # fmt: skip
    first, second = tflow.tflow(resp=True), tflow.tflow(resp=True)
    with taddons.context(), caplog.at_level(logging.INFO):
        addon.take_findings(3, first, [finding])
        addon.take_findings(4, second, [{**finding, "flows": [2, 3, 4], "summary": "INBOX looped 3 times"}])
        lines = addon.diagnose()
    logged = [record.getMessage() for record in caplog.records if "ActiveSync finding" in record.getMessage()]
    assert logged == ["ActiveSync finding sync-key-invalid-loop (error) alice/DEV1: INBOX looped"]
    (line,) = lines
    assert line.startswith("error sync-key-invalid-loop alice/DEV1: INBOX looped 3 times")
    assert f"flows #2, {first.id}, {second.id}" in line


def test_the_mitmproxy_comment_and_explain_say_the_same_line() -> None:
    exchange = mixed_sync()
    metadata = {"activesync.kind": "eas", **analysis_metadata("eas", exchange, eas.judge(exchange))}
    assert summary_of(metadata) == summarize(exchange)
    options = eas.analyze("OPTIONS", "https://h/Microsoft-Server-ActiveSync", [("MS-ASProtocolVersion", "14.1")], b"",
                          200, [("MS-ASProtocolVersions", "12.1,14.1")], b"")  # fmt: skip
    metadata = {"activesync.kind": "eas", **analysis_metadata("eas", options, eas.judge(options))}
    assert summary_of(metadata) == summarize(options) == "EAS Options 14.1 HTTP 200 ok offers 12.1,14.1"
