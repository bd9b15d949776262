"""The private binary protocol between the addon and its worker process: flow frames one way, answers the other."""

from __future__ import annotations

import marshal
import struct
from typing import Any, NamedTuple

try:
    import fcntl
except ImportError:  # not POSIX: the pipes keep their default size
    fcntl = None  # type: ignore[assignment]

from mitmproxy import http

from capture.mitm import FlowFields, flow_fields, flow_input_from_fields, raw_flow_fields
from capture.model import FlowInput

# Theory of operation
# -------------------
# Decoding and the capture writer run in worker processes, so they cost mitmproxy's process nothing. The proxy
# starts one, the spooler (addon/spooler.py), which starts the analysis process (addon/worker.py). The rules:
#
# 1. The proxy's share of a flow is kept to a minimum, because it lengthens every request: a finished flow is
#    queued as it is (addon.dispatch.WorkerClient.submit).
# 2. The queue goes out DISPATCH_DELAY_SECONDS after its first flow (at once when DISPATCH_BYTES are queued or
#    a flow waits for its analysis, "wait" mode): each flow's raw fields (bytes, numbers, tuples as mitmproxy
#    holds them, `capture.mitm.raw_flow_fields`; no decoding, no objects) are marshalled into one frame, all of
#    them in one pass, and written into the spooler's pipe in one write. What is recorded is the flow as it
#    stands then, what the client got should a later addon change it. Frames carry serials that rise in the
#    order they are written.
# 3. The proxy never waits for its workers: what the pipe does not take now is written when it is writable, and
#    answers are read when they come. A flow leaves the proxy's memory within DISPATCH_DELAY_SECONDS.
# 4. The spooler lives in a session of its own, the analysis process in the spooler's; both outlive the proxy:
#    after a SIGKILL of the proxy they drain the pipes, the analysis records every flow received, closes the
#    capture and tells the spooler, which then deletes the spool.
# 5. Every pipe is enlarged, the spooler takes all the proxy's pipe holds whenever it can run, and the analysis
#    reads every frame waiting before each flow it analyses, so workers that lag behind hold the backlog (first
#    the analysis, then the spooler's memory), never the proxy.
# 6. The analysis rebuilds the capture's FlowInput (`capture.mitm.flow_input_from_fields`, the conversion
#    `eas-inspector import` uses), analyses the flow once for both flow.metadata and the capture, and hands
#    analysed flows to its capture writer in batches (addon.worker.Recorder).
# 7. While frames keep coming the analysis holds back until they pause (addon.worker.PAUSE_SECONDS), never
#    longer than DEFER_LIMIT_SECONDS nor beyond DEFER_LIMIT_BYTES, and never for a flow that waits, the close
#    frame or the proxy's end; it runs at idle priority (SCHED_IDLE, addon.worker.lower_priority) on one CPU, so
#    on a busy machine it may not run for seconds: nothing durable depends on it.
# 8. The analysis answers the proxy directly, in batches, at most every ANSWER_SECONDS (a waiting flow at once):
#    one Answer per flow, whose metadata the proxy writes into the flow.
# 9. Durability is the spooler's alone: a process of its own at the proxy's CPU priority (a thread beside the
#    analysis would wait for the interpreter lock while the idle analysis holds it and is not scheduled), on the
#    analysis' CPU, doing no analysis. It appends each frame it reads for a capture to that capture's spool
#    (addon/spool.py) before it passes the frame on, in one write per capture per read; a thread syncs the file
#    at most SYNC_SECONDS later. The analysis tells it the highest serial up to which every flow frame is
#    committed to the capture or will never be (COMMITTED_HEAD); the spooler lets go of frames only then. A
#    kill of the proxy and its workers together (or a machine reset, minus the last SYNC_SECONDS) loses at most
#    what was still in the proxy (DISPATCH_DELAY_SECONDS) or in its pipe for as long as the spooler waited for
#    a CPU: the next spooler to take the capture's spool (the addon's `running`, or a change of the capture
#    option, sends FRAME_OPEN; so does any recorded flow) sets the dead run's frames aside and has the analysis
#    replay those whose mitmproxy flow id the capture lacks (an open frame with FLAG_RECOVER), and
#    `eas-inspector recover` does the same offline.
#
# Proxy to spooler to analysis, each frame: FRAME_HEAD (payload size, kind | flags << 4, serial, fields size,
# request body size, response body size; -1 for no body) + the FrameFields (marshal, plain tuples) + the bodies
# as they are. Analysis to proxy: ANSWER_HEAD (payload size) + marshal([Answer as a plain tuple, ...]); serial
# CLOSE_SERIAL answers the close frame. An open frame (FRAME_OPEN) carries a marshalled CaptureSettings as its
# fields. Analysis to spooler: COMMITTED_HEAD, a serial, each time it rises.
FRAME_HEAD = struct.Struct("!IBQIqq")
ANSWER_HEAD = struct.Struct("!I")
COMMITTED_HEAD = struct.Struct("!Q")
FRAME_FLOW = 1
FRAME_CLOSE = 2
FRAME_OPEN = 3  # its fields: the CaptureSettings of a capture to open now (and recover its spool into)
FLAG_ANALYSE = 1
FLAG_WAITING = 2  # the flow waits for its analysis ("wait" mode): answer as soon as it is done
FLAG_RECOVER = 4  # on an open frame from the spooler: replay what a killed run left in the spool first
CLOSE_SERIAL = 0

# Each pipe's buffer (Linux lets any process raise it to /proc/sys/fs/pipe-max-size, 1 MiB by default).
PIPE_BYTES = 1 << 20
# What one read takes from a pipe: a read allocates its whole size, so a large one costs page faults each time.
READ_BYTES = 64 * 1024


class CaptureSettings(NamedTuple):
    """Where and how the worker records a flow (the addon's options)."""

    path: str
    keep_credentials: bool
    max_body: int | None


class FrameFields(NamedTuple):
    """What a flow frame carries besides the bodies."""

    kind: str  # "eas" | "autodiscover"
    capture: CaptureSettings | None  # None: the flow is not recorded
    flow: FlowFields


class Answer(NamedTuple):
    """The worker's answer for one flow (or, with serial CLOSE_SERIAL, for the close frame)."""

    serial: int
    metadata: dict[str, Any] | None  # the analysis' flow.metadata entries, None when not analysed
    capture_error: str | None  # the capture cannot take the flow (for the close: what closing it said)
    writer_error: str | None  # the capture's writer fails to write (it keeps the flows and retries)
    error: str | None  # the analysis failed
    findings: list[dict[str, Any]] | None  # the diagnosis findings this flow completes or extends (Finding.to_json)


class Job(NamedTuple):
    """A frame the worker has read and not yet handled."""

    kind: int  # FRAME_FLOW | FRAME_CLOSE
    flags: int
    serial: int
    frame: bytes
    arrived: float  # monotonic
    fields: Any  # the marshalled fields of a flow frame (plain tuples), of an open frame its settings; else None


class Frame(NamedTuple):
    """A flow frame taken apart."""

    fields: FrameFields
    request_body: bytes | None
    response_body: bytes | None


def flow_frame(serial: int, f: http.HTTPFlow, kind: str, flags: int, capture: CaptureSettings | None) -> bytes:
    """One flow as a frame for the worker: its raw fields as mitmproxy holds them, and its bodies as on the wire."""
    request_body = f.request.data.content
    response = f.response
    response_body = None if response is None else response.data.content
    packed = marshal.dumps((kind, None if capture is None else tuple(capture), raw_flow_fields(f)))
    request_size = -1 if request_body is None else len(request_body)
    response_size = -1 if response_body is None else len(response_body)
    size = FRAME_HEAD.size - 4 + len(packed) + max(request_size, 0) + max(response_size, 0)
    head = FRAME_HEAD.pack(size, FRAME_FLOW | flags << 4, serial, len(packed), request_size, response_size)
    return b"".join((head, packed, request_body or b"", response_body or b""))


def close_frame() -> bytes:
    """The frame that asks the worker to close its capture and answer with CLOSE_SERIAL."""
    return FRAME_HEAD.pack(FRAME_HEAD.size - 4, FRAME_CLOSE, CLOSE_SERIAL, 0, -1, -1)


def open_frame(capture: CaptureSettings, flags: int = 0) -> bytes:
    """The frame that asks the workers to open a capture now (the spooler its spool; with FLAG_RECOVER, the
    analysis replays what a killed run left in it)."""
    packed = marshal.dumps(tuple(capture))
    size = FRAME_HEAD.size - 4 + len(packed)
    return FRAME_HEAD.pack(size, FRAME_OPEN | flags << 4, CLOSE_SERIAL, len(packed), -1, -1) + packed


def with_flags(frame: bytes, flags: int) -> bytes:
    """The frame with these flags added."""
    kind_flags = frame[4] | flags << 4
    return b"".join((frame[:4], bytes((kind_flags,)), frame[5:]))


def enlarge_pipe(fd: int) -> None:
    """Give a pipe PIPE_BYTES of buffer where the system allows it."""
    if fcntl is None:
        return
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError):  # not Linux, or over the user's pipe quota: the default size
        pass


def frame_head_fields(frame: bytes) -> Any:
    """The marshalled fields of a frame (plain tuples)."""
    fields_size = FRAME_HEAD.unpack_from(frame)[3]
    return marshal.loads(frame[FRAME_HEAD.size : FRAME_HEAD.size + fields_size])


def frame_bodies(frame: bytes) -> tuple[bytes | None, bytes | None]:
    """A flow frame's bodies."""
    _, _, _, fields_size, request_size, response_size = FRAME_HEAD.unpack_from(frame)
    at = FRAME_HEAD.size + fields_size
    request_body = frame[at : at + request_size] if request_size >= 0 else None
    at += max(request_size, 0)
    response_body = frame[at : at + response_size] if response_size >= 0 else None
    return request_body, response_body


def split_frame(frame: bytes) -> tuple[Any, bytes | None, bytes | None]:
    """A flow frame's marshalled fields (plain tuples) and bodies."""
    return (frame_head_fields(frame), *frame_bodies(frame))


def read_frame(frame: bytes) -> Frame:
    """A flow frame taken apart, its fields named.

    Raises:
        ValueError, EOFError, TypeError: the frame is damaged (a bug: the addon wrote it).
    """
    raw, request_body, response_body = split_frame(frame)
    return Frame(frame_fields(raw), request_body, response_body)


def frame_fields(raw: Any) -> FrameFields:
    """Name a frame's marshalled fields."""
    kind, capture, flow = raw
    return FrameFields(kind, None if capture is None else CaptureSettings._make(capture), flow_fields(flow))


def flow_input_from_frame(raw: Any, request_body: bytes | None, response_body: bytes | None) -> FlowInput:
    """The capture's FlowInput of a flow frame: what `capture.mitm.flow_input_from_mitm` makes of the flow."""
    return flow_input_from_fields(frame_fields(raw).flow, request_body, response_body)


def answers_message(answers: list[Answer]) -> bytes:
    """One message of answers for the proxy."""
    data = marshal.dumps([tuple(answer) for answer in answers])
    return ANSWER_HEAD.pack(len(data)) + data


class AnswerReader:
    """Splits the worker's answer stream into answers."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Answer]:
        self.buffer += data
        answers: list[Answer] = []
        start = 0
        buffer = self.buffer
        while len(buffer) - start >= ANSWER_HEAD.size:
            (size,) = ANSWER_HEAD.unpack_from(buffer, start)
            end = start + ANSWER_HEAD.size + size
            if end > len(buffer):
                break
            answers += [Answer._make(answer) for answer in marshal.loads(bytes(buffer[start + ANSWER_HEAD.size : end]))]
            start = end
        del buffer[:start]
        return answers
