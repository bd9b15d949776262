"""The proxy's side of the worker: flows queued, framed and written into its pipe; its answers read and applied."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from mitmproxy import http
from mitmproxy.log import ALERT

from addon.metadata import META_ERROR
from addon.pipes import QueuedFlow, QueuedFrame, WorkerProcess
from addon.worker_protocol import CLOSE_SERIAL, Answer, CaptureSettings, close_frame, flow_frame, open_frame

logger = logging.getLogger(__name__)

# Finished flows wait this long for others to share their trip to the worker (one write and one wake-up of the
# worker for the lot: on a busy proxy the system calls per flow cost more than the framing), unless they are
# this many bytes already or a flow waits for its analysis ("wait" mode). Well under a second: what a SIGKILL
# of the proxy can lose.
DISPATCH_DELAY_SECONDS = 0.05
DISPATCH_BYTES = 256 * 1024


class FlowOwner(Protocol):
    """What the client tells about the flows it was given (the addon)."""

    def take(self, item: QueuedFlow, answer: Answer, *, update: bool) -> None:
        """Apply the worker's answer to its flow (`update`: the flow already went on; redraw it)."""

    def dropped(self, item: QueuedFlow) -> None:
        """The worker will never answer for this flow (it died, or the flow could not be framed)."""

    def report(self, f: http.HTTPFlow, stage: str, err: Exception) -> None:
        """Log a failure once with its flow and mark the flow."""


class WorkerClient:
    """The worker process as the proxy's event loop sees it: it starts the worker on first use (and again after a
    loss), sends the flows it is given in frames, and hands the answers to its owner. Nothing here blocks the
    loop; `settled` and `stop` wait for the answers (theory of operation: addon/worker_protocol.py)."""

    def __init__(self, owner: FlowOwner) -> None:
        self.owner = owner
        self.serial = 0  # of the last flow handed to the worker
        self.outstanding: dict[int, QueuedFlow] = {}  # by serial: handed to the worker, not answered yet
        self.queued: list[QueuedFrame] = []  # flows handed over, their frames not yet written into the pipe
        self.queued_size = 0  # body bytes in `queued`
        self.queued_waiting = 0  # flows in `queued` that wait for their analysis
        self.dispatch_timer: asyncio.TimerHandle | None = None
        self.writing: tuple[WorkerProcess, asyncio.AbstractEventLoop] | None = None  # frames still going out
        self.idle: asyncio.Future[None] | None = None  # resolved when no flow is outstanding (see `settled`)
        self.close_answer: str | None = None  # what the worker said to the close frame ("" for fine)
        self.failed_to_start = False  # said once
        self.proc: WorkerProcess | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.reading: WorkerProcess | None = None  # the worker whose answers the loop is watching for

    def submit(
        self, f: http.HTTPFlow, kind: str, flags: int, capture: CaptureSettings | None,
        waiter: asyncio.Future[None] | None,
    ) -> None:
        """Queue a flow for the worker (`flags`: FLAG_ANALYSE, FLAG_WAITING; `capture`: where it is recorded)."""
        self.serial += 1
        self.outstanding[self.serial] = QueuedFlow(f, waiter, capture is not None)
        self.queued.append(QueuedFrame(self.serial, f, kind, flags, capture))
        self.queued_size += len(f.request.raw_content or b"")
        if f.response is not None:
            self.queued_size += len(f.response.raw_content or b"")
        self.queued_waiting += waiter is not None
        self.dispatch()

    def frames(self, queued: list[QueuedFrame]) -> bytes:
        """The frames of the queued flows, built together when they go out: one pass over code that the proxy's
        own work has not just pushed out of the CPU's caches.
        A flow whose frame cannot be built (another addon put something unmarshallable in it) is reported and
        not stored."""
        built = []
        for serial, f, kind, flags, capture in queued:
            try:
                built.append(flow_frame(serial, f, kind, flags, capture))
            except Exception as err:
                item = self.outstanding.pop(serial, None)
                if item is not None:
                    self.owner.dropped(item)
                    item.release()
                self.owner.report(f, "response", err)
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

    def open_capture(self, capture: CaptureSettings) -> None:
        """Have the worker open a capture now (starting the worker if need be), so it replays the flows its
        spool kept from a proxy killed before they were committed, before any new flow comes."""
        self.dispatch(now=True)  # flows queued for an earlier capture go first
        proc = self.worker()
        if proc is None:
            return
        try:
            if proc.post(open_frame(capture)):
                return
            if self.loop is not None and self.writing is None:
                self.writing = (proc, self.loop)
                self.loop.add_writer(proc.request_fileno(), self.writable)
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

    def answered(self, answers: list[Answer]) -> None:
        """Apply the worker's answers to their flows."""
        for answer in answers:
            if answer.serial == CLOSE_SERIAL:
                self.close_answer = answer.capture_error or ""
                continue
            item = self.outstanding.pop(answer.serial, None)
            if item is None:
                continue
            try:
                update = item.waiter is None or item.waiter.cancelled()
                self.owner.take(item, answer, update=update)
            except Exception as err:
                self.owner.report(item.flow, "analysis", err)
            item.release()
        self.wake_when_settled()

    def wake_when_settled(self) -> None:
        """Resolve `settled`'s wait once no flow is outstanding."""
        if not self.outstanding and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

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
            self.owner.dropped(item)
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
                if not self.failed_to_start:
                    self.failed_to_start = True
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

    def stop(self) -> str | None:
        """Take the worker's last answers, close the capture there, stop the process; never raises.

        Returns:
            What closing the capture said ("" when it went well), None when no worker closed it.
        """
        if self.dispatch_timer is not None:
            self.dispatch_timer.cancel()
            self.dispatch_timer = None
        if self.proc is None and self.queued:
            self.dispatch(now=True)  # flows queued after the worker was lost: a new worker takes them
        proc = self.proc
        if proc is None:
            return None
        self.forget_reader(proc)
        self.forget_writer()
        try:
            self.dispatch(now=True)
            # here, not on the loop: the log still reaches the console
            proc.post(close_frame())
            self.close_answer = None
            while self.close_answer is None:
                self.answered(proc.pump())
        except Exception as err:
            logger.log(ALERT, f"ActiveSync worker process failed while closing the capture: {err}")
            self.worker_gone(err)
        finally:
            self.forget_reader(proc)  # dispatching above may have watched the pipes again
            self.forget_writer()
            self.proc = None
            proc.stop()
        return self.close_answer
