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

from eas.evidence import FlowEvidence
from eas.exchange import Problem
from eas.facts import ChainLink, FlowFacts, folder_names, sync_key_chain
from eas.verdicts import JudgedStatus, Outcome

from capture.analysis import statuses_from_json
from capture.model import CaptureError, FlowFilter, FlowRecord, FlowRow, SessionRow, StatusMatch
from capture.schema import BUSY_TIMEOUT_MS, check_capture, headers_from_json, sql_text, sqlite_uri, text_from_sql
from capture.timeline import TimelineFlow

_ROW_COLUMNS = (
    "id, session_id, ts_start, ts_end, method, url, host, command, collection_id, sync_key, http_status, "
    "eas_status, eas_status_meaning, request_size, response_size, problem_count, replay_of, user, device_id, "
    "device_type, protocol_version, is_eas, is_autodiscover, error, outcome, response_sync_key, statuses"
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
        outcome=_outcome(row[24]),
        response_sync_key=_text(row[25]),
        statuses=_statuses(row[26]),
    )


def _ordering(order: str, descending: bool) -> str:
    """The ORDER BY of a list of flows: the chosen column, ties broken by time, then id (the (column, ts_start)
    indexes end in the rowid, so SQLite needs no sort)."""
    direction = "DESC" if descending else "ASC"
    keys = [_ORDERS[order]] + [key for key in ("ts_start", "id") if key != order and order != "id"]
    return ", ".join(f"{key} {direction}" for key in keys)


def _outcome(value: Any) -> Outcome | None:
    """A stored verdict; a damaged one is read as unknown (None) like the row's other damaged values."""
    try:
        return None if value is None else Outcome(value)
    except ValueError:
        return None


def _statuses(value: Any) -> tuple[JudgedStatus, ...]:
    """The judged statuses of a `statuses` column; a damaged column is read as none."""
    try:
        return statuses_from_json(_text(value))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
        return ()


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



def _facts(text: str | None) -> FlowFacts | None:
    """The FlowFacts of a `facts` column; None when absent or unreadable (a newer FACTS_VERSION's shape)."""
    if not text:
        return None
    try:
        return FlowFacts.from_json(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
        return None


# Rows per query when streaming the evidence of a capture.
EVIDENCE_PAGE = 2000

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

    def _where_sql(self, flow_filter: FlowFilter) -> tuple[str, list[Any]]:
        """The ` WHERE ...` of a FlowFilter ("" when it selects every flow) and its parameters."""
        clauses, parameters = self._where(flow_filter)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), parameters

    def _where(self, flow_filter: FlowFilter) -> tuple[list[str], list[Any]]:
        """SQL conditions (all must hold) and their parameters for a FlowFilter."""
        clauses: list[str] = []
        parameters: list[Any] = []
        for column, value in (
            ("session_id", flow_filter.session_id),
            ("command", flow_filter.command),
            ("user", flow_filter.user),
            ("replay_of", flow_filter.replay_of),
            ("device_id", flow_filter.device_id),
            ("collection_id", flow_filter.collection_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                parameters.append(sql_text(value))
        for column, status in (("eas_status", flow_filter.eas_status), ("http_status", flow_filter.http_status)):
            if status is not None:
                clause, values = _status_clause(column, status)
                clauses.append(clause)
                parameters += values
        flow_ids = flow_filter.flow_ids
        if flow_ids is not None:
            # a finding's flows: few (a long loop keeps its first and latest), far below SQLite's parameter limit
            clauses.append(f"id IN ({', '.join('?' * len(flow_ids))})" if flow_ids else "0")
            parameters += [int(flow_id) for flow_id in flow_ids]
        if flow_filter.outcome is not None:
            clauses.append("outcome = ?")
            parameters.append(str(Outcome(flow_filter.outcome)))
        if flow_filter.failed_only:
            clauses.append("outcome = 'failed'")
        if flow_filter.problems_only:
            clauses.append("problem_count > 0")
        if flow_filter.min_id is not None:
            clauses.append("id > ?")
            parameters.append(flow_filter.min_id)
        query = fts_query(flow_filter.text) if flow_filter.text else None
        if query:
            clauses.append("id IN (SELECT rowid FROM flow_text WHERE flow_text MATCH ?)")
            parameters.append(query)
        return clauses, parameters

    def flows(
        self,
        flow_filter: FlowFilter = FlowFilter(),
        *,
        order: str = "ts_start",
        descending: bool = False,
        offset: int = 0,
        limit: int | None = 200,
    ) -> list[FlowRow]:
        """The flows `flow_filter` selects, sorted by `order` (a key of _ORDERS); `limit=None` means all.

        Raises:
            CaptureError: an unknown order, or the capture cannot be read.
            ValueError: the filter's outcome is not "ok", "warning" or "failed".
        """
        if order not in _ORDERS:
            raise CaptureError(f"cannot order flows by {order!r}; choose one of {', '.join(_ORDERS)}")
        where, parameters = self._where_sql(flow_filter)
        sql = f"SELECT {_ROW_COLUMNS} FROM flows{where} ORDER BY {_ordering(order, descending)} LIMIT ? OFFSET ?"
        return [_flow_row(row) for row in self._query(sql, [*parameters, -1 if limit is None else limit, offset])]

    def position(
        self, flow_id: int, flow_filter: FlowFilter = FlowFilter(), *, order: str = "ts_start", descending: bool = False
    ) -> int | None:
        """Where flow `flow_id` is in `flows(flow_filter, order=..., descending=...)` (0 for the first), None when
        the filter leaves it out."""
        if order not in _ORDERS:
            raise CaptureError(f"cannot order flows by {order!r}; choose one of {', '.join(_ORDERS)}")
        where, parameters = self._where_sql(flow_filter)
        rows = self._query(
            f"SELECT place FROM (SELECT id, row_number() OVER (ORDER BY {_ordering(order, descending)}) - 1 AS place "
            f"FROM flows{where}) WHERE id = ?",
            [*parameters, flow_id],
        )
        return int(rows[0][0]) if rows else None

    def timeline_flows(self, session_id: int) -> list[TimelineFlow]:
        """A session's flows as its timeline draws them (capture.timeline): times, command, collections and the
        stored verdict, in time order; a damaged value is read as unknown, like the list's rows."""
        rows = self._query(
            "SELECT id, ts_start, ts_end, command, collection_ids, outcome, http_status, eas_status FROM flows "
            "WHERE session_id = ? ORDER BY ts_start, id",
            (session_id,),
        )
        flows = []
        for flow_id, ts_start, ts_end, command, collection_ids, outcome, http_status, eas_status in rows:
            try:
                collections = _json_texts(text_from_sql(collection_ids))
            except (ValueError, TypeError, RecursionError):
                collections = ()
            start = _time(ts_start) or 0.0
            end = _time(ts_end)
            flows.append(TimelineFlow(
                flow_id=int(flow_id),
                ts_start=start,
                ts_end=end if end is not None and end >= start else None,
                command=_text(text_from_sql(command)),
                collection_ids=collections,
                outcome=_outcome(outcome),
                http_status=_integer(http_status),
                eas_status=_integer(eas_status),
            ))
        return flows

    def count_flows(self, flow_filter: FlowFilter = FlowFilter()) -> int:
        """How many flows `flows(flow_filter)` would return without a limit."""
        where, parameters = self._where_sql(flow_filter)
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
            "problems, reasons, facts FROM flows JOIN flow_bodies ON flow_bodies.flow_id = flows.id WHERE id = ?",
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
            connection, extra, policy_key, collection_ids, sync_keys, problems, reasons, facts,
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
            reasons=_column(flow_id, "reasons", _json_texts, reasons),
            facts=_facts(_text(facts)),
            request_text=_text(request_text) or None,
            response_text=_text(response_text) or None,
        )

    def records(self, flow_ids: Iterable[int] | None = None) -> Iterator[FlowRecord]:
        """FlowRecords of the given ids (all flows in id order when None)."""
        ids = self.flow_ids() if flow_ids is None else list(flow_ids)
        for flow_id in ids:
            yield self.flow(flow_id)

    # -- the diagnosis' view: facts in time order, streamed

    def evidence(self, flow_filter: FlowFilter = FlowFilter()) -> Iterator[FlowEvidence]:
        """Every analysed flow `flow_filter` selects as the diagnosis reads it (eas.diagnosis), in time order
        (then id), read EVIDENCE_PAGE rows at a time so memory stays bounded however large the capture.

        `FlowEvidence.missing` is the flow's `extra["missing"]` list, which importers of partial evidence set.
        """
        clauses, parameters = self._where(flow_filter)
        yield from self._evidence(" AND ".join(["facts IS NOT NULL", *clauses]), parameters)

    def _evidence(self, where: str, parameters: list[Any]) -> Iterator[FlowEvidence]:
        after: tuple[float, int] = (float("-inf"), -1)
        while True:
            rows = self._query(
                "SELECT id, ts_start, ts_end, user, device_id, device_type, host, facts, extra FROM flows "
                f"WHERE {where} AND (ts_start > ? OR (ts_start = ? AND id > ?)) ORDER BY ts_start, id LIMIT ?",
                [*parameters, after[0], after[0], after[1], EVIDENCE_PAGE],
            )
            for flow_id, ts_start, ts_end, user, device_id, device_type, host, facts, extra in rows:
                missing: frozenset[str] = frozenset()
                if '"missing"' in extra:
                    missing = frozenset(json.loads(extra).get("missing") or ())
                yield FlowEvidence(
                    flow_id=flow_id,
                    ts=ts_start,
                    user=text_from_sql(user),
                    device_id=text_from_sql(device_id),
                    device_type=text_from_sql(device_type),
                    host=text_from_sql(host),
                    facts=_facts(facts) or FlowFacts(),
                    missing=missing,
                    duration=None if ts_end is None else ts_end - ts_start,
                )
            if len(rows) < EVIDENCE_PAGE:
                return
            after = (rows[-1][1], rows[-1][0])

    def folder_names(self, session_id: int) -> dict[str, str]:
        """Collection id -> folder name, from the session's FolderSync (and folder commands), latest state."""
        where = "session_id = ? AND facts IS NOT NULL AND command IN ('FolderSync', 'FolderCreate', " \
                "'FolderUpdate', 'FolderDelete')"  # fmt: skip
        return folder_names(item.facts for item in self._evidence(where, [session_id]))

    def sync_key_chain(self, session_id: int, collection_id: str) -> list[ChainLink]:
        """One collection's SyncKey chain in a session: per Sync or GetItemEstimate that names it, in time order,
        the key sent, the key answered, the collection's Status and the HTTP status (eas.facts.ChainLink)."""
        where = "session_id = ? AND facts IS NOT NULL AND command IN ('Sync', 'GetItemEstimate')"
        return sync_key_chain(self._evidence(where, [session_id]), collection_id)

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
        return self.flows(FlowFilter(replay_of=flow_id), order="id", limit=None)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

