"""How fast `eas-inspector import` reads a large .mitm: the writer analysing alone, and worker processes."""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitmproxy import io  # noqa: E402

from bench.bench_store import traffic_mix  # noqa: E402
from capture.importers import import_file, parallel  # noqa: E402


def write_flows(path: Path, count: int) -> None:
    mix = traffic_mix()
    with path.open("wb") as file:
        writer = io.FlowWriter(file)
        for index in range(count):
            flow = mix[index % len(mix)]
            flow.id = str(uuid.uuid4())
            writer.add(flow)


def measure(run: Callable[[Path], int], directory: Path, name: str) -> tuple[str, int, float, float, float]:
    capture = directory / f"{name}.sqlite"
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter(), time.process_time()
    imported = run(capture)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (children.ru_utime - before_children.ru_utime) + (children.ru_stime - before_children.ru_stime)
    capture.unlink()
    return name, imported, wall, cpu, worker_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=20_000, help="flows in the generated .mitm (default 20,000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        source = directory / "traffic.mitm"
        write_flows(source, args.flows)
        size = source.stat().st_size
        rows = [
            measure(lambda capture: import_file(source, capture, workers=0).imported, directory,
                    "import, writer analyses"),
            measure(lambda capture: import_file(source, capture).imported, directory,
                    f"import, {parallel.worker_count()} worker processes"),
        ]
    print(f"{args.flows:,} flows, {size / 1e6:.0f} MB .mitm\n")
    print("| path | flows | wall s | main CPU s | workers CPU s | CPU ms/flow | flows/s (wall) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, imported, wall, cpu, worker_cpu in rows:
        per_flow = (cpu + worker_cpu) * 1000 / max(imported, 1)
        print(f"| {label} | {imported:,} | {wall:.1f} | {cpu:.1f} | {worker_cpu:.1f} | {per_flow:.2f} | "
              f"{imported / wall:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
