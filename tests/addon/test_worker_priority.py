"""The addon's workers: the analysis yields to the traffic (idle CPU priority), the spooler does not; both kept to one
CPU when several exist."""

from __future__ import annotations

import os
import sys
import time

import pytest

from addon.pipes import WorkerProcess
from tests.addon.processes import children

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux scheduling policies")


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("the workers did not start or set their scheduling in time")


def test_the_analysis_runs_at_idle_priority_and_the_spooler_at_the_proxys_on_one_cpu() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    proc = WorkerProcess()
    spooler = proc.process.pid
    try:
        analyses: list[int] = []
        wait_for(lambda: analyses.extend(children(spooler)) or analyses)
        (analysis,) = analyses
        wait_for(lambda: os.sched_getscheduler(analysis) == os.SCHED_IDLE)
        # The spooler appends the frames to the spool: at the priority the proxy has, whatever the analysis gets.
        assert os.sched_getscheduler(spooler) == os.sched_getscheduler(0) == os.SCHED_OTHER
        assert os.getpriority(os.PRIO_PROCESS, spooler) == os.getpriority(os.PRIO_PROCESS, 0)
        last = {allowed[-1]}
        for pid in (spooler, analysis):
            wait_for(lambda: os.sched_getaffinity(pid) == last)  # noqa: B023
        # The proxy itself is left where it was.
        assert sorted(os.sched_getaffinity(0)) == allowed
    finally:
        proc.stop(kill=True)
