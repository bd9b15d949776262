"""How fast `eas-inspector import` reads a large .mitm: the direct reader against mitmproxy's Flow objects."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitmproxy import http, io  # noqa: E402
from mitmproxy.io import tnetstring  # noqa: E402

from bench.bench_store import traffic_mix  # noqa: E402
from capture.importers import import_file, parallel  # noqa: E402

LAB_SESSION = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "lab-session.mitm"
# The lab mix: per 20 flows, 10 Ping, 6 Sync, 1 FolderSync and 3 of the session's other commands, in turn.
LAB_MIX = ("Ping",) * 10 + ("Sync",) * 6 + ("FolderSync",) + ("other",) * 3


def _command(flow: http.HTTPFlow) -> str:
    query = flow.request.query
    return str(query.get("Cmd") or "other")


def lab_states() -> list[dict[str, Any]]:
    """The states of the lab session's flows in the lab mix (20 flows), as mitmproxy writes them."""
    with LAB_SESSION.open("rb") as file:
        flows = [flow for flow in io.FlowReader(file).stream() if isinstance(flow, http.HTTPFlow)]
    by_command: dict[str, list[http.HTTPFlow]] = {}
    for flow in flows:
        command = _command(flow)
        by_command.setdefault(command if command in LAB_MIX else "other", []).append(flow)
    turns = dict.fromkeys(by_command, 0)
    states = []
    for command in LAB_MIX:
        flow = by_command[command][turns[command] % len(by_command[command])]
        turns[command] += 1
        states.append(flow.get_state())
    return states


def store_states() -> list[dict[str, Any]]:
    """bench_store's mix (`traffic_mix`: per 10 flows 6 Ping, 2 small Sync, 1 FolderSync, 1 big Sync)."""
    return [flow.get_state() for flow in traffic_mix()]


def write_flows(path: Path, count: int, mix: str) -> None:
    """`count` flows of the mix, each with an id of its own and one second after the one before."""
    states = lab_states() if mix == "lab" else store_states()
    with path.open("wb") as file:
        for index in range(count):
            state = dict(states[index % len(states)])
            state["id"] = str(uuid.uuid4())
            state["timestamp_created"] = 1_795_310_000.0 + index
            file.write(tnetstring.dumps(state))


def run_once(source: Path, capture: Path, workers: int, flow_objects: bool) -> dict[str, float]:
    """One import in this process: wall, CPU of this process and of its workers, peak RSS of each."""
    wall, cpu = time.perf_counter(), time.process_time()
    report = import_file(source, capture, workers=workers, flow_objects=flow_objects)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "imported": report.imported,
        "wall": wall,
        "cpu": cpu,
        "workers_cpu": children.ru_utime + children.ru_stime,
        "main_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_mb": children.ru_maxrss / 1024,
    }


# An import by another tree of this project (`--baseline`, an older commit), measured as `run_once` measures.
BASELINE_RUN = """
import json, resource, sys, time
code_root, source, capture, workers = sys.argv[1:]
sys.path.insert(0, code_root)
from capture.importers import import_file
wall, cpu = time.perf_counter(), time.process_time()
report = import_file(source, capture, workers=int(workers))
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"imported": report.imported, "wall": wall, "cpu": cpu,
                  "workers_cpu": children.ru_utime + children.ru_stime,
                  "main_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_peak_mb": children.ru_maxrss / 1024}))
"""


def measure(source: Path, directory: Path, workers: int, flow_objects: bool, baseline: str | None = None
            ) -> dict[str, float]:
    """`run_once` in a fresh process, so that its peaks and CPU are its own (`baseline`: another tree's import)."""
    capture = directory / f"capture-{workers}-{int(flow_objects)}-{int(bool(baseline))}.sqlite"
    command = [sys.executable, __file__, "--run", str(source), str(capture), str(workers), str(int(flow_objects))]
    if baseline:
        command = [sys.executable, "-c", BASELINE_RUN, baseline, str(source), str(capture), str(workers)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    for suffix in ("", "-wal", "-shm"):
        Path(f"{capture}{suffix}").unlink(missing_ok=True)
    return dict(json.loads(output.splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=20_000, help="flows in the generated .mitm (default 20,000)")
    parser.add_argument("--mix", choices=("lab", "store"), default="lab",
                        help="lab: the lab session's flows, Ping-heavy (default); store: bench_store's mix")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every path, interleaved (default 1)")
    parser.add_argument("--no-sequential", action="store_true", help="leave out the runs without workers")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also measure the import of another tree of this project (an older commit, its codec "
                             "compiled), with workers, as the first row")
    parser.add_argument("--run", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        source, capture, workers, flow_objects = args.run
        print(json.dumps(run_once(Path(source), Path(capture), int(workers), flow_objects == "1")))
        return 0
    cpus = parallel.worker_count()
    paths: list[tuple[str, int, bool, str | None]] = [
        (f"Flow objects, {cpus} workers (anchor)", cpus, True, None),
        (f"direct reader, {cpus} workers", cpus, False, None),
    ]
    if not args.no_sequential:
        paths += [("Flow objects, no workers", 0, True, None), ("direct reader, no workers", 0, False, None)]
    if args.baseline:
        paths.insert(1, (f"before: {Path(args.baseline).name}, {cpus} workers", cpus, False, args.baseline))
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        source = directory / "traffic.mitm"
        write_flows(source, args.flows, args.mix)
        size = source.stat().st_size
        results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _, _ in paths}
        for _ in range(args.rounds):
            for label, workers, flow_objects, baseline in paths:
                results[label].append(measure(source, directory, workers, flow_objects, baseline))
    load = os.getloadavg()[0]
    print(f"{args.flows:,} flows ({args.mix} mix), {size / 1e6:.0f} MB .mitm, {cpus} CPUs, load average {load:.1f}\n")
    print("| path | flows | wall s | main CPU s | workers CPU s | CPU ms/flow | main peak MB | worker peak MB |"
          " CPU vs anchor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    anchor_cpu = None
    for label, _, _, _ in paths:
        best = min(results[label], key=lambda run: run["cpu"] + run["workers_cpu"])
        total = best["cpu"] + best["workers_cpu"]
        anchor_cpu = anchor_cpu or total
        print(f"| {label} | {best['imported']:,.0f} | {best['wall']:.1f} | {best['cpu']:.1f} | "
              f"{best['workers_cpu']:.1f} | {total * 1000 / max(best['imported'], 1):.2f} | "
              f"{best['main_peak_mb']:.0f} | {best['worker_peak_mb']:.0f} | {anchor_cpu / total:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
