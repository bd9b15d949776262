"""z-push and grommunio-sync debug logs: one flow per request (process id), bodies from the base64 WBXML lines."""

# Theory of operation
# -------------------
# Both servers write one line per message: `DD/MM/YYYY HH:MM:SS [  pid] [LEVEL] [user] [devid] message` (z-push
# `lib/log/filelog.php` BuildLogString, grommunio-sync the same; the user and device parts depend on the log
# level; syslog drops the time). Requests of different processes interleave, so lines are gathered per process
# id; a request runs from `-------- Start` to `-------- End` of its process. The lines that make the flow:
#   the start line   `cmd='Sync' devType='iPhone' devId='...' getUser='...' from='...' version='...' method='POST'`
#                    (older releases: `Version='...' method='...' from='...' cmd='...' getUser='...' devId='...'`)
#   `Request::ProcessHeaders() ASVersion: 14.1`            the protocol version
#   `WBXML-IN : <base64>`       the request body, at most the first 4 KB (RequestProcessor::HandleRequest)
#   `WBXML 10K debug data: <base64>`  the first 10 KB of a request that failed to decode (logged as FATAL)
#   `WBXML-OUT: <base64>`       the response body, at most 512 KB ("more than 512K of data" above that)
#   the end line     `... httpcode='200'` (index.php), or `-------- End - max mem: ... - code: 200`, or
#                    `... HTTP responde code: 200` (older releases)
#   `Exception: (Class) - message`   what went wrong
# At LOGLEVEL_INFO only the end line is written: it alone makes a flow (command, user, device, status).
# A body the log cut short (4 KB / 10 KB limits, a base64 line damaged) is kept as far as it goes, marked
# `truncated`, and the analysis decodes it as far as it goes. Headers the log does not show are not invented,
# except what it states: MS-ASProtocolVersion, User-Agent, and the Content-Type of a logged body that is WBXML
# or a multipart answer (other bodies, a SendMail MIME message or a GetAttachment file, get none). So every flow
# says it lacks the request's and the response's headers: X-MS-PolicyKey, X-MS-Location, Retry-After and
# MS-ASProtocolVersions are never in the log, and the rules that read them say they could not check.
# The server's host name is never in the log: flows get the host `eas-server.invalid` and say so.

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final
from urllib.parse import quote

from eas.bodies import looks_like_wbxml
from eas.errors import EasError
from eas.multipart import MULTIPART_CONTENT_TYPE, parse_multipart

from . import evidence
from .evidence import ImportedEntry, ImportIssue, ResponseHead

FORM: Final = "zpush-log"
UNKNOWN_HOST: Final = "eas-server.invalid"
EAS_PATH: Final = "/Microsoft-Server-ActiveSync"
REQUEST_LOG_LIMIT: Final = 4096  # WBXML-IN: Request::GetInputAsBase64(4096)
ERROR_LOG_LIMIT: Final = 10240  # "WBXML 10K debug data": Request::GetInputAsBase64(10240)
# Requests whose answer is its headers alone (MS-ASHTTP 2.2.3 and 4.2: OPTIONS answers with the supported versions
# and commands in headers): no WBXML-OUT line is expected, so none is missing.
HEADERS_ONLY_METHODS: Final = frozenset({"OPTIONS"})

_PREFIX = re.compile(rb"\[\s*(\d+)\] \[\s*([A-Z]+)\] ")
_TIME = re.compile(rb"(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})")
_FIELD = re.compile(r"\b(cmd|Cmd|devType|devId|getUser|from|version|Version|method|httpcode)='([^']*)'")
_END_CODE = re.compile(r"(?:- code: |HTTP responde? code: |httpcode=')(\d{3})")
_TRUNCATED_SUFFIX = re.compile(rb" <log message with \d+ bytes truncated>$")
# The body lines: marker, which body, the log's limit on it (None: the whole body).
_BODY_MARKERS: Final = (
    (b"WBXML-IN : ", "in", REQUEST_LOG_LIMIT),
    (b"WBXML 10K debug data: ", "debug", ERROR_LOG_LIMIT),
    (b"WBXML-OUT: ", "out", None),
)
_INTERESTING: Final = (b"WBXML", b"--------", b"cmd='", b"Cmd='", b"ASVersion", b"code", b"Exception", b"User-agent")


@dataclass
class _Request:
    number: int
    pid: int
    line: int
    started: bool
    fields: dict[str, str] = field(default_factory=dict)
    protocol_version: str | None = None
    user_agent: str | None = None
    bodies: dict[str, bytes] = field(default_factory=dict)  # "in", "debug", "out" -> the logged bytes
    truncated: set[str] = field(default_factory=set)  # bodies the log cut short or damaged
    out_note: str | None = None
    status: int | None = None
    exception: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    ended: bool = False
    issues: list[ImportIssue] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"request {self.number} (line {self.line}, process {self.pid})"


def _time(line: bytes) -> float | None:
    match = _TIME.match(line)
    if not match:
        return None
    day, month, year, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _base64(payload: bytes, request: _Request, kind: str, line: int) -> bytes:
    """The bytes of a logged base64 body, as far as they decode; a damaged line is reported and marked."""
    text = payload.strip()
    cut = _TRUNCATED_SUFFIX.search(text)
    if cut:
        text = text[: cut.start()]
        request.truncated.add(kind)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        good = re.match(rb"[A-Za-z0-9+/]*", text)
        usable = good[0] if good else b""
        usable = usable[: len(usable) - len(usable) % 4]
        request.issues.append(
            ImportIssue(request.where, f"line {line}: the base64 body is damaged at character {len(usable) + 1}; "
                        f"kept the {len(usable) * 3 // 4:,} bytes before it", kept=True)
        )
        request.truncated.add(kind)
        return base64.b64decode(usable)


def read(source: BinaryIO, name: str) -> Iterator[ImportedEntry]:
    """Every request of the log: (request number, flow), and the issues met (each naming its line)."""
    open_requests: dict[int, _Request] = {}
    count = 0
    saw_prefix = False
    for number, line in evidence.read_lines(source):
        if not any(marker in line for marker in _INTERESTING):
            continue
        prefix = _PREFIX.search(line)
        if not prefix:
            continue
        saw_prefix = True
        pid = int(prefix[1])
        message = line[prefix.end() :]
        request = open_requests.get(pid)
        if b"-------- Start" in message or (request is None and _starts_request(message)):
            if request is not None:
                yield from _finish(request, name)
            count += 1
            request = open_requests[pid] = _Request(count, pid, number, started=True, start_time=_time(line))
        if request is None:
            # A body line, or the end line alone (LOGLEVEL_INFO logs no start line): a request seen in part.
            if not any(marker in message for marker, _, _ in _BODY_MARKERS) and not _ends_request(message):
                continue
            count += 1
            request = open_requests[pid] = _Request(count, pid, number, started=_ends_request(message),
                                                    start_time=_time(line))
        _take(request, message, number, line)
        if request.ended:
            del open_requests[pid]
            yield from _finish(request, name)
    for request in sorted(open_requests.values(), key=lambda pending: pending.number):
        request.issues.append(ImportIssue(request.where, "the log ends before this request's end line", kept=True))
        yield from _finish(request, name)
    if not saw_prefix:
        yield ImportIssue("line 1", "no z-push / grommunio-sync log lines ('[pid] [LEVEL]') found", stopped=True)


def _ends_request(message: bytes) -> bool:
    """The end line: index.php's summary (`memory='...' ... httpcode='200'`) or the older `-------- End - ...`."""
    return b"memory='" in message or b"httpcode='" in message or b"-------- End - " in message


def _starts_request(message: bytes) -> bool:
    return (b"cmd='" in message or b"Cmd='" in message) and b"memory='" not in message


def _take(request: _Request, message: bytes, number: int, line: bytes) -> None:
    for marker, kind, limit in _BODY_MARKERS:
        at = message.find(marker)
        if at >= 0:
            payload = message[at + len(marker) :]
            if re.fullmatch(rb"\s*[A-Za-z0-9]+(?: [A-Za-z0-9]+)+\s*", payload):
                request.out_note = payload.decode("utf-8", "replace").strip()  # "more than 512K of data"
                return
            body = _base64(payload, request, kind, number)
            if limit is not None and len(body) >= limit:
                request.truncated.add(kind)
            request.bodies[kind] = body
            return
    text = message.decode("utf-8", "replace")
    if "memory='" in text or "httpcode='" in text or "-------- End - " in text or "responde code" in text:
        code = _END_CODE.search(text)
        if code:
            request.status = int(code[1])
        request.end_time = _time(line)
        request.fields.update({key: value for key, value in _FIELD.findall(text) if key != "httpcode"})
        request.ended = True  # the `-------- End` that may follow opens nothing
        return
    if "-------- End" in text:
        request.ended = True
        request.end_time = request.end_time or _time(line)
        return
    if "cmd='" in text or "Cmd='" in text:
        request.fields.update(dict(_FIELD.findall(text)))
        return
    version = re.search(r"ASVersion: ([\d.]+)", text)
    if version:
        request.protocol_version = version[1]
        return
    agent = re.search(r"User-agent: '([^']*)'", text)
    if agent:
        request.user_agent = agent[1]
        return
    exception = re.search(r"Exception: \(([^)]*)\) - (.*)", text) or re.search(r"(\w*Exception): (.*)", text)
    if exception and request.exception is None:
        request.exception = f"{exception[1]}: {exception[2]}"[:300]


def _content_type(body: bytes) -> tuple[tuple[str, str], ...]:
    """The Content-Type a logged body had, when its bytes say: WBXML or an MS-ASCMD multipart answer."""
    if not body:
        return ()
    try:
        parts = parse_multipart(body)  # first: a part count of 1-3 also starts like a WBXML version byte
    except EasError:
        parts = []
    if parts and looks_like_wbxml(parts[0]):
        return (("Content-Type", MULTIPART_CONTENT_TYPE),)
    if looks_like_wbxml(body):
        return (("Content-Type", evidence.EAS_CONTENT_TYPE),)
    return ()


def _query(fields: dict[str, str]) -> str:
    names = (("Cmd", fields.get("cmd") or fields.get("Cmd")), ("User", fields.get("getUser")),
             ("DeviceId", fields.get("devId")), ("DeviceType", fields.get("devType")))
    parts = [f"{key}={quote(value, safe='@')}" for key, value in names if value]
    return f"?{'&'.join(parts)}" if parts else ""


def _finish(request: _Request, name: str) -> Iterator[ImportedEntry]:
    yield from request.issues
    missing = [evidence.HOST, evidence.REQUEST_HEADERS]
    truncated: list[str] = []
    notes: list[str] = []
    if not request.started:
        notes.append("the log starts inside this request: its command line is not in it")
    request_kind = "debug" if len(request.bodies.get("debug", b"")) > len(request.bodies.get("in", b"")) else "in"
    request_body = request.bodies.get(request_kind, b"")
    if request_kind in request.truncated:
        truncated.append("request_body")
    method = (request.fields.get("method") or "POST").upper()
    if not request_body and method == "POST" and (request.fields.get("cmd") or request.fields.get("Cmd")):
        missing.append(evidence.REQUEST_BODY)
    response_body = request.bodies.get("out", b"")
    if "out" in request.truncated:
        truncated.append("response_body")
    if request.out_note:
        missing.append(evidence.RESPONSE_BODY)
        notes.append(f"WBXML-OUT: {request.out_note}")
    elif not request.bodies and request.status is not None and method not in HEADERS_ONLY_METHODS:
        missing.append(evidence.RESPONSE_BODY)  # no WBXML line at all: the log level does not show bodies
    headers: list[tuple[str, str]] = []
    if request.protocol_version:
        headers.append(("MS-ASProtocolVersion", request.protocol_version))
    if request.user_agent:
        headers.append(("User-Agent", request.user_agent))
    headers.extend(_content_type(request_body))
    response: ResponseHead | None = None
    if request.status is not None or "out" in request.bodies:
        response_headers = _content_type(response_body)
        response = ResponseHead("HTTP/1.1", request.status, "", response_headers)
        missing.append(evidence.RESPONSE_HEADERS)
        if request.status is None:
            missing.append(evidence.RESPONSE_STATUS)
    else:
        missing.append(evidence.RESPONSE)
    stamps: dict[str, float] = {}
    if request.start_time is not None:
        stamps["request_start"] = request.start_time
    if request.end_time is not None and response is not None:
        stamps["response_end"] = request.end_time
    if not stamps:
        missing.append(evidence.TIMESTAMPS)
    target = evidence.Target("https", UNKNOWN_HOST, 443, EAS_PATH + _query(request.fields), "")
    details: dict[str, Any] = {
        "process": request.pid,
        "line": request.line,
        "client_address": request.fields.get("from"),
        "server_version": request.fields.get("version") or request.fields.get("Version"),
        "exception": request.exception,
    }
    error = request.exception if response is None else None
    yield request.number, evidence.make_flow(
        method=method,
        target=target,
        http_version="HTTP/1.1",
        request_headers=tuple(headers),
        request_body=request_body,
        timestamps=stamps,
        extra=evidence.provenance(FORM, name, request.number, missing=missing, truncated=truncated, notes=notes,
                                  headers_from_log=[header_name for header_name, _ in headers], **details),
        response=response,
        response_body=response_body,
        error=error or (None if response else "the log shows no response for this request"),
    )
