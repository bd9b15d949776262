"""The flow list shows bytes that were not UTF-8 on the wire as \\xNN (a surrogate never reaches the terminal)."""

from __future__ import annotations

from capture.model import FlowRow
from viewer.widgets.flow_list import layout, row_text


def test_a_method_that_is_not_utf8_is_shown_escaped() -> None:
    method = b"PO\xffST".decode("utf-8", "surrogateescape")
    row = FlowRow(
        id=1, session_id=None, ts_start=1_763_700_000.0, ts_end=None, method=method,
        url="https://mail.example.com/x", host="mail.example.com", command=None, collection_id=None, sync_key=None,
        http_status=200, eas_status=None, eas_status_meaning=None, request_size=0, response_size=0, problem_count=0,
        replay_of=None,
    )  # fmt: skip
    plain = row_text(row, layout(120)).plain
    assert "PO\\xffST" in plain
    assert "\udcff" not in plain
