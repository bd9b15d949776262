"""The capture reader: sessions, filtered and sorted flows, full-text search and whole records, read-only."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from eas.exchange import Problem

from capture.model import CaptureError, FlowRecord, FlowRow, SessionRow
from capture.schema import BUSY_TIMEOUT_MS, check_capture, headers_from_json, sql_text, sqlite_uri, text_from_sql

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


# The latest time a stored timestamp may hold (9999-12-31): anything later, or not a number, is damage.
_MAX_TIMESTAMP = 253402300799.0
# The largest integer a count or status column may hold (SQLite's own INTEGER range).
_MAX_INTEGER = 2**63 - 1


def _time(value: Any) -> float | None:
    """A stored timestamp as seconds, or None when it is not one (text, a BLOB, out of range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value <= _MAX_TIMESTAMP else None


def _integer(value: Any) -> int | None:
    """A stored integer, or None when the column holds something else."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _MAX_INTEGER:
        return None
    return value


def _text(value: Any) -> str | None:
    """A stored text (a BLOB of non-UTF-8 bytes already decoded by text_from_sql), a number as its digits."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _flow_row(stored: Sequence[Any]) -> FlowRow:
    """A row of the list, every column checked for its type: a damaged value (text in a time column, a number
    out of range) is read as unknown (None, 0 for sizes and counts) so the rest of the row can still be shown."""
    row = [text_from_sql(value) for value in stored]
    return FlowRow(
        id=int(row[0]),
        session_id=_integer(row[1]),
        ts_start=_time(row[2]) or 0.0,
        ts_end=_time(row[3]),
        method=_text(row[4]) or "",
        url=_text(row[5]) or "",
        host=_text(row[6]) or "",
        command=_text(row[7]),
        collection_id=_text(row[8]),
        sync_key=_text(row[9]),
        http_status=_integer(row[10]),
        eas_status=_integer(row[11]),
        eas_status_meaning=_text(row[12]),
        request_size=_integer(row[13]) or 0,
        response_size=_integer(row[14]) or 0,
        problem_count=_integer(row[15]) or 0,
        replay_of=_integer(row[16]),
        user=_text(row[17]),
        device_id=_text(row[18]),
        device_type=_text(row[19]),
        protocol_version=_text(row[20]),
        is_eas=bool(row[21]),
        is_autodiscover=bool(row[22]),
        error=_text(row[23]),
    )


def _column(flow_id: int, column: str, read: Any, value: Any) -> Any:
    """`read(value)`, or a CaptureError that names the flow and the column when the stored value is damaged."""
    try:
        return read(value)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as err:
        raise CaptureError(f"flow {flow_id}: the {column} column is damaged ({type(err).__name__}: {err})") from err


def _json_object(text: Any) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError(f"a JSON object was expected, not {type(value).__name__}")
    return value


def _json_texts(text: Any) -> tuple[str, ...]:
    value = json.loads(text)
    if not isinstance(value, list):
        raise TypeError(f"a JSON list was expected, not {type(value).__name__}")
    return tuple(str(item) for item in value)


def _timestamps(text: Any) -> dict[str, float]:
    """The stored timestamps that are times; a damaged one (text, out of range) is left out."""
    times = {str(name): _time(value) for name, value in _json_object(text).items()}
    return {name: value for name, value in times.items() if value is not None}


def _problems(text: Any) -> tuple[Problem, ...]:
    value = json.loads(text)
    if not isinstance(value, list):
        raise TypeError(f"a JSON list was expected, not {type(value).__name__}")
    return tuple(Problem(str(p["where"]), str(p["reason"]), p.get("offset"), str(p.get("severity", "error")))
                 for p in value)


def _body(value: Any) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _port(value: Any) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"{port} is not a TCP port")
    return port


_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f]")


def fts_query(text: str) -> str | None:
    """A safe FTS5 query for what a user typed: every word must occur; `word*` matches a prefix."""
    terms = []
    for word in _CONTROL_CHARS.sub(" ", text).split():
        prefix = word.endswith("*") and len(word) > 1
        core = word[:-1] if prefix else word
        quoted = '"' + core.replace('"', '""') + '"'
        terms.append(quoted + ("*" if prefix else ""))
    return " ".join(terms) or None


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
            version = check_capture(self._connection, self.path, upgradable=False)
        except BaseException:
            self._connection.close()
            raise
        if version == 0:
            self._connection.close()
            raise CaptureError(f"{self.path}: not an eas-inspector capture (an empty database)")
        self.schema_version = version

    def _connect(self) -> sqlite3.Connection:
        """A read-only connection; `immutable` when the directory cannot hold the -shm file a reader needs."""
        uri = sqlite_uri(self.path, "ro")
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
        return SessionRow(*(text_from_sql(value) for value in rows[0]))

    def sessions(self) -> list[SessionRow]:
        """All device sessions, most recently seen first."""
        rows = self._query(
            "SELECT id, host, user, device_id, device_type, protocol_versions, first_seen, last_seen, flow_count, "
            "problem_count FROM sessions ORDER BY last_seen DESC, id DESC"
        )
        return [SessionRow(*(text_from_sql(value) for value in row)) for row in rows]

    def _where(
        self,
        *,
        session_id: int | None = None,
        command: str | None = None,
        eas_status: int | None = None,
        http_status: int | None = None,
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
            ("eas_status", eas_status),
            ("http_status", http_status),
            ("user", user),
            ("replay_of", replay_of),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                parameters.append(sql_text(value))
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
        eas_status: int | None = None,
        http_status: int | None = None,
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
            text_from_sql, (http_version, scheme, path, response_reason, server_address, target_host, authority)
        )
        response_http_version, policy_key = text_from_sql(response_http_version), text_from_sql(policy_key)
        texts = self._query("SELECT request_text, response_text FROM flow_text WHERE rowid = ?", (flow_id,))
        request_text, response_text = texts[0] if texts else (None, None)
        flow_row = _flow_row(row[:base])
        return FlowRecord(
            row=flow_row,
            http_version=_text(http_version) or "",
            scheme=_text(scheme) or "",
            port=_column(flow_id, "port", _port, port),
            path=_text(path) or "",
            request_headers=_column(flow_id, "request_headers", headers_from_json, request_headers) or (),
            request_body=_column(flow_id, "request_body", _body, request_body),
            response_headers=_column(flow_id, "response_headers", headers_from_json, response_headers),
            response_body=None if response_body is None else _column(flow_id, "response_body", _body, response_body),
            response_reason=_text(response_reason),
            error=flow_row.error,
            timestamps=_column(flow_id, "timestamps", _timestamps, timestamps),
            server_address=_text(server_address),
            tls=bool(tls),
            target_host=_text(target_host) or "",
            authority=_text(authority) or "",
            request_trailers=_column(flow_id, "request_trailers", headers_from_json, request_trailers),
            response_http_version=_text(response_http_version),
            response_trailers=_column(flow_id, "response_trailers", headers_from_json, response_trailers),
            request_truncated=bool(request_truncated),
            response_truncated=bool(response_truncated),
            credentials_redacted=bool(credentials_redacted),
            connection=_column(flow_id, "connection", _json_object, connection),
            extra=_column(flow_id, "extra", _json_object, extra),
            policy_key=_text(policy_key),
            collection_ids=_column(flow_id, "collection_ids", _json_texts, collection_ids),
            sync_keys=_column(flow_id, "sync_keys", _json_texts, sync_keys),
            problems=_column(flow_id, "problems", _problems, problems),
            request_text=_text(request_text) or None,
            response_text=_text(response_text) or None,
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

