"""Exchange ActiveSync mailbox logs (Get-MobileDeviceStatistics -GetMailboxLog): XML evidence, WBXML rebuilt."""

# Theory of operation
# -------------------
# The log is text: entries `Log Entry: N` framed by lines of dashes; in each, sections `Name :` at the start of a
# line followed by their value on indented lines (RequestTime, ServerName, AssemblyVersion, Identifier,
# RequestHeader (request line and headers), RequestBody (XML), AccessState, AccessStateReason, ResponseHeader
# (status line and headers), ResponseBody (XML), ResponseTime, `_Exception` when there was one). Exchange logs
# the bodies as XML in the namespace style of the older specs (`xmlns="AirSync:"`), and, unless verbose logging
# was on, replaces content by its length: an element with a `bytes="N"` attribute, or a line that is not even
# XML such as `<Body=552 bytes/>`. There is no WBXML in the log.
#
# Each body is stored as WBXML rebuilt by eas.encode from the logged XML when that can be done faithfully: the
# XML parses and every element is known. Hidden content stays hidden: an element with `bytes` becomes an empty
# element, a `<Name=N bytes/>` line is left out, and each is listed in `hidden` with its length; the flow says
# `rebuilt: true`. When the XML cannot be encoded (not well-formed, an unknown element), the logged text itself
# is stored as the body and `body_forms` says "xml". A body the log has no section for is empty when the logged
# head says so (Content-Length: 0, an empty Ping or a GetAttachment request); otherwise it is named missing: a POST
# with no logged body, an answer whose head declares a body (a file, a MIME message, a text error page).
# The file is read line by line; one entry at a time is in memory. Lines that are not UTF-8 are read as
# Windows-1252 (what Windows tools write) and reported; a file with a UTF-16 byte order mark (PowerShell's
# Out-File) is read as UTF-16.

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final

from lxml import etree

import eas
from capture.model import FlowInput, Headers

from . import evidence
from .evidence import HeadError, ImportedEntry, ImportIssue, ResponseHead

FORM: Final = "mailbox-log"
_ENTRY_LINE = re.compile(r"^\s*Log Entry:\s*(\d+)\s*$")
_DASHES = re.compile(r"^\s*-{5,}\s*$")
_SECTION_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) :(?: (.*))?$")
# `<Body=552 bytes/>`: content Exchange replaced by its length on a line that is not XML.
_HIDDEN_LINE = re.compile(r"<([A-Za-z][\w.:-]*)=(\d+) bytes\s*/>")
_BYTES_ATTRIBUTE: Final = "bytes"
# Formats of RequestTime / ResponseTime besides ISO 8601 (the log uses the server's culture).
_TIME_FORMATS: Final = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)
# Sections kept with the flow as they are (the others become the flow itself).
_DETAIL_SECTIONS: Final = {
    "ServerName": "server_name",
    "AssemblyVersion": "assembly_version",
    "Identifier": "identifier",
    "AccessState": "access_state",
    "AccessStateReason": "access_state_reason",
    "WasPending": "was_pending",
    "_Exception": "exception",
}
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


@dataclass
class _Entry:
    number: int
    line: int  # line of `Log Entry: N`
    sections: dict[str, list[str]] = field(default_factory=dict)
    not_utf8_lines: list[int] = field(default_factory=list)


def _text_lines(source: BinaryIO) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, was not UTF-8) of each line; UTF-16 when the file starts with its byte order mark."""
    head = source.read(2)
    source.seek(0)
    if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        wrapper = io.TextIOWrapper(source, encoding="utf-16", errors="replace", newline=None)
        for number, line in enumerate(wrapper, start=1):
            yield number, line.rstrip("\r\n"), False
        wrapper.detach()
        return
    for number, raw in evidence.read_lines(source):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
        try:
            yield number, raw.decode("utf-8"), False
        except UnicodeDecodeError:
            yield number, raw.decode("cp1252", "replace"), True


def read(source: BinaryIO, name: str) -> Iterator[ImportedEntry]:
    """Every log entry: (entry number, flow), or an issue naming the entry and its line."""
    entry: _Entry | None = None
    section: list[str] | None = None
    seen_entries = 0
    last_line = 0
    for number, line, not_utf8 in _text_lines(source):
        last_line = number
        header = _ENTRY_LINE.match(line)
        if header:
            if entry is not None:
                yield from _finish(entry, name, complete=True)
            seen_entries += 1
            entry, section = _Entry(int(header[1]), number), None
            continue
        if entry is None or _DASHES.match(line):
            continue
        if not_utf8:
            entry.not_utf8_lines.append(number)
        match = _SECTION_LINE.match(line)
        if match:
            section = entry.sections.setdefault(match[1], [])
            if match[2] and match[2].strip():
                section.append(match[2])
        elif section is not None:
            section.append(line)
    if entry is not None:
        yield from _finish(entry, name, complete="ResponseTime" in entry.sections or "_Exception" in entry.sections)
    elif seen_entries == 0:
        yield ImportIssue(f"line {last_line}", "no 'Log Entry: N' line: not an Exchange mailbox log", stopped=True)


def _value(lines: list[str] | None) -> str:
    """A section's value: its lines without their common indentation, blank lines around it removed."""
    if not lines:
        return ""
    texts = [line.expandtabs(4) for line in lines]
    while texts and not texts[-1].strip():
        texts.pop()
    while texts and not texts[0].strip():
        texts.pop(0)
    indents = [len(text) - len(text.lstrip()) for text in texts if text.strip()]
    cut = min(indents, default=0)
    return "\n".join(text[cut:] for text in texts)


def _time(value: str) -> float | None:
    text = value.strip()
    stamp = evidence.timestamp(text)
    if stamp is not None:
        return stamp
    for time_format in _TIME_FORMATS:
        try:
            return datetime.strptime(text, time_format).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


@dataclass
class _Body:
    data: bytes
    form: str  # "wbxml" (rebuilt) or "xml" (as logged)
    hidden: list[dict[str, Any]]
    problem: str | None = None


def _declare_known_prefixes(text: str) -> str:
    """Declarations for prefixes the log uses without declaring (`<AirSync:Sync>`) that name a code page."""
    used = set(re.findall(r"</?([A-Za-z][\w.-]*):[A-Za-z]", text))
    declared = set(re.findall(r"xmlns:([A-Za-z][\w.-]*)=", text))
    missing = sorted(prefix for prefix in used - declared if f"{prefix}:" in eas.codepages.PAGE_BY_NAMESPACE)
    if not missing:
        return text
    declarations = "".join(f' xmlns:{prefix}="{prefix}:"' for prefix in missing)
    return re.sub(r"<([A-Za-z][\w.:-]*)", lambda m: f"<{m[1]}{declarations}", text, count=1)


def _body(text: str, where: str) -> _Body:
    """The bytes to store for a logged XML body, with what Exchange hid in it."""
    counts: dict[str, list[int]] = {}
    original = text

    def hide(match: re.Match[str]) -> str:
        tally = counts.setdefault(match[1], [0, 0])
        tally[0] += 1
        tally[1] += int(match[2])
        return ""

    text = _HIDDEN_LINE.sub(hide, text)
    xml = re.sub(r"^\s*<\?xml[^>]*\?>", "", text.strip())
    try:
        root = etree.fromstring(_declare_known_prefixes(xml).encode("utf-8"), _XML_PARSER)
    except etree.XMLSyntaxError as err:
        return _Body(original.encode("utf-8"), "xml", _hidden(counts, where), f"XML is not well-formed: {err}")
    for element in root.iter():
        if isinstance(element.tag, str) and _BYTES_ATTRIBUTE in element.attrib:
            size = str(element.attrib.pop(_BYTES_ATTRIBUTE))
            tally = counts.setdefault(etree.QName(element).localname, [0, 0])
            tally[0] += 1
            tally[1] += int(size) if size.strip().isdigit() else 0
            element.text = None
    try:
        data = eas.encode(root)
    except eas.EasError as err:
        return _Body(original.encode("utf-8"), "xml", _hidden(counts, where), f"not encodable to WBXML: {err}")
    return _Body(data, "wbxml", _hidden(counts, where))


def _hidden(counts: dict[str, list[int]], where: str) -> list[dict[str, Any]]:
    return [
        {"where": where, "element": element, "count": count, "bytes": size}
        for element, (count, size) in sorted(counts.items())
    ]


def _finish(entry: _Entry, name: str, *, complete: bool) -> Iterator[ImportedEntry]:
    where = f"log entry {entry.number} (line {entry.line})"
    if entry.not_utf8_lines:
        lines = ", ".join(str(number) for number in entry.not_utf8_lines[:5])
        yield ImportIssue(where, f"line {lines} not UTF-8, read as Windows-1252", kept=True)
    if not complete:
        yield ImportIssue(where, "the file ends inside this entry; imported what it has", stopped=True, kept=True)
    try:
        flow = _flow(entry, name)
    except HeadError as err:
        yield ImportIssue(where, f"RequestHeader: {err}")
        return
    if isinstance(flow, ImportIssue):
        yield flow
        return
    yield entry.number, flow


def _body_length(headers: Headers) -> int | None:
    """The body length the logged head declares (Content-Length); None when it does not say."""
    value = evidence.header(headers, "Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _body_left_out(headers: Headers) -> bool:
    """A response whose head says it had a body (a length above 0, or chunks) and whose log entry has none:
    Exchange logs XML bodies only, so a file, a MIME message or a text error page is not in the log."""
    length = _body_length(headers)
    return (length is not None and length > 0) or evidence.header(headers, "Transfer-Encoding") is not None


def _flow(entry: _Entry, name: str) -> FlowInput | ImportIssue:
    sections = entry.sections
    where = f"log entry {entry.number} (line {entry.line})"
    if not _value(sections.get("RequestHeader")):
        return ImportIssue(where, "no RequestHeader section: nothing to import")
    request = evidence.parse_request_head(_value(sections["RequestHeader"]).splitlines())
    missing: list[str] = []
    hidden: list[dict[str, Any]] = []
    notes: list[str] = []
    body_forms: dict[str, str] = {}
    rebuilt = False

    def body_of(section: str, where_name: str) -> bytes:
        nonlocal rebuilt
        text = _value(sections.get(section))
        if not text:
            return b""
        body = _body(text, where_name)
        hidden.extend(body.hidden)
        body_forms[where_name] = body.form
        if body.form == "wbxml":
            rebuilt = True
        if body.problem:
            notes.append(f"{where_name.replace('_', ' ')} kept as logged XML: {body.problem}")
        return body.data

    request_body = body_of("RequestBody", "request_body")
    if "RequestBody" not in sections and request.method.upper() == "POST" and _body_length(request.headers) != 0:
        missing.append(evidence.REQUEST_BODY)
    response: ResponseHead | None = None
    response_body: bytes | None = None
    response_text = _value(sections.get("ResponseHeader"))
    if response_text:
        response = evidence.parse_response_head(response_text.splitlines())
    elif "ResponseBody" in sections:
        response = ResponseHead(request.http_version, None, "", ())
        missing += [evidence.RESPONSE_STATUS, evidence.RESPONSE_HEADERS]
    else:
        missing.append(evidence.RESPONSE)
    if response is not None:
        response_body = body_of("ResponseBody", "response_body")
        if "ResponseBody" not in sections and _body_left_out(response.headers):
            missing.append(evidence.RESPONSE_BODY)
        content_type = evidence.header(response.headers, "Content-Type") or ""
        if body_forms.get("response_body") == "wbxml" and evidence.EAS_CONTENT_TYPE not in content_type.lower():
            # The log shows a multipart answer's WBXML part only: stored as what it is.
            notes.append(f"the response was {content_type or 'of no Content-Type'}; the log holds its WBXML only")
            headers = evidence.without_header(response.headers, "Content-Type")
            response = ResponseHead(response.http_version, response.status, response.reason,
                                    (*headers, ("Content-Type", evidence.EAS_CONTENT_TYPE)))
    stamps: dict[str, float] = {}
    started = _time(_value(sections.get("RequestTime")))
    ended = _time(_value(sections.get("ResponseTime")))
    if started is not None:
        stamps["request_start"] = started
    if ended is not None and response is not None:
        stamps["response_end"] = ended
    if not stamps:
        missing.append(evidence.TIMESTAMPS)
    details = {key: _value(sections.get(section)) for section, key in _DETAIL_SECTIONS.items()}
    target = evidence.request_target(request.target, request.headers, "https")
    error = details["exception"].splitlines()[0][:200] if details["exception"] else None
    if response is None and error is None:
        error = "the log has no response for this request"
    return evidence.make_flow(
        method=request.method,
        target=target,
        http_version=request.http_version,
        request_headers=request.headers,
        request_body=request_body,
        timestamps=stamps,
        extra=evidence.provenance(
            FORM, name, entry.number, missing=missing, hidden=hidden, rebuilt=rebuilt, notes=notes,
            body_forms=body_forms, line=entry.line, **details,
        ),
        response=response,
        response_body=response_body,
        error=error,
    )
