"""The capture: one SQLite file (WAL) per proxy run, written by a thread, read by the viewer and the CLI."""

# Theory of operation
# -------------------
# The proxy calls `CaptureWriter.add(FlowInput)` from its event loop; that only puts the value on a queue. The
# writer thread takes values off the queue, runs `eas.analyze` on each (so the proxy never pays for decoding;
# a caller that has analyzed the flow already, like the addon's worker, passes its Exchange along instead),
# and commits them in batches: a batch ends after BATCH_SECONDS or BATCH_MAX_FLOWS, whichever comes first, so a
# completed flow is committed at most about 0.1 s (plus its analysis) after `add()`. The database is in WAL mode
# with synchronous=NORMAL: a committed transaction survives the death of the process (SIGKILL) because it is in
# the WAL file; only an OS crash or power loss can lose the last transactions, and never corrupts the file.
# A failed commit (disk full, locked) is logged loudly, kept in memory and retried; `close()` raises if rows
# could still not be written. Readers (the viewer, another process) open the file read-only and see each commit.
#
# A row in `flows` holds everything needed to rebuild a flow (bytes kept exactly: headers as UTF-8 with surrogate
# escapes inside ASCII-only JSON; a text column whose value was not UTF-8 on the wire holds a BLOB of its exact
# bytes, see `_sql_text`) and the analysis summary in indexed columns; its bodies, as on the wire (Content-Encoding
# kept), are BLOBs in `flow_bodies`, so listing and sorting never read them; the decoded XML is in the FTS5 table
# `flow_text`. All three share the flow id. Device sessions (host + user + DeviceId + DeviceType) are updated in
# the same transaction as the flows they count.
# A row that cannot be written (a value SQLite refuses) is left out of its batch and reported; the rest of the
# batch is written, and so is every later flow.

from __future__ import annotations

import atexit
import concurrent.futures
import json
import logging
import os
import queue
import re
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import eas
from eas.exchange import Exchange, Problem
from eas.headers import basic_user
from eas.wiretext import is_clean, shown, wire_bytes

if TYPE_CHECKING:
    from mitmproxy import http

logger = logging.getLogger(__name__)

APP_NAME = "eas-inspector"
SCHEMA_VERSION = 1
BATCH_SECONDS = 0.1
BATCH_MAX_FLOWS = 200
RETRY_SECONDS = 1.0
LOG_FAILURE_SECONDS = 30.0
BUSY_TIMEOUT_MS = 5000
REDACTED = "<redacted>"
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})

Headers = tuple[tuple[str, str], ...]


class CaptureError(Exception):
    """A capture that cannot be opened, read or written; the message says which file and why."""


# ---------------------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class SessionRow:
    """One device session: host + user + device_id + device_type.

    `problem_count` counts the session's flows that have at least one problem.
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
        return analyze_parts(
            self.row.method,
            self.row.url,
            self.request_headers,
            self.request_body,
            self.row.http_status,
            self.response_headers,
            self.response_body,
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


def flow_input_from_mitm(flow: http.HTTPFlow) -> FlowInput:
    """The FlowInput of a mitmproxy HTTP flow (see `addon.convert.flow_input_from_mitm`)."""
    from addon.convert import flow_input_from_mitm as convert_flow

    return convert_flow(flow)


# ---------------------------------------------------------------------------------------------------------------
# Analysis helpers (run in the writer thread)


def analyze_parts(
    method: str,
    url: str,
    request_headers: Sequence[tuple[str, str]],
    request_body: bytes,
    response_status: int | None,
    response_headers: Sequence[tuple[str, str]] | None,
    response_body: bytes | None,
    *,
    annotate: bool = True,
    plain_xml: bool = True,
) -> Exchange:
    """eas.analyze on the raw parts (bodies as on the wire); a failure becomes a problem, never an exception.

    `annotate=False` leaves the meaning comments out (cheaper; not what a capture stores); `plain_xml=False`
    skips the comment-free rendering (the capture indexes the annotated XML only)."""
    try:
        return eas.analyze(
            method,
            url,
            request_headers,
            request_body,
            response_status,
            response_headers,
            response_body,
            annotate=annotate,
            plain_xml=plain_xml,
        )
    except Exception as err:  # analysis must never lose a flow
        logger.warning("analysis of %s %s failed: %r", method, url, err)
        return Exchange(
            method=method,
            url=url,
            is_eas=False,
            http_status=response_status,
            problems=(Problem("analysis", f"eas-inspector could not analyze this flow: {err!r}"),),
        )


def redact_authorization(value: str) -> str:
    """`Basic alice:<redacted>` for Basic credentials, `<scheme> <redacted>` for any other scheme."""
    scheme, _, credentials = value.strip().partition(" ")
    if not credentials.strip():
        return REDACTED
    user = basic_user(value)  # the same reading of Basic credentials as the header explanations
    if user is not None:
        return f"{scheme} {user}:{REDACTED}"
    return f"{scheme} {REDACTED}"


def redact_cookies(value: str, *, set_cookie: bool) -> str:
    """Cookie names kept, values redacted (`Set-Cookie` keeps its attributes)."""
    pairs = value.split(";")
    redacted: list[str] = []
    for index, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if set_cookie and index > 0:
            redacted.append(pair)
        elif equals:
            redacted.append(f"{name}={REDACTED}")
        else:
            redacted.append(pair)
    return ";".join(redacted)


def redact_headers(headers: Headers | None) -> Headers | None:
    """Authorization, Proxy-Authorization, Cookie and Set-Cookie with their secrets replaced."""
    if headers is None:
        return None
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in CREDENTIAL_HEADERS:
            value = redact_authorization(value)
        elif lower in COOKIE_HEADERS:
            value = redact_cookies(value, set_cookie=lower == "set-cookie")
        out.append((name, value))
    return tuple(out)


def _sql_text(value: Any) -> Any:
    """A value for a TEXT column: text as it is, text that holds bytes which were not UTF-8 (surrogate escapes,
    which SQLite cannot take) as a BLOB of those exact bytes; SQLite keeps a BLOB as it is in a TEXT column."""
    if isinstance(value, str) and not is_clean(value):
        return wire_bytes(value)
    return value


def _text_from_sql(value: Any) -> Any:
    """The str of a TEXT column's value (`_sql_text` undone: a BLOB's bytes decoded with surrogate escapes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _headers_json(headers: Headers | None) -> str | None:
    if headers is None:
        return None
    return json.dumps([[name, value] for name, value in headers])  # ASCII only: surrogates become \udcXX


def _headers_from_json(text: str | None) -> Headers | None:
    if text is None:
        return None
    return tuple((str(name), str(value)) for name, value in json.loads(text))


# Base64 and hex runs (attachments, ItemOperations data) are not words anyone searches for, and would bloat the
# index; they are left out of the indexed text, and so is anything beyond MAX_INDEXED_CHARS of a body.
MAX_INDEXED_CHARS = 256 * 1024
_OPAQUE_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_OPAQUE_RUN = re.compile(r"[A-Za-z0-9+/=]{512,}")
# The regex costs about 10 ns per character even where no run is (0.2 ms on a 20 KB Sync); this test, every
# opaque character as "a" and anything else (non-ASCII included) as a space, answers in C in about 0.01 ms.
_OPAQUE_TABLE = bytes(0x61 if byte in _OPAQUE_CHARS else 0x20 for byte in range(256))
_OPAQUE_PROBE = b"a" * 512


def _body_text(body: Any) -> str:
    """The decoded body as indexed for search: its annotated XML or readable text, shortened."""
    if body is None:
        return ""
    text = str(body.xml or body.text or "")
    if _OPAQUE_PROBE in text.encode("utf-8", "surrogatepass").translate(_OPAQUE_TABLE):
        text = _OPAQUE_RUN.sub(lambda run: f"[{len(run.group())} characters not indexed]", text)
    if len(text) > MAX_INDEXED_CHARS:
        text = text[:MAX_INDEXED_CHARS] + f"\n[{len(text) - MAX_INDEXED_CHARS} more characters not indexed]"
    return text


# Errors that belong to one row's values (a value SQLite cannot bind, a number too large, a broken reference),
# not to the file: the batch is written without that row.
_ROW_ERRORS = (ValueError, TypeError, OverflowError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
               sqlite3.IntegrityError, sqlite3.DataError)  # fmt: skip


class _RowRefused(Exception):
    """The row at `index` of a batch could not be written; the transaction was rolled back."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(f"row {index}: {error!r}")
        self.index = index
        self.error = error


@dataclass
class _Queued:
    flow_input: FlowInput | None  # None: a flush marker
    replay_of: int | None
    result: concurrent.futures.Future[int | None] | None
    exchange: Exchange | None = None  # the caller's analysis of the flow, else the thread makes one


@dataclass
class _Prepared:
    values: dict[str, Any] | None  # None: a flush marker
    search_text: tuple[str, str, str, str]
    session_key: tuple[str, str | None, str | None, str | None]
    protocol_version: str | None
    result: concurrent.futures.Future[int | None] | None
    request_body: bytes = b""
    response_body: bytes | None = None


_FLOW_COLUMNS = (
    "replay_of", "ts_start", "ts_end", "method", "host", "url", "command", "user", "device_id", "device_type",
    "protocol_version", "policy_key", "collection_id", "sync_key", "http_status", "eas_status", "eas_status_meaning",
    "request_size", "response_size", "problem_count", "is_eas", "is_autodiscover", "error", "scheme", "target_host",
    "port", "authority", "path", "http_version", "response_http_version", "response_reason", "tls",
    "server_address", "credentials_redacted", "request_truncated", "response_truncated", "collection_ids",
    "sync_keys", "eas_statuses", "problems", "timestamps", "connection", "extra", "request_headers",
    "request_trailers", "response_headers", "response_trailers",
)  # fmt: skip

# Small, browsed columns first; bodies in a table of their own, so listing and sorting flows never reads them.
_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    user TEXT,
    device_id TEXT,
    device_type TEXT,
    protocol_versions TEXT NOT NULL DEFAULT '',
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    flow_count INTEGER NOT NULL DEFAULT 0,
    problem_count INTEGER NOT NULL DEFAULT 0   -- flows with at least one problem
);
CREATE UNIQUE INDEX sessions_key ON sessions (host, ifnull(user, ''), ifnull(device_id, ''), ifnull(device_type, ''));
CREATE TABLE flows (
    id INTEGER PRIMARY KEY,
    session_id INTEGER REFERENCES sessions (id),
    replay_of INTEGER REFERENCES flows (id),
    ts_start REAL NOT NULL,             -- seconds since the epoch
    ts_end REAL,
    method TEXT NOT NULL,
    host TEXT NOT NULL,                 -- what the client asked for (Host header, :authority)
    url TEXT NOT NULL,
    command TEXT,
    user TEXT,
    device_id TEXT,
    device_type TEXT,
    protocol_version TEXT,
    policy_key TEXT,
    collection_id TEXT,
    sync_key TEXT,
    http_status INTEGER,
    eas_status INTEGER,
    eas_status_meaning TEXT,
    request_size INTEGER NOT NULL,      -- raw body size on the wire
    response_size INTEGER NOT NULL DEFAULT 0,
    problem_count INTEGER NOT NULL DEFAULT 0,
    is_eas INTEGER NOT NULL DEFAULT 0,
    is_autodiscover INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    scheme TEXT NOT NULL,
    target_host TEXT NOT NULL,          -- where the connection went (mitmproxy request.host)
    port INTEGER NOT NULL,
    authority TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL,
    http_version TEXT NOT NULL,
    response_http_version TEXT,
    response_reason TEXT,
    tls INTEGER NOT NULL DEFAULT 0,
    server_address TEXT,
    credentials_redacted INTEGER NOT NULL DEFAULT 1,
    request_truncated INTEGER NOT NULL DEFAULT 0,
    response_truncated INTEGER NOT NULL DEFAULT 0,
    collection_ids TEXT NOT NULL DEFAULT '[]',
    sync_keys TEXT NOT NULL DEFAULT '[]',
    eas_statuses TEXT NOT NULL DEFAULT '[]',   -- JSON [[path, code, meaning], ...]
    problems TEXT NOT NULL DEFAULT '[]',       -- JSON [{{where, reason, offset, severity}}, ...]
    timestamps TEXT NOT NULL,           -- JSON {{name: seconds since the epoch}}
    connection TEXT NOT NULL,           -- JSON: client and server addresses, TLS details
    extra TEXT NOT NULL DEFAULT '{{}}',   -- JSON: mitmproxy flow id, marked, comment, is_replay, metadata
    request_headers TEXT NOT NULL,      -- JSON [[name, value], ...], in order, bytes as UTF-8 + surrogateescape
    request_trailers TEXT,
    response_headers TEXT,              -- NULL: no response
    response_trailers TEXT
);
CREATE TABLE flow_bodies (
    flow_id INTEGER PRIMARY KEY REFERENCES flows (id),
    request_body BLOB NOT NULL,         -- raw, as on the wire (Content-Encoding kept), first max_body_size bytes
    response_body BLOB                  -- NULL: no response
);
CREATE INDEX flows_ts_start ON flows (ts_start);
CREATE INDEX flows_session ON flows (session_id, ts_start);
CREATE INDEX flows_command ON flows (command, ts_start);
CREATE INDEX flows_http_status ON flows (http_status, ts_start);
CREATE INDEX flows_eas_status ON flows (eas_status, ts_start);
CREATE INDEX flows_user ON flows (user);
CREATE INDEX flows_collection ON flows (collection_id);
CREATE INDEX flows_problems ON flows (ts_start) WHERE problem_count > 0;
CREATE INDEX flows_replay_of ON flows (replay_of) WHERE replay_of IS NOT NULL;
CREATE VIRTUAL TABLE flow_text USING fts5 (url, summary, request_text, response_text);
PRAGMA user_version = {SCHEMA_VERSION};
"""

# Schema upgrades: MIGRATIONS[n] turns version n into n + 1.
MIGRATIONS: dict[int, str] = {}


def _app_version() -> str:
    return str(eas.__version__)


def _sqlite_uri(path: Path, mode: str) -> str:
    return f"file:{urllib.parse.quote(str(path.resolve()))}?mode={mode}"


def _check_capture(connection: sqlite3.Connection, path: Path, *, upgradable: bool) -> int:
    """The capture's schema version; CaptureError when the file is not a capture or is too new (or too old)."""
    try:
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        raise CaptureError(f"{path}: not an eas-inspector capture ({err})") from err
    if not tables and version == 0:
        return 0
    app = None
    if "meta" in tables:
        row = connection.execute("SELECT value FROM meta WHERE key = 'app'").fetchone()
        app = row[0] if row else None
    if app != APP_NAME:
        raise CaptureError(f"{path}: an SQLite database, but not an eas-inspector capture")
    if version > SCHEMA_VERSION:
        raise CaptureError(
            f"{path}: capture schema version {version} is newer than this eas-inspector understands "
            f"({SCHEMA_VERSION}); upgrade eas-inspector"
        )
    if version < SCHEMA_VERSION and not upgradable:
        raise CaptureError(
            f"{path}: capture schema version {version} is older than this eas-inspector reads ({SCHEMA_VERSION}); "
            f"upgrade it with `eas-inspector import {path} NEW.sqlite` or open it once for writing"
        )
    return version


def _is_empty(connection: sqlite3.Connection) -> bool:
    """A database with nothing in it (a new or zero-length file), ready to become a capture."""
    return int(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]) == 0


# ---------------------------------------------------------------------------------------------------------------
# Writer


class CaptureWriter:
    """Writes flows to a capture from a thread of its own; `add` never blocks the caller.

    Args:
        path: the capture file; created (mode 0600) when missing, appended to when it is a capture.
        keep_credentials: store Authorization, Proxy-Authorization, Cookie and Set-Cookie values as sent;
            by default they are redacted (Basic keeps the user name: `Basic alice:<redacted>`).
        max_body_size: store at most this many bytes of each body (the original size and a truncated flag are
            recorded); None stores bodies whole.
        analyze: run eas.analyze on each flow (False stores raw flows only, for benchmarks).
        busy_timeout: seconds to wait for another writer's lock before a write counts as failed.

    Raises:
        CaptureError: the file is not a capture, has a newer schema, or cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        keep_credentials: bool = False,
        max_body_size: int | None = None,
        analyze: bool = True,
        busy_timeout: float = BUSY_TIMEOUT_MS / 1000,
    ) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self.keep_credentials = keep_credentials
        self.max_body_size = max_body_size
        self._analyze = analyze
        self.last_error: BaseException | None = None
        self.written_count = 0
        self.refused_count = 0  # flows left out because SQLite refused their row (each one logged)
        self._queue: queue.Queue[_Queued | None] = queue.Queue()
        # Set when someone waits (add_sync, flush, close): ends the batch window at once.
        self._hurry = threading.Event()
        self._closed = False
        self._unwritten: list[_Prepared] = []
        self._retry_at = 0.0  # monotonic time before which a failed write is not retried
        self._failing_since: float | None = None
        self._last_failure_log = 0.0
        self._connection = self._open()
        self._thread = threading.Thread(target=self._run, name=f"capture-writer {self.path.name}", daemon=True)
        self._thread.start()
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- public API

    def add(self, flow_input: FlowInput, *, replay_of: int | None = None, exchange: Exchange | None = None) -> None:
        """Queue a flow; the writer thread analyzes it and commits it within about 0.1 s.

        Args:
            exchange: the flow's analysis when the caller has made it already, as `analyze_parts` makes it
                (annotated, on the raw parts of `flow_input`); the thread then stores it as it is.
        """
        self._check_open()
        self._queue.put(_Queued(flow_input, replay_of, None, exchange))

    def add_sync(
        self,
        flow_input: FlowInput,
        *,
        replay_of: int | None = None,
        timeout: float | None = None,
        exchange: Exchange | None = None,
    ) -> int:
        """Write a flow now (after those already queued) and return its id (`exchange` as for `add`).

        Raises:
            CaptureError: the write failed (the message says why).
        """
        self._check_open()
        result: concurrent.futures.Future[int | None] = concurrent.futures.Future()
        self._queue.put(_Queued(flow_input, replay_of, result, exchange))
        self._hurry.set()
        flow_id = self._wait(result, timeout)
        assert flow_id is not None
        return flow_id

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every flow queued so far is committed.

        Raises:
            CaptureError: a write failed (the flows stay queued and are retried).
        """
        self._check_open()
        result: concurrent.futures.Future[int | None] = concurrent.futures.Future()
        self._queue.put(_Queued(None, None, result))
        self._hurry.set()
        self._wait(result, timeout)

    def check_open(self) -> None:
        """Raises CaptureError when flows can no longer be added (closed, or the thread stopped on a bug)."""
        self._check_open()

    def pending_count(self) -> int:
        """Flows added but not yet committed."""
        return self._queue.qsize() + sum(1 for item in self._unwritten if item.values is not None)

    def close(self) -> None:
        """Write everything still queued, then stop the thread and close the file.

        Raises:
            CaptureError: some flows could not be written (how many, and why).
        """
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._hurry.set()
        self._thread.join()
        lost = sum(1 for item in self._unwritten if item.values is not None)
        while not self._queue.empty():  # left behind only when the thread stopped on a bug
            item = self._queue.get_nowait()
            lost += int(item is not None and item.flow_input is not None)
        try:
            if not lost:
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._connection.close()
        except sqlite3.Error as err:
            logger.warning("closing capture %s: %s", self.path, err)
        if lost:
            raise CaptureError(f"{self.path}: {lost} flows could not be written: {self.last_error}")

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- opening

    def _check_open(self) -> None:
        if self._closed:
            raise CaptureError(f"{self.path}: the capture writer is closed")
        if not self._thread.is_alive():
            raise CaptureError(f"{self.path}: the capture writer stopped: {self.last_error}")

    def _open(self) -> sqlite3.Connection:
        path = self.path
        created = False
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError as err:
            raise CaptureError(f"{path}: cannot create the capture: {err.strerror or err}") from err
        else:
            os.fchmod(fd, 0o600)  # whatever the umask: captures may hold mail and credentials
            os.close(fd)
            created = True
        try:
            connection = sqlite3.connect(
                _sqlite_uri(path, "rw"), uri=True, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise CaptureError(f"{path}: cannot open the capture: {err}") from err
        try:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            version = _check_capture(connection, path, upgradable=True)
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise CaptureError(f"{path}: cannot switch the capture to WAL mode (got {mode})")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            if _is_empty(connection):
                self._create_schema(connection)
            elif version < SCHEMA_VERSION:
                self._migrate(connection, version)
        except sqlite3.DatabaseError as err:
            connection.close()
            raise CaptureError(f"{path}: not an eas-inspector capture ({err})") from err
        except CaptureError:
            connection.close()
            raise
        if created:
            logger.info("created capture %s", path)
        return connection

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        if self.path.stat().st_size == 0:
            os.chmod(self.path, 0o600)  # an empty file becoming a capture: private like one we create
        connection.execute("BEGIN IMMEDIATE")
        try:
            if not _is_empty(connection):
                connection.execute("COMMIT")  # another process created it meanwhile
                _check_capture(connection, self.path, upgradable=False)
                return
            for statement in _split_sql(_SCHEMA):
                connection.execute(statement)
            connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("app", APP_NAME),
                    ("app_version", _app_version()),
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("created", f"{time.time():.6f}"),
                ],
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _migrate(self, connection: sqlite3.Connection, version: int) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            while version < SCHEMA_VERSION:
                if version not in MIGRATIONS:
                    raise CaptureError(f"{self.path}: no upgrade from capture schema version {version}")
                for statement in _split_sql(MIGRATIONS[version]):
                    connection.execute(statement)
                version += 1
                connection.execute(f"PRAGMA user_version = {version}")
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?), ('app_version', ?)",
                (str(SCHEMA_VERSION), _app_version()),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    # -- the thread

    def _wait(self, result: concurrent.futures.Future[int | None], timeout: float | None) -> int | None:
        try:
            try:
                return result.result(timeout)
            except concurrent.futures.TimeoutError as err:
                if result.cancel():
                    raise CaptureError(
                        f"{self.path}: the capture writer did not answer within {timeout} s; nothing was stored"
                    ) from err
                return result.result()  # being written right now: its outcome is the answer
        except sqlite3.Error as err:
            raise CaptureError(f"{self.path}: cannot write to the capture: {err}") from err

    def _run(self) -> None:
        try:
            stopping = False
            failures_while_stopping = 0
            while True:
                if not stopping:
                    wait = None if not self._unwritten else max(0.0, self._retry_at - time.monotonic())
                    stopping = self._collect(wait)
                if self._unwritten and (stopping or self._due()):
                    if not self._commit() and stopping:
                        failures_while_stopping += 1
                        time.sleep(0.2)
                if stopping and (not self._unwritten or failures_while_stopping >= 3):
                    break
        except BaseException as err:  # a bug: make it visible, never lose flows silently
            self.last_error = err
            logger.exception("capture writer for %s stopped", self.path)
            for item in self._unwritten:
                if item.result is not None and not item.result.done():
                    item.result.set_exception(err)

    def _due(self) -> bool:
        """Time to write: no failure to wait out, or someone waits for an answer."""
        if time.monotonic() >= self._retry_at:
            return True
        return any(item.result is not None for item in self._unwritten)

    def _collect(self, first_wait: float | None) -> bool:
        """Take flows off the queue for one batch, analyzing each; True when close() was asked."""
        try:
            item = self._queue.get(timeout=first_wait)
        except queue.Empty:
            return False
        started = time.monotonic()
        collected = 0
        while True:
            if item is None:
                self._drain_after_stop()
                return True
            self._unwritten.append(self._prepare(item))
            collected += 1
            if item.result is not None or collected >= BATCH_MAX_FLOWS:
                return False
            try:
                item = self._queue.get_nowait()
                continue
            except queue.Empty:
                pass
            # Sleep out the rest of the window rather than wake for each flow queued meanwhile (a wake-up per
            # flow costs the adding thread a GIL hand-off each time); a waiting caller ends the window early.
            remaining = BATCH_SECONDS - (time.monotonic() - started)
            if remaining <= 0 or self._hurry.wait(remaining):
                self._hurry.clear()
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False

    def _drain_after_stop(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._unwritten.append(self._prepare(item))

    def _prepare(self, item: _Queued) -> _Prepared:
        if item.flow_input is None:
            return _Prepared(None, ("", "", "", ""), ("", None, None, None), None, item.result)
        try:
            return self._prepare_flow(item.flow_input, item.replay_of, item.result, item.exchange)
        except Exception as err:
            # A flow whose fields cannot even be serialized: keep what we can rather than stop the writer.
            logger.error("capture %s: cannot store a flow: %r", self.path, err)
            if item.result is not None:
                item.result.set_exception(CaptureError(f"cannot store this flow: {err!r}"))
            return _Prepared(None, ("", "", "", ""), ("", None, None, None), None, None)

    def _prepare_flow(
        self,
        flow_input: FlowInput,
        replay_of: int | None,
        result: concurrent.futures.Future[int | None] | None,
        exchange: Exchange | None = None,
    ) -> _Prepared:
        url = flow_input.display_url()
        host = flow_input.display_host()
        if exchange is None and self._analyze:
            exchange = analyze_parts(
                flow_input.method,
                url,
                flow_input.request_headers,
                flow_input.request_body,
                flow_input.response_status,
                flow_input.response_headers,
                flow_input.response_body,
                plain_xml=False,  # only the annotated XML is indexed
            )
        elif exchange is None:
            exchange = Exchange(method=flow_input.method, url=url, is_eas=False)
        request_headers = flow_input.request_headers
        response_headers = flow_input.response_headers
        if not self.keep_credentials:
            request_headers = redact_headers(request_headers) or ()
            response_headers = redact_headers(response_headers)
        request_body, request_truncated = self._limit(flow_input.request_body)
        response_body, response_truncated = self._limit(flow_input.response_body)
        timestamps = {name: float(value) for name, value in flow_input.timestamps.items() if value is not None}
        ts_start = flow_input.ts_start
        ts_end = timestamps.get("response_end") or timestamps.get("error") or timestamps.get("request_end")
        first_status = exchange.eas_statuses[0] if exchange.eas_statuses else None
        problems = [
            {"where": p.where, "reason": p.reason, "offset": p.offset, "severity": p.severity}
            for p in exchange.problems
        ]
        values: dict[str, Any] = {
            "replay_of": replay_of,
            "ts_start": ts_start,
            "ts_end": ts_end,
            "method": flow_input.method,
            "scheme": flow_input.scheme,
            "target_host": flow_input.target_host,
            "host": host,
            "port": int(flow_input.port),
            "authority": flow_input.authority,
            "path": flow_input.path,
            "url": url,
            "http_version": flow_input.http_version,
            "request_headers": _headers_json(request_headers),
            "request_trailers": _headers_json(flow_input.request_trailers),
            "request_size": len(flow_input.request_body or b""),
            "request_truncated": int(request_truncated),
            "response_http_version": flow_input.response_http_version,
            "http_status": flow_input.response_status,
            "response_reason": flow_input.response_reason,
            "response_headers": _headers_json(response_headers),
            "response_trailers": _headers_json(flow_input.response_trailers),
            "response_size": len(flow_input.response_body or b""),
            "response_truncated": int(response_truncated),
            "error": flow_input.error,
            "timestamps": json.dumps(timestamps),
            "connection": json.dumps(dict(flow_input.connection)),
            "extra": json.dumps(dict(flow_input.extra)),
            "tls": int(flow_input.tls),
            "server_address": flow_input.server_address,
            "credentials_redacted": int(not self.keep_credentials),
            "is_eas": int(exchange.is_eas),
            "is_autodiscover": int(exchange.is_autodiscover),
            "command": exchange.command,
            "user": exchange.user,
            "device_id": exchange.device_id,
            "device_type": exchange.device_type,
            "protocol_version": exchange.protocol_version,
            "policy_key": exchange.policy_key,
            "collection_id": exchange.collection_ids[0] if exchange.collection_ids else None,
            "sync_key": exchange.sync_keys[0] if exchange.sync_keys else None,
            "collection_ids": json.dumps(list(exchange.collection_ids)),
            "sync_keys": json.dumps(list(exchange.sync_keys)),
            "eas_status": first_status.code if first_status else None,
            "eas_status_meaning": first_status.meaning if first_status else None,
            "eas_statuses": json.dumps([[s.path, s.code, s.meaning] for s in exchange.eas_statuses]),
            "problem_count": len(problems),
            "problems": json.dumps(problems),
        }
        summary = " ".join(
            str(part)
            for part in (
                host,
                exchange.command,
                exchange.user,
                exchange.device_id,
                exchange.device_type,
                exchange.protocol_version,
                first_status.meaning if first_status else None,
                flow_input.error,
                *(p.reason for p in exchange.problems),
            )
            if part
        )
        request_text, response_text = _body_text(exchange.request_body), _body_text(exchange.response_body)
        search_text = (shown(url), shown(summary), shown(request_text), shown(response_text))
        session_key = (host, exchange.user, exchange.device_id, exchange.device_type)
        return _Prepared(
            values, search_text, session_key, exchange.protocol_version, result, request_body or b"", response_body
        )

    def _limit(self, body: bytes | None) -> tuple[bytes | None, bool]:
        if body is None or self.max_body_size is None or len(body) <= self.max_body_size:
            return body, False
        return body[: self.max_body_size], True

    def _commit(self) -> bool:
        """Write the unwritten flows, BATCH_MAX_FLOWS per transaction; False (logged, kept) when one fails."""
        while self._unwritten:
            batch = self._unwritten[:BATCH_MAX_FLOWS]
            for item in batch:
                # A caller that gave up waiting (add_sync timeout) has cancelled: its flow must not appear later.
                if item.result is not None and not item.result.running():
                    if not item.result.set_running_or_notify_cancel():
                        item.values, item.result = None, None
            try:
                ids = self._write(batch)
            except _RowRefused as refused:
                self._refuse(batch[refused.index], refused.error)
                continue  # the rest of the batch, at once
            except sqlite3.Error as err:
                self._failed(err)
                return False
            del self._unwritten[: len(batch)]
            self.written_count += sum(1 for flow_id in ids if flow_id is not None)
            if self.last_error is not None:
                logger.warning("capture %s: writing works again", self.path)
                self.last_error = None
                self._failing_since = None
            for item, flow_id in zip(batch, ids):
                if item.result is not None and not item.result.done():
                    item.result.set_result(flow_id)
        return True

    def _write(self, batch: list[_Prepared]) -> list[int | None]:
        connection = self._connection
        ids: list[int | None] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for index, item in enumerate(batch):
                if item.values is None:
                    ids.append(None)
                    continue
                try:
                    ids.append(self._insert(connection, item))
                except _ROW_ERRORS as err:
                    raise _RowRefused(index, err) from err
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return ids

    def _refuse(self, item: _Prepared, err: BaseException) -> None:
        """Leave one flow out of its batch: log which flow and why, fail its caller; the others are written."""
        assert item.values is not None
        self.refused_count += 1
        logger.error(
            "capture %s: flow %s %s could not be written and is left out: %r",
            self.path,
            shown(str(item.values.get("method"))),
            shown(str(item.values.get("url"))),
            err,
        )
        if item.result is not None and not item.result.done():
            item.result.set_exception(CaptureError(f"cannot store this flow: {err!r}"))
        item.values, item.result = None, None

    def _failed(self, err: sqlite3.Error) -> None:
        """Log loudly (at first, then every LOG_FAILURE_SECONDS), fail the waiting callers, keep the flows."""
        now = time.monotonic()
        self.last_error = err
        self._retry_at = now + RETRY_SECONDS
        waiting = sum(1 for item in self._unwritten if item.values is not None and item.result is None)
        if self._failing_since is None or now - self._last_failure_log >= LOG_FAILURE_SECONDS:
            self._failing_since = self._failing_since or now
            self._last_failure_log = now
            logger.error(
                "CANNOT WRITE TO CAPTURE %s: %s; %d flows kept in memory, retrying every %.0f s",
                self.path,
                err,
                waiting,
                RETRY_SECONDS,
            )
        # Callers waiting for an answer get the error now; queued flows are retried.
        kept = []
        for item in self._unwritten:
            if item.result is None:
                kept.append(item)
            elif not item.result.done():
                item.result.set_exception(err)
        self._unwritten = kept

    def _insert(self, connection: sqlite3.Connection, item: _Prepared) -> int:
        assert item.values is not None
        values = item.values
        values["session_id"] = self._session_id(connection, item)
        columns = ("session_id", *_FLOW_COLUMNS)
        cursor = connection.execute(
            f"INSERT INTO flows ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [_sql_text(values[column]) for column in columns],
        )
        flow_id = cursor.lastrowid
        assert flow_id is not None
        connection.execute(
            "INSERT INTO flow_bodies (flow_id, request_body, response_body) VALUES (?, ?, ?)",
            (flow_id, item.request_body, item.response_body),
        )
        connection.execute(
            "INSERT INTO flow_text (rowid, url, summary, request_text, response_text) VALUES (?, ?, ?, ?, ?)",
            (flow_id, *item.search_text),
        )
        return flow_id

    def _session_id(self, connection: sqlite3.Connection, item: _Prepared) -> int:
        assert item.values is not None
        host, user, device_id, device_type = item.session_key
        ts = item.values["ts_start"]
        has_problem = int(item.values["problem_count"] > 0)
        row = connection.execute(
            "SELECT id, protocol_versions FROM sessions WHERE host = ? AND ifnull(user, '') = ? "
            "AND ifnull(device_id, '') = ? AND ifnull(device_type, '') = ?",
            tuple(_sql_text(value) for value in (host, user or "", device_id or "", device_type or "")),
        ).fetchone()
        if row is None:
            cursor = connection.execute(
                "INSERT INTO sessions (host, user, device_id, device_type, protocol_versions, first_seen, "
                "last_seen, flow_count, problem_count) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (
                    *(_sql_text(value) for value in (host, user, device_id, device_type)),
                    _sql_text(item.protocol_version or ""), ts, ts, has_problem,
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid
        session_id, protocol_versions = int(row[0]), str(_text_from_sql(row[1]))
        seen = [v for v in protocol_versions.split(",") if v]
        if item.protocol_version and item.protocol_version not in seen:
            seen.append(item.protocol_version)
        connection.execute(
            "UPDATE sessions SET protocol_versions = ?, first_seen = min(first_seen, ?), "
            "last_seen = max(last_seen, ?), flow_count = flow_count + 1, problem_count = problem_count + ? "
            "WHERE id = ?",
            (_sql_text(",".join(seen)), ts, ts, has_problem, session_id),
        )
        return session_id


def _close_at_exit(writer_ref: weakref.ref[CaptureWriter]) -> None:
    """Flush a writer the program forgot to close (its thread is a daemon and would die with unwritten flows)."""
    writer = writer_ref()
    if writer is None or writer._closed:
        return
    try:
        writer.close()
    except CaptureError as err:
        logger.error("%s", err)


def _split_sql(script: str) -> Iterator[str]:
    """Statements of a script made of simple statements (no semicolons inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            yield statement


# ---------------------------------------------------------------------------------------------------------------
# Reader

_ROW_COLUMNS = (
    "id, session_id, ts_start, ts_end, method, url, host, command, collection_id, sync_key, http_status, "
    "eas_status, eas_status_meaning, request_size, response_size, problem_count, replay_of, user, device_id, "
    "device_type, protocol_version, is_eas, is_autodiscover, error"
)

_ORDERS = {
    "ts_start": "ts_start",
    "id": "id",
    "ts_end": "ts_end",
    "duration": "(ts_end - ts_start)",
    "method": "method",
    "host": "host",
    "url": "url",
    "command": "command",
    "http_status": "http_status",
    "eas_status": "eas_status",
    "request_size": "request_size",
    "response_size": "response_size",
    "problem_count": "problem_count",
    "session_id": "session_id",
    "user": "user",
}


def _flow_row(stored: Sequence[Any]) -> FlowRow:
    row = [_text_from_sql(value) for value in stored]
    return FlowRow(
        id=row[0],
        session_id=row[1],
        ts_start=row[2],
        ts_end=row[3],
        method=row[4],
        url=row[5],
        host=row[6],
        command=row[7],
        collection_id=row[8],
        sync_key=row[9],
        http_status=row[10],
        eas_status=row[11],
        eas_status_meaning=row[12],
        request_size=row[13],
        response_size=row[14],
        problem_count=row[15],
        replay_of=row[16],
        user=row[17],
        device_id=row[18],
        device_type=row[19],
        protocol_version=row[20],
        is_eas=bool(row[21]),
        is_autodiscover=bool(row[22]),
        error=row[23],
    )


_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f]")


_SEARCH_TERM = re.compile(r'"([^"]*)"?|(\S+)')


def fts_query(text: str) -> str | None:
    """A safe FTS5 query for what a user typed: every term must occur.

    A bare word matches as a prefix (`mail%2F39` finds `mail%2F39165e`; a trailing `*` says the same); a
    "quoted phrase" matches those words exactly and in that order (an unclosed quote runs to the end).
    """
    terms = []
    for match in _SEARCH_TERM.finditer(_CONTROL_CHARS.sub(" ", text)):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            if phrase.strip():
                terms.append('"' + phrase + '"')
            continue
        core = word.rstrip("*") or word
        terms.append('"' + core.replace('"', '""') + '"*')
    return " ".join(terms) or None


# A status filter: exactly this code, or codes from low to high (inclusive), or (negated) any other code.
StatusMatch = int | tuple[int, int, bool]


def _status_clause(column: str, match: StatusMatch) -> tuple[str, list[Any]]:
    """SQL for a status filter; a negated one leaves out flows without that status (no response, no EAS status)."""
    if isinstance(match, int):
        return f"{column} = ?", [match]
    low, high, negated = match
    clause = f"{column} NOT BETWEEN ? AND ?" if negated else f"{column} BETWEEN ? AND ?"
    return clause, [low, high]


class CaptureReader:
    """Reads a capture read-only; safe while a writer in another process writes (WAL).

    Methods may be called from any thread (one query at a time).

    Raises:
        CaptureError: missing file, not a capture, or a schema this version does not read (clear message).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CaptureError(f"{self.path}: no such capture")
        self._connection = self._connect()
        self._lock = threading.Lock()
        try:
            self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            version = _check_capture(self._connection, self.path, upgradable=False)
        except BaseException:
            self._connection.close()
            raise
        if version == 0:
            self._connection.close()
            raise CaptureError(f"{self.path}: not an eas-inspector capture (an empty database)")
        self.schema_version = version

    def _connect(self) -> sqlite3.Connection:
        """A read-only connection; `immutable` when the directory cannot hold the -shm file a reader needs."""
        uri = _sqlite_uri(self.path, "ro")
        try:
            connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as err:
            raise CaptureError(f"{self.path}: cannot open the capture: {err}") from err
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as err:  # not DatabaseError ("file is not a database"): a capture-check matter
            connection.close()
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise CaptureError(
                    f"{self.path}: cannot open the capture ({err}); copy it with its {wal.name} file to a "
                    "writable directory"
                ) from err
            # A read-only directory or file system: no writer can be at work there, so the file is complete.
            try:
                connection = sqlite3.connect(
                    uri + "&immutable=1", uri=True, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as err2:
                raise CaptureError(f"{self.path}: cannot open the capture: {err2}") from err2
        except sqlite3.DatabaseError:
            pass  # _check_capture says it is not a capture
        return connection

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as err:
                raise CaptureError(f"{self.path}: cannot read the capture: {err}") from err

    def meta(self) -> dict[str, str]:
        """The meta table: app, app_version, schema_version, created."""
        return {str(key): str(value) for key, value in self._query("SELECT key, value FROM meta")}

    def session(self, session_id: int) -> SessionRow:
        """One device session.

        Raises:
            CaptureError: no session has this id.
        """
        rows = self._query(
            "SELECT id, host, user, device_id, device_type, protocol_versions, first_seen, last_seen, flow_count, "
            "problem_count FROM sessions WHERE id = ?",
            (session_id,),
        )
        if not rows:
            raise CaptureError(f"{self.path}: no session {session_id}")
        return SessionRow(*(_text_from_sql(value) for value in rows[0]))

    def sessions(self) -> list[SessionRow]:
        """All device sessions, most recently seen first."""
        rows = self._query(
            "SELECT id, host, user, device_id, device_type, protocol_versions, first_seen, last_seen, flow_count, "
            "problem_count FROM sessions ORDER BY last_seen DESC, id DESC"
        )
        return [SessionRow(*(_text_from_sql(value) for value in row)) for row in rows]

    def _where(
        self,
        *,
        session_id: int | None = None,
        command: str | None = None,
        eas_status: StatusMatch | None = None,
        http_status: StatusMatch | None = None,
        problems_only: bool = False,
        text: str | None = None,
        user: str | None = None,
        replay_of: int | None = None,
        min_id: int | None = None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        parameters: list[Any] = []
        for column, value in (
            ("session_id", session_id),
            ("command", command),
            ("user", user),
            ("replay_of", replay_of),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                parameters.append(_sql_text(value))
        for column, status in (("eas_status", eas_status), ("http_status", http_status)):
            if status is not None:
                clause, values = _status_clause(column, status)
                clauses.append(clause)
                parameters += values
        if problems_only:
            clauses.append("problem_count > 0")
        if min_id is not None:
            clauses.append("id > ?")
            parameters.append(min_id)
        query = fts_query(text) if text else None
        if query:
            clauses.append("id IN (SELECT rowid FROM flow_text WHERE flow_text MATCH ?)")
            parameters.append(query)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), parameters

    def flows(
        self,
        *,
        session_id: int | None = None,
        command: str | None = None,
        eas_status: StatusMatch | None = None,
        http_status: StatusMatch | None = None,
        problems_only: bool = False,
        text: str | None = None,
        order: str = "ts_start",
        descending: bool = False,
        offset: int = 0,
        limit: int | None = 200,
        user: str | None = None,
        replay_of: int | None = None,
        min_id: int | None = None,
    ) -> list[FlowRow]:
        """Flows matching every given filter; `text` is a full-text search over URL, summary and decoded XML.

        `eas_status` and `http_status` take a code, or `(low, high, negated)` for a range or its complement.

        `min_id` keeps only flows with a larger id (for following a live capture); `limit=None` means all.
        """
        if order not in _ORDERS:
            raise CaptureError(f"cannot order flows by {order!r}; choose one of {', '.join(_ORDERS)}")
        where, parameters = self._where(
            session_id=session_id,
            command=command,
            eas_status=eas_status,
            http_status=http_status,
            problems_only=problems_only,
            text=text,
            user=user,
            replay_of=replay_of,
            min_id=min_id,
        )
        direction = "DESC" if descending else "ASC"
        # Ties break by time, then id: the (column, ts_start) indexes end in the rowid, so SQLite needs no sort.
        keys = [_ORDERS[order]] + [key for key in ("ts_start", "id") if key != order and order != "id"]
        ordering = ", ".join(f"{key} {direction}" for key in keys)
        sql = f"SELECT {_ROW_COLUMNS} FROM flows{where} ORDER BY {ordering} LIMIT ? OFFSET ?"
        return [_flow_row(row) for row in self._query(sql, [*parameters, -1 if limit is None else limit, offset])]

    def count_flows(self, **filters: Any) -> int:
        """How many flows `flows(**filters)` would return without a limit."""
        for ignored in ("order", "descending", "offset", "limit"):
            filters.pop(ignored, None)
        where, parameters = self._where(**filters)
        return int(self._query(f"SELECT count(*) FROM flows{where}", parameters)[0][0])

    def flow(self, flow_id: int) -> FlowRecord:
        """Everything stored about one flow.

        Raises:
            CaptureError: no flow has this id.
        """
        rows = self._query(
            f"SELECT {_ROW_COLUMNS}, http_version, scheme, port, path, request_headers, request_body, "
            "response_headers, response_body, response_reason, timestamps, server_address, tls, target_host, "
            "authority, request_trailers, response_http_version, response_trailers, request_truncated, "
            "response_truncated, credentials_redacted, connection, extra, policy_key, collection_ids, sync_keys, "
            "problems FROM flows JOIN flow_bodies ON flow_bodies.flow_id = flows.id WHERE id = ?",
            (flow_id,),
        )
        if not rows:
            raise CaptureError(f"{self.path}: no flow {flow_id}")
        row = rows[0]
        base = len(_ROW_COLUMNS.split(","))
        (
            http_version, scheme, port, path, request_headers, request_body, response_headers, response_body,
            response_reason, timestamps, server_address, tls, target_host, authority, request_trailers,
            response_http_version, response_trailers, request_truncated, response_truncated, credentials_redacted,
            connection, extra, policy_key, collection_ids, sync_keys, problems,
        ) = row[base:]  # fmt: skip
        http_version, scheme, path, response_reason, server_address, target_host, authority = map(
            _text_from_sql, (http_version, scheme, path, response_reason, server_address, target_host, authority)
        )
        response_http_version, policy_key = _text_from_sql(response_http_version), _text_from_sql(policy_key)
        texts = self._query("SELECT request_text, response_text FROM flow_text WHERE rowid = ?", (flow_id,))
        request_text, response_text = texts[0] if texts else (None, None)
        flow_row = _flow_row(row[:base])
        return FlowRecord(
            row=flow_row,
            http_version=http_version,
            scheme=scheme,
            port=port,
            path=path,
            request_headers=_headers_from_json(request_headers) or (),
            request_body=bytes(request_body),
            response_headers=_headers_from_json(response_headers),
            response_body=None if response_body is None else bytes(response_body),
            response_reason=response_reason,
            error=flow_row.error,
            timestamps={str(k): float(v) for k, v in json.loads(timestamps).items()},
            server_address=server_address,
            tls=bool(tls),
            target_host=target_host,
            authority=authority,
            request_trailers=_headers_from_json(request_trailers),
            response_http_version=response_http_version,
            response_trailers=_headers_from_json(response_trailers),
            request_truncated=bool(request_truncated),
            response_truncated=bool(response_truncated),
            credentials_redacted=bool(credentials_redacted),
            connection=json.loads(connection),
            extra=json.loads(extra),
            policy_key=policy_key,
            collection_ids=tuple(json.loads(collection_ids)),
            sync_keys=tuple(json.loads(sync_keys)),
            problems=tuple(
                Problem(p["where"], p["reason"], p.get("offset"), p.get("severity", "error"))
                for p in json.loads(problems)
            ),
            request_text=request_text or None,
            response_text=response_text or None,
        )

    def records(self, flow_ids: Iterable[int] | None = None) -> Iterator[FlowRecord]:
        """FlowRecords of the given ids (all flows in id order when None)."""
        ids = self.flow_ids() if flow_ids is None else list(flow_ids)
        for flow_id in ids:
            yield self.flow(flow_id)

    def flow_ids(self) -> list[int]:
        """Every flow id, in order."""
        return [int(row[0]) for row in self._query("SELECT id FROM flows ORDER BY id")]

    def max_flow_id(self) -> int:
        """The largest flow id (0 when empty); poll it to follow a capture being written."""
        return int(self._query("SELECT ifnull(max(id), 0) FROM flows")[0][0])

    def commands(self) -> list[str]:
        """Distinct commands, for filter choices."""
        return [str(row[0]) for row in self._query("SELECT DISTINCT command FROM flows WHERE command IS NOT NULL ORDER BY command")]

    def replays(self, flow_id: int) -> list[FlowRow]:
        """Replays of a flow, oldest first."""
        return self.flows(replay_of=flow_id, order="id", limit=None)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
