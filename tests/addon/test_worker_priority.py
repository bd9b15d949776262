"""The addon's worker process yields to the traffic: idle CPU priority, kept to one CPU when several exist."""

from __future__ import annotations

import os
import sys
import time

import pytest

from addon.pipes import WorkerProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux scheduling policies")


def wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("the worker did not set its scheduling in time")


def test_the_worker_runs_at_idle_priority_on_one_cpu() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    proc = WorkerProcess()
    pid = proc.process.pid
    try:
        wait_for(lambda: os.sched_getscheduler(pid) == os.SCHED_IDLE)
        if len(allowed) > 1:
            wait_for(lambda: os.sched_getaffinity(pid) == {allowed[-1]})
        else:
            assert os.sched_getaffinity(pid) == set(allowed)
        # The proxy itself is left where it was.
        assert sorted(os.sched_getaffinity(0)) == allowed
        assert os.sched_getscheduler(0) != os.SCHED_IDLE
    finally:
        proc.stop(kill=True)
