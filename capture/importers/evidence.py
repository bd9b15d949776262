"""What an importer yields (flows with their provenance, skipped entries, issues) and the HTTP text they share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final
from urllib.parse import urlsplit

from capture.model import FlowInput, Headers

# What a flow can lack, as named in `extra["missing"]` (the viewer and diagnose say "not in the evidence").
REQUEST_HEADERS: Final = "request_headers"
REQUEST_BODY: Final = "request_body"
RESPONSE: Final = "response"
RESPONSE_STATUS: Final = "response_status"
RESPONSE_HEADERS: Final = "response_headers"
RESPONSE_BODY: Final = "response_body"
TIMESTAMPS: Final = "timestamps"
HOST: Final = "host"

EAS_CONTENT_TYPE: Final = "application/vnd.ms-sync.wbxml"


@dataclass(frozen=True)
class ImportIssue:
    """Something an importer could not read, named by entry or line.

    Attributes:
        stopped: reading ended here; nothing after it was read.
        kept: the entry it names was still imported, with what it has (else that entry is lost).
    """

    where: str
    reason: str
    stopped: bool = False
    kept: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class SkippedEntry:
    """An entry that is not an HTTP exchange (a TCP or DNS flow of a .mitm file, a CONNECT tunnel of a .saz)."""

    entry: int
    kind: str


# One value of an importer's stream: (entry number, flow), a skipped entry, or an issue.
ImportedEntry = tuple[int, FlowInput] | SkippedEntry | ImportIssue


def provenance(
    form: str,
    file: str,
    entry: int,
    *,
    missing: Iterable[str] = (),
    hidden: Sequence[dict[str, Any]] = (),
    rebuilt: bool = False,
    truncated: Iterable[str] = (),
    notes: Iterable[str] = (),
    **details: Any,
) -> dict[str, Any]:
    """The `extra` of an imported flow: where it came from and what it lacks.

    Args:
        missing: parts the evidence does not have (REQUEST_HEADERS, RESPONSE_STATUS, ...).
        hidden: content the source replaced by its length, one {"where", "element", "bytes"} per element.
        rebuilt: the bodies are not the bytes that went over the wire but were made again (XML encoded to WBXML).
        truncated: bodies the source cut short ("request_body", "response_body").
        notes: anything else the reader should know, one sentence each.
        details: form-specific facts kept as they are (a log's server name, Fiddler's client address ...).
    """
    extra: dict[str, Any] = {"origin": {"form": form, "file": file, "entry": entry}, "rebuilt": rebuilt}
    extra["missing"] = sorted(set(missing))
    extra["hidden"] = list(hidden)
    if truncated:
        extra["truncated"] = sorted(set(truncated))
    if notes:
        extra["notes"] = list(notes)
    extra.update({name: value for name, value in details.items() if value not in (None, "", [], {})})
    return extra


def text(data: bytes) -> str:
    """Bytes of an HTTP head as FlowInput keeps them: UTF-8 with surrogate escapes."""
    return data.decode("utf-8", "surrogateescape")


def timestamp(value: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (any fraction, `Z` or an offset; without one, UTC)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# ---------------------------------------------------------------------------------------------------------------
# HTTP/1.1 heads written as text (RFC 9112 section 3 and 4): Fiddler's raw files, Exchange's RequestHeader


@dataclass(frozen=True)
class RequestHead:
    """A request line and its header fields."""

    method: str
    target: str
    http_version: str
    headers: Headers


@dataclass(frozen=True)
class ResponseHead:
    """A status line and its header fields (`status` None: the evidence shows a response but not its status)."""

    http_version: str
    status: int | None
    reason: str
    headers: Headers


_REQUEST_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +(\S+)(?: +(HTTP/\d(?:\.\d)?))?\s*$")
_STATUS_LINE = re.compile(r"^(HTTP/\d(?:\.\d)?) +(\d{3})(?: (.*))?$")


class HeadError(ValueError):
    """A request or status line that is not HTTP."""


def _header_fields(lines: Sequence[str]) -> Headers:
    fields: list[tuple[str, str]] = []
    for line in lines:
        if not line.strip():
            continue
        if line[:1] in (" ", "\t") and fields:  # obsolete line folding (RFC 9112 5.2): part of the previous value
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon:
            fields.append((name.strip(), value.strip()))
    return tuple(fields)


def parse_request_head(lines: Sequence[str]) -> RequestHead:
    """The request line and headers of `lines` (the first non-empty line is the request line).

    Raises:
        HeadError: the first line is not a request line.
    """
    lines = [line for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    match = _REQUEST_LINE.match(lines[0].strip()) if lines else None
    if match is None:
        raise HeadError(f"not a request line: {lines[0].strip()[:80]!r}" if lines else "no request line")
    return RequestHead(match[1], match[2], match[3] or "HTTP/1.1", _header_fields(lines[1:]))


def parse_response_head(lines: Sequence[str]) -> ResponseHead:
    """The status line and headers of `lines` (the first non-empty line is the status line).

    Raises:
        HeadError: the first line is not a status line.
    """
    lines = [line for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    match = _STATUS_LINE.match(lines[0].strip()) if lines else None
    if match is None:
        raise HeadError(f"not a status line: {lines[0].strip()[:80]!r}" if lines else "no status line")
    return ResponseHead(match[1], int(match[2]), match[3] or "", _header_fields(lines[1:]))


def header(headers: Headers | None, name: str) -> str | None:
    """The first value of a header field, by case-insensitive name."""
    wanted = name.lower()
    for field_name, value in headers or ():
        if field_name.lower() == wanted:
            return value
    return None


def without_header(headers: Headers, name: str) -> Headers:
    wanted = name.lower()
    return tuple((field_name, value) for field_name, value in headers if field_name.lower() != wanted)


@dataclass(frozen=True)
class Target:
    """Where a request went: the parts FlowInput keeps."""

    scheme: str
    host: str
    port: int
    path: str
    authority: str


_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def split_host_port(authority: str, default_port: int) -> tuple[str, int]:
    """`host` and port of `host:port` (brackets of an IPv6 literal removed)."""
    host, port = authority, default_port
    if authority.startswith("["):
        closing = authority.find("]")
        host = authority[1:closing] if closing > 0 else authority
        rest = authority[closing + 1 :] if closing > 0 else ""
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif authority.count(":") == 1:
        name, _, number = authority.partition(":")
        if number.isdigit():
            host, port = name, int(number)
    return host, port


def request_target(target: str, headers: Headers, default_scheme: str) -> Target:
    """The scheme, host, port and path of a request line's target (absolute form or origin form with Host)."""
    if "://" in target:
        parts = urlsplit(target)
        scheme = parts.scheme.lower() or default_scheme
        host, port = split_host_port(parts.netloc.rpartition("@")[2], _DEFAULT_PORTS.get(scheme, 443))
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return Target(scheme, host, port, path, "")
    scheme = default_scheme
    host, port = split_host_port(header(headers, "Host") or "", _DEFAULT_PORTS.get(scheme, 443))
    return Target(scheme, host, port, target, "")


# ---------------------------------------------------------------------------------------------------------------
# Bodies


def dechunk(data: bytes) -> bytes | None:
    """The payload of a chunked body (RFC 9112 7.1), or None when it is not one (cut short, malformed)."""
    payload: list[bytes] = []
    position = 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = data[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return None
        position = line_end + 2
        if size == 0:
            return b"".join(payload)
        if position + size + 2 > len(data):
            return None
        payload.append(data[position : position + size])
        position += size + 2


def read_lines(source: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line without its end) of a binary stream, one line in memory at a time."""
    for number, line in enumerate(source, start=1):
        yield number, line.rstrip(b"\r\n")


def make_flow(
    *,
    method: str,
    target: Target,
    http_version: str,
    request_headers: Headers,
    request_body: bytes,
    timestamps: dict[str, float],
    extra: dict[str, Any],
    response: ResponseHead | None = None,
    response_body: bytes | None = None,
    error: str | None = None,
    server_address: str | None = None,
) -> FlowInput:
    """A FlowInput from the parts an importer found (the URL and Host are built from `target`)."""
    return FlowInput(
        method=method,
        scheme=target.scheme,
        target_host=target.host,
        port=target.port,
        path=target.path,
        http_version=http_version,
        request_headers=request_headers,
        request_body=request_body,
        timestamps=timestamps,
        authority=target.authority,
        host=target.host,
        response_http_version=response.http_version if response else None,
        response_status=response.status if response else None,
        response_reason=response.reason if response else None,
        response_headers=response.headers if response else None,
        response_body=response_body if response else None,
        error=error,
        server_address=server_address,
        tls=target.scheme == "https",
        extra=extra,
    )
