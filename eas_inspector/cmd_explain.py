"""The `explain` subcommand: every EAS exchange of a .mitm file or a capture, decoded and explained as text."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from eas.exchange import DecodedBody, Exchange, HeaderNote, analyze
from eas.verdicts import judge

PROG = "eas-inspector"
SQLITE_MAGIC = b"SQLite format 3\x00"
INDENT = "    "


class ExplainError(Exception):
    """A file that cannot be read as a flow file or a capture; reported as one line on standard error."""


def run(args: argparse.Namespace) -> int:
    """Print every EAS exchange of `args.file`; exit status 1 (one line on stderr) when the file cannot be read."""
    path = Path(args.file)
    out = sys.stdout
    shown = 0
    try:
        for number, exchange, transport_error in _exchanges(path, annotate=not args.plain):
            if shown:
                out.write("\n")
            out.write(format_exchange(exchange, number=number, plain=args.plain, transport_error=transport_error))
            shown += 1
    except ExplainError as err:
        out.flush()
        message = str(err)
        where = "" if message.startswith(str(path)) else f"{path}: "
        print(f"{PROG}: {where}{message}", file=sys.stderr)
        return 1
    if not shown:
        print(f"{PROG}: {path}: no ActiveSync or Autodiscover exchange in this file", file=sys.stderr)
    return 0


def _exchanges(path: Path, *, annotate: bool) -> Iterator[tuple[int, Exchange, str | None]]:
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise ExplainError(err.strerror or str(err)) from err
    if magic == SQLITE_MAGIC:
        yield from _capture_exchanges(path, annotate=annotate)
    else:
        yield from _mitm_exchanges(path, annotate=annotate)


def _pairs(headers: Any) -> list[tuple[str, str]]:
    return [(str(name), str(value)) for name, value in headers.items(multi=True)]


def _mitm_exchanges(path: Path, *, annotate: bool) -> Iterator[tuple[int, Exchange, str | None]]:
    from mitmproxy import http, io
    from mitmproxy.exceptions import FlowReadException

    try:
        with path.open("rb") as handle:
            reader = io.FlowReader(handle)
            for number, flow in enumerate(reader.stream(), start=1):
                if not isinstance(flow, http.HTTPFlow):
                    continue
                exchange = _mitm_exchange(flow, annotate=annotate)
                if exchange.is_eas or exchange.is_autodiscover:
                    yield number, exchange, flow.error.msg if flow.error is not None else None
    except FlowReadException as err:
        raise ExplainError(f"not a readable mitmproxy flow file ({err})") from err
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


def _capture_exchanges(path: Path, *, annotate: bool) -> Iterator[tuple[int, Exchange, str | None]]:
    from capture.model import CaptureError
    from capture.reader import CaptureReader

    try:
        reader = CaptureReader(path)
    except CaptureError as err:
        raise ExplainError(str(err)) from err
    try:
        rows = reader.flows(limit=None)
        for row in rows:
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
    lines = [f"{heading}{exchange.method} {exchange.url}", exchange.summary()]
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

