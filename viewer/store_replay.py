"""A replay (request sent + answer received) as the store's FlowInput, linked to its original; no UI here."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import eas
from capture.model import FlowInput, FlowRecord, FlowRow

if TYPE_CHECKING:
    from viewer.replay import ReplayRequest, ReplayResult


def replay_input(original: FlowRecord, request: ReplayRequest, result: ReplayResult) -> FlowInput:
    """The FlowInput of a replay; store it with `CaptureWriter.add_sync(..., replay_of=original.row.id)`.

    The request headers are those actually sent (with the Content-Length of the body sent); the writer
    redacts credentials unless the capture keeps them.
    """
    parts = urlsplit(request.url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    same_target = urlsplit(original.row.url).netloc == parts.netloc
    extra = {"is_replay": "request", "replay_via": request.proxy or "", "tls_verify": request.verify}
    return FlowInput(
        method=request.method,
        scheme=scheme,
        target_host=parts.hostname or "",
        port=port,
        path=path,
        http_version="HTTP/1.1",
        request_headers=tuple(result.sent_headers) or tuple(request.headers),
        request_body=request.body,
        timestamps={
            "request_start": result.ts_start,
            "request_end": result.ts_start,
            "response_start": result.ts_end,
            "response_end": result.ts_end,
        },
        authority="",
        url=request.url,
        host=original.row.host if same_target else parts.hostname or "",
        response_http_version=result.http_version,
        response_status=result.status,
        response_reason=result.reason,
        response_headers=tuple(result.headers),
        response_body=result.body,
        server_address=result.server_address,
        tls=result.tls,
        extra=extra,
    )


def unsaved_record(original: FlowRecord, request: ReplayRequest, result: ReplayResult) -> FlowRecord:
    """The replay as a FlowRecord that is not in the capture (id 0), for showing it when storing failed."""
    flow_input = replay_input(original, request, result)
    exchange = eas.analyze(
        request.method, request.url, flow_input.request_headers, request.body, result.status, result.headers, result.body,
        request_time=result.ts_start,
    )
    first_status = exchange.eas_statuses[0] if exchange.eas_statuses else None
    row = FlowRow(
        id=0,
        session_id=original.row.session_id,
        ts_start=result.ts_start,
        ts_end=result.ts_end,
        method=request.method,
        url=request.url,
        host=flow_input.host or flow_input.target_host,
        command=exchange.command,
        collection_id=exchange.collection_ids[0] if exchange.collection_ids else None,
        sync_key=exchange.sync_keys[0] if exchange.sync_keys else None,
        http_status=result.status,
        eas_status=first_status.code if first_status else None,
        eas_status_meaning=first_status.meaning if first_status else None,
        request_size=len(request.body),
        response_size=len(result.body),
        problem_count=len(exchange.problems),
        replay_of=original.row.id,
    )
    return FlowRecord(
        row=row,
        http_version=flow_input.http_version,
        scheme=flow_input.scheme,
        port=flow_input.port,
        path=flow_input.path,
        request_headers=tuple(flow_input.request_headers),
        request_body=request.body,
        response_headers=tuple(result.headers),
        response_body=result.body,
        response_reason=result.reason,
        error=None,
        timestamps=dict(flow_input.timestamps),
        server_address=result.server_address,
        tls=result.tls,
        target_host=flow_input.target_host,
    )


__all__ = ["replay_input", "unsaved_record"]
