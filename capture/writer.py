"""The capture writer: a thread that analyses flows and commits them in batches to one SQLite file (WAL)."""

# Theory of operation
# -------------------
# A producer (the addon's worker, an import, the viewer's replays) calls `CaptureWriter.add(FlowInput)`; that
# only puts the value on a queue. The writer thread takes values off the queue, runs `eas.analyze` on each (a
# caller that has analyzed the flow already, like the addon's worker, passes its Exchange along instead; one
# that has turned it into its rows already with `prepare_flow`, like an import's worker processes, passes those),
# and commits them in batches: a batch ends after BATCH_SECONDS or BATCH_MAX_FLOWS, whichever comes first, so a
# completed flow is committed at most about 0.1 s (plus its analysis) after `add()`. The database is in WAL mode
# with synchronous=NORMAL: a committed transaction survives the death of the process (SIGKILL) because it is in
# the WAL file; only an OS crash or power loss can lose the last transactions, and never corrupts the file.
# A failed commit (disk full, locked) is logged loudly, kept in memory and retried; `close()` raises if rows
# could still not be written. Readers (the viewer, another process) open the file read-only and see each commit.
#
# A row in `flows` holds everything needed to rebuild a flow (bytes kept exactly: headers as UTF-8 with surrogate
# escapes inside ASCII-only JSON; a text column whose value was not UTF-8 on the wire holds a BLOB of its exact
# bytes, see `capture.schema.sql_text`) and the analysis summary in indexed columns; its bodies, as on the wire
# (Content-Encoding kept), are BLOBs in `flow_bodies`, so listing and sorting never read them; the decoded XML is
# in the FTS5 table `flow_text`. All three share the flow id. Device sessions (host + user + DeviceId +
# DeviceType) are updated in the same transaction as the flows they count.
# A row that cannot be written (a value SQLite refuses) is left out of its batch and reported; the rest of the
# batch is written, and so is every later flow.

from __future__ import annotations

import atexit
import concurrent.futures
import json
import logging
import os
import queue
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import eas
from eas.exchange import Exchange
from eas.verdicts import judge
from eas.wiretext import shown

from capture.analysis import indexed_text, json_array, search_words, verdict_columns
from capture.model import CaptureError, FlowInput
from capture.redaction import redact_headers, redact_request_body, redact_stored_url, with_content_length
from capture.schema import (
    BUSY_TIMEOUT_MS,
    FLOW_COLUMNS,
    SCHEMA_VERSION,
    check_capture,
    create_schema,
    headers_json,
    is_empty,
    migrate,
    sql_text,
    sqlite_uri,
    text_from_sql,
)

logger = logging.getLogger(__name__)

BATCH_SECONDS = 0.1
BATCH_MAX_FLOWS = 200
RETRY_SECONDS = 1.0
LOG_FAILURE_SECONDS = 30.0


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
    prepared: PreparedFlow | None = None  # the flow already prepared by the caller (flow_input is then unused)


@dataclass
class PreparedFlow:
    """A flow as its rows will hold it (see `prepare_flow`): plain values, which a worker process can send."""

    values: dict[str, Any] | None  # None: a flush marker
    search_text: tuple[str, str, str, str]
    session_key: tuple[str, str | None, str | None, str | None]
    protocol_version: str | None
    result: concurrent.futures.Future[int | None] | None
    request_body: bytes = b""
    response_body: bytes | None = None


def analyze_flow(flow_input: FlowInput) -> Exchange:
    """The analysis the capture makes of a flow (eas.analyze, never raising): annotated, as its search text indexes
    the annotated XML only, and without header notes, since it stores the headers themselves."""
    return eas.analyze(
        flow_input.method,
        flow_input.display_url(),
        flow_input.request_headers,
        flow_input.request_body,
        flow_input.response_status,
        flow_input.response_headers,
        flow_input.response_body,
        plain_xml=False,
        header_notes=False,
        request_time=flow_input.ts_start or None,  # 0: the flow has no time
    )


def prepare_flow(
    flow_input: FlowInput,
    exchange: Exchange | None,
    *,
    keep_credentials: bool,
    max_body_size: int | None,
    analyze: bool = True,
    replay_of: int | None = None,
) -> PreparedFlow:
    """The rows of a flow as the capture writer stores them: redacted, bodies limited, analysis columns and
    search text filled in (`exchange` as for `CaptureWriter.add`; without it, made here when `analyze`)."""
    url = flow_input.display_url()
    host = flow_input.display_host()
    analysed = exchange is not None or analyze
    if exchange is None and analyze:
        exchange = analyze_flow(flow_input)
    elif exchange is None:
        exchange = Exchange(method=flow_input.method, url=url, is_eas=False)
    verdict = judge(exchange, transport_error=flow_input.error)
    request_headers = flow_input.request_headers
    response_headers = flow_input.response_headers
    path = flow_input.path
    kept_request_body = flow_input.request_body
    if not keep_credentials:
        request_headers = redact_headers(request_headers) or ()
        response_headers = redact_headers(response_headers)
        url, path = redact_stored_url(url), redact_stored_url(path)
        root_tag = exchange.request_body.root_tag if exchange.request_body is not None else None
        kept_request_body = redact_request_body(kept_request_body, root_tag)
        if kept_request_body is not flow_input.request_body:
            request_headers = with_content_length(request_headers, kept_request_body)
    request_body, request_truncated = _limit(kept_request_body, max_body_size)
    response_body, response_truncated = _limit(flow_input.response_body, max_body_size)
    timestamps = {name: float(value) for name, value in flow_input.timestamps.items() if value is not None}
    ts_start = flow_input.ts_start
    ts_end = timestamps.get("response_end") or timestamps.get("error") or timestamps.get("request_end")
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
        "path": path,
        "url": url,
        "http_version": flow_input.http_version,
        "request_headers": headers_json(request_headers),
        "request_trailers": headers_json(flow_input.request_trailers),
        "request_size": len(flow_input.request_body or b""),
        "request_truncated": int(request_truncated),
        "response_http_version": flow_input.response_http_version,
        "http_status": flow_input.response_status,
        "response_reason": flow_input.response_reason,
        "response_headers": headers_json(response_headers),
        "response_trailers": headers_json(flow_input.response_trailers),
        "response_size": len(flow_input.response_body or b""),
        "response_truncated": int(response_truncated),
        "error": flow_input.error,
        "timestamps": json.dumps(timestamps),
        "connection": json.dumps(dict(flow_input.connection)),
        "extra": json.dumps(dict(flow_input.extra)),
        "tls": int(flow_input.tls),
        "server_address": flow_input.server_address,
        "credentials_redacted": int(not keep_credentials),
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
        "collection_ids": json_array(exchange.collection_ids),
        "sync_keys": json_array(exchange.sync_keys),
        "eas_statuses": json_array([s.path, s.code, s.meaning] for s in exchange.eas_statuses),
        "problems": json_array(problems),
        # outcome, statuses, reasons, the worst status, problem_count (failures count), facts
        **verdict_columns(exchange, flow_input.error, analysed=analysed, verdict=verdict),
    }
    request_text, response_text = indexed_text(exchange.request_body), indexed_text(exchange.response_body)
    search_words_text = search_words(host, exchange, flow_input.error, verdict)
    search_text = (shown(url), shown(search_words_text), shown(request_text), shown(response_text))
    session_key = (host, exchange.user, exchange.device_id, exchange.device_type)
    return PreparedFlow(
        values, search_text, session_key, exchange.protocol_version, None, request_body or b"", response_body
    )


def _limit(body: bytes | None, max_body_size: int | None) -> tuple[bytes | None, bool]:
    if body is None or max_body_size is None or len(body) <= max_body_size:
        return body, False
    return body[:max_body_size], True


# ---------------------------------------------------------------------------------------------------------------
# Writer


class CaptureWriter:
    """Writes flows to a capture from a thread of its own; `add` never blocks the caller.

    Args:
        path: the capture file; created (mode 0600) when missing, appended to when it is a capture.
        keep_credentials: store secrets as sent; by default capture.redaction hides them (secret headers:
            Authorization keeps the Basic user, `Basic alice:<redacted>`; secret URL query parameters;
            the passwords of Settings DevicePassword and the like in request bodies).
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
        self._unwritten: list[PreparedFlow] = []
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
            exchange: the flow's analysis when the caller has made it already, as `eas.analyze` makes it
                (annotated, on the raw parts of `flow_input`); the thread then stores it as it is.
        """
        self._check_open()
        self._queue.put(_Queued(flow_input, replay_of, None, exchange))

    def add_prepared(self, prepared: PreparedFlow) -> None:
        """Queue a flow that `prepare_flow` made (with this writer's keep_credentials and max_body_size)."""
        self._check_open()
        self._queue.put(_Queued(None, None, None, prepared=prepared))

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
            lost += int(item is not None and (item.flow_input is not None or item.prepared is not None))
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
                sqlite_uri(path, "rw"), uri=True, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise CaptureError(f"{path}: cannot open the capture: {err}") from err
        try:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            version = check_capture(connection, path, upgradable=True)
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise CaptureError(f"{path}: cannot switch the capture to WAL mode (got {mode})")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            if is_empty(connection):
                create_schema(connection, path)
            elif version < SCHEMA_VERSION:
                migrate(connection, path, version)
        except sqlite3.DatabaseError as err:
            connection.close()
            raise CaptureError(f"{path}: not an eas-inspector capture ({err})") from err
        except CaptureError:
            connection.close()
            raise
        if created:
            logger.info("created capture %s", path)
        return connection

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
            # One line for the user (the command line adds its own); the traceback for a debug log only.
            logger.error("capture writer for %s stopped: %s: %s", self.path, type(err).__name__, err)
            logger.debug("capture writer for %s stopped", self.path, exc_info=True)
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

    def _prepare(self, item: _Queued) -> PreparedFlow:
        if item.prepared is not None:
            return item.prepared
        if item.flow_input is None:
            return PreparedFlow(None, ("", "", "", ""), ("", None, None, None), None, item.result)
        try:
            return self._prepare_flow(item.flow_input, item.replay_of, item.result, item.exchange)
        except Exception as err:
            # A flow whose fields cannot even be serialized: keep what we can rather than stop the writer.
            logger.error("capture %s: cannot store a flow: %r", self.path, err)
            if item.result is not None:
                item.result.set_exception(CaptureError(f"cannot store this flow: {err!r}"))
            return PreparedFlow(None, ("", "", "", ""), ("", None, None, None), None, None)

    def _prepare_flow(
        self,
        flow_input: FlowInput,
        replay_of: int | None,
        result: concurrent.futures.Future[int | None] | None,
        exchange: Exchange | None = None,
    ) -> PreparedFlow:
        prepared = prepare_flow(
            flow_input, exchange, keep_credentials=self.keep_credentials, max_body_size=self.max_body_size,
            analyze=self._analyze, replay_of=replay_of,
        )  # fmt: skip
        prepared.result = result
        return prepared

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

    def _write(self, batch: list[PreparedFlow]) -> list[int | None]:
        connection = self._connection
        ids: list[int | None] = []
        sessions: dict[tuple[Any, ...], _BatchSession] = {}
        connection.execute("BEGIN IMMEDIATE")
        try:
            for index, item in enumerate(batch):
                if item.values is None:
                    ids.append(None)
                    continue
                try:
                    ids.append(self._insert(connection, item, sessions))
                except _ROW_ERRORS as err:
                    raise _RowRefused(index, err) from err
            _update_sessions(connection, sessions)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return ids

    def _refuse(self, item: PreparedFlow, err: BaseException) -> None:
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

    def _insert(
        self, connection: sqlite3.Connection, item: PreparedFlow, sessions: dict[tuple[Any, ...], _BatchSession]
    ) -> int:
        assert item.values is not None
        values = item.values
        values["session_id"] = _session_id(connection, item, sessions)
        cursor = connection.execute(_INSERT_FLOW, [sql_text(values[column]) for column in _INSERTED_COLUMNS])
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


# The flows row as the writer inserts it.
_INSERTED_COLUMNS = ("session_id", *FLOW_COLUMNS)
_INSERT_FLOW = (
    f"INSERT INTO flows ({', '.join(_INSERTED_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERTED_COLUMNS))})"
)


@dataclass
class _BatchSession:
    """A session's row as one batch changes it: found or created at its first flow, its counts and times added
    up in memory, and written once before the batch commits (in the batch's transaction, so that no other
    writer changes the row meanwhile)."""

    session_id: int
    protocol_versions: list[str]
    first_seen: float
    last_seen: float
    flow_count: int = 0
    problem_count: int = 0


def _session_id(
    connection: sqlite3.Connection, item: PreparedFlow, sessions: dict[tuple[Any, ...], _BatchSession]
) -> int:
    """The id of the flow's session (host, user, device id, device type), created at its first flow, its row's
    counts, times and protocol versions counted in `sessions` until `_update_sessions` writes them."""
    assert item.values is not None
    host, user, device_id, device_type = item.session_key
    key = (host, user or "", device_id or "", device_type or "")
    ts = item.values["ts_start"]
    session = sessions.get(key)
    if session is None:
        row = connection.execute(
            "SELECT id, protocol_versions FROM sessions WHERE host = ? AND ifnull(user, '') = ? "
            "AND ifnull(device_id, '') = ? AND ifnull(device_type, '') = ?",
            tuple(sql_text(value) for value in key),
        ).fetchone()
        if row is None:
            cursor = connection.execute(
                "INSERT INTO sessions (host, user, device_id, device_type, protocol_versions, first_seen, "
                "last_seen, flow_count, problem_count) VALUES (?, ?, ?, ?, '', ?, ?, 0, 0)",
                (*(sql_text(value) for value in (host, user, device_id, device_type)), ts, ts),
            )
            assert cursor.lastrowid is not None
            row = (cursor.lastrowid, "")
        versions = [version for version in str(text_from_sql(row[1])).split(",") if version]
        session = sessions[key] = _BatchSession(int(row[0]), versions, ts, ts)
    if item.protocol_version and item.protocol_version not in session.protocol_versions:
        session.protocol_versions.append(item.protocol_version)
    session.first_seen = min(session.first_seen, ts)
    session.last_seen = max(session.last_seen, ts)
    session.flow_count += 1
    session.problem_count += int(item.values["problem_count"] > 0)
    return session.session_id


def _update_sessions(connection: sqlite3.Connection, sessions: dict[tuple[Any, ...], _BatchSession]) -> None:
    """Write what a batch counted of each of its sessions (`_session_id`)."""
    for session in sessions.values():
        connection.execute(
            "UPDATE sessions SET protocol_versions = ?, first_seen = min(first_seen, ?), "
            "last_seen = max(last_seen, ?), flow_count = flow_count + ?, problem_count = problem_count + ? "
            "WHERE id = ?",
            (sql_text(",".join(session.protocol_versions)), session.first_seen, session.last_seen,
             session.flow_count, session.problem_count, session.session_id),
        )


def _close_at_exit(writer_ref: weakref.ref[CaptureWriter]) -> None:
    """Flush a writer the program forgot to close (its thread is a daemon and would die with unwritten flows)."""
    writer = writer_ref()
    if writer is None or writer._closed:
        return
    try:
        writer.close()
    except CaptureError as err:
        logger.error("%s", err)
