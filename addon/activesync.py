"""The mitmproxy addon: recognise EAS and Autodiscover flows, annotate them in flow.metadata, record them."""

from __future__ import annotations

import asyncio
import logging
import collections
import functools
import json
import marshal
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mitmproxy.types
from mitmproxy import command, ctx, exceptions, flow, hooks, http
from mitmproxy.log import ALERT

import eas
from eas.wiretext import shown

logger = logging.getLogger(__name__)

# MS-ASHTTP 2.2.1.1: every EAS command is a request to /Microsoft-Server-ActiveSync; front ends put it
# behind a prefix (SOGo: /SOGo/Microsoft-Server-ActiveSync) and Exchange proxies append /Proxy/...
EAS_PATH = re.compile(r"/microsoft-server-activesync(?:/[^?#]*)?$", re.IGNORECASE)
# MS-OXDSCLI (POX, /autodiscover/autodiscover.xml) and the JSON variant
# (/autodiscover/autodiscover.json?Email=...&Protocol=ActiveSync, /autodiscover/autodiscover.json/v1.0/...).
AUTODISCOVER_PATH = re.compile(r"/autodiscover/autodiscover\.(?:xml|json)(?:/[^?#]*)?$", re.IGNORECASE)

# activesync_annotate: when the full analysis (bodies, statuses, problems) reaches flow.metadata.
ANNOTATE_LIVE = "live"  # after the flow passed (in the traffic's next pause): the flow never waits for the decoder
ANNOTATE_WAIT = "wait"  # before the flow goes on, so later addons (save_stream_file, filters) see it
ANNOTATE_OFF = "off"
ANNOTATE_CHOICES = (ANNOTATE_LIVE, ANNOTATE_WAIT, ANNOTATE_OFF)

# flow.metadata keys; small scalars so `~meta`, mitmweb and .mitm files carry them.
META_KIND = "activesync.kind"  # "eas" | "autodiscover"
META_COMMAND = "activesync.command"
META_USER = "activesync.user"
META_DEVICE = "activesync.device"
META_DEVICE_TYPE = "activesync.device_type"
META_VERSION = "activesync.version"
META_STATUS = "activesync.status"
META_STATUS_MEANING = "activesync.status_meaning"
META_PROBLEMS = "activesync.problems"
META_PROBLEM = "activesync.problem"
META_SUMMARY = "activesync.summary"
META_ERROR = "activesync.error"
ANALYSIS_KEYS = (META_STATUS, META_STATUS_MEANING, META_PROBLEMS, META_PROBLEM)

DEFAULT_CAPTURE_NAME = "eas-%Y%m%d-%H%M%S.sqlite"

# "wait" mode: how long a flow may wait for its analysis before it goes on without it.
WAIT_LIMIT_SECONDS = 10.0

# Finished flows wait this long for others to share their trip to the worker (one write and one wake-up of the
# worker for the lot: on a busy proxy the system calls per flow cost more than the framing), unless they are
# this many bytes already or a flow waits for its analysis ("wait" mode). Well under a second: what a SIGKILL
# of the proxy can lose.
DISPATCH_DELAY_SECONDS = 0.05
DISPATCH_BYTES = 256 * 1024

# The worker's work is background work: where CPUs are short (client, server, proxy and worker on one small
# machine), the proxy's traffic gets the CPU first and the analysis lags during a burst, catching up after it;
# nothing is dropped (`done` waits for every flow). On Linux it runs as SCHED_IDLE (see `lower_priority`);
# elsewhere at this nice value above the proxy's.
WORKER_NICE = 10


def eas_kind(path: str) -> str | None:
    """Classify a request path (query allowed): "eas", "autodiscover", or None for everything else."""
    path_only = path.split("?", 1)[0].split("#", 1)[0]
    if EAS_PATH.search(path_only):
        return "eas"
    if AUTODISCOVER_PATH.search(path_only):
        return "autodiscover"
    return None


def flow_kind(f: flow.Flow) -> str | None:
    """The EAS kind of a flow (see `eas_kind`), None for non-HTTP flows and non-EAS requests."""
    if not isinstance(f, http.HTTPFlow):
        return None
    kind = f.metadata.get(META_KIND)
    if isinstance(kind, str):
        return kind
    return eas_kind(f.request.path)


def header_pairs(headers: http.Headers) -> list[tuple[str, str]]:
    """Headers as (name, value) strings in wire order, repeated names kept."""
    return list(headers.items(multi=True))


def request_metadata(kind: str, method: str, path: str, version: str | None) -> dict[str, Any]:
    """What the request line and the MS-ASProtocolVersion header say (no body decoding: cheap enough for
    every flow, inline; a device repeats the same few request lines, so they are remembered)."""
    key = (kind, method, path, version)
    known = _request_metadata_memo.get(key)
    if known is None:
        if len(_request_metadata_memo) >= REQUEST_METADATA_MEMO_SIZE:
            _request_metadata_memo.clear()
        known = _request_metadata_memo[key] = tuple(_request_metadata(kind, method, path, version).items())
    return dict(known)


# request_metadata's memo: (kind, method, path, version) -> the values as items. Bounded: a client that puts a
# counter in every query would otherwise grow it without end.
REQUEST_METADATA_MEMO_SIZE = 1024
_request_metadata_memo: dict[tuple[str, str, str, str | None], tuple[tuple[str, Any], ...]] = {}


def _request_metadata(kind: str, method: str, path: str, version: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {META_KIND: kind}
    if kind == "autodiscover":
        values[META_COMMAND] = "Autodiscover"
        return values
    query = path.partition("?")[2]
    if query:
        try:
            decoded = eas.decode_query(query)
        except eas.EasError:
            decoded = None
        if decoded is not None:
            values[META_COMMAND] = decoded.command
            values[META_USER] = decoded.user
            values[META_DEVICE] = decoded.device_id
            values[META_DEVICE_TYPE] = decoded.device_type
            version = decoded.protocol_version or version
    elif method.upper() == "OPTIONS":
        values[META_COMMAND] = "Options"
    values[META_VERSION] = version
    return _metadata(values)


def analysis_metadata(kind: str, exchange: eas.Exchange) -> dict[str, Any]:
    """The flow.metadata entries of a full analysis; keys with no value are left out."""
    first = exchange.problems[0] if exchange.problems else None
    values: dict[str, Any] = {
        META_KIND: kind,
        META_COMMAND: exchange.command,
        META_USER: exchange.user,
        META_DEVICE: exchange.device_id,
        META_DEVICE_TYPE: exchange.device_type,
        META_VERSION: exchange.protocol_version,
        META_STATUS: exchange.eas_status,
        META_STATUS_MEANING: exchange.eas_statuses[0].meaning if exchange.eas_statuses else None,
        META_PROBLEMS: len(exchange.problems),
        META_PROBLEM: f"{first.where}: {first.reason}" if first else None,
    }
    return _metadata(values)


def _metadata(values: dict[str, Any]) -> dict[str, Any]:
    """The entries that have a value, text as people see it: bytes that were not UTF-8 as \\xNN (mitmproxy's flow
    files and its UI take only valid Unicode; the capture keeps the exact bytes)."""
    return {
        key: shown(value) if isinstance(value, str) else value for key, value in values.items() if value is not None
    }


def summary_of(values: Any) -> str:
    """One line for flow.comment: command, version, user, device, EAS status and the first problem."""
    words = ["EAS" if values.get(META_KIND) == "eas" else "Autodiscover"]
    if values.get(META_COMMAND) and values.get(META_COMMAND) != "Autodiscover":
        words.append(str(values[META_COMMAND]))
    if values.get(META_VERSION):
        words.append(str(values[META_VERSION]))
    if values.get(META_USER):
        words.append(f"user={values[META_USER]}")
    if values.get(META_DEVICE):
        words.append(f"device={values[META_DEVICE]}")
    if values.get(META_STATUS) is not None:
        meaning = values.get(META_STATUS_MEANING)
        words.append(f"status={values[META_STATUS]}" + (f" ({meaning})" if meaning else ""))
    count = values.get(META_PROBLEMS) or 0
    if count:
        words.append(f"| {count} problem{'s' if count > 1 else ''}: {values.get(META_PROBLEM)}")
    return " ".join(words)


def apply_metadata(f: http.HTTPFlow, values: dict[str, Any], *, complete: bool) -> None:
    """Write metadata values (and the summary comment, unless the user wrote one) into the flow.

    Args:
        complete: the values come from a full analysis, so earlier analysis keys they lack are dropped.
    """
    previous_summary = f.metadata.get(META_SUMMARY)
    if complete:
        for key in ANALYSIS_KEYS:
            f.metadata.pop(key, None)
    f.metadata.update(values)
    summary = summary_of(f.metadata)
    f.metadata[META_SUMMARY] = summary
    if not f.comment or f.comment == previous_summary:
        f.comment = summary


# ---------------------------------------------------------------------------------------------------------------
# The worker process: decoding and the capture writer run there, so they cost mitmproxy's process nothing.
#
# Theory of operation. The proxy's share of each flow is kept to a minimum, because it lengthens every request: a
# finished flow is queued as it is; when the queue goes out, the raw fields of each flow (bytes, numbers, tuples as
# mitmproxy holds them; no decoding, no objects) are marshalled into one frame per flow, all of them in one pass, and
# written into a pipe (so what is recorded is the flow as it stands then, at most DISPATCH_DELAY_SECONDS after its
# response: what the client got, should a later addon change it); the worker rebuilds the store's FlowInput, analyses
# the flow once (for flow.metadata and the capture) and queues it for its capture writer. Frames go out as soon as a
# short delay has gathered a few (one write, one wake-up of the worker for the lot), whatever the worker is doing: a
# flow leaves the proxy's memory within DISPATCH_DELAY_SECONDS, so a SIGKILL of the proxy loses none that the worker
# (in a session of its own, it outlives the proxy and drains the pipe) had not yet taken. Both pipes are enlarged, and
# the worker reads everything waiting before each flow it analyses, so a worker that lags behind holds the backlog,
# not the proxy. The worker answers in batches (the metadata of each flow).
#
# Proxy to worker, each frame: FRAME_HEAD (payload size, kind, serial, fields size, request body size,
# response body size; -1 for no body) + the fields (marshal) + the bodies.
# Worker to proxy: ANSWER_HEAD (payload size) + marshal([(serial, metadata, capture_error, writer_error, error)]);
# serial 0 answers the close frame (capture_error: what closing the capture said).

FRAME_HEAD = struct.Struct("!IBQIqq")
ANSWER_HEAD = struct.Struct("!I")
FRAME_FLOW = 1
FRAME_CLOSE = 2
FLAG_ANALYSE = 1
FLAG_WAITING = 2  # the flow waits for its analysis ("wait" mode): answer as soon as it is done
CLOSE_SERIAL = 0

# Each pipe's buffer (Linux lets any process raise it to /proc/sys/fs/pipe-max-size, 1 MiB by default).
PIPE_BYTES = 1 << 20
# What one read takes from a pipe: a read allocates its whole size (a megabyte each time costs page faults)
READ_BYTES = 64 * 1024
# The worker answers at most this often, and at least this often while it has work (a flow that waits for its
# analysis, "wait" mode, is answered at once).
ANSWER_SECONDS = 0.05
# While traffic flows, the worker holds its analysis back until the frames stop coming for PAUSE_SECONDS (the
# proxy sends them every DISPATCH_DELAY_SECONDS while busy): on a machine short of CPUs the analysis, even at
# idle priority on a CPU of its own, slows whatever else has to run on that CPU (bench_proxy on 2 CPUs: its
# client and origin, and a proxy they push there; its working set evicts theirs), so a burst of requests goes
# through first and is analysed in the pause after it. Never longer than DEFER_LIMIT_SECONDS after a flow
# arrived, nor beyond DEFER_LIMIT_BYTES of frames: under traffic without pauses the worker analyses as it always
# would, that much behind. A flow that waits for its analysis ("wait" mode), the proxy's close and its going
# away end the holding at once.
PAUSE_SECONDS = 0.15
DEFER_LIMIT_SECONDS = 2.0
DEFER_LIMIT_BYTES = 64 << 20

_JSON_SCALARS = (str, int, float, bool)
_PLAIN_SCALARS = frozenset((str, int, float, bool, type(None)))


def _json_scalar(value: Any) -> Any:
    """A JSON scalar as the plain type marshal writes (an enum or other subclass: the value JSON would write)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    return json.loads(json.dumps(value))


def _scalar_metadata(values: dict[Any, Any]) -> dict[Any, Any]:
    """flow.metadata entries a capture keeps (JSON scalars under keys JSON can write), as plain types."""
    plain = _PLAIN_SCALARS
    if all(type(key) is str and type(value) in plain for key, value in values.items()):
        return values  # the usual case (this addon's own entries): nothing to convert or leave out
    return {
        _json_scalar(key): _json_scalar(value)
        for key, value in values.items()
        if (value is None or isinstance(value, _JSON_SCALARS)) and (key is None or isinstance(key, _JSON_SCALARS))
    }


def _connection_fields(conn: Any) -> tuple[Any, ...]:
    return (
        conn.id, conn.peername, conn.sockname, conn.sni, conn.tls, conn.tls_version, conn.alpn, conn.cipher,
        conn.error, conn.timestamp_start, conn.timestamp_tls_setup, conn.timestamp_end,
    )  # fmt: skip


def flow_frame(serial: int, f: http.HTTPFlow, kind: str, flags: int, capture: tuple[Any, ...] | None) -> bytes:
    """One flow as a frame for the worker: its raw fields as mitmproxy holds them, and its bodies as on the wire.

    `capture` is (path, keep_credentials, max_body) when the flow is to be recorded.
    """
    request = f.request.data
    response = f.response
    server = f.server_conn
    error = f.error
    response_fields = None
    response_body = None
    if response is not None:
        data = response.data
        response_fields = (
            data.http_version, data.status_code, data.reason, data.headers.fields,
            None if data.trailers is None else data.trailers.fields, data.timestamp_start, data.timestamp_end,
        )  # fmt: skip
        response_body = data.content
    fields = (
        kind, capture, f.id, f.timestamp_created, f.marked, f.comment, f.is_replay, _scalar_metadata(f.metadata),
        request.host, request.port, request.method, request.scheme, request.authority, request.path,
        request.http_version, request.headers.fields, None if request.trailers is None else request.trailers.fields,
        request.timestamp_start, request.timestamp_end, response_fields,
        None if error is None else (error.msg, error.timestamp),
        _connection_fields(f.client_conn), _connection_fields(server), server.address, server.timestamp_tcp_setup,
        f.client_conn.proxy_mode.full_spec,
    )  # fmt: skip
    packed = marshal.dumps(fields)
    request_body = request.content
    request_size = -1 if request_body is None else len(request_body)
    response_size = -1 if response_body is None else len(response_body)
    size = FRAME_HEAD.size - 4 + len(packed) + max(request_size, 0) + max(response_size, 0)
    head = FRAME_HEAD.pack(size, FRAME_FLOW | flags << 4, serial, len(packed), request_size, response_size)
    return b"".join((head, packed, request_body or b"", response_body or b""))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _header_texts(fields: Sequence[tuple[bytes, bytes]] | None) -> tuple[tuple[str, str], ...] | None:
    if fields is None:
        return None
    return tuple((_text(name), _text(value)) for name, value in fields)


def _address(address: Any) -> list[Any] | None:
    return [str(address[0]), int(address[1])] if address else None


def _connection_state(fields: tuple[Any, ...]) -> dict[str, Any]:
    conn_id, peername, sockname, sni, tls, tls_version, alpn, cipher, error = fields[:9]
    return {
        "id": conn_id, "peername": _address(peername), "sockname": _address(sockname), "sni": sni, "tls": tls,
        "tls_version": tls_version, "alpn": None if alpn is None else _text(alpn), "cipher": cipher, "error": error,
    }  # fmt: skip


def flow_input_from_frame(fields: tuple[Any, ...], request_body: bytes | None, response_body: bytes | None) -> Any:
    """The store's FlowInput of a flow frame: what `addon.convert.flow_input_from_mitm` makes of the flow."""
    from addon.store import FlowInput

    (
        _, _, flow_id, created, marked, comment, is_replay, metadata,
        host, port, method, scheme, authority, path, http_version, headers, trailers, request_start, request_end,
        response, error, client, server, server_address, server_tcp_setup, proxy_mode,
    ) = fields  # fmt: skip
    url, pretty_host = shown_url_and_host(host, port, method, scheme, authority, path, http_version, headers)
    extra: dict[str, Any] = {"mitm_id": flow_id}
    if marked:
        extra["marked"] = marked
    if comment:
        extra["comment"] = comment
    if is_replay:
        extra["is_replay"] = is_replay
    if request_body is None:
        extra["request_body_missing"] = True  # streamed through (stream_large_bodies), never held by mitmproxy
    if metadata:
        extra["metadata"] = metadata
    response_version: Any = None
    reason: Any = None
    status = response_headers = response_trailers = response_start = response_end = None
    if response is not None:
        response_version, status, reason, response_headers, response_trailers, response_start, response_end = response
    timestamps = {
        "flow_created": created,
        "request_start": request_start,
        "request_end": request_end,
        "response_start": response_start,
        "response_end": response_end,
        "error": error[1] if error is not None else None,
        "client_conn_start": client[9],
        "client_conn_tls_setup": client[10],
        "client_conn_end": client[11],
        "server_conn_start": server[9],
        "server_conn_tcp_setup": server_tcp_setup,
        "server_conn_tls_setup": server[10],
        "server_conn_end": server[11],
    }
    return FlowInput(
        method=_text(method),
        scheme=_text(scheme),
        target_host=host,
        port=port,
        path=_text(path),
        http_version=_text(http_version),
        request_headers=_header_texts(headers) or (),
        request_body=request_body or b"",
        timestamps={name: float(value) for name, value in timestamps.items() if value is not None},
        authority=_text(authority),
        url=url,
        host=pretty_host,
        request_trailers=_header_texts(trailers),
        response_http_version=None if response is None else _text(response_version),
        response_status=status,
        response_reason=None if response is None else _text(reason),
        response_headers=_header_texts(response_headers),
        response_body=response_body,
        response_trailers=_header_texts(response_trailers),
        error=error[0] if error is not None else None,
        server_address=_host_port(server_address) if server_address else None,
        tls=bool(server[4] or scheme == b"https"),
        connection={
            "client": _connection_state(client),
            "server": {**_connection_state(server), "address": _address(server_address)},
            "proxy_mode": proxy_mode,
        },
        extra=extra,
    )


def shown_url_and_host(
    host: str, port: int, method: bytes, scheme: bytes, authority: bytes, path: bytes, http_version: bytes,
    headers: Sequence[tuple[bytes, bytes]],
) -> tuple[str, str]:
    """The URL and host as mitmproxy shows them (its Request's pretty_url and pretty_host: Host header, default
    ports); of the headers only Host counts, and a device repeats the same few request lines, so they are
    remembered."""
    host_headers = tuple(value for name, value in headers if name.lower() == b"host")
    return _shown_url_and_host(host, port, method, scheme, authority, path, http_version, host_headers)


@functools.lru_cache(maxsize=REQUEST_METADATA_MEMO_SIZE)
def _shown_url_and_host(
    host: str, port: int, method: bytes, scheme: bytes, authority: bytes, path: bytes, http_version: bytes,
    host_headers: tuple[bytes, ...],
) -> tuple[str, str]:
    headers = tuple((b"Host", value) for value in host_headers)
    request = http.Request(host, port, method, scheme, authority, path, http_version, headers, None, None, 0.0, None)
    return request.pretty_url, request.pretty_host


def _host_port(address: Any) -> str:
    host = str(address[0])
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"


@dataclass(frozen=True)
class QueuedFlow:
    """A flow handed to the worker, until its answer; `waiter` is set when the flow itself waits ("wait" mode)."""

    flow: http.HTTPFlow
    waiter: asyncio.Future[None] | None
    recorded: bool  # the worker records it in the capture

    def release(self) -> None:
        """Let the flow go on if it waits for its analysis (done, or never coming)."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


# A flow handed to the worker whose frame is built when it goes out: serial, flow, kind, flags, capture settings.
QueuedFrame = tuple[int, http.HTTPFlow, str, int, tuple[Any, ...] | None]


class Answers:
    """Splits the worker's answer stream into answers."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        self.buffer += data
        answers: list[tuple[Any, ...]] = []
        start = 0
        buffer = self.buffer
        while len(buffer) - start >= ANSWER_HEAD.size:
            (size,) = ANSWER_HEAD.unpack_from(buffer, start)
            end = start + ANSWER_HEAD.size + size
            if end > len(buffer):
                break
            answers += marshal.loads(bytes(buffer[start + ANSWER_HEAD.size : end]))
            start = end
        del buffer[:start]
        return answers


# -- in the worker process

_worker_writer: Any = None
_worker_settings: tuple[Any, ...] | None = None
# Flows analysed for the capture and not yet handed to its writer: (flow_input, exchange). The writer's thread
# writing while this one analyses costs about 30% more CPU a flow than the two one after the other (the GIL
# handed back and forth, caches shared), so the worker hands them over in batches (`worker_record`).
_worker_unrecorded: list[tuple[Any, Any]] = []
# A backlog is analysed this many flows at a time, each batch then written while the analysis waits.
RECORD_BATCH_FLOWS = 200


def worker_writer(settings: tuple[Any, ...]) -> Any:
    """The worker's capture writer for these settings, (path, keep_credentials, max_body); reopened on a change."""
    global _worker_writer, _worker_settings
    if _worker_writer is not None and _worker_settings == settings:
        return _worker_writer
    worker_close()  # records what the old writer has still to take
    from addon.store import CaptureWriter

    path, keep_credentials, max_body = settings
    _worker_writer = CaptureWriter(path, keep_credentials=keep_credentials, max_body_size=max_body)
    _worker_settings = settings
    return _worker_writer


def worker_run(
    serial: int, flags: int, fields: tuple[Any, ...], request_body: bytes | None, response_body: bytes | None
) -> tuple[Any, ...]:
    """Analyse one flow and queue it for the capture; returns its answer, never raises."""
    from addon.store import analyze_parts

    kind, capture = fields[0], fields[1]
    metadata = error = capture_error = writer_error = None
    exchange = None
    try:
        flow_input = flow_input_from_frame(fields, request_body, response_body)
    except Exception as err:  # a bug; nothing to analyse or record
        return (serial, None, f"{type(err).__name__}: {err}", None, f"{type(err).__name__}: {err}")
    if flags & FLAG_ANALYSE:
        try:
            # The annotated analysis, as the capture stores it (annotated XML for its search index), made once
            # for both the metadata and the capture; without a capture, the cheaper one without annotation.
            exchange = analyze_parts(
                flow_input.method,
                flow_input.url,
                flow_input.request_headers,
                flow_input.request_body,
                flow_input.response_status,
                flow_input.response_headers,
                flow_input.response_body,
                annotate=capture is not None,
                plain_xml=False,
            )
            metadata = analysis_metadata(kind, exchange)
        except Exception as err:
            exchange = None  # the capture's writer analyses the flow itself
            error = f"{type(err).__name__}: {err}"
    if capture is not None:
        try:
            writer = worker_writer(tuple(capture))
            writer.check_open()
            _worker_unrecorded.append((flow_input, exchange))
            last_error = getattr(writer, "last_error", None)
            writer_error = str(last_error) if last_error is not None else None
        except Exception as err:
            capture_error = f"{type(err).__name__}: {err}"
    return (serial, metadata, capture_error, writer_error, error)


def worker_record(*, wait: bool) -> None:
    """Hand the flows analysed so far to the capture writer; with `wait`, return once it has committed them (its
    thread then writes while this one waits). A write that fails stays with the writer, which retries it and
    says why in `last_error` (the next answers carry it)."""
    unrecorded = _worker_unrecorded[:]
    _worker_unrecorded.clear()
    writer = _worker_writer
    if writer is None or not unrecorded:
        return
    try:
        for flow_input, exchange in unrecorded:
            writer.add(flow_input, exchange=exchange)
        if wait:
            writer.flush()
    except Exception as err:  # CaptureError: a write failed (kept and retried), or the writer stopped on a bug
        print(f"eas-inspector worker: capture {writer.path}: {err}", file=sys.stderr)


def worker_close() -> str | None:
    """Record what is analysed, flush and close the worker's capture; returns what went wrong, if anything."""
    global _worker_writer, _worker_settings
    worker_record(wait=False)
    writer, _worker_writer, _worker_settings = _worker_writer, None, None
    if writer is None:
        return None
    try:
        writer.close()
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


class WorkerLoop:
    """The worker's side of the pipes: reads every frame waiting before each flow it analyses (so a backlog
    waits here, not in the proxy), holds its analysis back while traffic flows (see PAUSE_SECONDS), answers in
    batches, and outlives the proxy: when the proxy goes away (EOF, a SIGKILL), it still analyses and records
    every flow it received, then closes the capture."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        os.set_blocking(read_fd, False)
        self.buffer = bytearray()
        # kind, flags, serial, frame, when it arrived (monotonic)
        self.jobs: collections.deque[tuple[int, int, int, bytes, float]] = collections.deque()
        self.jobs_size = 0  # bytes of the frames in `jobs`
        self.urgent = 0  # frames in `jobs` that must not be held back: a flow that waits, the close
        self.arrived_at = 0.0  # monotonic time the last frame arrived
        self.answers: list[tuple[Any, ...]] = []
        self.answered_at = time.monotonic()
        self.eof = False
        self.proxy_gone = False

    def read(self, *, wait: bool, timeout: float | None = None) -> None:
        """Take what the pipe holds (waiting for something, at most `timeout` s, when `wait`), split into frames."""
        if wait:
            select.select([self.read_fd], [], [], timeout)
        while True:
            try:
                data = os.read(self.read_fd, READ_BYTES)
            except BlockingIOError:
                break
            if not data:
                self.eof = True
                break
            self.buffer += data
        buffer = self.buffer
        start = 0
        now = time.monotonic()
        while len(buffer) - start >= FRAME_HEAD.size:
            size, kind_flags, serial, _, _, _ = FRAME_HEAD.unpack_from(buffer, start)
            end = start + 4 + size
            if end > len(buffer):
                break
            kind, flags = kind_flags & 15, kind_flags >> 4
            self.jobs.append((kind, flags, serial, bytes(buffer[start:end]), now))
            self.jobs_size += end - start
            self.urgent += kind == FRAME_CLOSE or bool(flags & FLAG_WAITING)
            self.arrived_at = now
            start = end
        del buffer[:start]

    def hold_for(self) -> float | None:
        """Seconds to hold the analysis back because traffic flows (see PAUSE_SECONDS); None: go on now."""
        if not self.jobs or self.eof or self.urgent or self.jobs_size >= DEFER_LIMIT_BYTES:
            return None
        now = time.monotonic()
        hold = min(PAUSE_SECONDS - (now - self.arrived_at), DEFER_LIMIT_SECONDS - (now - self.jobs[0][4]))
        return hold if hold > 0 else None

    def answer(self) -> None:
        """Send the answers gathered so far (dropped when the proxy is gone)."""
        answers, self.answers = self.answers, []
        self.answered_at = time.monotonic()
        if not answers or self.proxy_gone:
            return
        data = marshal.dumps(answers)
        try:
            os.write(self.write_fd, ANSWER_HEAD.pack(len(data)) + data)  # blocking: the proxy reads as it can
        except OSError:  # BrokenPipeError: the proxy died; its flows are still recorded
            self.proxy_gone = True

    def run(self) -> None:
        while True:
            hold = self.hold_for()
            if hold is not None:
                worker_record(wait=False)  # written while this thread holds
                if self.answers:
                    self.answer()
                self.read(wait=True, timeout=hold)
                continue
            idle = not self.jobs and not self.eof
            if idle:
                worker_record(wait=False)  # written while this thread waits for work
            timeout = None
            if idle and self.answers:
                # Answers go at most every ANSWER_SECONDS: one per flow would wake the proxy's event loop (a
                # read, a callback) for every request it forwards. Until then, more work may come.
                timeout = ANSWER_SECONDS - (time.monotonic() - self.answered_at)
                if timeout <= 0:
                    self.answer()
                    timeout = None
            self.read(wait=idle, timeout=timeout)
            if not self.jobs:
                if self.eof:
                    break
                continue
            if idle and self.hold_for() is not None:  # the first frames after a pause: traffic is flowing
                continue
            kind, flags, serial, frame, _ = self.jobs.popleft()
            self.jobs_size -= len(frame)
            self.urgent -= kind == FRAME_CLOSE or bool(flags & FLAG_WAITING)
            if kind == FRAME_CLOSE:
                self.answer()
                self.answers.append((CLOSE_SERIAL, None, worker_close(), None, None))
                self.answer()
                return
            _, _, _, fields_size, request_size, response_size = FRAME_HEAD.unpack_from(frame)
            at = FRAME_HEAD.size
            packed = frame[at : at + fields_size]
            at += fields_size
            request_body = frame[at : at + request_size] if request_size >= 0 else None
            at += max(request_size, 0)
            response_body = frame[at : at + response_size] if response_size >= 0 else None
            try:
                fields = marshal.loads(packed)
            except Exception as err:  # a bug: say so, keep going
                message = f"{type(err).__name__}: {err}"
                self.answers.append((serial, None, message, None, message))
                continue
            self.answers.append(worker_run(serial, flags, fields, request_body, response_body))
            if flags & FLAG_WAITING or time.monotonic() - self.answered_at >= ANSWER_SECONDS:
                self.answer()
            if len(_worker_unrecorded) >= RECORD_BATCH_FLOWS:
                worker_record(wait=True)
        self.answer()
        problem = worker_close()
        if problem is not None:
            print(f"eas-inspector worker: closing the capture failed: {problem}", file=sys.stderr)


def keep_to_one_cpu() -> None:
    """Keep this process on the last CPU it may use, when it may use several.

    An idle-priority worker that the scheduler moves onto whichever CPU is briefly free lands on the proxy's
    CPU between its turns and evicts its caches: on 2 CPUs that cost the proxy 25-30% of its requests per
    second (bench_proxy), kept on one CPU 0-17% (a median near 7%). The worker is one thread of analysis
    (and a writer thread): one CPU is what it can use anyway.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) > 1:
            os.sched_setaffinity(0, {allowed[-1]})
    except (AttributeError, OSError):  # not Linux, or not allowed: the scheduler decides
        pass


def lower_priority() -> None:
    """Make this process yield the CPU to everything else: SCHED_IDLE (Linux: it runs only on a CPU nothing
    else wants, and any waking task preempts it at once), else the highest nice value allowed."""
    keep_to_one_cpu()
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # no os.nice (Windows) or not allowed: the same priority as the proxy
        pass


def worker_entry(read_fd: int, write_fd: int) -> None:
    """`python -c` entry of the worker process: the two pipe ends it inherited."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the proxy, which then closes us in order
    lower_priority()  # before the capture writer's thread starts: threads inherit the policy
    WorkerLoop(read_fd, write_fd).run()


def enlarge_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or over the user's pipe quota: the default size
        pass


class WorkerProcess:
    """The worker: a fresh Python (no fork of the proxy's threads, no re-run of its main script), in a session
    of its own so a terminal's Ctrl-C (or a kill of the proxy) reaches only the proxy, driven over two pipes
    that never block the proxy; no threads on this side."""

    def __init__(self) -> None:
        to_worker_read, to_worker_write = os.pipe()
        from_worker_read, from_worker_write = os.pipe()
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        code = f"from addon.activesync import worker_entry; worker_entry({to_worker_read}, {from_worker_write})"
        for fd in (to_worker_write, from_worker_write):
            enlarge_pipe(fd)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(to_worker_read, from_worker_write),
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            for fd in (to_worker_read, to_worker_write, from_worker_read, from_worker_write):
                os.close(fd)
            raise
        os.close(to_worker_read)
        os.close(from_worker_write)
        os.set_blocking(to_worker_write, False)
        os.set_blocking(from_worker_read, False)
        self.request_fd = to_worker_write
        self.answer_fd = from_worker_read
        self.unsent = bytearray()  # deleting from its front is cheap: a backlog is not copied per write
        self.answers = Answers()
        self.closed = False

    def fileno(self) -> int:
        return self.answer_fd

    def request_fileno(self) -> int:
        return self.request_fd

    def post(self, data: bytes) -> bool:
        """Write frames as far as the pipe takes them now.

        Returns:
            True when all is written; else `write_some` writes the rest when the pipe is writable again.
        Raises:
            OSError: the worker is gone (BrokenPipeError).
        """
        self.unsent += data
        return self.write_some()

    def write_some(self) -> bool:
        """Write what the pipe takes without waiting; True when nothing is left to write."""
        while self.unsent:
            try:
                written = os.write(self.request_fd, self.unsent)
            except BlockingIOError:
                return False
            del self.unsent[:written]
        return True

    def receive(self) -> list[tuple[Any, ...]]:
        """The answers the pipe holds now (maybe none).

        Raises:
            EOFError: the worker is gone.
        """
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(self.answer_fd, READ_BYTES)
            except BlockingIOError:
                break
            if not data:
                if chunks:
                    break
                raise EOFError("the worker process closed its pipe")
            chunks.append(data)
        return self.answers.feed(b"".join(chunks)) if chunks else []

    def pump(self) -> list[tuple[Any, ...]]:
        """Wait until the worker answers or takes more of what is unsent; write what it takes, return answers."""
        writing = [self.request_fd] if self.unsent else []
        select.select([self.answer_fd], writing, [])
        if writing:
            self.write_some()
        return self.receive()

    def stop(self, *, kill: bool = False) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.request_fd)  # the worker sees EOF, records what it has, closes its capture and exits
        if kill:
            self.process.kill()
        self.process.wait()
        os.close(self.answer_fd)


def capture_path_from_option(value: str, now: float | None = None) -> Path | None:
    """The capture file for an `activesync_capture` value (strftime-expanded, ~ expanded); None when off."""
    if not value.strip():
        return None
    stamp = time.localtime(now if now is not None else time.time())
    return Path(os.path.expanduser(time.strftime(value, stamp)))


def check_capture_dir(path: Path) -> None:
    """Refuse a capture path whose directory cannot be created or written.

    Raises:
        OSError: with a message naming the path.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write in {directory}")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"cannot write {path}")


def flow_input_of(f: http.HTTPFlow) -> Any:
    """The store's FlowInput for a flow."""
    from addon.store import flow_input_from_mitm

    return flow_input_from_mitm(f)


def export_flows(
    fmt: str, flows: Sequence[http.HTTPFlow], path: str, *, keep_credentials: bool, max_body: int | None
) -> int:
    """Write flows to `path` as "xml", "mitm" or "har", the way `eas-inspector export` writes a capture.

    The flows go through a temporary capture first, so the same redaction and decoding apply.

    Raises:
        OSError, addon.store.CaptureError: reading or writing failed.
    """
    import tempfile

    from addon import convert
    from addon.store import CaptureReader, CaptureWriter

    with tempfile.TemporaryDirectory(prefix="eas-export-") as tmp:
        capture = Path(tmp) / "export.sqlite"
        writer = CaptureWriter(capture, keep_credentials=keep_credentials, max_body_size=max_body)
        try:
            for f in flows:
                writer.add(flow_input_of(f))
        finally:
            writer.close()
        if fmt == "mitm":
            return int(convert.export_mitm(capture, path))
        if fmt == "har":
            return int(convert.export_har(capture, path))
        with CaptureReader(capture) as reader:
            records = list(reader.records())
        Path(path).write_text(convert.export_xml(records), encoding="utf-8")
        return len(records)


class ActiveSyncAddon:
    """Recognise EAS traffic, annotate it in flow.metadata / flow.comment, and record it in a capture.

    The proxy never changes traffic: the addon only reads messages, and every hook catches its own failures,
    logs them once with the flow, and lets the flow go on unchanged. Decoding and the capture writer run in
    one worker process, so neither the event loop nor mitmproxy's process pays for them.
    """

    def __init__(self, capture_dir: Path | str | None = None) -> None:
        self.capture_dir = Path(capture_dir) if capture_dir is not None else Path("captures")
        self.annotate = ANNOTATE_LIVE
        self.wait_limit = WAIT_LIMIT_SECONDS
        self.keep_credentials = False
        self.max_body: int | None = None
        self.capture_path: Path | None = None
        self.capture_failed = False
        self.writer_error: str | None = None
        self.worker_failed = False
        self.stored = 0
        self.not_stored = 0
        self.in_flight: dict[str, http.HTTPFlow] = {}
        self.serial = 0  # of the last flow handed to the worker
        self.outstanding: dict[int, QueuedFlow] = {}  # by serial: handed to the worker, not answered yet
        self.queued: list[QueuedFrame] = []  # flows handed over, their frames not yet written into the pipe
        self.queued_size = 0  # body bytes in `queued`
        self.queued_waiting = 0  # flows in `queued` that wait for their analysis
        self.dispatch_timer: asyncio.TimerHandle | None = None
        self.writing: tuple[WorkerProcess, asyncio.AbstractEventLoop] | None = None  # frames still going out
        self.idle: asyncio.Future[None] | None = None  # resolved when no flow is outstanding (see `settled`)
        self.close_answer: str | None = None  # what the worker said to the close frame ("" for fine)
        self.has_view = False  # mitmproxy's console or mitmweb: flows are redrawn when their analysis lands
        self.proc: WorkerProcess | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.reading: WorkerProcess | None = None  # the worker whose answers the loop is watching for

    # -- options -------------------------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option(
            "activesync_capture",
            str,
            str(self.capture_dir / DEFAULT_CAPTURE_NAME),
            """
            SQLite capture file that records every ActiveSync and Autodiscover flow (strftime patterns
            expand when the option is set; missing directories are created). Empty: no capture.
            """,
        )
        loader.add_option(
            "activesync_keep_credentials",
            bool,
            False,
            "Store Authorization and cookies as sent; by default the capture keeps only scheme and user.",
        )
        loader.add_option(
            "activesync_max_body",
            int,
            0,
            "Largest request or response body stored in the capture, in bytes (longer ones are cut); 0: no limit.",
        )
        loader.add_option(
            "activesync_annotate",
            str,
            ANNOTATE_LIVE,
            """
            When the decoded command, user, device, status and problems reach flow.metadata (activesync.*)
            and the flow comment: "live" after the flow passed (it never waits for the decoder), in the
            next pause of the traffic, at most about 2 s later (command, user and device show at once),
            "wait" before the flow goes on (so save_stream_file and filters of later addons see them),
            "off" never (flows are still recorded).
            """,
            choices=ANNOTATE_CHOICES,
        )

    def configure(self, updated: set[str]) -> None:
        if "activesync_max_body" in updated:
            max_body = ctx.options.activesync_max_body
            if max_body < 0:
                raise exceptions.OptionsError(f"activesync_max_body must be 0 (no limit) or more, not {max_body}")
            self.max_body = max_body or None
        if "activesync_keep_credentials" in updated:
            self.keep_credentials = ctx.options.activesync_keep_credentials
        if "activesync_annotate" in updated:
            self.annotate = ctx.options.activesync_annotate
        if "activesync_capture" in updated:
            try:
                path = capture_path_from_option(ctx.options.activesync_capture)
            except ValueError as err:
                raise exceptions.OptionsError(f"activesync_capture: {err}") from err
            if path is not None:
                try:
                    check_capture_dir(path)
                except OSError as err:
                    raise exceptions.OptionsError(f"activesync_capture: {err}") from err
            if path != self.capture_path:
                self.capture_path = path
                self.capture_failed = False
                self.writer_error = None

    # -- flow hooks ----------------------------------------------------------------------------------------

    def requestheaders(self, f: http.HTTPFlow) -> None:
        try:
            kind = eas_kind(f.request.path)
            if kind is not None:
                f.metadata[META_KIND] = kind
        except Exception as err:  # a hook never breaks the flow
            self.report(f, "requestheaders", err)

    def request(self, f: http.HTTPFlow) -> None:
        try:
            kind = flow_kind(f)
            if kind is None:
                return
            self.in_flight[f.id] = f
            if self.annotate != ANNOTATE_OFF:
                request = f.request
                values = request_metadata(kind, request.method, request.path, request.headers.get("MS-ASProtocolVersion"))
                apply_metadata(f, values, complete=False)
        except Exception as err:
            self.report(f, "request", err)

    async def response(self, f: http.HTTPFlow) -> None:
        await self.finish(f, "response")

    async def error(self, f: http.HTTPFlow) -> None:
        await self.finish(f, "error")

    def running(self) -> None:
        """Start the worker process now, so the first flows do not wait for it to start."""
        try:
            self.worker()
        except Exception as err:  # the first flow tries again
            logger.log(ALERT, f"ActiveSync worker process cannot start: {err}")

    def done(self) -> None:
        """Record flows still waiting (a Ping when the proxy stops), flush the capture, stop the worker."""
        for f in list(self.in_flight.values()):
            try:
                self.submit(f, flow_kind(f) or "eas", None)
            except Exception as err:
                self.report(f, "done", err)
        self.in_flight.clear()
        self.stop_worker()

    # -- work ----------------------------------------------------------------------------------------------

    async def finish(self, f: http.HTTPFlow, stage: str) -> None:
        """Hand a finished flow to the worker, once; with "wait", apply its analysis before returning."""
        try:
            kind = flow_kind(f)
            if kind is None:
                return
            if self.in_flight.pop(f.id, None) is None and (stage != "error" or f.response is not None):
                return  # already finished (an error after the response), or not seen by `request`
            waiter = asyncio.get_running_loop().create_future() if self.annotate == ANNOTATE_WAIT else None
            if self.submit(f, kind, waiter) and waiter is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), self.wait_limit)
                except TimeoutError:
                    # A stuck decoder never holds traffic: the flow goes on, its analysis lands when it comes.
                    waiter.cancel()
                    self.report(f, stage, TimeoutError(f"no analysis within {self.wait_limit:g} s; not waiting"))
        except Exception as err:
            self.report(f, stage, err)

    def submit(self, f: http.HTTPFlow, kind: str, waiter: asyncio.Future[None] | None) -> bool:
        """Queue the flow for the worker; False when there is nothing to do (annotation and capture off)."""
        analyse = self.annotate != ANNOTATE_OFF
        capture = None
        if self.capture_path is not None and not self.capture_failed:
            capture = (str(self.capture_path), self.keep_credentials, self.max_body)
        if not analyse and capture is None:
            return False
        self.serial += 1
        flags = (FLAG_ANALYSE if analyse else 0) | (FLAG_WAITING if waiter is not None else 0)
        self.outstanding[self.serial] = QueuedFlow(f, waiter, capture is not None)
        self.queued.append((self.serial, f, kind, flags, capture))
        self.queued_size += len(f.request.raw_content or b"")
        if f.response is not None:
            self.queued_size += len(f.response.raw_content or b"")
        self.queued_waiting += waiter is not None
        self.dispatch()
        return True

    def frames(self, queued: list[QueuedFrame]) -> bytes:
        """The frames of the queued flows, built together when they go out: one pass over code that the proxy's
        own work has not just pushed out of the CPU's caches (26-28 to 14-15 us a flow in a running mitmdump).
        A flow whose frame cannot be built (another addon put something unmarshallable in it) is reported and
        not stored."""
        built = []
        for serial, f, kind, flags, capture in queued:
            try:
                built.append(flow_frame(serial, f, kind, flags, capture))
            except Exception as err:
                item = self.outstanding.pop(serial, None)
                if item is not None:
                    self.not_stored += item.recorded
                    item.release()
                self.report(f, "response", err)
        self.wake_when_settled()
        return b"".join(built)

    def dispatch(self, *, now: bool = False) -> None:
        """Write the queued frames into the worker's pipe.

        Frames wait up to DISPATCH_DELAY_SECONDS for others (unless `now`, a flow waits, or DISPATCH_BYTES are
        queued), so a burst costs one write and one wake-up of the worker per delay, not per flow. They never
        wait for the worker's answers. The pipe never stalls the loop: what it does not take now is written
        when it is writable.
        """
        if not self.queued:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if not now and running is not None and not self.queued_waiting and self.queued_size < DISPATCH_BYTES:
            if self.dispatch_timer is None:
                self.dispatch_timer = running.call_later(DISPATCH_DELAY_SECONDS, self.dispatch_due)
            return
        if self.dispatch_timer is not None:
            self.dispatch_timer.cancel()
            self.dispatch_timer = None
        proc = self.worker()
        if proc is None:
            self.worker_gone(RuntimeError("no worker process"), queued_too=True)
            return
        queued = self.queued
        self.queued = []
        self.queued_size = self.queued_waiting = 0
        try:
            if proc.post(self.frames(queued)):
                return
            if running is not None and self.writing is None:
                self.writing = (proc, running)
                running.add_writer(proc.request_fileno(), self.writable)
        except Exception as err:  # BrokenPipeError: the worker died
            self.worker_lost(err)

    def dispatch_due(self) -> None:
        self.dispatch_timer = None
        self.dispatch(now=True)

    def writable(self) -> None:
        """The worker's pipe takes more (event loop writer callback)."""
        proc = self.writing[0] if self.writing is not None else None
        if proc is None:
            return
        try:
            if not proc.write_some():
                return
        except Exception as err:  # BrokenPipeError: the worker died
            self.forget_writer()
            if proc is self.proc:
                self.worker_lost(err)
            return
        self.forget_writer()

    def forget_writer(self) -> None:
        writing, self.writing = self.writing, None
        if writing is None:
            return
        proc, loop = writing
        if not loop.is_closed():
            try:
                loop.remove_writer(proc.request_fileno())
            except (ValueError, OSError):
                pass

    def readable(self) -> None:
        """The worker answered (event loop reader callback)."""
        proc = self.proc
        if proc is None:
            return
        try:
            answers = proc.receive()
        except Exception as err:  # EOFError: the worker died
            self.worker_lost(err)
            return
        self.answered(answers)

    def answered(self, answers: list[tuple[Any, ...]]) -> None:
        """Apply the worker's answers to their flows."""
        for serial, metadata, capture_error, writer_error, error in answers:
            if serial == CLOSE_SERIAL:
                self.close_answer = capture_error or ""
                continue
            item = self.outstanding.pop(serial, None)
            if item is None:
                continue
            try:
                update = item.waiter is None or item.waiter.cancelled()
                self.take(item, metadata, capture_error, writer_error, error, update=update)
            except Exception as err:
                self.report(item.flow, "analysis", err)
            item.release()
        self.wake_when_settled()

    def wake_when_settled(self) -> None:
        """Resolve `settled`'s wait once no flow is outstanding."""
        if not self.outstanding and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    def take(
        self,
        item: QueuedFlow,
        metadata: dict[str, Any] | None,
        capture_error: str | None,
        writer_error: str | None,
        error: str | None,
        *,
        update: bool,
    ) -> None:
        """Apply a worker answer: metadata into the flow, capture problems into the log (each said once)."""
        f = item.flow
        if error is not None:
            self.report(f, "analysis", RuntimeError(error))
        if metadata is not None:
            apply_metadata(f, metadata, complete=True)
            if update and self.has_view:
                # mitmproxy's console and mitmweb (which have a flow view) redraw the flow; mitmdump has none
                ctx.master.addons.trigger(hooks.UpdateHook([f]))
        if not item.recorded:
            return
        if capture_error is not None:
            self.not_stored += 1
            if not self.capture_failed:
                self.capture_failed = True
                logger.log(ALERT, f"ActiveSync capture disabled: cannot open {self.capture_path}: {capture_error}")
        else:
            self.stored += 1
        if writer_error is not None and writer_error != self.writer_error:
            self.writer_error = writer_error
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: cannot write: {writer_error}")

    def worker_gone(self, err: BaseException, *, queued_too: bool = False) -> None:
        """Flows the worker will not answer (it died, or none could start): counted as not stored, marked,
        their waiters released. Flows still queued here go to the next worker, unless `queued_too`."""
        keep = set() if queued_too else {serial for serial, *_ in self.queued}
        items = [item for serial, item in self.outstanding.items() if serial not in keep]
        self.outstanding = {serial: item for serial, item in self.outstanding.items() if serial in keep}
        if queued_too:
            self.queued = []
            self.queued_size = self.queued_waiting = 0
        for item in items:
            if item.recorded:
                self.not_stored += 1
            item.flow.metadata[META_ERROR] = f"worker: {type(err).__name__}: {err}"
            item.release()
        if self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    def worker(self) -> WorkerProcess | None:
        """The worker process (started on first use); None when it cannot start (said once)."""
        if self.proc is None:
            try:
                self.proc = WorkerProcess()
            except Exception as err:
                if not self.worker_failed:
                    self.worker_failed = True
                    logger.log(ALERT, f"ActiveSync worker process cannot start: {err}")
                return None
            self.has_view = ctx.master.addons.get("view") is not None
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # called outside the loop (`done`, a test): `settled` and `stop_worker` read answers
        if loop is not None and (loop is not self.loop or self.reading is not self.proc):
            if self.reading is self.proc:
                self.forget_reader(self.proc)
            self.loop, self.reading = loop, self.proc
            loop.add_reader(self.proc.fileno(), self.readable)
        return self.proc

    def worker_lost(self, err: BaseException) -> None:
        """The worker died: say so once per loss, fail its flows; the next flow starts a new one."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        logger.log(ALERT, f"ActiveSync worker process failed ({type(err).__name__}: {err}); starting a new one")
        self.forget_reader(proc)
        self.forget_writer()
        proc.stop(kill=True)
        self.worker_gone(err)

    def forget_reader(self, proc: WorkerProcess) -> None:
        if self.reading is proc:
            self.reading = None
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.remove_reader(proc.fileno())
            except (ValueError, OSError):
                pass

    async def settled(self) -> None:
        """Wait until every flow handed to the worker is analysed and its result applied."""
        while self.outstanding:
            if self.queued:
                self.dispatch(now=True)
                continue
            proc = self.proc
            if proc is None:
                self.worker_gone(RuntimeError("no worker process"), queued_too=True)
                return
            if self.reading is not proc:  # nobody watches this worker's pipe: read its answers here
                try:
                    self.answered(proc.pump())
                except Exception as err:
                    self.worker_lost(err)
                continue
            self.idle = asyncio.get_running_loop().create_future()
            await self.idle

    def stop_worker(self) -> None:
        """Take the worker's last answers, close the capture there, stop the process; never raises."""
        if self.dispatch_timer is not None:
            self.dispatch_timer.cancel()
            self.dispatch_timer = None
        if self.proc is None and self.queued:
            self.dispatch(now=True)  # flows queued after the worker was lost: a new worker takes them
        proc = self.proc
        if proc is None:
            self.report_not_stored()
            return
        self.forget_reader(proc)
        self.forget_writer()
        try:
            self.dispatch(now=True)
            # here, not on the loop: the log still reaches the console
            proc.post(FRAME_HEAD.pack(FRAME_HEAD.size - 4, FRAME_CLOSE, CLOSE_SERIAL, 0, -1, -1))
            self.close_answer = None
            while self.close_answer is None:
                self.answered(proc.pump())
            if self.close_answer:
                logger.log(ALERT, f"ActiveSync capture {self.capture_path}: closing failed: {self.close_answer}")
        except Exception as err:
            logger.log(ALERT, f"ActiveSync worker process failed while closing the capture: {err}")
            self.worker_gone(err)
        finally:
            self.forget_reader(proc)  # dispatching above may have watched the pipes again
            self.forget_writer()
            self.proc = None
            proc.stop()
        self.report_not_stored()

    def report_not_stored(self) -> None:
        if self.not_stored:
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: {self.not_stored} flows not stored")

    def report(self, f: http.HTTPFlow, stage: str, err: Exception) -> None:
        """Log a failure once with its flow and mark the flow; the flow itself goes on untouched."""
        message = f"{type(err).__name__}: {err}"
        try:
            if f.metadata.get(META_ERROR) == f"{stage}: {message}":
                return
            f.metadata[META_ERROR] = f"{stage}: {message}"
            where = f"{f.request.method} {f.request.pretty_url}"
        except Exception:
            where = "flow"
        logger.warning(f"activesync {stage} hook, {where}: {message}", exc_info=err)

    # -- commands ------------------------------------------------------------------------------------------

    def export(self, fmt: str, flows: Sequence[flow.Flow], path: str) -> None:
        eas_flows = [f for f in flows if isinstance(f, http.HTTPFlow) and flow_kind(f) is not None]
        if not eas_flows:
            raise exceptions.CommandError("no ActiveSync or Autodiscover flows among the flows given")
        target = os.path.expanduser(path)
        try:
            count = export_flows(
                fmt, eas_flows, target, keep_credentials=self.keep_credentials, max_body=self.max_body
            )
        except Exception as err:  # CaptureError, OSError, and whatever a half-written flow raises
            raise exceptions.CommandError(f"export to {path} failed: {err}") from err
        skipped = len(flows) - len(eas_flows)
        note = f" ({skipped} other flows left out)" if skipped else ""
        logger.log(ALERT, f"Exported {count} ActiveSync flows to {path}{note}.")

    @command.command("activesync.export.xml")
    def export_xml(self, flows: Sequence[flow.Flow], path: mitmproxy.types.Path) -> None:
        """Write the ActiveSync flows as one annotated XML document."""
        self.export("xml", flows, path)

    @command.command("activesync.export.mitm")
    def export_mitm(self, flows: Sequence[flow.Flow], path: mitmproxy.types.Path) -> None:
        """Write the ActiveSync flows as a mitmproxy dump file."""
        self.export("mitm", flows, path)

    @command.command("activesync.export.har")
    def export_har(self, flows: Sequence[flow.Flow], path: mitmproxy.types.Path) -> None:
        """Write the ActiveSync flows as a HAR file."""
        self.export("har", flows, path)

    @command.command("activesync.capture")
    def capture(self) -> str:
        """The capture file this proxy writes (empty when capture is off)."""
        return str(self.capture_path) if self.capture_path else ""
