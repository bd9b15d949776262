"""A replay (request sent + answer received) as the store's FlowInput, linked to its original; no UI here."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from addon.store import FlowInput, FlowRecord
    from viewer.replay import ReplayRequest, ReplayResult


def replay_input(original: FlowRecord, request: ReplayRequest, result: ReplayResult) -> FlowInput:
    """The FlowInput of a replay; store it with `CaptureWriter.add_sync(..., replay_of=original.row.id)`.

    The request headers are those actually sent (with the Content-Length of the body sent); the writer
    redacts credentials unless the capture keeps them.
    """
    from addon.store import FlowInput

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


__all__ = ["replay_input"]
