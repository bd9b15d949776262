"""The `explain` subcommand: every EAS exchange of a .mitm file or a capture, decoded and explained as text."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, cast

from eas.exchange import DecodedBody, Exchange, HeaderNote, analyze
from eas.summary import summarize
from eas.verdicts import judge

from eas_inspector.cli import fail

PROG = "eas-inspector"
SQLITE_MAGIC = b"SQLite format 3\x00"
INDENT = "    "


class ExplainError(Exception):
    """A file that cannot be read as a flow file or a capture; reported as one line on standard error."""


def run(args: argparse.Namespace) -> int:
    """Print every EAS exchange of `args.file`; exit status 1 (one line on stderr for each) when the file, or a
    flow in it, cannot be read: the flows that can be read are printed all the same."""
    path = Path(args.file)
    out = sys.stdout
    shown = 0
    damaged: list[str] = []
    try:
        for number, exchange, transport_error in _exchanges(path, annotate=not args.plain, damaged=damaged):
            if shown:
                out.write("\n")
            out.write(format_exchange(exchange, number=number, plain=args.plain, transport_error=transport_error))
            shown += 1
    except ExplainError as err:
        out.flush()
        message = str(err)
        where = "" if message.startswith(str(path)) else f"{path}: "
        for line in damaged:
            fail(f"{path}: {line}")
        return fail(f"{where}{message}")
    for line in damaged:
        fail(f"{path}: {line}")
    if damaged:
        return 1
    if not shown:
        fail(f"{path}: no ActiveSync or Autodiscover exchange in this file")
    return 0


# What mitmproxy's reader and its flow classes raise on a damaged record besides FlowReadException: a deep
# nesting, a length or number beyond what the types take, a missing key, a value of the wrong type.
_DAMAGED_RECORD = (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, RecursionError,
                   MemoryError, UnicodeError)


class _BoundedReader:
    """A binary file whose reads never ask for more than the bytes left in it: a record that claims a length of
    999999999999 reads the rest of the file (and is then short) instead of allocating that much."""

    def __init__(self, handle: Any, size: int) -> None:
        self._handle = handle
        self._size = size

    def read(self, count: int = -1) -> bytes:
        left = max(0, self._size - int(self._handle.tell()))
        data: bytes = self._handle.read(left if count < 0 or count > left else count)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)  # tell, seek, peek: the file's own


def _exchanges(path: Path, *, annotate: bool, damaged: list[str]) -> Iterator[tuple[int, Exchange, str | None]]:
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise ExplainError(err.strerror or str(err)) from err
    if magic == SQLITE_MAGIC:
        yield from _capture_exchanges(path, annotate=annotate, damaged=damaged)
    else:
        yield from _mitm_exchanges(path, annotate=annotate, damaged=damaged)


def _pairs(headers: Any) -> list[tuple[str, str]]:
    return [(str(name), str(value)) for name, value in headers.items(multi=True)]


def _mitm_exchanges(path: Path, *, annotate: bool, damaged: list[str]) -> Iterator[tuple[int, Exchange, str | None]]:
    from mitmproxy import http, io
    from mitmproxy.exceptions import FlowReadException

    number = 0
    try:
        with path.open("rb") as handle:
            reader = io.FlowReader(cast(BinaryIO, _BoundedReader(handle, path.stat().st_size)))
            for number, flow in enumerate(reader.stream(), start=1):
                if not isinstance(flow, http.HTTPFlow):
                    continue
                try:
                    exchange = _mitm_exchange(flow, annotate=annotate)
                except _DAMAGED_RECORD as err:
                    damaged.append(f"flow {number}: cannot be read ({type(err).__name__}: {err})")
                    continue
                if exchange.is_eas or exchange.is_autodiscover:
                    yield number, exchange, flow.error.msg if flow.error is not None else None
    except (FlowReadException, *_DAMAGED_RECORD) as err:
        kept = f"; the {number} flows before it were read" if number else ""
        raise ExplainError(f"not a readable mitmproxy flow file at flow {number + 1} ({type(err).__name__}: {err})"
                           f"{kept}") from err
    except OSError as err:
        raise ExplainError(err.strerror or str(err)) from err


def _mitm_exchange(flow: Any, *, annotate: bool) -> Exchange:
    request = flow.request
    response = flow.response
    return analyze(
        request.method,
        request.url,
        _pairs(request.headers),
        request.raw_content or b"",
        response.status_code if response is not None else None,
        _pairs(response.headers) if response is not None else None,
        (response.raw_content or b"") if response is not None else None,
        annotate=annotate,
        request_time=request.timestamp_start,
    )


def _capture_exchanges(path: Path, *, annotate: bool, damaged: list[str]) -> Iterator[tuple[int, Exchange, str | None]]:
    from capture.model import CaptureError
    from capture.reader import CaptureReader

    try:
        reader = CaptureReader(path)
    except CaptureError as err:
        raise ExplainError(str(err)) from err
    try:
        rows = reader.flows(limit=None)
        for row in rows:
            try:
                record = reader.flow(row.id)
                exchange = analyze(
                    record.row.method,
                    record.row.url,
                    record.request_headers,
                    record.request_body,
                    record.row.http_status,
                    record.response_headers,
                    record.response_body,
                    annotate=annotate,
                    request_time=record.timestamps.get("request_start"),
                )
            except CaptureError as err:
                damaged.append(str(err))
                continue
            if exchange.is_eas or exchange.is_autodiscover:
                yield row.id, exchange, record.error
    except CaptureError as err:
        raise ExplainError(str(err)) from err
    finally:
        reader.close()


def _header_lines(notes: Sequence[HeaderNote]) -> list[str]:
    lines = []
    for note in notes:
        line = f"{INDENT}{note.name}: {note.shown_value}"
        if note.meaning:
            line += f"  -- {note.meaning}"
        lines.append(line)
    return lines


def _indent(text: str) -> list[str]:
    return [f"{INDENT}{line}" if line else "" for line in text.rstrip("\n").split("\n")]


def _body_lines(title: str, body: DecodedBody | None, *, plain: bool) -> list[str]:
    if body is None:
        return []
    if body.kind == "empty":
        return [f"{title}: empty"]
    kind = body.kind + (f" <{body.root_tag}>" if body.root_tag else "")
    lines = [f"{title} ({kind}, {body.size} bytes{', ' + body.content_type if body.content_type else ''}):"]
    xml = body.plain_xml if plain else body.xml
    if xml:
        lines += _indent(xml)
    if body.text and (not xml or body.kind == "multipart"):
        lines += _indent(body.text)
    return lines


def format_exchange(
    exchange: Exchange, *, number: int | None = None, plain: bool = False, transport_error: str | None = None
) -> str:
    """The whole exchange as text: summary, verdict, HTTP status, query, headers, bodies (annotated unless plain),
    problems. The verdict (eas.verdicts.judge) gives the outcome, why, and every Status with its own meaning."""
    heading = f"=== #{number} " if number is not None else "=== "
    verdict = judge(exchange, transport_error=transport_error)
    lines = [f"{heading}{exchange.method} {exchange.url}", summarize(exchange, verdict=verdict)]
    outcome = f"Outcome: {verdict.outcome}"
    worst = verdict.worst
    if worst is not None and worst.outcome != "ok":
        outcome += f" ({worst.path} = {worst.code}{f': {worst.meaning}' if worst.meaning else ''})"
    elif verdict.reasons:
        outcome += f" ({verdict.reasons[0]})"
    lines.append(outcome)
    lines += [f"{INDENT}{reason}" for reason in verdict.reasons if len(verdict.reasons) > 1]
    if exchange.http_status is not None:
        meaning = f": {exchange.http_status_meaning}" if exchange.http_status_meaning else ""
        lines.append(f"HTTP {exchange.http_status}{meaning}")
    else:
        lines.append("HTTP: no response")
    if exchange.query_fields:
        fields = ", ".join(f"{name}={value}" for name, value in exchange.query_fields)
        lines.append(f"Query ({exchange.query_form or 'plain'}): {fields}")
    if exchange.policy_key:
        lines.append(f"Policy key: {exchange.policy_key}")
    if exchange.offered_versions or exchange.offered_commands:
        lines.append(f"Server offers versions: {', '.join(exchange.offered_versions) or '(none)'}")
        lines.append(f"Server offers commands: {', '.join(exchange.offered_commands) or '(none)'}")
    if exchange.redirect_location:
        lines.append(f"Redirect to: {exchange.redirect_location}")
    for status in verdict.statuses:
        meaning = f" ({status.meaning})" if status.meaning else ""
        lines.append(f"EAS status {status.path} = {status.code}{meaning} [{status.outcome}, {status.table}]")
    if exchange.collection_ids:
        lines.append(f"Collections: {', '.join(exchange.collection_ids)}")
    if exchange.collection_classes:
        lines.append(f"Classes: {', '.join(exchange.collection_classes)}")
    if exchange.sync_keys:
        lines.append(f"Sync keys: {', '.join(exchange.sync_keys)}")
    if exchange.request_headers:
        lines.append("Request headers:")
        lines += _header_lines(exchange.request_headers)
    lines += _body_lines("Request body", exchange.request_body, plain=plain)
    if exchange.response_headers:
        lines.append("Response headers:")
        lines += _header_lines(exchange.response_headers)
    lines += _body_lines("Response body", exchange.response_body, plain=plain)
    if exchange.problems:
        lines.append(f"Problems ({len(exchange.problems)}):")
        for problem in exchange.problems:
            where = problem.where
            if problem.offset is not None:
                where += f" at offset 0x{problem.offset:X} ({problem.offset})"
            lines.append(f"{INDENT}{problem.severity}: {where}: {problem.reason}")
    return "\n".join(lines) + "\n"

