"""The spool: frames appended as the worker reads them, replayed into the capture once, a torn end ignored."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from addon.spool import SPOOL_HEADER, recover_spool, spool_path
from addon.worker import WorkerLoop
from addon.worker_protocol import FLAG_ANALYSE, CaptureSettings, flow_frame
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


@pytest.fixture
def loop() -> Iterator[tuple[WorkerLoop, int]]:
    """A worker loop in this process on a real pipe, and the pipe's write end (the proxy's side)."""
    read_fd, write_fd = os.pipe()
    answer_read, answer_write = os.pipe()
    yield WorkerLoop(read_fd, answer_write), write_fd
    for fd in (read_fd, write_fd, answer_read, answer_write):
        os.close(fd)


def test_the_worker_spools_each_frame_as_it_reads_it_before_any_analysis(tmp_path: Path) -> None:
    capture = tmp_path / "c.sqlite"
    frames = frame(capture, 1, "A") + frame(capture, 2, "B")
    read_fd, write_fd = os.pipe()
    answer_fd = os.open(os.devnull, os.O_WRONLY)
    worker = WorkerLoop(read_fd, answer_fd)
    os.write(write_fd, frames)
    worker.read(wait=False)
    for fd in (read_fd, write_fd, answer_fd):
        os.close(fd)
    assert len(worker.jobs) == 2  # read, held back, not analysed
    assert spool_path(capture).read_bytes() == SPOOL_HEADER + frames
    # Killed now: what the kernel has of the spool is all that is left (the capture has nothing).
    spool, writer = worker.recorder.spool, worker.recorder.writer
    assert spool is not None and writer is not None
    spool.close(committed=False)
    writer.close()
    assert devices(capture) == []
    assert recover_spool(spool_path(capture)).recovered == 2
    assert devices(capture) == ["A", "B"]


def test_the_next_worker_replays_the_spool_once_then_empties_it(loop: tuple[WorkerLoop, int], tmp_path: Path) -> None:
    capture = tmp_path / "c.sqlite"
    spool_path(capture).write_bytes(SPOOL_HEADER + frame(capture, 1, "A") + frame(capture, 2, "B"))
    worker, proxy = loop
    os.write(proxy, frame(capture, 1, "C"))
    worker.read(wait=False)  # the first flow for the capture opens it: the spool goes in first
    assert devices(capture) == ["A", "B"]
    worker.eof = True
    worker.run()
    assert devices(capture) == ["A", "B", "C"]
    assert not spool_path(capture).exists()  # closed with everything committed


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


def test_a_spool_in_use_by_a_running_worker_is_not_replayed(loop: tuple[WorkerLoop, int], tmp_path: Path) -> None:
    worker, proxy = loop
    capture = tmp_path / "c.sqlite"
    os.write(proxy, frame(capture, 1, "A"))
    worker.read(wait=False)
    with pytest.raises(CaptureError, match="in use by a running proxy"):
        recover_spool(spool_path(capture))
    worker.eof = True
    worker.run()
    assert devices(capture) == ["A"]


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
