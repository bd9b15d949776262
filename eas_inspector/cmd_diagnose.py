"""`eas-inspector diagnose` (findings per device session) and `eas-inspector list` (one line per flow, verdicts)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eas.diagnosis import Diagnoser, Finding

from capture.model import CaptureError, FlowFilter, FlowRow
from capture.reader import CaptureReader
from capture.schema import SCHEMA_VERSION
from capture.writer import CaptureWriter
from eas_inspector.cmd_view import ViewError, resolve

PROG = "eas-inspector"
SEVERITY_WIDTH = 7  # "warning"


class CommandFailed(Exception):
    """A file that cannot be read; reported as one line on standard error."""


@contextmanager
def open_capture(name: str) -> Iterator[CaptureReader]:
    """A reader of the capture `name`, or of a temporary capture the .mitm file `name` is imported into; a
    capture of an older schema is upgraded first (as opening it for writing does).

    Raises:
        CommandFailed: the file is missing, neither a capture nor a flow file, or cannot be read.
    """
    try:
        upgrade_if_older(Path(name))
        target = resolve(name, False)
    except (ViewError, CaptureError) as err:
        raise CommandFailed(str(err)) from err
    try:
        try:
            reader = CaptureReader(target.path)
        except CaptureError as err:
            raise CommandFailed(str(err)) from err
        with reader:
            yield reader
    finally:
        target.cleanup()


def upgrade_if_older(path: Path) -> None:
    """Migrate a capture of an older schema in place (its flows analysed again); anything else is left alone."""
    try:
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                return
        connection = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        finally:
            connection.close()
    except (OSError, sqlite3.Error):
        return  # the reader says what is wrong with the file
    if 0 < version < SCHEMA_VERSION:
        CaptureWriter(path).close()


def run(args: argparse.Namespace) -> int:
    """`diagnose` or `list`; exit 1 with one line on standard error when the file cannot be read."""
    try:
        with open_capture(args.file) as reader:
            if args.command == "diagnose":
                write_diagnosis(reader, FlowFilter(device_id=args.device), as_json=args.json)
            else:
                flow_filter = FlowFilter(device_id=args.device, command=args.eas_command, failed_only=args.failed)
                write_list(reader, flow_filter, as_json=args.json)
    except (CommandFailed, CaptureError) as err:
        sys.stdout.flush()
        print(f"{PROG} {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------------------------------------------
# diagnose


def diagnosis(reader: CaptureReader, flow_filter: FlowFilter = FlowFilter()) -> list[Finding]:
    """The findings of the device sessions of the flows `flow_filter` selects (default: every flow), most severe
    sessions first.

    The flows stream from the capture in time order into one Diagnoser, so memory grows with the sessions and
    their open episodes, not with the flows.
    """
    diagnoser = Diagnoser()
    for evidence in reader.evidence(flow_filter):
        diagnoser.feed(evidence)
    diagnoser.finish()
    return diagnoser.findings()


def write_diagnosis(reader: CaptureReader, flow_filter: FlowFilter, *, as_json: bool) -> None:
    findings = diagnosis(reader, flow_filter)
    out = sys.stdout
    if as_json:
        json.dump({"findings": [finding.to_json() for finding in findings]}, out, indent=2)
        out.write("\n")
        return
    if not findings:
        out.write("no findings: every device session looks sound\n")
        return
    session: tuple[Any, ...] | None = None
    for finding in findings:
        key = (finding.host, finding.user, finding.device_id, finding.device_type)
        if key != session:
            who = "/".join(value for value in (finding.user, finding.device_id) if value) or "(unknown device)"
            kind = f" ({finding.device_type})" if finding.device_type else ""
            if session is not None:
                out.write("\n")
            out.write(f"session {who}{kind} at {finding.host or '?'}\n")
            session = key
        out.write(f"  {finding.severity:<{SEVERITY_WIDTH}} {finding.rule}: {finding.summary}\n")
        out.write(f"  {'':<{SEVERITY_WIDTH}} advice: {finding.advice}\n")
        out.write(f"  {'':<{SEVERITY_WIDTH}} spec: {finding.spec}\n")
        out.write(f"  {'':<{SEVERITY_WIDTH}} flows: {', '.join(str(flow_id) for flow_id in finding.flows)}\n")


# ---------------------------------------------------------------------------------------------------------------
# list


def flow_entry(row: FlowRow, folders: dict[str, str]) -> dict[str, Any]:
    """One flow as `list --json` prints it."""
    collection = row.collection_id
    return {
        "id": row.id,
        "time": iso_time(row.ts_start),
        "device_id": row.device_id,
        "user": row.user,
        "command": row.command,
        "collection": folders.get(collection, collection) if collection is not None else None,
        "collection_id": collection,
        "http_status": row.http_status,
        "outcome": None if row.outcome is None else str(row.outcome),
        "statuses": [
            {"path": status.path, "code": status.code, "meaning": status.meaning, "ok": status.outcome == "ok"}
            for status in row.statuses
        ],
        "problems": row.problem_count,
    }


def iso_time(ts: float) -> str:
    """UTC time with milliseconds: 2026-12-07T04:30:31.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def flow_line(entry: dict[str, Any]) -> str:
    """One flow as `list` prints it for people."""
    words = [f"#{entry['id']}", entry["time"], entry["user"] or "-", entry["device_id"] or "-",
             entry["command"] or "-"]  # fmt: skip
    if entry["collection"] is not None:
        words.append(entry["collection"])
    words.append("HTTP " + (str(entry["http_status"]) if entry["http_status"] is not None else "none"))
    words.append(entry["outcome"] or "not analysed")
    failing = [status for status in entry["statuses"] if not status["ok"]]
    for status in failing or entry["statuses"][:1]:
        meaning = f" ({status['meaning']})" if status["meaning"] else ""
        words.append(f"{status['path']}={status['code']}{meaning}")
    if entry["problems"]:
        words.append(f"problems={entry['problems']}")
    return " ".join(words)


def write_list(reader: CaptureReader, flow_filter: FlowFilter, *, as_json: bool) -> None:
    rows = reader.flows(flow_filter, order="id", limit=None)
    folders_by_session: dict[int | None, dict[str, str]] = {}
    entries = []
    for row in rows:
        folders = folders_by_session.get(row.session_id)
        if folders is None:
            folders = reader.folder_names(row.session_id) if row.session_id is not None else {}
            folders_by_session[row.session_id] = folders
        entries.append(flow_entry(row, folders))
    out = sys.stdout
    if as_json:
        json.dump(entries, out, indent=2)
        out.write("\n")
        return
    for entry in entries:
        out.write(flow_line(entry) + "\n")


__all__ = ["diagnosis", "flow_entry", "open_capture", "run"]
