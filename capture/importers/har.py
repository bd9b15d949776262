"""HAR 1.2 (browsers, Charles, Fiddler, mitmproxy's export) read entry by entry, one entry in memory at a time."""

# Theory of operation
# -------------------
# A HAR file is one JSON document, `{"log": {"version", "creator", "pages", "entries": [...], ...}}`
# (HAR 1.2, http://www.softwareishard.com/blog/har-12-spec/). Files of hundreds of megabytes are common, so the
# document is never parsed whole: `_JsonStream` walks the outer objects itself and hands each value (an entry,
# or a key's value it skips) to the stdlib decoder's `raw_decode`, refilling its buffer while the value is
# incomplete. Memory is bounded by the largest entry. The stream is decoded with surrogate escapes, so a file
# that is not UTF-8 still imports (bytes kept as they are) and says where it stopped being UTF-8.
#
# Bodies: `content.text` / `postData.text` with `"encoding": "base64"` are bytes; without it they are text,
# written back with the charset the exporter decoded them with (the Content-Type's charset; UTF-8 for the
# textual types; otherwise ISO-8859-1, the fallback mitmproxy's exporter uses, which gives WBXML back byte for
# byte). HAR bodies are stored after removing Content-Encoding, so that header is left out of the stored flow
# (and said in `notes`), else the analysis would try to decompress a body that is not compressed.

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, Final

from capture.model import FlowInput, Headers

from . import evidence
from .evidence import ImportedEntry, ImportIssue, ResponseHead, SkippedEntry

FORM: Final = "har"
FIRST_READ: Final = 1 << 20
_WHITESPACE: Final = " \t\r\n"
_SURROGATE_ESCAPES = re.compile("[\udc80-\udcff]")
_TEXT_TYPES: Final = ("json", "html", "xml", "javascript", "ecmascript", "text/")
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


class HarError(ValueError):
    """The JSON structure ends or breaks; the message says where."""


class _JsonStream:
    """JSON values read one at a time from a binary stream, the buffer holding about one value."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        head = source.read(4)
        encoding = "utf-8"
        if head.startswith(codecs.BOM_UTF8):
            head = head[3:]
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        self._decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
        self._json = json.JSONDecoder()
        self._buffer = self._decoder.decode(head)
        self._position = 0
        self._line = 1  # line number of the buffer's start
        self._dropped = 0
        self._eof = False
        self._read_size = FIRST_READ
        self.not_utf8_at: int | None = None  # character offset of the first byte that was not UTF-8

    def offset(self) -> int:
        """Characters read before the current position."""
        return self._dropped + self._position

    def where(self) -> str:
        """`line L, column C` of the current position."""
        before = self._buffer[: self._position]
        line = self._line + before.count("\n")
        column = self._position - (before.rfind("\n") + 1) + 1
        return f"line {line}, column {column}"

    def _fill(self, at_least: int = 0) -> bool:
        if self._eof:
            return False
        data = self._source.read(max(self._read_size, at_least))
        if not data:
            self._eof = True
            self._buffer += self._decoder.decode(b"", final=True)
            return False
        chunk = self._decoder.decode(data)
        if self.not_utf8_at is None:
            found = _SURROGATE_ESCAPES.search(chunk)
            if found:
                self.not_utf8_at = self._dropped + len(self._buffer) + found.start()
        self._compact()
        self._buffer += chunk
        return True

    def _compact(self) -> None:
        if self._position > (1 << 16):
            dropped = self._buffer[: self._position]
            self._line += dropped.count("\n")
            self._dropped += self._position
            self._buffer = self._buffer[self._position :]
            self._position = 0

    def _skip_whitespace(self) -> str | None:
        while True:
            buffer, position = self._buffer, self._position
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            self._position = position
            if position < len(buffer):
                return buffer[position]
            if not self._fill():
                return None

    def expect(self, character: str, what: str) -> None:
        found = self._skip_whitespace()
        if found != character:
            shown = "the end of the file" if found is None else repr(found)
            raise HarError(f"{self.where()}: expected {what}, found {shown}")
        self._position += 1

    def next_item(self, closing: str) -> bool:
        """Before an array element or object member: True when one follows, False at `closing`."""
        found = self._skip_whitespace()
        if found == ",":
            self._position += 1
            found = self._skip_whitespace()
        if found == closing:
            self._position += 1
            return False
        if found is None:
            raise HarError(f"{self.where()}: the file ends here (cut short?)")
        return True

    def value(self) -> Any:
        """The next JSON value, read whole."""
        self._skip_whitespace()
        self._read_size = FIRST_READ
        while True:
            try:
                result, end = self._json.raw_decode(self._buffer, self._position)
            except json.JSONDecodeError as err:
                incomplete = err.msg.startswith("Unterminated string") or err.pos >= len(self._buffer) - 32
                if incomplete and self._fill(len(self._buffer)):
                    continue
                if incomplete:
                    raise HarError(f"{self.where()}: the file ends inside this value (cut short?)") from err
                self._position = err.pos
                raise HarError(f"{self.where()}: not valid JSON ({err.msg})") from err
            if end >= len(self._buffer) and self._fill():
                continue  # a number may go on in the next chunk
            self._position = end
            return result

    def key(self) -> str:
        name = self.value()
        if not isinstance(name, str):
            raise HarError(f"{self.where()}: expected a member name")
        self.expect(":", "':'")
        return name


def _entries(stream: _JsonStream) -> Iterator[Any]:
    """The elements of `log.entries`, skipping every other member."""
    stream.expect("{", "a JSON object (a HAR file starts with {)")
    found_log = False
    while stream.next_item("}"):
        if stream.key() != "log":
            stream.value()
            continue
        found_log = True
        stream.expect("{", "the log object")
        while stream.next_item("}"):
            if stream.key() != "entries":
                stream.value()
                continue
            stream.expect("[", "the entries array")
            while stream.next_item("]"):
                yield stream.value()
    if not found_log:
        raise HarError("no \"log\" object: not a HAR file")


def read(source: BinaryIO, name: str) -> Iterator[ImportedEntry]:
    """Every entry of a HAR file: (entry number from 1, flow), or an issue naming the entry and the line."""
    stream = _JsonStream(source)
    number = 0
    reported_encoding = False
    entries = _entries(stream)
    while True:
        try:
            entry = next(entries)
        except StopIteration:
            return
        except HarError as err:
            yield ImportIssue(f"entry {number + 1}", str(err), stopped=True)
            return
        number += 1
        if not reported_encoding and stream.not_utf8_at is not None and stream.not_utf8_at < stream.offset():
            reported_encoding = True
            yield ImportIssue(f"entry {number}", "has bytes that are not UTF-8; they are kept as they are", kept=True)
        yield _flow_or_issue(entry, number, name)


def _flow_or_issue(entry: Any, number: int, name: str) -> ImportedEntry:
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        return ImportIssue(f"entry {number}", "no request object")
    request = entry["request"]
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or "://" not in url:
        return ImportIssue(f"entry {number}", "the request has no method or no absolute URL")
    if method.upper() == "CONNECT":
        return SkippedEntry(number, "CONNECT tunnel")
    return number, _flow(entry, request, number, name)


def _headers(value: Any) -> Headers:
    if not isinstance(value, list):
        return ()
    return tuple(
        (str(item.get("name", "")), str(item.get("value", "")))
        for item in value
        if isinstance(item, dict) and not str(item.get("name", "")).startswith(":")  # HTTP/2 pseudo-headers
    )


def _http_version(value: Any) -> str:
    text = str(value or "").strip().upper()
    if text in ("H2", "HTTP/2", "HTTP/2.0"):
        return "HTTP/2.0"
    if text in ("H3", "HTTP/3", "HTTP/3.0"):
        return "HTTP/3"
    return text if text.startswith("HTTP/") else "HTTP/1.1"


def _body(
    holder: Any, headers: Headers, where: str, notes: list[str]
) -> tuple[bytes | None, Headers]:
    """The body bytes of a postData or content object (None when the HAR leaves them out), and the headers to keep."""
    if not isinstance(holder, dict) or not isinstance(holder.get("text"), str):
        return None, headers
    text: str = holder["text"]
    if str(holder.get("encoding") or holder.get("_encoding") or "").lower() == "base64":
        try:
            body = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            notes.append(f"the {where} body is marked base64 but is not: kept as text")
            body = text.encode("utf-8", "surrogateescape")
    else:
        content_type = str(holder.get("mimeType") or evidence.header(headers, "Content-Type") or "")
        charset = _CHARSET.search(content_type)
        if charset:
            codec = charset[1]
        elif any(kind in content_type.lower() for kind in _TEXT_TYPES):
            codec = "utf-8"
        else:
            codec = "latin-1"
        try:
            body = text.encode(codec, "surrogateescape")
        except (LookupError, UnicodeEncodeError):
            body = text.encode("utf-8", "surrogateescape")
        if "\ufffd" in text and codec != "utf-8":
            notes.append(f"the {where} body was exported as text and lost bytes (U+FFFD in it)")
    coding = evidence.header(headers, "Content-Encoding")
    if coding and coding.strip().lower() not in ("", "identity") and body:
        notes.append(f"the HAR holds the {where} body decoded: its 'Content-Encoding: {coding}' is left out")
        headers = evidence.without_header(headers, "Content-Encoding")
    return body, headers


def _declared_size(holder: Any, *names: str) -> int:
    if not isinstance(holder, dict):
        return 0
    for size_name in names:
        size = holder.get(size_name)
        if isinstance(size, int) and size > 0:
            return size
    return 0


def _timestamps(entry: dict[str, Any], answered: bool) -> dict[str, float]:
    start = evidence.timestamp(entry.get("startedDateTime") if isinstance(entry.get("startedDateTime"), str) else None)
    if start is None:
        return {}
    stamps = {"request_start": start}
    found = entry.get("timings")
    timings: dict[str, Any] = found if isinstance(found, dict) else {}

    def phase(name: str) -> float:
        value = timings.get(name)
        return float(value) / 1000 if isinstance(value, (int, float)) and value > 0 else 0.0

    request_end = start + phase("blocked") + phase("dns") + phase("connect") + phase("send")
    stamps["request_end"] = request_end
    if answered:
        stamps["response_start"] = request_end + phase("wait")
        total = entry.get("time")
        stamps["response_end"] = (
            start + float(total) / 1000
            if isinstance(total, (int, float)) and total >= 0
            else stamps["response_start"] + phase("receive")
        )
    return stamps


def _flow(entry: dict[str, Any], request: dict[str, Any], number: int, name: str) -> FlowInput:
    missing: list[str] = []
    notes: list[str] = []
    url = str(request["url"])
    request_headers = _headers(request.get("headers"))
    if not request_headers:
        missing.append(evidence.REQUEST_HEADERS)
    target = evidence.request_target(url, request_headers, "https")
    request_body, request_headers = _body(request.get("postData"), request_headers, "request", notes)
    if request_body is None:
        if _declared_size(request, "bodySize") or _declared_size(request.get("postData"), "size"):
            missing.append(evidence.REQUEST_BODY)
        request_body = b""

    found = entry.get("response")
    response_value: dict[str, Any] = found if isinstance(found, dict) else {}
    status = response_value.get("status")
    answered = isinstance(status, int) and status > 0
    response: ResponseHead | None = None
    response_body: bytes | None = None
    error: str | None = None
    if answered:
        response_headers = _headers(response_value.get("headers"))
        if not response_headers:
            missing.append(evidence.RESPONSE_HEADERS)
        content = response_value.get("content")
        response_body, response_headers = _body(content, response_headers, "response", notes)
        if response_body is None:
            if _declared_size(content, "size") or _declared_size(response_value, "bodySize"):
                missing.append(evidence.RESPONSE_BODY)
            response_body = b""
        response = ResponseHead(
            _http_version(response_value.get("httpVersion") or request.get("httpVersion")),
            int(status or 0),
            str(response_value.get("statusText") or ""),
            response_headers,
        )
    else:
        missing.append(evidence.RESPONSE)
        reason = response_value.get("_error") or entry.get("_error")
        error = str(reason) if reason else "the HAR entry has no response"
    timestamps = _timestamps(entry, answered)
    if not timestamps:
        missing.append(evidence.TIMESTAMPS)
    server_ip = entry.get("serverIPAddress")
    server_address = None
    if isinstance(server_ip, str) and server_ip:
        server_address = f"[{server_ip}]:{target.port}" if ":" in server_ip else f"{server_ip}:{target.port}"
    return evidence.make_flow(
        method=str(request["method"]),
        target=target,
        http_version=_http_version(request.get("httpVersion")),
        request_headers=request_headers,
        request_body=request_body,
        timestamps=timestamps,
        extra=evidence.provenance(FORM, name, number, missing=missing, notes=notes, comment=entry.get("comment")),
        response=response,
        response_body=response_body,
        error=error,
        server_address=server_address,
    )
