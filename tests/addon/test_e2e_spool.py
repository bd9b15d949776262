"""End to end: mitmdump and its workers killed together under continuous traffic lose nothing answered 0.5 s before,
on an idle machine and on one whose CPUs are all busy."""

from __future__ import annotations

import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

from tests.addon.conftest import FOLDERSYNC_REQUEST, ROOT, CannedRequest, Origin, eas_headers, eas_path, send, start_mitmdump
from tests.addon.processes import descendants, running

# What the issue asks: a flow whose response the client had this long before the kill is in the capture.
SAFE_SECONDS = 0.5
TRAFFIC_SECONDS = 4.0  # longer than the worker may hold its analysis back, so the kill finds flows held
CLIENTS = 2


class Traffic:
    """Clients sending FolderSync requests back to back, each with a DeviceId of its own, so every flow in
    the capture names the request it came from; `answered` holds (DeviceId, monotonic time of the answer)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sent: set[str] = set()
        self.answered: list[tuple[str, float]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(n,), daemon=True) for n in range(CLIENTS)]

    def client(self, number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        serial = 0
        try:
            while not self.stop.is_set():
                serial += 1
                device = f"K{number}N{serial}"
                path = eas_path("FolderSync", device=device)
                self.sent.add(device)
                send(connection, CannedRequest(device, "POST", path, eas_headers(), FOLDERSYNC_REQUEST, True))
                self.answered.append((device, time.monotonic()))
        except (OSError, http.client.HTTPException):  # the proxy was killed
            pass
        finally:
            connection.close()

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


def recorded_devices(capture: Path) -> dict[str, int]:
    """How many flows of each DeviceId the capture holds."""
    connection = sqlite3.connect(capture)
    try:
        return dict(connection.execute("SELECT device_id, count(*) FROM flows GROUP BY device_id").fetchall())
    finally:
        connection.close()


class CpuLoad:
    """A busy loop at normal priority on every CPU this process may use, in a cpu cgroup of its own with the
    processes `join` puts there.

    Why the cgroup: the kernel's autogroups (on by default) give each session a fair share of the CPUs against
    the others, so a load in another session would leave the addon's workers, which have a session of their own,
    their share. Inside a cgroup, as under a systemd service or in a container, there are no autogroups and the
    workers compete with the load directly: there idle priority means no CPU at all while the load runs.
    """

    def __init__(self, group: Path) -> None:
        self.group = group
        self.hogs = [
            subprocess.Popen(
                [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"],
                stdin=subprocess.DEVNULL,
            )
            for cpu in sorted(os.sched_getaffinity(0))
        ]
        for hog in self.hogs:
            self.join(hog.pid)

    def join(self, pid: int) -> None:
        (self.group / "cgroup.procs").write_text(str(pid))

    def stop(self) -> None:
        for hog in self.hogs:
            hog.kill()
            hog.wait()


@contextmanager
def cpu_load() -> Iterator[CpuLoad]:
    """A CpuLoad, undone afterwards (the processes left in its cgroup go back to the parent group, which is
    removed); skips where no cpu cgroup can be made here (it takes root)."""
    roots = [Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct"), Path("/sys/fs/cgroup")]
    root = next((path for path in roots if (path / "cpu.shares").exists()), None)  # cgroup v1
    if root is None and "cpu" in read_text(Path("/sys/fs/cgroup/cgroup.subtree_control")).split():  # v2
        root = Path("/sys/fs/cgroup")
    if root is None:
        pytest.skip("no cpu cgroup controller to put the load beside the proxy")
    group = root / f"eas-inspector-test-{os.getpid()}"
    try:
        group.mkdir()
    except OSError as err:
        pytest.skip(f"cannot make a cpu cgroup to put the load beside the proxy (it takes root): {err}")
    load = None
    try:
        load = CpuLoad(group)
        yield load
    finally:
        if load is not None:
            load.stop()
        for pid in read_text(group / "cgroup.procs").split():
            try:
                (root / "cgroup.procs").write_text(pid)
            except OSError:  # gone meanwhile
                pass
        group.rmdir()


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def kill_proxy_and_workers(
    capture: Path, origin: Origin, confdir: Path, *, busy_cpus: bool
) -> tuple[Traffic, float]:
    """Run the traffic through mitmdump with the addon (with `busy_cpus`, beside a CpuLoad in its cgroup), then
    SIGKILL mitmdump and every process below it at once; returns the traffic (what was sent and answered) and
    when the kill came."""
    spool = capture.with_name(capture.name + "-spool")
    workers: list[int] = []
    with cpu_load() if busy_cpus else nullcontext() as load:
        proxy = start_mitmdump(origin.port, confdir, addon=True, options={"activesync_capture": str(capture)})
        try:
            deadline = time.monotonic() + 60
            while not spool.exists():  # the addon's workers take the spool when mitmdump runs
                assert time.monotonic() < deadline, proxy.output
                time.sleep(0.05)
            if load is not None:
                for pid in [proxy.process.pid, *descendants(proxy.process.pid)]:
                    load.join(pid)
            with Traffic(proxy.port) as traffic:
                time.sleep(TRAFFIC_SECONDS)
                assert traffic.answered, proxy.output
                killed_at = time.monotonic()
                # The proxy first, so it cannot start other workers; then every worker before it can record
                # what it holds.
                workers = descendants(proxy.process.pid)
                proxy.process.kill()
                for pid in workers:
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while any(running(pid) for pid in workers):
                assert time.monotonic() < deadline, "a worker did not die"
                time.sleep(0.05)
        finally:
            proxy.stop()
    return traffic, killed_at


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker process through /proc")
@pytest.mark.parametrize("recovery", ["restart", "recover"])
@pytest.mark.parametrize("cpus", ["idle", "busy"])
def test_killing_proxy_and_workers_together_loses_nothing_answered_half_a_second_before(
    origin: Origin, mitm_confdir: Path, tmp_path: Path, recovery: str, cpus: str
) -> None:
    # With busy CPUs the idle-priority analysis gets no CPU during the traffic: what is safe must not wait for it.
    capture = tmp_path / "capture.sqlite"
    spool = tmp_path / "capture.sqlite-spool"
    traffic, killed_at = kill_proxy_and_workers(capture, origin, mitm_confdir, busy_cpus=cpus == "busy")
    safe = {device for device, at in traffic.answered if killed_at - at > SAFE_SECONDS}
    assert len(safe) >= 20
    assert spool.exists(), sorted(path.name for path in tmp_path.iterdir())
    if recovery == "restart":
        # The next proxy on the same capture replays the spool into it before any new flow.
        proxy = start_mitmdump(origin.port, mitm_confdir, addon=True, options={"activesync_capture": str(capture)})
        assert proxy.stop() == 0, proxy.output
    else:
        result = subprocess.run(
            [sys.executable, "-m", "eas_inspector", "recover", str(spool)],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("recovered "), result.stdout
    assert not spool.exists() and not spool.with_name(spool.name + ".old").exists()
    recorded = recorded_devices(capture)
    missing = sorted(safe - recorded.keys())
    assert not missing, f"{len(missing)} of {len(safe)} flows answered {SAFE_SECONDS} s before the kill are lost"
    twice = {device: count for device, count in recorded.items() if count > 1}
    assert not twice
    assert recorded.keys() <= traffic.sent
