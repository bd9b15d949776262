"""The mitmproxy addon: recognise EAS and Autodiscover flows, annotate them in flow.metadata, record them."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing.connection
import os
import pickle
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

logger = logging.getLogger(__name__)

# MS-ASHTTP 2.2.1.1: every EAS command is a request to /Microsoft-Server-ActiveSync; front ends put it
# behind a prefix (SOGo: /SOGo/Microsoft-Server-ActiveSync) and Exchange proxies append /Proxy/...
EAS_PATH = re.compile(r"/microsoft-server-activesync(?:/[^?#]*)?$", re.IGNORECASE)
# MS-OXDSCLI (POX, /autodiscover/autodiscover.xml) and the JSON variant
# (/autodiscover/autodiscover.json?Email=...&Protocol=ActiveSync, /autodiscover/autodiscover.json/v1.0/...).
AUTODISCOVER_PATH = re.compile(r"/autodiscover/autodiscover\.(?:xml|json)(?:/[^?#]*)?$", re.IGNORECASE)

# activesync_annotate: when the full analysis (bodies, statuses, problems) reaches flow.metadata.
ANNOTATE_LIVE = "live"  # right after the flow passed: the flow never waits for the decoder
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

# Finished flows wait this long for others to share their trip to the worker (one write, one answer for the
# lot: on a busy proxy the pipe's system calls per flow cost more than the pickling), unless they are this
# many body bytes already or a flow waits for its analysis ("wait" mode).
DISPATCH_DELAY_SECONDS = 0.05
DISPATCH_BYTES = 256 * 1024

# The worker's CPU priority (added to the proxy's nice value). Its work is background work: where CPUs are
# short (client, server, proxy and worker on one small machine), the proxy's traffic gets the CPU first and the
# analysis lags during a burst, catching up after it; nothing is dropped (`done` waits for every flow).
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


def raw_body_of(message: http.Message | None) -> bytes | None:
    """The body as received, Content-Encoding and all (eas.analyze removes it); None when streamed or absent."""
    return None if message is None else message.raw_content


def request_metadata(kind: str, method: str, path: str, headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """What the request line and headers say (no body decoding: cheap enough for every flow, inline)."""
    values: dict[str, Any] = {META_KIND: kind}
    if kind == "autodiscover":
        values[META_COMMAND] = "Autodiscover"
        return values
    query = path.partition("?")[2]
    version = next((value for name, value in headers if name.lower() == "ms-asprotocolversion"), None)
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
    return {key: value for key, value in values.items() if value is not None}


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
    return {key: value for key, value in values.items() if value is not None}


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


@dataclass(frozen=True)
class CaptureSettings:
    path: str
    keep_credentials: bool
    max_body: int | None


@dataclass(frozen=True)
class FlowJob:
    """What the worker needs for one flow: whether to analyse it, the capture to record it in (or None), and
    the flow as values: the store's FlowInput when recording (the analysis reads it too, so bodies cross the
    pipe once), else the arguments of `analyze_values`."""

    kind: str
    analyse: bool
    capture: CaptureSettings | None
    flow_input: Any = None
    values: tuple[Any, ...] | None = None

    def analysis(self) -> eas.Exchange:
        """The flow's analysis: when recording, the one the capture stores (annotated XML for its search index),
        made here once for both the metadata and the capture; else without annotation (metadata only)."""
        if self.values is not None:
            return analyze_values(*self.values)
        from addon.store import analyze_parts

        fi = self.flow_input
        return analyze_parts(
            fi.method,
            fi.display_url(),
            fi.request_headers,
            fi.request_body,
            fi.response_status,
            fi.response_headers,
            fi.response_body,
        )


@dataclass(frozen=True)
class JobResult:
    metadata: dict[str, Any] | None
    capture_error: str | None = None  # the capture could not be opened
    writer_error: str | None = None  # the writer thread failed to write (disk full, ...)
    error: str | None = None  # the analysis itself failed (a bug: eas.analyze does not raise on bad input)


@dataclass(frozen=True)
class QueuedFlow:
    """A flow waiting for the worker; `waiter` is set when the flow itself waits ("wait" mode)."""

    job: FlowJob
    flow: http.HTTPFlow
    waiter: asyncio.Future[None] | None
    size: int = 0  # body bytes in the job


_worker_writer: Any = None
_worker_settings: CaptureSettings | None = None


def analyze_values(
    method: str,
    url: str,
    request_headers: list[tuple[str, str]],
    request_body: bytes | None,
    response_status: int | None,
    response_headers: list[tuple[str, str]] | None,
    response_body: bytes | None,
) -> eas.Exchange:
    """`eas.analyze` on plain values (no mitmproxy objects), as the worker runs it."""
    return eas.analyze(
        method,
        url,
        request_headers,
        request_body or b"",
        response_status,
        response_headers,
        response_body,
        annotate=False,
    )


def worker_writer(settings: CaptureSettings) -> Any:
    """The worker's capture writer for these settings (reopened when they change)."""
    global _worker_writer, _worker_settings
    if _worker_writer is not None and _worker_settings == settings:
        return _worker_writer
    worker_close()
    from addon.store import CaptureWriter

    _worker_writer = CaptureWriter(
        settings.path, keep_credentials=settings.keep_credentials, max_body_size=settings.max_body
    )
    _worker_settings = settings
    return _worker_writer


def worker_run(job: FlowJob) -> JobResult:
    """Analyse one flow and queue it for the capture (in the worker process); never raises."""
    metadata = None
    error = None
    exchange = None
    if job.analyse:
        try:
            exchange = job.analysis()
            metadata = analysis_metadata(job.kind, exchange)
        except Exception as err:
            exchange = None  # the capture's writer analyses the flow itself
            error = f"{type(err).__name__}: {err}"
    if job.capture is None:
        return JobResult(metadata, error=error)
    try:
        writer = worker_writer(job.capture)
        writer.add(job.flow_input, exchange=exchange)
    except Exception as err:
        return JobResult(metadata, capture_error=f"{type(err).__name__}: {err}", error=error)
    last_error = getattr(writer, "last_error", None)
    return JobResult(metadata, writer_error=str(last_error) if last_error is not None else None, error=error)


def worker_run_batch(jobs: list[FlowJob]) -> list[JobResult]:
    """Run a batch of jobs in order (in the worker process)."""
    return [worker_run(job) for job in jobs]


def worker_close() -> str | None:
    """Flush and close the worker's capture; returns what went wrong, if anything."""
    global _worker_writer, _worker_settings
    writer, _worker_writer, _worker_settings = _worker_writer, None, None
    if writer is None:
        return None
    try:
        writer.close()
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def worker_main(requests: Any, answers: Any) -> None:
    """The worker process: batches of jobs in, lists of results out, until "close" or the proxy goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the proxy, which then closes us in order
    while True:
        try:
            message = requests.recv()
        except (EOFError, OSError):
            break
        if message[0] == "batch":
            answers.send(worker_run_batch(message[1]))
        elif message[0] == "close":
            answers.send(worker_close())
            return
    worker_close()


def worker_entry(read_fd: int, write_fd: int) -> None:
    """`python -c` entry of the worker process: the two pipe ends it inherited."""
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # no os.nice (Windows) or not allowed: the same priority as the proxy
        pass
    worker_main(
        multiprocessing.connection.Connection(read_fd, writable=False),
        multiprocessing.connection.Connection(write_fd, readable=False),
    )


class WorkerProcess:
    """The worker: a fresh Python (no fork of the proxy's threads, no re-run of its main script), in a session
    of its own so a terminal's Ctrl-C reaches only the proxy, driven over two pipes; no threads on this side."""

    def __init__(self) -> None:
        to_worker_read, to_worker_write = os.pipe()
        from_worker_read, from_worker_write = os.pipe()
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        code = f"from addon.activesync import worker_entry; worker_entry({to_worker_read}, {from_worker_write})"
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
        # The proxy's end never blocks: a batch larger than the pipe goes in as the worker reads (see `post`).
        os.set_blocking(to_worker_write, False)
        self.requests = multiprocessing.connection.Connection(to_worker_write, readable=False)
        self.answers = multiprocessing.connection.Connection(from_worker_read, writable=False)
        self.unsent = memoryview(b"")

    def fileno(self) -> int:
        return int(self.answers.fileno())

    def request_fileno(self) -> int:
        return int(self.requests.fileno())

    def post(self, message: tuple[Any, ...]) -> bool:
        """Write a message (framed as `multiprocessing.connection` frames it) as far as the pipe takes it now.

        Returns:
            True when all of it is written; else `write_some` writes the rest when the pipe is writable again.
        Raises:
            OSError: the worker is gone (BrokenPipeError).
        """
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        size = len(data)
        header = struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)
        self.unsent = memoryview(bytes(self.unsent) + header + data)
        return self.write_some()

    def write_some(self) -> bool:
        """Write what the pipe takes without waiting; True when nothing is left to write."""
        while self.unsent:
            try:
                written = os.write(self.request_fileno(), self.unsent)
            except BlockingIOError:
                return False
            self.unsent = self.unsent[written:]
        return True

    def flush(self) -> None:
        """Write everything unsent, waiting for the pipe (outside the event loop, or when stopping)."""
        while not self.write_some():
            select.select([], [self.request_fileno()], [])

    def send(self, message: tuple[Any, ...]) -> None:
        """Write a message, waiting for the pipe when it is full."""
        self.post(message)
        self.flush()

    def receive(self) -> Any:
        """The worker's next answer, waiting for it (the message it answers is written out first)."""
        self.flush()
        return self.answers.recv()

    def stop(self, *, kill: bool = False) -> None:
        self.requests.close()  # the worker sees EOF, closes its capture and exits
        if kill:
            self.process.kill()
        self.process.wait()
        self.answers.close()


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
        self.queued: list[QueuedFlow] = []
        self.queued_size = 0  # body bytes in `queued`
        self.queued_waiting = 0  # flows in `queued` that wait for their analysis
        self.dispatch_timer: asyncio.TimerHandle | None = None
        self.writing: tuple[WorkerProcess, asyncio.AbstractEventLoop] | None = None  # a batch still going out
        self.batch: list[QueuedFlow] | None = None  # sent to the worker, results not back yet
        self.idle: asyncio.Future[None] | None = None  # resolved when no batch is out (see `settled`)
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
            and the flow comment: "live" right after the flow passed (it never waits for the decoder),
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
                values = request_metadata(kind, f.request.method, f.request.path, header_pairs(f.request.headers))
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
            capture = CaptureSettings(str(self.capture_path), self.keep_credentials, self.max_body)
        if not analyse and capture is None:
            return False
        response = f.response
        if capture is not None:
            job = FlowJob(kind, analyse, capture, flow_input=flow_input_of(f))
        else:
            values = (
                f.request.method,
                f.request.url,
                header_pairs(f.request.headers),
                raw_body_of(f.request),
                response.status_code if response is not None else None,
                header_pairs(response.headers) if response is not None else None,
                raw_body_of(response),
            )
            job = FlowJob(kind, analyse, None, values=values)
        size = len(f.request.raw_content or b"") + len((response.raw_content or b"") if response is not None else b"")
        self.queued.append(QueuedFlow(job, f, waiter, size))
        self.queued_size += size
        self.queued_waiting += waiter is not None
        self.dispatch()
        return True

    def dispatch(self, *, now: bool = False) -> None:
        """Send everything queued to the worker as one batch, unless a batch is still out.

        Batches grow while the worker is busy, and for up to DISPATCH_DELAY_SECONDS while it is not (unless
        `now`, a flow waits, or DISPATCH_BYTES are queued), so a burst costs one round trip per batch, not per
        flow. The pipe never stalls the loop: what it does not take now is written when it is writable.
        """
        if self.batch is not None or not self.queued:
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
        items, self.queued = self.queued, []
        self.queued_size = self.queued_waiting = 0
        proc = self.worker()
        if proc is None:
            self.fail(items, RuntimeError("no worker process"))
            return
        self.batch = items
        try:
            if proc.post(("batch", [item.job for item in items])):
                return
            if running is None:
                proc.flush()
            else:
                self.writing = (proc, running)
                running.add_writer(proc.request_fileno(), self.writable)
        except Exception as err:
            self.worker_lost(err)

    def dispatch_due(self) -> None:
        self.dispatch_timer = None
        self.dispatch(now=True)

    def writable(self) -> None:
        """The worker's pipe takes more of a batch (event loop writer callback)."""
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
            results = proc.receive()
        except Exception as err:  # EOFError: the worker died
            self.worker_lost(err)
            return
        self.batch_done(results)

    def batch_done(self, results: list[JobResult]) -> None:
        """Apply a batch's results to its flows, then send the next batch."""
        items, self.batch = self.batch or [], None
        for item, result in zip(items, results):
            try:
                self.take(item.flow, result, update=item.waiter is None or item.waiter.cancelled())
            except Exception as err:
                self.report(item.flow, "analysis", err)
            if item.waiter is not None and not item.waiter.done():
                item.waiter.set_result(None)
        self.dispatch()
        if self.batch is None and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    def fail(self, items: list[QueuedFlow], err: BaseException) -> None:
        """Flows the worker could not take: counted as not stored, marked, their waiters released."""
        for item in items:
            if item.job.capture is not None:
                self.not_stored += 1
            item.flow.metadata[META_ERROR] = f"worker: {type(err).__name__}: {err}"
            if item.waiter is not None and not item.waiter.done():
                item.waiter.set_result(None)

    def take(self, f: http.HTTPFlow, result: JobResult, *, update: bool) -> None:
        """Apply a worker result: metadata into the flow, capture problems into the log (each said once)."""
        if result.error is not None:
            self.report(f, "analysis", RuntimeError(result.error))
        if result.metadata is not None:
            apply_metadata(f, result.metadata, complete=True)
            if update and ctx.master.addons.get("view") is not None:
                # mitmproxy's console and mitmweb (which have a flow view) redraw the flow; mitmdump has none
                ctx.master.addons.trigger(hooks.UpdateHook([f]))
        if result.capture_error is not None:
            self.not_stored += 1
            if not self.capture_failed:
                self.capture_failed = True
                logger.log(ALERT, f"ActiveSync capture disabled: cannot open {self.capture_path}: {result.capture_error}")
        elif self.capture_path is not None and not self.capture_failed:
            self.stored += 1
        if result.writer_error is not None and result.writer_error != self.writer_error:
            self.writer_error = result.writer_error
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: cannot write: {result.writer_error}")

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
        """The worker died: say so once per loss, fail the batch that was out; the next flow starts a new one."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        logger.log(ALERT, f"ActiveSync worker process failed ({type(err).__name__}: {err}); starting a new one")
        self.forget_reader(proc)
        self.forget_writer()
        proc.stop(kill=True)
        items, self.batch = self.batch or [], None
        self.fail(items, err)
        if self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

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
        while self.batch is not None or self.queued:
            if self.batch is None:
                self.dispatch(now=True)
                continue
            if self.reading is not self.proc:  # nobody watches this worker's pipe: read its answer here
                self.readable()
                continue
            self.idle = asyncio.get_running_loop().create_future()
            await self.idle

    def stop_worker(self) -> None:
        """Take the worker's last answers, close the capture there, stop the process; never raises."""
        if self.dispatch_timer is not None:
            self.dispatch_timer.cancel()
            self.dispatch_timer = None
        proc = self.proc
        if proc is None:
            if self.queued:
                self.dispatch(now=True)  # flows queued after the worker was lost: a new worker takes them
                proc = self.proc
            if proc is None:
                return
        self.forget_reader(proc)
        self.forget_writer()
        try:
            self.dispatch(now=True)
            while self.batch is not None:
                self.batch_done(proc.receive())  # here, while the log still reaches the console
                self.dispatch(now=True)
            proc.send(("close",))
            problem = proc.receive()
            if problem is not None:
                logger.log(ALERT, f"ActiveSync capture {self.capture_path}: closing failed: {problem}")
        except Exception as err:
            logger.log(ALERT, f"ActiveSync worker process failed while closing the capture: {err}")
            self.fail(self.batch or [], err)
            self.batch = None
        finally:
            self.forget_reader(proc)  # dispatching above may have watched the pipes again
            self.forget_writer()
            self.proc = None
            proc.stop()
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
