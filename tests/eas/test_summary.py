"""The one summary line (eas.summary): the worst Status by the verdict, not the first; the line from its parts."""

from __future__ import annotations

import eas
from eas.summary import SummaryParts, summarize, summary_line
from tests.addon import scripted_eas as s

# A Sync answered with a top-level Status 1 and a collection Status 3: MS-ASCMD 2.2.3.177.17, Status(Sync) 3
# "Invalid synchronization key" (the client must start again from SyncKey 0).
MIXED_SYNC_RESPONSE = eas.encode(
    '<Sync xmlns="AirSync"><Status>1</Status><Collections><Collection><SyncKey>k5</SyncKey>'
    "<CollectionId>1</CollectionId><Status>3</Status></Collection></Collections></Sync>"
)


def mixed_sync() -> eas.Exchange:
    return eas.analyze("POST", f"https://mail.example.com{s.request_path('Sync', 'DEV1')}",
                       list(s.request_headers().items()), s.sync_request("k5"), 200,
                       [("Content-Type", s.WBXML_TYPE)], MIXED_SYNC_RESPONSE)  # fmt: skip


def test_a_failed_collection_under_a_top_level_success_is_the_failure() -> None:
    exchange = mixed_sync()
    assert [note.code for note in exchange.eas_statuses] == [1, 3]  # the first is the top-level success
    line = summarize(exchange)
    assert line.startswith(
        "EAS Sync 14.1 user=alice device=DEV1 HTTP 200 failed: Sync/Collections/Collection/Status=3 (invalid "
        "synchronization key"
    )
    assert "Status=1" not in line


def test_the_line_from_its_parts() -> None:
    request_only = SummaryParts(kind="eas", command="Ping", version="16.1", user="bob", device_id="D")
    assert summary_line(request_only) == "EAS Ping 16.1 user=bob device=D"
    redirected = SummaryParts(kind="eas", command="Options", outcome="warning", http_status=451,
                              worst_reason="HTTP 451 Redirect to https://b/x", problems=1, redirect="https://b/x")
    assert summary_line(redirected) == "EAS Options HTTP 451 warning -> https://b/x"
    reset = SummaryParts(kind="eas", command="Sync", outcome="failed", worst_reason="no response: connection reset",
                         problems=2, finding="auth-failures: 3 refusals")
    assert summary_line(reset) == (
        "EAS Sync no response failed: no response: connection reset | 2 problems | finding auth-failures: 3 refusals"
    )
    assert summary_line(SummaryParts(kind=None, method="GET", outcome="ok", http_status=200)) == "GET HTTP 200 ok"
    assert summary_line(SummaryParts(kind="autodiscover", command="Autodiscover")) == "Autodiscover"
