"""The analysis process: it analyses the flows the spooler passes on and records them in the capture, at idle priority."""

from __future__ import annotations

import collections
import dataclasses
import os
import select
import signal
import sys
import time
from typing import Any

import eas
from eas.diagnosis import Diagnoser
from eas.evidence import FlowEvidence
from eas.exchange import Exchange
from eas.verdicts import judge

from addon.metadata import META_FINDING, analysis_metadata, annotated
from addon.spool import replay_leftover, spool_path
from addon.spooler import keep_to_one_cpu
from addon.worker_protocol import (
    CLOSE_SERIAL,
    COMMITTED_HEAD,
    FLAG_ANALYSE,
    FLAG_RECOVER,
    FLAG_WAITING,
    FRAME_CLOSE,
    FRAME_FLOW,
    FRAME_HEAD,
    FRAME_OPEN,
    Answer,
    CaptureSettings,
    Job,
    answers_message,
    drain,
    frame_bodies,
    frame_fields,
    frame_head_fields,
)
from capture.analysis import flow_facts
from capture.mitm import flow_input_from_fields
from capture.model import FlowInput
from capture.writer import CaptureWriter

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

# The analysis is background work: where CPUs are short, the proxy's traffic gets the CPU first and the
# analysis lags during a burst, catching up after it; nothing is dropped (`done` waits for every flow), and
# nothing durable waits for it (the spooler has each frame on disk first). On Linux it runs as SCHED_IDLE (see
# `lower_priority`); elsewhere at this nice value above the proxy's.
WORKER_NICE = 10

# A backlog is analysed this many flows at a time, each batch then written while the analysis waits.
RECORD_BATCH_FLOWS = 200
# While flows analysed are not yet committed, the idle analysis looks this often whether they are (then it
# tells the spooler, which lets go of their frames).
COMMIT_CHECK_SECONDS = 0.2


class Recorder:
    """The worker's analysis and its capture writer.

    Flows analysed for the capture wait in `unrecorded` until `record` hands them to the writer in a batch: the
    writer's thread writing while this one analyses would hand the GIL back and forth and share the caches, at a
    higher cost per flow than the two one after the other.
    """

    def __init__(self) -> None:
        self.writer: CaptureWriter | None = None
        self.settings: CaptureSettings | None = None
        self.unrecorded: list[tuple[FlowInput, Exchange | None]] = []
        # Flows handed to a writer (or queued in `unrecorded` for one) since the process started, and those
        # its writers have committed or refused: `committed` catches up with `handed`.
        self.handed = 0
        self.closed_committed = 0  # by the writers closed before this one
        self.writer_base = 0  # the current writer's count when it opened
        # The live diagnosis: every analysed flow's facts, in the order the flows finished; flows are known to
        # it by their frame serial (the capture's ids come later, from its writer).
        self.diagnoser = Diagnoser()

    def writer_for(self, settings: CaptureSettings) -> CaptureWriter:
        """The capture writer for these settings; reopened when they change."""
        if self.writer is not None and self.settings == settings:
            return self.writer
        self.close()  # records what the old writer has still to take
        writer = CaptureWriter(
            settings.path, keep_credentials=settings.keep_credentials, max_body_size=settings.max_body
        )
        self.writer, self.settings = writer, settings
        self.writer_base = writer.written_count + writer.refused_count
        return writer

    def recover(self, settings: CaptureSettings) -> None:
        """Replay into the capture the frames a killed run left in its spool, which the spooler set aside; what
        cannot be is said on stderr and kept for `eas-inspector recover`."""
        try:
            writer = self.writer_for(settings)
            self.record(wait=True)  # flows analysed before go first
            recovery = replay_leftover(spool_path(writer.path), writer)
        except Exception as err:
            print(f"eas-inspector worker: cannot recover the spool of {settings.path}: {err}", file=sys.stderr)
            return
        self.handed += recovery.recovered  # committed by the same writer
        if recovery.recovered:
            print(f"eas-inspector worker: recovered {recovery.recovered} flows into {writer.path}", file=sys.stderr)

    def run(
        self, serial: int, flags: int, raw: object, request_body: bytes | None, response_body: bytes | None
    ) -> Answer:
        """Analyse one flow (its frame's marshalled fields and bodies) and queue it for the capture; never raises."""
        metadata = error = capture_error = writer_error = None
        exchange = None
        findings: list[dict[str, Any]] | None = None
        try:
            fields = frame_fields(raw)
            flow_input = flow_input_from_fields(fields.flow, request_body, response_body)
        except Exception as err:  # a bug; nothing to analyse or record
            return Answer(serial, None, f"{type(err).__name__}: {err}", None, f"{type(err).__name__}: {err}", None)
        capture = fields.capture
        if flags & FLAG_ANALYSE:
            try:
                # The annotated analysis, as the capture stores it (annotated XML for its search index), made
                # once for both the metadata and the capture; without a capture, the cheaper one without it.
                exchange = eas.analyze(
                    flow_input.method,
                    flow_input.url,
                    flow_input.request_headers,
                    flow_input.request_body,
                    flow_input.response_status,
                    flow_input.response_headers,
                    flow_input.response_body,
                    annotate=capture is not None,
                    plain_xml=False,
                    request_time=flow_input.ts_start or None,  # 0: the flow has no time
                )
                verdict = judge(exchange, transport_error=flow_input.error)
                metadata = analysis_metadata(fields.kind, exchange, verdict)
                findings = self.diagnose(serial, flow_input, exchange)
                if findings:
                    metadata[META_FINDING] = "; ".join(f"{item['rule']}: {item['summary']}" for item in findings)
                flow_input = with_analysis(flow_input, metadata)
            except Exception as err:
                exchange = None  # the capture's writer analyses the flow itself
                error = f"{type(err).__name__}: {err}"
        if capture is not None:
            try:
                writer = self.writer_for(capture)
                writer.check_open()
                self.unrecorded.append((flow_input, exchange))
                self.handed += 1
                last_error = writer.last_error
                writer_error = str(last_error) if last_error is not None else None
            except Exception as err:
                capture_error = f"{type(err).__name__}: {err}"
        return Answer(serial, metadata, capture_error, writer_error, error, findings)

    def diagnose(self, serial: int, flow_input: FlowInput, exchange: Exchange) -> list[dict[str, Any]] | None:
        """Feed the flow to the live diagnosis; the findings it completes or extends (as JSON), None for none."""
        facts = flow_facts(exchange, flow_input.error)
        if facts is None:
            return None
        end = flow_input.timestamps.get("response_end") or flow_input.timestamps.get("error")
        evidence = FlowEvidence(
            flow_id=serial,
            ts=flow_input.ts_start,
            user=exchange.user,
            device_id=exchange.device_id,
            device_type=exchange.device_type,
            host=flow_input.display_host(),
            facts=facts,
            duration=None if end is None else float(end) - flow_input.ts_start,
        )
        findings = self.diagnoser.feed(evidence)
        return [finding.to_json() for finding in findings] or None

    def record(self, *, wait: bool) -> None:
        """Hand the flows analysed so far to the capture writer; with `wait`, return once it has committed them
        (its thread then writes while this one waits). A write that fails stays with the writer, which retries
        it and says why in `last_error` (the next answers carry it)."""
        unrecorded, self.unrecorded = self.unrecorded, []
        writer = self.writer
        if writer is None or not unrecorded:
            return
        try:
            for flow_input, exchange in unrecorded:
                writer.add(flow_input, exchange=exchange)
            if wait:
                writer.flush()
        except Exception as err:  # CaptureError: a write failed (kept and retried), or the writer stopped on a bug
            print(f"eas-inspector worker: capture {writer.path}: {err}", file=sys.stderr)

    def committed(self) -> int:
        """How many of the flows handed to the writers they have committed (or refused: they never will be)."""
        writer = self.writer
        if writer is None:
            return self.closed_committed
        return self.closed_committed + writer.written_count + writer.refused_count - self.writer_base

    def close(self) -> str | None:
        """Record what is analysed, flush and close the capture; returns what went wrong, if anything."""
        self.record(wait=False)
        writer = self.writer
        if writer is None:
            return None
        problem = None
        try:
            writer.close()
        except Exception as err:
            problem = f"{type(err).__name__}: {err}"
        self.closed_committed = self.committed()
        self.writer, self.settings = None, None
        return problem


def with_analysis(flow_input: FlowInput, values: dict[str, Any]) -> FlowInput:
    """The flow as the capture stores it: its comment, mark and metadata after the analysis (addon.metadata's
    `annotated`, which the proxy applies to the live flow too)."""
    extra = dict(flow_input.extra)
    metadata = dict(extra.get("metadata") or {})
    comment, marked = annotated(
        metadata, str(extra.get("comment") or ""), str(extra.get("marked") or ""), values, complete=True
    )
    extra["metadata"] = metadata
    for key, value in (("comment", comment), ("marked", marked)):
        if value:
            extra[key] = value
        else:
            extra.pop(key, None)
    return dataclasses.replace(flow_input, extra=extra)


class WorkerLoop:
    """The analysis' side of the pipes: reads every frame waiting before each flow it analyses (so a backlog
    waits here, not in the proxy), holds its analysis back while traffic flows (see PAUSE_SECONDS), answers the
    proxy in batches, tells the spooler what the capture has committed, and outlives the proxy: when the frames
    end (EOF, a SIGKILL of the proxy), it still analyses and records every flow it received, then closes the
    capture."""

    def __init__(
        self, read_fd: int, write_fd: int, recorder: Recorder | None = None, *, notice_fd: int | None = None
    ) -> None:
        self.recorder = recorder if recorder is not None else Recorder()
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.notice_fd = notice_fd  # to the spooler (None: no spooler, as in tests of the analysis alone)
        os.set_blocking(read_fd, False)
        if notice_fd is not None:
            os.set_blocking(notice_fd, False)
        self.buffer = bytearray()
        self.jobs: collections.deque[Job] = collections.deque()
        self.jobs_size = 0  # bytes of the frames in `jobs`
        self.urgent = 0  # frames in `jobs` that must not be held back: a flow that waits, the close
        self.arrived_at = 0.0  # monotonic time the last frame arrived
        self.answers: list[Answer] = []
        self.answered_at = time.monotonic()
        self.eof = False
        self.proxy_gone = False
        # The spooler's ledger (rule 9 in addon/worker_protocol.py): each flow frame handled, by serial, with
        # the count of flows the writers must have committed before it is safe (0: nothing to commit); every
        # frame up to `told` is, and the spooler knows it.
        self.marks: collections.deque[tuple[int, int]] = collections.deque()
        self.told = 0

    def read(self, *, wait: bool, timeout: float | None = None) -> None:
        """Take what the pipe holds (waiting for something, at most `timeout` s, when `wait`), split into frames."""
        if wait:
            select.select([self.read_fd], [], [], timeout)
        data, closed = drain(self.read_fd)
        self.buffer += data
        self.eof = self.eof or closed
        buffer = self.buffer
        start = 0
        now = time.monotonic()
        while len(buffer) - start >= FRAME_HEAD.size:
            size, kind_flags, serial, _, _, _ = FRAME_HEAD.unpack_from(buffer, start)
            end = start + 4 + size
            if end > len(buffer):
                break
            kind, flags = kind_flags & 15, kind_flags >> 4
            frame = bytes(buffer[start:end])
            fields = None
            if kind in (FRAME_FLOW, FRAME_OPEN):
                try:
                    fields = frame_head_fields(frame)
                except Exception:  # a bug in the addon: reported when the frame's turn comes
                    pass
            self.jobs.append(Job(kind, flags, serial, frame, now, fields))
            self.jobs_size += end - start
            self.urgent += kind in (FRAME_CLOSE, FRAME_OPEN) or bool(flags & FLAG_WAITING)
            self.arrived_at = now
            start = end
        del buffer[:start]

    def open_capture(self, raw_settings: object) -> None:
        """Open the capture a frame names unless it is the open one (a failure is the flow's answer)."""
        try:
            self.recorder.writer_for(CaptureSettings._make(raw_settings))  # type: ignore[arg-type]
        except Exception:  # the flow's answer says why (Recorder.run opens it again)
            pass

    def tell_committed(self) -> None:
        """Tell the spooler up to which serial every flow frame is committed (when that has risen)."""
        committed = self.recorder.committed()
        marks = self.marks
        safe = self.told
        while marks and marks[0][1] <= committed:
            safe = marks.popleft()[0]
        if safe <= self.told:
            return
        self.told = safe
        if self.notice_fd is None:
            return
        try:
            os.write(self.notice_fd, COMMITTED_HEAD.pack(safe))
        except OSError:  # BlockingIOError: the next notice says as much; BrokenPipeError: the spooler is gone
            pass

    def hold_for(self) -> float | None:
        """Seconds to hold the analysis back because traffic flows (see PAUSE_SECONDS); None: go on now."""
        if not self.jobs or self.eof or self.urgent or self.jobs_size >= DEFER_LIMIT_BYTES:
            return None
        now = time.monotonic()
        hold = min(PAUSE_SECONDS - (now - self.arrived_at), DEFER_LIMIT_SECONDS - (now - self.jobs[0].arrived))
        return hold if hold > 0 else None

    def answer(self) -> None:
        """Send the answers gathered so far (dropped when the proxy is gone)."""
        answers, self.answers = self.answers, []
        self.answered_at = time.monotonic()
        if not answers or self.proxy_gone:
            return
        try:
            os.write(self.write_fd, answers_message(answers))  # blocking: the proxy reads as it can
        except OSError:  # BrokenPipeError: the proxy died; its flows are still recorded
            self.proxy_gone = True

    def run(self) -> None:
        while True:
            hold = self.hold_for()
            if hold is not None:
                self.recorder.record(wait=False)  # written while this thread holds
                if self.answers:
                    self.answer()
                self.read(wait=True, timeout=hold)
                continue
            idle = not self.jobs and not self.eof
            if idle:
                self.recorder.record(wait=False)  # written while this thread waits for work
                self.tell_committed()
            timeout = None
            if idle and self.answers:
                # Answers go at most every ANSWER_SECONDS: one per flow would wake the proxy's event loop (a
                # read, a callback) for every request it forwards. Until then, more work may come.
                timeout = ANSWER_SECONDS - (time.monotonic() - self.answered_at)
                if timeout <= 0:
                    self.answer()
                    timeout = None
            if idle and self.marks:  # come back to tell the spooler once the capture commits
                timeout = COMMIT_CHECK_SECONDS if timeout is None else min(timeout, COMMIT_CHECK_SECONDS)
            self.read(wait=idle, timeout=timeout)
            if not self.jobs:
                if self.eof:
                    break
                continue
            if idle and self.hold_for() is not None:  # the first frames after a pause: traffic is flowing
                continue
            head = self.jobs[0]
            if head.kind in (FRAME_FLOW, FRAME_OPEN) and head.fields is not None:
                settings = head.fields if head.kind == FRAME_OPEN else head.fields[1]
                if settings is not None and self.recorder.settings != tuple(settings):
                    self.open_capture(settings)  # another capture: the old one is closed
            job = self.jobs.popleft()
            self.jobs_size -= len(job.frame)
            self.urgent -= job.kind in (FRAME_CLOSE, FRAME_OPEN) or bool(job.flags & FLAG_WAITING)
            if job.kind == FRAME_CLOSE:
                self.answer()
                problem = self.recorder.close()
                self.tell_committed()
                self.answers.append(Answer(CLOSE_SERIAL, None, problem, None, None, None))
                self.answer()
                return
            if job.kind == FRAME_OPEN:
                if job.flags & FLAG_RECOVER and job.fields is not None:
                    self.recorder.recover(CaptureSettings._make(job.fields))
                continue
            if job.kind != FRAME_FLOW:
                continue
            try:
                if job.fields is None:
                    raise ValueError("the flow frame's fields cannot be read")
                request_body, response_body = frame_bodies(job.frame)
            except Exception as err:  # a bug: say so, keep going
                message = f"{type(err).__name__}: {err}"
                self.answers.append(Answer(job.serial, None, message, None, message, None))
                self.marks.append((job.serial, 0))
                continue
            answer = self.recorder.run(job.serial, job.flags, job.fields, request_body, response_body)
            self.answers.append(answer)
            recorded = job.fields[1] is not None and answer.capture_error is None
            self.marks.append((job.serial, self.recorder.handed if recorded else 0))
            if job.flags & FLAG_WAITING or time.monotonic() - self.answered_at >= ANSWER_SECONDS:
                self.answer()
            if len(self.recorder.unrecorded) >= RECORD_BATCH_FLOWS:
                self.recorder.record(wait=True)
                self.tell_committed()
        self.answer()
        problem = self.recorder.close()
        self.tell_committed()
        if problem is not None:
            print(f"eas-inspector worker: closing the capture failed: {problem}", file=sys.stderr)


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


def worker_entry(read_fd: int, write_fd: int, notice_fd: int) -> None:
    """`python -c` entry of the analysis process: the pipe ends it inherited (frames from the spooler, answers
    to the proxy, notices to the spooler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the proxy, which then closes us in order
    lower_priority()  # before the capture writer's thread starts: threads inherit the policy
    WorkerLoop(read_fd, write_fd, notice_fd=notice_fd).run()
