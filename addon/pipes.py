"""The proxy's side of the worker: the worker process, its two pipes, and the flows handed to it."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from mitmproxy import http

from addon.worker_protocol import READ_BYTES, Answer, AnswerReader, CaptureSettings, enlarge_pipe

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




class QueuedFrame(NamedTuple):
    """A flow handed to the worker whose frame is built when it goes out."""

    serial: int
    flow: http.HTTPFlow
    kind: str
    flags: int
    capture: CaptureSettings | None


class WorkerProcess:
    """The workers: the spooler (addon/spooler.py), a fresh Python (no fork of the proxy's threads, no re-run of
    its main script) in a session of its own so a terminal's Ctrl-C (or a kill of the proxy) reaches only the
    proxy, which starts the analysis process; driven over two pipes that never block the proxy, frames to the
    spooler and answers from the analysis; no threads on this side."""

    def __init__(self) -> None:
        to_worker_read, to_worker_write = os.pipe()
        from_worker_read, from_worker_write = os.pipe()
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        code = f"from addon.spooler import spooler_entry; spooler_entry({to_worker_read}, {from_worker_write})"
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
        self.answers = AnswerReader()
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

    def receive(self) -> list[Answer]:
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

    def pump(self) -> list[Answer]:
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

