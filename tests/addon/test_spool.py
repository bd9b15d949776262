"""The spool: frames appended by the spooler before the analysis sees them, replayed into the capture once, a torn end
ignored."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from addon.spool import SPOOL_HEADER, read_spool, recover_spool, spool_path
from addon import spooler as spooler_module
from addon.spooler import QUIET_SECONDS, Spooler
from addon.worker import WorkerLoop
from addon.worker_protocol import (
    COMMITTED_HEAD,
    FLAG_ANALYSE,
    FRAME_HEAD,
    CaptureSettings,
    flow_frame,
    frame_fields,
    split_frame,
)
from capture.model import CaptureError
from tests.addon.conftest import ROOT
from tests.addon.test_addon import eas_flow

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the worker's pipes")


def frame(capture: Path, serial: int, device: str) -> bytes:
    f = eas_flow(path=f"/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId={device}&DeviceType=Phone")
    return flow_frame(serial, f, "eas", FLAG_ANALYSE, CaptureSettings(str(capture), False, None))


def devices(capture: Path) -> list[str]:
    connection = sqlite3.connect(capture)
    try:
        return [row[0] for row in connection.execute("SELECT device_id FROM flows ORDER BY id")]
    finally:
        connection.close()


class Workers:
    """A spooler and an analysis loop in this process, on real pipes as the proxy starts them; `proxy` is the
    write end of the spooler's pipe."""

    def __init__(self) -> None:
        self.proxy_read, self.proxy = os.pipe()
        self.analysis_read, analysis_write = os.pipe()
        self.notice_read, self.notice_write = os.pipe()
        self.answer_read, self.answer_write = os.pipe()
        os.set_blocking(self.answer_read, False)
        self.spooler = Spooler(self.proxy_read, analysis_write, self.notice_read)
        self.analysis = WorkerLoop(self.analysis_read, self.answer_write, notice_fd=self.notice_write)

    def run_to_the_end(self) -> None:
        """The proxy goes away: the analysis records everything and ends (as its process would: its end of the
        notice pipe closes), the spooler after it."""
        os.close(self.proxy)

        def analyse() -> None:
            self.analysis.run()
            os.close(self.notice_write)

        thread = threading.Thread(target=analyse)
        thread.start()
        self.spooler.run()
        thread.join()

    def close(self) -> None:
        for fd in (self.proxy_read, self.analysis_read, self.notice_read, self.answer_read, self.answer_write):
            os.close(fd)


@pytest.fixture
def workers() -> Iterator[Workers]:
    pair = Workers()
    yield pair
    pair.close()


def test_the_spooler_spools_each_frame_before_the_analysis_can_read_it(workers: Workers, tmp_path: Path) -> None:
    capture = tmp_path / "c.sqlite"
    frames = frame(capture, 1, "A") + frame(capture, 2, "B")
    os.write(workers.proxy, frames)
    workers.spooler.take()
    assert spool_path(capture).read_bytes() == SPOOL_HEADER + frames
    assert bytes(workers.spooler.unsent) == frames  # passed on only now
    workers.spooler.send()
    assert os.read(workers.analysis_read, 2 * len(frames)) == frames
    # Killed now: what the kernel has of the spool is all that is left (the capture does not even exist).
    workers.spooler.finish()
    assert not capture.exists()
    assert recover_spool(spool_path(capture)).recovered == 2
    assert devices(capture) == ["A", "B"]


def test_the_spooler_lets_go_of_frames_once_the_analysis_says_they_are_committed(
    workers: Workers, tmp_path: Path
) -> None:
    capture = tmp_path / "c.sqlite"
    spool = spool_path(capture)
    os.write(workers.proxy, frame(capture, 1, "A") + frame(capture, 2, "B"))
    spooler = workers.spooler
    spooler.take()
    full = spool.stat().st_size
    later = time.monotonic() + QUIET_SECONDS
    os.write(workers.notice_write, COMMITTED_HEAD.pack(1))  # frame 2 is not committed yet
    spooler.hear()
    assert spooler.settle(later) is None
    assert spool.stat().st_size == full
    os.write(workers.notice_write, COMMITTED_HEAD.pack(2))
    spooler.hear()
    wait = spooler.settle(time.monotonic())  # frames came just now: the capture may catch up again soon
    assert wait is not None and 0 < wait <= QUIET_SECONDS
    assert spool.stat().st_size == full
    assert spooler.settle(later) is None
    assert spool.read_bytes() == SPOOL_HEADER
    spooler.finish()  # every frame committed: the spool goes
    assert not spool.exists()


def test_a_killed_runs_frames_are_replayed_once_before_new_flows_then_the_spool_goes(
    workers: Workers, tmp_path: Path
) -> None:
    capture = tmp_path / "c.sqlite"
    spool = spool_path(capture)
    old = spool.with_name(spool.name + ".old")
    old.write_bytes(SPOOL_HEADER + frame(capture, 7, "Z"))  # a rotated part the killed run left too
    spool.write_bytes(SPOOL_HEADER + frame(capture, 1, "A") + frame(capture, 2, "B"))
    os.write(workers.proxy, frame(capture, 1, "C"))
    workers.spooler.take()  # the first flow for the capture: its spool is taken, what it held set aside
    assert spool.read_bytes() == SPOOL_HEADER + frame_bytes_of(workers.spooler.unsent, 1)
    assert [device_of(f) for f in read_spool(old).frames] == ["Z", "A", "B"]
    workers.run_to_the_end()
    assert devices(capture) == ["Z", "A", "B", "C"]
    assert not spool.exists() and not old.exists()


def test_a_spool_in_use_by_a_running_spooler_is_not_replayed(workers: Workers, tmp_path: Path) -> None:
    capture = tmp_path / "c.sqlite"
    os.write(workers.proxy, frame(capture, 1, "A"))
    workers.spooler.take()
    with pytest.raises(CaptureError, match="in use by a running proxy"):
        recover_spool(spool_path(capture))
    workers.run_to_the_end()
    assert devices(capture) == ["A"]
    assert not spool_path(capture).exists()


def frame_bytes_of(unsent: bytearray, count: int) -> bytes:
    """The last `count` frames of what the spooler passes on (FRAME_HEAD-sized)."""
    frames = []
    at = 0
    while at < len(unsent):
        size = FRAME_HEAD.unpack_from(unsent, at)[0]
        frames.append(bytes(unsent[at : at + 4 + size]))
        at += 4 + size
    return b"".join(frames[-count:])


def device_of(data: bytes) -> str:
    """The DeviceId in the request path of a flow frame."""
    path = frame_fields(split_frame(data)[0]).flow.path.decode()
    return path.split("DeviceId=")[1].split("&")[0]


def test_a_torn_last_frame_is_ignored_and_flows_already_recorded_are_not_recorded_again(tmp_path: Path) -> None:
    capture = tmp_path / "c.sqlite"
    spool = spool_path(capture)
    spool.write_bytes(SPOOL_HEADER + frame(capture, 1, "A"))
    assert recover_spool(spool).recovered == 1
    again = frame(capture, 1, "A")  # another flow id: another flow
    first = SPOOL_HEADER + again + frame(capture, 2, "B")
    spool.write_bytes(first)
    assert recover_spool(spool).recovered == 2
    # The same frames once more (a spool left behind after its capture committed them), then half a frame.
    torn = frame(capture, 3, "C")
    spool.write_bytes(first + torn[: len(torn) // 2])
    recovery = recover_spool(spool)
    assert (recovery.recovered, recovery.already, recovery.torn_bytes) == (0, 2, len(torn) // 2)
    assert devices(capture) == ["A", "A", "B"]
    assert not spool.exists()


def eas_inspector(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eas_inspector", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_recover_and_import_of_a_spool_record_its_flows(tmp_path: Path) -> None:
    capture = tmp_path / "c.sqlite"
    spool = spool_path(capture)
    spool.write_bytes(SPOOL_HEADER + frame(capture, 1, "A"))
    result = eas_inspector("recover", str(spool))
    assert (result.returncode, result.stdout) == (0, f"recovered 1 EAS/Autodiscover flow into {capture}\n")
    other = tmp_path / "other.sqlite"
    spool.write_bytes(SPOOL_HEADER + frame(capture, 1, "B"))
    result = eas_inspector("import", str(spool), str(other))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("recovered 1 EAS/Autodiscover flow into "), result.stdout
    assert (devices(capture), devices(other)) == (["A"], ["B"])


def test_recover_of_a_file_that_is_not_a_spool_says_so_in_one_line(tmp_path: Path) -> None:
    spool = tmp_path / "c.sqlite-spool"
    spool.write_bytes(b"not a spool\n")
    result = eas_inspector("recover", str(spool))
    assert result.returncode == 1
    assert result.stderr == f"eas-inspector: {spool}: not an eas-inspector spool (version 1) file\n"


def test_a_large_spool_is_rotated_and_its_old_part_deleted_once_committed(
    workers: Workers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = tmp_path / "c.sqlite"
    spool = spool_path(capture)
    old = spool.with_name(spool.name + ".old")
    first = frame(capture, 1, "A") + frame(capture, 2, "B")
    monkeypatch.setattr(spooler_module, "ROTATE_BYTES", len(first))
    spooler = workers.spooler
    os.write(workers.proxy, first)
    spooler.take()
    spooler.settle(time.monotonic())  # nothing committed, the spool full: it is moved aside
    assert old.read_bytes() == SPOOL_HEADER + first
    assert spool.read_bytes() == SPOOL_HEADER
    os.write(workers.proxy, frame(capture, 3, "C"))
    spooler.take()
    os.write(workers.notice_write, COMMITTED_HEAD.pack(1))
    spooler.hear()
    spooler.settle(time.monotonic())
    assert old.exists()  # frame 2 is in it, not committed
    os.write(workers.notice_write, COMMITTED_HEAD.pack(2))
    spooler.hear()
    spooler.settle(time.monotonic())
    assert not old.exists()
    assert [device_of(f) for f in read_spool(spool).frames] == ["C"]
    spooler.finish()  # frame 3 is not committed: the spool stays for the next start
    assert [device_of(f) for f in read_spool(spool).frames] == ["C"]


def test_the_spool_of_a_capture_left_behind_goes_once_its_frames_are_committed(
    workers: Workers, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    os.write(workers.proxy, frame(first, 1, "A") + frame(second, 2, "B"))
    spooler = workers.spooler
    spooler.take()
    assert spool_path(first).exists() and spool_path(second).exists()
    os.write(workers.notice_write, COMMITTED_HEAD.pack(1))
    spooler.hear()
    spooler.settle(time.monotonic())
    assert not spool_path(first).exists()  # no longer written and all committed
    assert [device_of(f) for f in read_spool(spool_path(second)).frames] == ["B"]
    spooler.finish()
