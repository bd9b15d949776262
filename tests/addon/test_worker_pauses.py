"""The worker holds its analysis back while traffic flows and catches up in the pause after it."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from addon import metadata
from addon import worker as worker_module
from addon.metadata import request_metadata
from addon.worker import DEFER_LIMIT_SECONDS, PAUSE_SECONDS, Recorder, WorkerLoop
from addon.worker_protocol import FLAG_ANALYSE, FLAG_WAITING, AnswerReader, CaptureSettings, flow_frame
from tests.addon.test_addon import eas_flow

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the worker's pipes")


@pytest.fixture
def loop() -> Iterator[tuple[WorkerLoop, int]]:
    """A worker loop in this process on a real pipe, and the pipe's write end (the proxy's side)."""
    read_fd, write_fd = os.pipe()
    answer_read, answer_write = os.pipe()
    yield WorkerLoop(read_fd, answer_write), write_fd
    for fd in (read_fd, write_fd, answer_read, answer_write):
        os.close(fd)


def frame(serial: int, flags: int = FLAG_ANALYSE) -> bytes:
    return flow_frame(serial, eas_flow(), "eas", flags, None)


def test_frames_that_just_arrived_are_held_until_the_traffic_pauses(loop: tuple[WorkerLoop, int]) -> None:
    worker, proxy = loop
    assert worker.hold_for() is None  # nothing to hold
    os.write(proxy, frame(1) + frame(2))
    worker.read(wait=False)
    hold = worker.hold_for()
    assert hold is not None and 0 < hold <= PAUSE_SECONDS
    worker.arrived_at -= PAUSE_SECONDS  # no frame since: the pause has come
    assert worker.hold_for() is None


def test_a_flow_is_held_back_at_most_the_limit(loop: tuple[WorkerLoop, int]) -> None:
    worker, proxy = loop
    os.write(proxy, frame(1))
    worker.read(wait=False)
    worker.jobs[0] = worker.jobs[0]._replace(arrived=worker.jobs[0].arrived - DEFER_LIMIT_SECONDS)  # no pause
    os.write(proxy, frame(2))
    worker.read(wait=False)  # a frame just came, yet the oldest has waited long enough
    assert worker.hold_for() is None


def test_a_large_backlog_is_not_held(loop: tuple[WorkerLoop, int], monkeypatch: pytest.MonkeyPatch) -> None:
    worker, proxy = loop
    data = frame(1)
    monkeypatch.setattr(worker_module, "DEFER_LIMIT_BYTES", 2 * len(data))
    os.write(proxy, data)
    worker.read(wait=False)
    assert worker.hold_for() is not None
    os.write(proxy, frame(2))
    worker.read(wait=False)
    assert worker.jobs_size == 2 * len(data)
    assert worker.hold_for() is None


def test_a_waiting_flow_or_the_end_of_the_proxy_is_never_held(loop: tuple[WorkerLoop, int]) -> None:
    worker, proxy = loop
    os.write(proxy, frame(1) + frame(2, FLAG_ANALYSE | FLAG_WAITING))
    worker.read(wait=False)
    assert worker.urgent == 1
    assert worker.hold_for() is None
    worker.urgent = 0
    assert worker.hold_for() is not None
    worker.eof = True  # the proxy went away: what it handed over is recorded now
    assert worker.hold_for() is None


class ThreadedWorker:
    """The worker's loop (`WorkerLoop.run`, the code the worker process runs) on real pipes in a thread of this
    process, so a test can set its pause and its limit; `post` is the proxy's side."""

    def __init__(self, recorder: Recorder | None = None) -> None:
        read_fd, self.proxy_fd = os.pipe()
        self.answer_fd, answer_write = os.pipe()
        self.loop = WorkerLoop(read_fd, answer_write, recorder)
        self.fds = (read_fd, answer_write)
        self.parser = AnswerReader()
        self.thread = threading.Thread(target=self.loop.run, daemon=True)
        self.thread.start()

    def post(self, data: bytes) -> None:
        os.write(self.proxy_fd, data)

    def answers_until(self, done: Callable[[list[int]], bool], answered: list[int]) -> list[int]:
        """Read answers into `answered` (their serials) until `done` says so; a generous deadline, never a bound."""
        deadline = time.monotonic() + 60
        while True:
            while select.select([self.answer_fd], [], [], 0.05)[0]:
                answered += [answer[0] for answer in self.parser.feed(os.read(self.answer_fd, 1 << 20))]
            if done(answered):
                return answered
            assert time.monotonic() < deadline, f"answers so far: {answered}"

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not done():
            assert time.monotonic() < deadline, what
            time.sleep(0.005)

    def stop(self) -> None:
        os.close(self.proxy_fd)  # the proxy went away: the loop records what it holds and returns
        self.thread.join(60)
        assert not self.thread.is_alive()
        for fd in (*self.fds, self.answer_fd):
            os.close(fd)


def test_a_burst_is_analysed_in_the_pause_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pause = 1.0  # long enough that analysing a burst straight away would come well before it
    monkeypatch.setattr(worker_module, "PAUSE_SECONDS", pause)
    monkeypatch.setattr(worker_module, "DEFER_LIMIT_SECONDS", 3600.0)
    started: list[float] = []

    class TimedRecorder(Recorder):
        def run(self, *args: Any) -> Any:
            started.append(time.monotonic())
            return super().run(*args)

    worker = ThreadedWorker(TimedRecorder())
    try:
        sent_at = time.monotonic()
        worker.post(b"".join(frame(serial) for serial in range(1, 31)))  # no frame can arrive before sent_at
        answered = worker.answers_until(lambda got: len(got) >= 30, [])
    finally:
        worker.stop()
    assert answered == list(range(1, 31))
    # A slow machine only delays the analysis: it can never start before the pause after the last frame.
    assert started[0] - sent_at >= pause


def test_a_flow_that_waits_is_analysed_while_traffic_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Traffic that never pauses, on any machine: the pause and the limit never come during the test.
    monkeypatch.setattr(worker_module, "PAUSE_SECONDS", 3600.0)
    monkeypatch.setattr(worker_module, "DEFER_LIMIT_SECONDS", 3600.0)
    worker = ThreadedWorker()
    try:
        worker.post(b"".join(frame(serial) for serial in range(1, 11)))
        worker.wait_until(lambda: len(worker.loop.jobs) == 10, "the ten frames reached the worker")
        answered: list[int] = []
        assert worker.answers_until(lambda got: True, answered) == []  # held: traffic goes on
        worker.post(frame(11, FLAG_ANALYSE | FLAG_WAITING))
        worker.answers_until(lambda got: 11 in got, answered)
        assert answered == list(range(1, 12))  # the ones before it went first, in order
        worker.post(frame(12))  # an ordinary flow after it is held again
        worker.wait_until(lambda: [job[2] for job in worker.loop.jobs] == [12], "frame 12 held")
        assert worker.answers_until(lambda got: True, answered) == list(range(1, 12))
    finally:
        worker.stop()


def test_request_metadata_is_remembered_boundedly_and_handed_out_as_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata, "_request_metadata_memo", {})
    path = "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=D1&DeviceType=iPhone"
    first = request_metadata("eas", "POST", path, "14.1")
    assert first["activesync.command"] == "Sync" and first["activesync.version"] == "14.1"
    first["activesync.command"] = "changed"
    assert request_metadata("eas", "POST", path, "14.1")["activesync.command"] == "Sync"
    assert request_metadata("eas", "POST", path, "16.1")["activesync.version"] == "16.1"
    for number in range(metadata.REQUEST_METADATA_MEMO_SIZE + 10):
        request_metadata("eas", "POST", f"{path}&n={number}", None)
    assert len(metadata._request_metadata_memo) <= metadata.REQUEST_METADATA_MEMO_SIZE


def test_flows_analysed_for_one_capture_are_recorded_there_when_the_capture_changes(tmp_path) -> None:
    from tests.addon.test_addon import frame_parts, read_capture

    recorder = Recorder()

    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"

    def run(serial: int, capture: object) -> None:
        fields, request_body, response_body = frame_parts(flow_frame(serial, eas_flow(), "eas", FLAG_ANALYSE, capture))
        answer = recorder.run(serial, FLAG_ANALYSE, fields, request_body, response_body)
        assert answer[2] is None and answer[4] is None, answer

    try:
        run(1, CaptureSettings(str(first), False, None))
        run(2, CaptureSettings(str(first), False, None))
        recorder.record(wait=True)  # committed before it returns
        assert len(read_capture(first)) == 2
        run(3, CaptureSettings(str(first), False, None))  # analysed, not yet handed over
        run(4, CaptureSettings(str(second), False, None))  # another capture: the first one takes its flow before it closes
    finally:
        assert recorder.close() is None
    assert len(read_capture(first)) == 3
    assert len(read_capture(second)) == 1
