"""The capture's values: device sessions and flows as rows, the raw flow the writer takes, the stored record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import eas
from eas.exchange import Exchange, Problem
from eas.facts import FlowFacts
from eas.verdicts import JudgedStatus, Outcome


Headers = tuple[tuple[str, str], ...]


class CaptureError(Exception):
    """A capture that cannot be opened, read or written; the message says which file and why."""


# A status filter: exactly this code, or codes from low to high (inclusive), or (negated) any other code.
StatusMatch = int | tuple[int, int, bool]


@dataclass(frozen=True)
class FlowFilter:
    """Which flows to read: every field that is set must hold (the reader's flows, count_flows and evidence).

    The default, FlowFilter(), selects every flow.
    """

    session_id: int | None = None
    device_id: str | None = None
    user: str | None = None
    command: str | None = None
    collection_id: str | None = None  # one collection's flows
    flow_ids: tuple[int, ...] | None = None  # only these flows (a finding's); an empty tuple selects none
    replay_of: int | None = None  # the replays of this flow
    min_id: int | None = None  # flows with a larger id (following a live capture)
    eas_status: StatusMatch | None = None  # a code, or (low, high, negated) for a range or its complement
    http_status: StatusMatch | None = None
    outcome: str | None = None  # "ok", "warning" or "failed" (the verdict column)
    failed_only: bool = False
    problems_only: bool = False  # flows with at least one problem
    text: str | None = None  # full-text search over URL, summary and decoded XML; empty means no search

    def __post_init__(self) -> None:
        if self.flow_ids is not None and not isinstance(self.flow_ids, tuple):
            object.__setattr__(self, "flow_ids", tuple(self.flow_ids))  # a list given is kept hashable


@dataclass(frozen=True)
class SessionRow:
    """One device session: host + user + device_id + device_type.

    `problem_count` counts the session's flows that have at least one problem: a judgement that is not ok
    (a decode or schema problem, an HTTP failure, a failed Status, a transport error; see FlowRow.problem_count).
    """

    id: int
    host: str
    user: str | None
    device_id: str | None
    device_type: str | None
    protocol_versions: str  # comma-separated, in the order first seen
    first_seen: float
    last_seen: float
    flow_count: int
    problem_count: int


@dataclass(frozen=True)
class FlowRow:
    """What a list of flows shows (indexed columns only, no bodies).

    `host` is the host the client asked for (Host header or :authority, else the connection target);
    `request_size`/`response_size` are the raw body sizes on the wire, even when the stored body was truncated.
    `outcome` is the verdict (eas.verdicts.judge; None for a flow stored without analysis); `statuses` every EAS
    Status of the response judged by its own table; `eas_status`/`eas_status_meaning` the worst of them;
    `problem_count` the judgements that are not ok (decode and schema problems, HTTP failures, failed and
    warning statuses, a transport error); `sync_key` the first SyncKey of the request, `response_sync_key` the
    one the server answered (first collection, or FolderSync).
    """

    id: int
    session_id: int | None
    ts_start: float
    ts_end: float | None
    method: str
    url: str
    host: str
    command: str | None
    collection_id: str | None
    sync_key: str | None
    http_status: int | None
    eas_status: int | None
    eas_status_meaning: str | None
    request_size: int
    response_size: int
    problem_count: int
    replay_of: int | None  # id of the original flow when this flow is a replay
    user: str | None = None
    device_id: str | None = None
    device_type: str | None = None
    protocol_version: str | None = None
    is_eas: bool = False
    is_autodiscover: bool = False
    error: str | None = None
    outcome: Outcome | None = None
    response_sync_key: str | None = None
    statuses: tuple[JudgedStatus, ...] = ()


@dataclass(frozen=True)
class FlowInput:
    """One flow as the writer receives it: the raw fields of a FlowRecord (no id, no analysis).

    Strings that come from bytes (method, path, header names and values, reason) are UTF-8 decoded with
    surrogate escapes, as mitmproxy does, so `s.encode("utf-8", "surrogateescape")` gives the bytes back.
    Bodies are as on the wire (before removing Content-Encoding); `response_headers is None` means no response.
    `target_host` is where the connection went (mitmproxy's `request.host`); `url` is for display and search
    and is built from the parts when left empty.
    """

    method: str
    scheme: str
    target_host: str
    port: int
    path: str
    http_version: str
    request_headers: Headers
    request_body: bytes
    timestamps: Mapping[str, float]
    authority: str = ""
    url: str = ""
    host: str = ""  # what the client asked for (Host header); defaults to target_host
    request_trailers: Headers | None = None
    response_http_version: str | None = None
    response_status: int | None = None
    response_reason: str | None = None
    response_headers: Headers | None = None
    response_body: bytes | None = None
    response_trailers: Headers | None = None
    error: str | None = None
    server_address: str | None = None
    tls: bool = False
    connection: Mapping[str, Any] = field(default_factory=dict)  # client/server details for rebuilding
    extra: Mapping[str, Any] = field(default_factory=dict)  # mitm_id, marked, comment, is_replay

    @property
    def ts_start(self) -> float:
        return float(self.timestamps.get("request_start") or self.timestamps.get("flow_created") or 0.0)

    def display_url(self) -> str:
        if self.url:
            return self.url
        default_port = {"http": 80, "https": 443}.get(self.scheme)
        host = f"[{self.target_host}]" if ":" in self.target_host else self.target_host
        authority = host if self.port == default_port else f"{host}:{self.port}"
        return f"{self.scheme}://{authority}{self.path}"

    def display_host(self) -> str:
        return self.host or self.target_host


@dataclass(frozen=True)
class FlowRecord:
    """Everything needed to rebuild the flow exactly, plus the stored analysis."""

    row: FlowRow
    http_version: str
    scheme: str
    port: int
    path: str
    request_headers: Headers  # in order, raw (Authorization as stored)
    request_body: bytes
    response_headers: Headers | None
    response_body: bytes | None
    response_reason: str | None
    error: str | None
    timestamps: dict[str, float]
    server_address: str | None
    tls: bool
    target_host: str = ""
    authority: str = ""
    request_trailers: Headers | None = None
    response_http_version: str | None = None
    response_trailers: Headers | None = None
    request_truncated: bool = False
    response_truncated: bool = False
    credentials_redacted: bool = False
    connection: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    policy_key: str | None = None
    collection_ids: tuple[str, ...] = ()
    sync_keys: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    reasons: tuple[str, ...] = ()  # why the outcome is not ok, worst first (eas.verdicts.Verdict.reasons)
    facts: FlowFacts | None = None  # the diagnosis facts (eas.facts), with the transport error
    # The request's and response's annotated XML (or readable text) as indexed for search: base64/hex runs of
    # 512+ characters and anything beyond MAX_INDEXED_CHARS left out; None when the flow was not analyzed.
    request_text: str | None = None
    response_text: str | None = None

    @property
    def sni(self) -> str | None:
        """The TLS server name the proxy sent upstream (else the client's), when known."""
        return self._tls_detail("sni")

    @property
    def tls_version(self) -> str | None:
        """The upstream TLS version (e.g. "TLSv1.3"), when known."""
        return self._tls_detail("tls_version")

    @property
    def alpn(self) -> str | None:
        """The upstream ALPN protocol (e.g. "http/1.1"), when known."""
        return self._tls_detail("alpn")

    def _tls_detail(self, name: str) -> str | None:
        for side in ("server", "client"):
            value = (self.connection.get(side) or {}).get(name)
            if value:
                return str(value)
        return None

    def exchange(self) -> Exchange:
        """`eas.analyze(...)` on the stored bytes (a truncated body shows as truncated)."""
        return eas.analyze(
            self.row.method,
            self.row.url,
            self.request_headers,
            self.request_body,
            self.row.http_status,
            self.response_headers,
            self.response_body,
            request_time=self.row.ts_start or None,  # 0: the flow has no time
        )

    def to_input(self) -> FlowInput:
        """The stored raw fields as a FlowInput (for copying a flow into another capture)."""
        return FlowInput(
            method=self.row.method,
            scheme=self.scheme,
            target_host=self.target_host,
            port=self.port,
            path=self.path,
            http_version=self.http_version,
            request_headers=self.request_headers,
            request_body=self.request_body,
            timestamps=dict(self.timestamps),
            authority=self.authority,
            url=self.row.url,
            host=self.row.host,
            request_trailers=self.request_trailers,
            response_http_version=self.response_http_version,
            response_status=self.row.http_status,
            response_reason=self.response_reason,
            response_headers=self.response_headers,
            response_body=self.response_body,
            response_trailers=self.response_trailers,
            error=self.error,
            server_address=self.server_address,
            tls=self.tls,
            connection=dict(self.connection),
            extra=dict(self.extra),
        )

