"""The spooler process: it appends each flow frame to its capture's spool at once, then passes it to the analysis."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from addon.spool import ROTATE_BYTES, SPOOL_HEADER, Spool, old_spool_path, spool_path
from addon.worker_protocol import (
    COMMITTED_HEAD,
    FLAG_RECOVER,
    FRAME_FLOW,
    FRAME_HEAD,
    FRAME_OPEN,
    READ_BYTES,
    CaptureSettings,
    enlarge_pipe,
    frame_head_fields,
    open_frame,
    with_flags,
)

# The theory of operation is in addon/worker_protocol.py (rule 9 is this process's) and addon/spool.py.

# A spool whose frames are all committed is emptied once none has come for it this long: while traffic flows
# the capture catches up in steps, and each emptying first syncs the capture to disk.
QUIET_SECONDS = 0.2


def say(message: str) -> None:
    print(f"eas-inspector spooler: {message}", file=sys.stderr)


@dataclass
class SpoolLedger:
    """One capture's spool as the spooler holds it, its frames known by the serials the proxy gave them."""

    spool: Spool
    last_serial: int = 0  # the last frame appended: the spool is all committed once the analysis passes it
    old_serial: int = 0  # the last frame of the part this spooler rotated aside (0: no such part)
    appended_at: float = 0.0  # monotonic


class Spooler:
    """The spooler's loop: takes every frame the proxy's pipe holds whenever it runs, spools the recorded flows,
    passes every frame on to the analysis (keeping in memory what the analysis' pipe does not take yet), and lets
    go of the frames the analysis says the capture has committed. It ends when the analysis has ended: after the
    proxy's pipe closed (a SIGKILL of the proxy too), or after the close frame."""

    def __init__(self, read_fd: int, analysis_fd: int, notice_fd: int) -> None:
        self.read_fd = read_fd
        self.analysis_fd = analysis_fd  # -1 once closed
        self.notice_fd = notice_fd
        for fd in (read_fd, analysis_fd, notice_fd):
            os.set_blocking(fd, False)
        self.buffer = bytearray()  # from the proxy: a frame not all read yet
        self.unsent = bytearray()  # for the analysis: what its pipe has not taken yet
        self.notices = bytearray()  # from the analysis: a notice not all read yet
        self.ledgers: dict[str, SpoolLedger] = {}  # by capture path
        self.refused: set[str] = set()  # captures whose spool cannot be taken (said once each)
        self.failed: set[str] = set()  # captures whose spool refused an append (said once each)
        self.current: str | None = None  # the capture of the last recorded frame: its spool stays open
        self.committed = 0  # every flow frame up to this serial is committed, or never will be
        self.proxy_gone = False
        self.analysis_gone = False

    def take(self) -> None:
        """Read what the proxy's pipe holds, spool the recorded flow frames, then queue every frame for the
        analysis (an open frame with FLAG_RECOVER first where a killed run's frames were set aside)."""
        while True:
            try:
                data = os.read(self.read_fd, READ_BYTES)
            except BlockingIOError:
                break
            if not data:
                self.proxy_gone = True
                break
            self.buffer += data
        buffer = self.buffer
        start = 0
        passed: list[bytes] = []
        spooled: dict[str, list[bytes]] = {}
        while len(buffer) - start >= FRAME_HEAD.size:
            size, kind_flags, serial, _, _, _ = FRAME_HEAD.unpack_from(buffer, start)
            end = start + 4 + size
            if end > len(buffer):
                break
            frame = bytes(buffer[start:end])
            start = end
            kind = kind_flags & 15
            settings = capture_of(kind, frame)
            if settings is not None:
                ledger, leftover = self.ledger_for(settings)
                if leftover and kind == FRAME_OPEN:
                    frame = with_flags(frame, FLAG_RECOVER)
                elif leftover:
                    passed.append(open_frame(settings, FLAG_RECOVER))
                if kind == FRAME_FLOW and ledger is not None:
                    spooled.setdefault(settings.path, []).append(frame)
                    ledger.last_serial = serial
            passed.append(frame)
        del buffer[:start]
        for path, frames in spooled.items():  # before the analysis can have them
            self.append(path, b"".join(frames))
        for frame in passed:
            self.unsent += frame

    def ledger_for(self, settings: CaptureSettings) -> tuple[SpoolLedger | None, bool]:
        """The spool of a capture, taken on first use (locked, a killed run's frames set aside), and whether the
        analysis has such frames to replay now. None when it cannot be taken (said once): its flows are still
        recorded, only not spooled first."""
        path = settings.path
        self.current = path
        ledger = self.ledgers.get(path)
        if ledger is not None or path in self.refused:
            return ledger, False
        spool = None
        try:
            spool = Spool(spool_path(path), Path(path))
            leftover = spool.start()
        except Exception as err:  # CaptureError (another proxy holds it, not a spool), OSError
            if spool is not None:
                spool.close(committed=False)
            self.refused.add(path)
            say(f"no spool for {path}: {err}")
            return None, False
        ledger = self.ledgers[path] = SpoolLedger(spool)
        return ledger, leftover

    def append(self, path: str, data: bytes) -> None:
        ledger = self.ledgers[path]
        try:
            ledger.spool.append(data)
        except OSError as err:  # a full disk: the capture still records them, without the spool's safety
            if path not in self.failed:
                self.failed.add(path)
                say(f"cannot write {ledger.spool.path}: {err}")
            return
        ledger.appended_at = time.monotonic()

    def send(self) -> None:
        """Write what the analysis' pipe takes now."""
        while self.unsent and self.analysis_fd >= 0:
            try:
                written = os.write(self.analysis_fd, self.unsent)
            except BlockingIOError:
                return
            except OSError:  # BrokenPipeError: the analysis died; its frames are in the spool
                self.analysis_gone = True
                self.unsent.clear()
                return
            del self.unsent[:written]

    def hear(self) -> None:
        """Read what the analysis says the capture has committed."""
        while True:
            try:
                data = os.read(self.notice_fd, READ_BYTES)
            except BlockingIOError:
                break
            if not data:
                self.analysis_gone = True
                break
            self.notices += data
        whole = len(self.notices) - len(self.notices) % COMMITTED_HEAD.size
        if whole:
            (serial,) = COMMITTED_HEAD.unpack_from(self.notices, whole - COMMITTED_HEAD.size)
            self.committed = max(self.committed, serial)
            del self.notices[:whole]

    def settle(self, now: float) -> float | None:
        """Let go of the spooled frames the capture has committed: a committed rotated part is deleted, a spool
        no longer written closed and deleted, the current one emptied once quiet; past ROTATE_BYTES it is
        rotated. Returns the seconds until a spool is quiet enough to be emptied (None: none waits)."""
        wait: float | None = None
        for path, ledger in list(self.ledgers.items()):
            spool = ledger.spool
            try:
                if ledger.old_serial and self.committed >= ledger.old_serial:
                    spool.forget_old()
                    ledger.old_serial = 0
                if self.committed >= ledger.last_serial:
                    if path != self.current:
                        del self.ledgers[path]
                        spool.close(committed=True)
                    elif spool.size > len(SPOOL_HEADER):
                        quiet = now - ledger.appended_at
                        if quiet >= QUIET_SECONDS:
                            spool.empty()
                        else:
                            wait = min(wait if wait is not None else QUIET_SECONDS, QUIET_SECONDS - quiet)
                elif spool.size >= ROTATE_BYTES and not ledger.old_serial and spool.rotate():
                    ledger.old_serial = ledger.last_serial
            except OSError as err:
                say(f"spool {spool.path}: {err}")
        return wait

    def finish(self) -> None:
        """The analysis has ended: delete each spool all of whose frames are committed; keep the others (and the
        frames the analysis never got) for the next start or `eas-inspector recover`."""
        for ledger in self.ledgers.values():
            done = self.committed >= ledger.last_serial
            try:
                if done and ledger.old_serial and old_spool_path(ledger.spool.path).exists():
                    ledger.spool.forget_old()
                ledger.spool.close(committed=done)
            except OSError as err:
                say(f"spool {ledger.spool.path}: {err}")
        self.ledgers.clear()

    def close_analysis_pipe(self) -> None:
        if self.analysis_fd >= 0:
            os.close(self.analysis_fd)
            self.analysis_fd = -1

    def run(self) -> None:
        try:
            while not self.analysis_gone:
                if self.proxy_gone and not self.unsent:
                    self.close_analysis_pipe()  # the analysis records what it has and ends
                wait = self.settle(time.monotonic())
                readers = [self.notice_fd] if self.proxy_gone else [self.read_fd, self.notice_fd]
                writers = [self.analysis_fd] if self.unsent and self.analysis_fd >= 0 else []
                readable, _, _ = select.select(readers, writers, [], wait)
                if self.read_fd in readable:
                    self.take()
                if self.notice_fd in readable:
                    self.hear()
                self.send()  # frames just taken go on at once
        finally:
            self.close_analysis_pipe()
        self.finish()


def capture_of(kind: int, frame: bytes) -> CaptureSettings | None:
    """The capture a flow frame is recorded in (an open frame: the capture to open); None for none."""
    if kind not in (FRAME_FLOW, FRAME_OPEN):
        return None
    try:
        fields = frame_head_fields(frame)
        raw = fields if kind == FRAME_OPEN else fields[1]
        return None if raw is None else CaptureSettings._make(raw)
    except Exception:  # a bug in the addon: the analysis reports it with the flow
        return None


def keep_to_one_cpu() -> None:
    """Keep this process on the last CPU it may use, when it may use several.

    An idle-priority analysis that the scheduler moves onto whichever CPU is briefly free lands on the proxy's
    CPU between its turns and evicts its caches (bench_proxy measures what that costs). The analysis is one
    thread (and a writer thread), the spooler little more: one CPU is what they can use anyway, and processes
    started here inherit it.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) > 1:
            os.sched_setaffinity(0, {allowed[-1]})
    except (AttributeError, OSError):  # not Linux, or not allowed: the scheduler decides
        pass


def spooler_entry(read_fd: int, answer_fd: int) -> None:
    """`python -c` entry of the spooler process: the proxy's pipe ends it inherited (frames in, answers out).
    It starts the analysis process, which answers the proxy on `answer_fd`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the proxy, which then closes us in order
    keep_to_one_cpu()
    frames_read, frames_write = os.pipe()
    notice_read, notice_write = os.pipe()
    enlarge_pipe(frames_write)
    code = f"from addon.worker import worker_entry; worker_entry({frames_read}, {answer_fd}, {notice_write})"
    inherited = (frames_read, answer_fd, notice_write)
    try:
        analysis = subprocess.Popen([sys.executable, "-c", code], pass_fds=inherited, stdin=subprocess.DEVNULL)
    finally:
        for fd in inherited:  # the proxy sees the analysis' end as the end of its answers
            os.close(fd)
    try:
        Spooler(read_fd, frames_write, notice_read).run()
    finally:
        analysis.wait()
