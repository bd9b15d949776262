"""A bearer token's expiry in a capture is told against the flow's own start, not today (issue 13, Authentication
as it is today: "expired 3 min before this request"); eas.analyze never raises."""

from __future__ import annotations

from pathlib import Path

import pytest

import eas
from capture.model import FlowInput
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from tests.eas.test_auth import jwt

# MS-ASWBXML's FolderSync request with SyncKey 0 (code page 7 FolderHierarchy: 0x56 FolderSync, 0x52 SyncKey).
FOLDERSYNC_REQUEST = bytes.fromhex("03016a00000756524b033000010101")
# 2021-01-01 00:00:00 UTC: years before any day this test runs, so "3 min" can only come from the flow's time.
FLOW_START = 1_609_459_200.0


def bearer_flow(expires: float) -> FlowInput:
    token = jwt({"aud": "https://outlook.office365.com", "upn": "alice@example.com", "exp": int(expires)})
    return FlowInput(
        method="POST",
        scheme="https",
        target_host="mail.example.com",
        port=443,
        path="/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice&DeviceId=D1&DeviceType=T",
        http_version="HTTP/1.1",
        request_headers=(
            ("Host", "mail.example.com"),
            ("Authorization", f"Bearer {token}"),
            ("MS-ASProtocolVersion", "16.1"),
            ("Content-Type", "application/vnd.ms-sync.wbxml"),
        ),
        request_body=FOLDERSYNC_REQUEST,
        timestamps={"request_start": FLOW_START, "request_end": FLOW_START + 0.01,
                    "response_start": FLOW_START + 0.1, "response_end": FLOW_START + 0.2},
        host="mail.example.com",
        response_http_version="HTTP/1.1",
        response_status=401,
        response_reason="Unauthorized",
        response_headers=(("Content-Length", "0"),),
        response_body=b"",
        tls=True,
    )


def authorization_shown(path: Path, flow: FlowInput, keep_credentials: bool) -> str:
    """What the capture's reader explains of the stored Authorization header."""
    writer = CaptureWriter(path, keep_credentials=keep_credentials)
    try:
        flow_id = writer.add_sync(flow)
    finally:
        writer.close()
    with CaptureReader(path) as reader:
        record = reader.flow(flow_id)
    assert record.row.ts_start == FLOW_START
    (note,) = [note for note in record.exchange().request_headers if note.name == "Authorization"]
    return note.shown_value


@pytest.mark.parametrize("keep_credentials", [False, True], ids=["redacted", "kept"])
def test_an_expired_token_is_told_against_the_flows_start(tmp_path: Path, keep_credentials: bool) -> None:
    shown = authorization_shown(tmp_path / "bearer.sqlite", bearer_flow(FLOW_START - 180), keep_credentials)
    assert "expired 3 min before this request" in shown
    assert "upn='alice@example.com'" in shown


def test_a_token_valid_at_the_flows_start_is_told_so(tmp_path: Path) -> None:
    shown = authorization_shown(tmp_path / "bearer.sqlite", bearer_flow(FLOW_START + 2 * 3600), False)
    assert "valid for 2.0 h after this request" in shown


def test_analyze_gives_a_problem_not_an_exception() -> None:
    """A body that is not bytes at all makes the analysis itself fail: that is reported, the flow kept."""
    headers = [("Content-Type", "application/vnd.ms-sync.wbxml")]
    not_bytes: bytes = object()  # type: ignore[assignment]
    exchange = eas.analyze("POST", "/Microsoft-Server-ActiveSync?Cmd=Sync", headers, not_bytes, None, None, None)
    (problem,) = exchange.problems
    assert problem.reason.startswith("analysis failed: TypeError")
    assert exchange.is_eas and exchange.method == "POST"
