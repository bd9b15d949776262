"""Fiddler session archives (.saz): a zip with raw/NN_c.txt, raw/NN_s.txt and raw/NN_m.xml per session."""

# Theory of operation
# -------------------
# A .saz file is a zip archive; each session NN is `raw/NN_c.txt` (the request as it went over the wire: request
# line, headers, body), `raw/NN_s.txt` (the response, the same way) and `raw/NN_m.xml` (`<Session>` with
# `<SessionTimers ClientBeginRequest="..." .../>` and `<SessionFlags><SessionFlag N="x-clientip" V="..."/>`).
# NN may be zero-padded; sessions are read in the order of their number. An intact archive is read through its
# central directory, one member at a time. An archive without one (cut short while copying or uploading) is read
# by walking its local file headers from the start: every session before the cut is kept, and the first one
# the cut damages is reported.

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

from lxml import etree

from capture.model import FlowInput, Headers

from . import evidence
from .evidence import HeadError, ImportedEntry, ImportIssue, SkippedEntry

FORM: Final = "saz"
_MEMBER = re.compile(r"^raw[/\\](\d+)_([csm])\.(?:txt|xml)$", re.IGNORECASE)
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # APPNOTE.TXT 4.3.7: local file header
_LOCAL_SIGNATURE: Final = b"PK\x03\x04"
_READ_SIZE: Final = 1 << 16
# Fiddler's session timers (SessionTimers attributes) and the flow timestamps they are.
_TIMERS: Final = (
    ("ClientConnected", "client_conn_start"),
    ("ClientBeginRequest", "request_start"),
    ("ClientDoneRequest", "request_end"),
    ("ServerConnected", "server_conn_start"),
    ("ServerBeginResponse", "response_start"),
    ("ServerDoneResponse", "response_end"),
)
# Session flags worth keeping with the flow (Fiddler's names).
_KEPT_FLAGS: Final = ("x-clientip", "x-clientport", "x-hostip", "x-egressport", "x-processinfo", "ui-comments")


class SazError(ValueError):
    """An archive member that cannot be read."""


@dataclass
class _Session:
    number: int
    parts: dict[str, bytes] = field(default_factory=dict)


def read(source: BinaryIO, name: str) -> Iterator[ImportedEntry]:
    """Every session of a .saz archive: (session number, flow), CONNECT tunnels skipped, damaged sessions named."""
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        source.seek(0)
        yield from _read_local_headers(source, name)
        return
    with archive:
        numbers: dict[int, dict[str, zipfile.ZipInfo]] = {}
        for info in archive.infolist():
            match = _MEMBER.match(info.filename)
            if match:
                numbers.setdefault(int(match[1]), {})[match[2].lower()] = info
        if not numbers:
            yield ImportIssue("archive", "no raw/NN_c.txt members: not a Fiddler session archive", stopped=True)
            return
        for number in sorted(numbers):
            session = _Session(number)
            problem = None
            for part, info in numbers[number].items():
                try:
                    with archive.open(info) as member:
                        session.parts[part] = member.read()
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as err:
                    problem = f"{info.filename} cannot be read: {err}"
            if problem:
                yield ImportIssue(f"session {number}", problem, kept="c" in session.parts)
                if "c" not in session.parts:
                    continue
            yield _session_entry(session, name)


def _read_local_headers(source: BinaryIO, name: str) -> Iterator[ImportedEntry]:
    """Sessions from the local file headers, for an archive whose central directory is missing."""
    pending: dict[int, _Session] = {}
    members = _local_members(source)
    while True:
        try:
            member = next(members)
        except StopIteration:
            break
        except SazError as err:
            damaged = min(pending) if pending else None
            where = f"session {damaged}" if damaged is not None else "archive"
            yield ImportIssue(where, f"{err}; the archive has no central directory (cut short?)", stopped=True)
            for number in sorted(pending):
                if number != damaged and "c" in pending[number].parts:
                    yield _session_entry(pending[number], name)
            return
        filename, data = member
        match = _MEMBER.match(filename)
        if not match:
            continue
        number, part = int(match[1]), match[2].lower()
        session = pending.setdefault(number, _Session(number))
        session.parts[part] = data
        for ready in sorted(pending):
            if {"c", "s", "m"} <= pending[ready].parts.keys():
                yield _session_entry(pending.pop(ready), name)
    if not pending:
        yield ImportIssue("archive", "no Fiddler sessions found: not a session archive (or cut before the first)",
                          stopped=True)
        return
    for number in sorted(pending):
        if "c" in pending[number].parts:
            yield _session_entry(pending[number], name)


def _local_members(source: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """(name, data) of each member, walking local file headers (APPNOTE.TXT 4.3.7) from the start.

    Raises:
        SazError: a member is cut short, encrypted or of an unknown compression.
    """
    buffer = bytearray()
    offset = 0

    def need(count: int) -> bool:
        while len(buffer) < count:
            data = source.read(max(_READ_SIZE, count - len(buffer)))
            if not data:
                return False
            buffer.extend(data)
        return True

    while need(4) and buffer[:4] == _LOCAL_SIGNATURE:
        if not need(_LOCAL_HEADER.size):
            raise SazError(f"a zip member header at byte {offset:,} is cut short")
        (_, _, flags, method, _, _, _, compressed_size, _, name_length, extra_length) = _LOCAL_HEADER.unpack_from(
            buffer
        )
        header_size = _LOCAL_HEADER.size + name_length + extra_length
        if not need(header_size):
            raise SazError(f"a zip member header at byte {offset:,} is cut short")
        filename = bytes(buffer[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_length]).decode("utf-8", "replace")
        del buffer[:header_size]
        offset += header_size
        if flags & 0x1:
            raise SazError(f"{filename} is encrypted (a password-protected archive)")
        if method == 8 and flags & 0x8:
            inflater = zlib.decompressobj(-15)
            pieces: list[bytes] = []
            while not inflater.eof:
                if not buffer and not need(1):
                    raise SazError(f"{filename} is cut short")
                try:
                    pieces.append(inflater.decompress(bytes(buffer)))
                except zlib.error as err:
                    raise SazError(f"{filename} is damaged: {err}") from err
                consumed = len(buffer) - len(inflater.unused_data)
                del buffer[:consumed]
                offset += consumed
            descriptor = 16 if need(4) and buffer[:4] == b"PK\x07\x08" else 12
            if not need(descriptor):
                raise SazError(f"{filename} is cut short")
            del buffer[:descriptor]
            offset += descriptor
            yield filename, b"".join(pieces)
            continue
        if flags & 0x8 or compressed_size == 0xFFFFFFFF:
            raise SazError(f"{filename} gives no size in its header; cannot walk past it")
        if not need(compressed_size):
            raise SazError(f"{filename} is cut short")
        data = bytes(buffer[:compressed_size])
        del buffer[:compressed_size]
        offset += compressed_size
        if method == 8:
            try:
                data = zlib.decompress(data, -15)
            except zlib.error as err:
                raise SazError(f"{filename} is damaged: {err}") from err
        elif method != 0:
            raise SazError(f"{filename} uses zip compression method {method}, which is not read here")
        yield filename, data


def _split_message(raw: bytes) -> tuple[list[str], bytes]:
    """The head lines and the body of a raw HTTP message."""
    end = raw.find(b"\r\n\r\n")
    separator = 4
    if end < 0:
        end, separator = raw.find(b"\n\n"), 2
    if end < 0:
        return evidence.text(raw).splitlines(), b""
    return evidence.text(raw[:end]).splitlines(), raw[end + separator :]


def _message_body(body: bytes, headers: Headers, where: str, notes: list[str], truncated: list[str]) -> bytes:
    if "chunked" in (evidence.header(headers, "Transfer-Encoding") or "").lower():
        payload = evidence.dechunk(body)
        if payload is None:
            notes.append(f"the {where} body is not a complete chunked body: kept as recorded")
            truncated.append(f"{where}_body")
            return body
        return payload
    length = evidence.header(headers, "Content-Length")
    if length and length.strip().isdigit() and len(body) < int(length):
        truncated.append(f"{where}_body")
    return body


def _metadata(raw: bytes | None) -> tuple[dict[str, float], dict[str, str]]:
    if not raw:
        return {}, {}
    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        return {}, {}
    stamps: dict[str, float] = {}
    timers = root.find("SessionTimers")
    if timers is not None:
        for attribute, stamp_name in _TIMERS:
            value = evidence.timestamp(timers.get(attribute))
            if value is not None and value > 0:  # Fiddler writes 0001-01-01 for timers that never ran
                stamps[stamp_name] = value
    flags = {
        str(flag.get("N", "")).lower(): str(flag.get("V", ""))
        for flag in root.iter("SessionFlag")
        if str(flag.get("N", "")).lower() in _KEPT_FLAGS
    }
    return stamps, flags


def _session_entry(session: _Session, name: str) -> ImportedEntry:
    try:
        return _session_flow(session, name)
    except HeadError as err:
        return ImportIssue(f"session {session.number}", str(err))


def _session_flow(session: _Session, name: str) -> ImportedEntry:
    number = session.number
    if "c" not in session.parts:
        return ImportIssue(f"session {number}", "no request (raw/NN_c.txt) in the archive")
    head_lines, body = _split_message(session.parts["c"])
    request = evidence.parse_request_head(head_lines)
    if request.method.upper() == "CONNECT":
        return SkippedEntry(number, "CONNECT tunnel")
    missing: list[str] = []
    notes: list[str] = []
    truncated: list[str] = []
    request_body = _message_body(body, request.headers, "request", notes, truncated)
    stamps, flags = _metadata(session.parts.get("m"))
    if not stamps:
        missing.append(evidence.TIMESTAMPS)
    response = None
    response_body: bytes | None = None
    raw_response = session.parts.get("s")
    if raw_response:
        response_lines, body = _split_message(raw_response)
        response = evidence.parse_response_head(response_lines)
        response_body = _message_body(body, response.headers, "response", notes, truncated)
    else:
        missing.append(evidence.RESPONSE)
    host_ip = flags.get("x-hostip")
    target = evidence.request_target(request.target, request.headers, "http")
    details: dict[str, Any] = {"fiddler_flags": flags}
    return number, _flow(request, target, request_body, stamps, response, response_body, host_ip,
                         evidence.provenance(FORM, name, number, missing=missing, notes=notes, truncated=truncated,
                                             **details))


def _flow(
    request: evidence.RequestHead,
    target: evidence.Target,
    request_body: bytes,
    stamps: dict[str, float],
    response: evidence.ResponseHead | None,
    response_body: bytes | None,
    host_ip: str | None,
    extra: dict[str, Any],
) -> FlowInput:
    server_address = None
    if host_ip:
        server_address = f"[{host_ip}]:{target.port}" if ":" in host_ip else f"{host_ip}:{target.port}"
    return evidence.make_flow(
        method=request.method,
        target=target,
        http_version=request.http_version,
        request_headers=request.headers,
        request_body=request_body,
        timestamps=stamps,
        extra=extra,
        response=response,
        response_body=response_body,
        error=None if response else "the archive has no response for this session",
        server_address=server_address,
    )
