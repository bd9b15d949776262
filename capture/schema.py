"""The capture's SQLite schema, its version and migrations, and the checks that a file is a capture."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import eas
from eas.wiretext import is_clean, wire_bytes

from capture.analysis import verdict_columns
from capture.model import CaptureError, Headers

APP_NAME = "eas-inspector"
SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 5000

FLOW_COLUMNS = (
    "replay_of", "ts_start", "ts_end", "method", "host", "url", "command", "user", "device_id", "device_type",
    "protocol_version", "policy_key", "collection_id", "sync_key", "http_status", "eas_status", "eas_status_meaning",
    "request_size", "response_size", "problem_count", "is_eas", "is_autodiscover", "error", "scheme", "target_host",
    "port", "authority", "path", "http_version", "response_http_version", "response_reason", "tls",
    "server_address", "credentials_redacted", "request_truncated", "response_truncated", "collection_ids",
    "sync_keys", "eas_statuses", "problems", "timestamps", "connection", "extra", "request_headers",
    "request_trailers", "response_headers", "response_trailers", "outcome", "statuses", "reasons",
    "response_sync_key", "facts",
)  # fmt: skip

# Small, browsed columns first; bodies in a table of their own, so listing and sorting flows never reads them.
SCHEMA_SQL = f"""
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
    problem_count INTEGER NOT NULL DEFAULT 0   -- flows with at least one problem (a judgement that is not ok)
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
    eas_status INTEGER,                 -- the worst EAS Status of the response (eas.verdicts.Verdict.worst)
    eas_status_meaning TEXT,            -- its meaning, from its own table
    request_size INTEGER NOT NULL,      -- raw body size on the wire
    response_size INTEGER NOT NULL DEFAULT 0,
    problem_count INTEGER NOT NULL DEFAULT 0,  -- judgements that are not ok: problems, HTTP, statuses, transport
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
    response_trailers TEXT,
    outcome TEXT,                       -- ok | warning | failed (eas.verdicts.judge); NULL: not analysed
    statuses TEXT NOT NULL DEFAULT '[]',       -- JSON [{{path, code, meaning, ok, outcome, table, section}}, ...]
    reasons TEXT NOT NULL DEFAULT '[]',        -- JSON [why the outcome is not ok, worst first]
    response_sync_key TEXT,             -- the SyncKey the server answered (first collection, or FolderSync)
    facts TEXT                          -- JSON eas.facts.FlowFacts.to_json(), transport error included
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
CREATE INDEX flows_outcome ON flows (outcome, ts_start);
CREATE VIRTUAL TABLE flow_text USING fts5 (url, summary, request_text, response_text);
PRAGMA user_version = {SCHEMA_VERSION};
"""

# Schema upgrades: MIGRATIONS[n] turns version n into n + 1; then MIGRATION_FILLS[n], when there is one, fills the
# new columns of the rows already stored (in the same transaction).
MIGRATIONS: dict[int, str] = {
    # 1 -> 2: the verdict (eas.verdicts) and the diagnosis facts (eas.facts) of each flow.
    1: """
    ALTER TABLE flows ADD COLUMN outcome TEXT;
    ALTER TABLE flows ADD COLUMN statuses TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE flows ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE flows ADD COLUMN response_sync_key TEXT;
    ALTER TABLE flows ADD COLUMN facts TEXT;
    CREATE INDEX flows_outcome ON flows (outcome, ts_start);
    """,
}


def _fill_verdicts(connection: sqlite3.Connection) -> None:
    """Schema 2's columns for flows stored before it: each flow analysed again from its stored parts, and each
    session's problem count taken again under the new rule (failures count)."""
    columns = ("outcome", "statuses", "reasons", "eas_status", "eas_status_meaning", "problem_count",
               "response_sync_key", "facts")  # fmt: skip
    rows = connection.execute(
        "SELECT id, method, url, request_headers, request_body, http_status, response_headers, response_body, "
        "error, is_eas + is_autodiscover FROM flows JOIN flow_bodies ON flow_bodies.flow_id = flows.id"
    )
    updates = []
    for flow_id, method, url, request_headers, request_body, http_status, response_headers, response_body, error, \
            analysed in rows:  # fmt: skip
        method, url, error = text_from_sql(method), text_from_sql(url), text_from_sql(error)
        exchange = eas.analyze(
            method, url, headers_from_json(request_headers) or (), bytes(request_body), http_status,
            headers_from_json(response_headers), None if response_body is None else bytes(response_body),
            annotate=False, plain_xml=False, header_notes=False,
        )  # fmt: skip
        values = verdict_columns(exchange, error, analysed=bool(analysed))
        updates.append([sql_text(values[column]) for column in columns] + [flow_id])
    connection.executemany(
        f"UPDATE flows SET {', '.join(f'{column} = ?' for column in columns)} WHERE id = ?", updates
    )
    connection.execute(
        "UPDATE sessions SET problem_count = (SELECT count(*) FROM flows "
        "WHERE flows.session_id = sessions.id AND flows.problem_count > 0)"
    )


MIGRATION_FILLS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _fill_verdicts}


def app_version() -> str:
    return str(eas.__version__)


def sqlite_uri(path: Path, mode: str) -> str:
    return f"file:{urllib.parse.quote(str(path.resolve()))}?mode={mode}"


def check_capture(connection: sqlite3.Connection, path: Path, *, upgradable: bool) -> int:
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


def is_empty(connection: sqlite3.Connection) -> bool:
    """A database with nothing in it (a new or zero-length file), ready to become a capture."""
    return int(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]) == 0



def split_sql(script: str) -> Iterator[str]:
    """Statements of a script made of simple statements (no semicolons inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            yield statement


def create_schema(connection: sqlite3.Connection, path: Path) -> None:
    """Create the tables of a new capture in an empty database (unless another process just did)."""
    if path.stat().st_size == 0:
        os.chmod(path, 0o600)  # an empty file becoming a capture: private like one we create
    connection.execute("BEGIN IMMEDIATE")
    try:
        if not is_empty(connection):
            connection.execute("COMMIT")  # another process created it meanwhile
            check_capture(connection, path, upgradable=False)
            return
        for statement in split_sql(SCHEMA_SQL):
            connection.execute(statement)
        connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [
                ("app", APP_NAME),
                ("app_version", app_version()),
                ("schema_version", str(SCHEMA_VERSION)),
                ("created", f"{time.time():.6f}"),
            ],
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def migrate(connection: sqlite3.Connection, path: Path, version: int) -> None:
    """Upgrade a capture from schema `version` to SCHEMA_VERSION, in one transaction."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        while version < SCHEMA_VERSION:
            if version not in MIGRATIONS:
                raise CaptureError(f"{path}: no upgrade from capture schema version {version}")
            for statement in split_sql(MIGRATIONS[version]):
                connection.execute(statement)
            fill = MIGRATION_FILLS.get(version)
            if fill is not None:
                fill(connection)
            version += 1
            connection.execute(f"PRAGMA user_version = {version}")
        connection.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?), ('app_version', ?)",
            (str(SCHEMA_VERSION), app_version()),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def headers_json(headers: Headers | None) -> str | None:
    """A header list as stored: JSON [[name, value], ...], ASCII only (surrogate escapes become \\udcXX)."""
    if headers is None:
        return None
    return json.dumps([[name, value] for name, value in headers])


def headers_from_json(text: str | None) -> Headers | None:
    """The header list of a stored column (see `headers_json`)."""
    if text is None:
        return None
    return tuple((str(name), str(value)) for name, value in json.loads(text))


def sql_text(value: Any) -> Any:
    """A value for a TEXT column: text as it is, text that holds bytes which were not UTF-8 (surrogate escapes,
    which SQLite cannot take) as a BLOB of those exact bytes; SQLite keeps a BLOB as it is in a TEXT column."""
    if isinstance(value, str) and not is_clean(value):
        return wire_bytes(value)
    return value


def text_from_sql(value: Any) -> Any:
    """The str of a TEXT column's value (`sql_text` undone: a BLOB's bytes decoded with surrogate escapes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value
