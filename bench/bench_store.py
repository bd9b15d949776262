"""How many flows per second the capture writer stores, with and without analysis, against plain SQLite (the anchor)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitmproxy import http  # noqa: E402

import eas  # noqa: E402

from capture.mitm import flow_input_from_mitm  # noqa: E402
from capture.model import FlowFilter, FlowInput  # noqa: E402
from capture.reader import CaptureReader  # noqa: E402
from capture.writer import CaptureWriter  # noqa: E402
from tests.capture.test_store import HEADER, _str, _tag, eas_flow  # noqa: E402

BODY_HTML = "<p>" + "Quarterly figures attached, please review before Monday. " * 30 + "</p>"


def sync_response_with(emails: int) -> bytes:
    """A Sync response adding `emails` messages (subject, from, to, date, 1.8 kB HTML body each)."""
    adds = []
    for index in range(emails):
        application_data = (
            b"\x00\x02"
            + _tag(0x16, _str('"Alice" <alice@example.com>'))
            + _tag(0x18, _str('"Bob" <bob@example.com>'))
            + _tag(0x14, _str(f"Report {index}"))
            + _tag(0x0F, _str("2026-11-21T10:00:00.000Z"))
            + _tag(0x15, _str("0"))
            + b"\x00\x11"
            + _tag(0x0A, _tag(0x06, _str("2")), _tag(0x0C, _str(str(len(BODY_HTML)))), _tag(0x0B, _str(BODY_HTML)))
            + b"\x00\x00"
        )
        adds.append(_tag(0x07, _tag(0x0D, _str(f"5:{index}")), _tag(0x1D, application_data)))
    collection = _tag(0x0F, _tag(0x0B, _str("2")), _tag(0x12, _str("5")), _tag(0x0E, _str("1")), _tag(0x16, *adds))
    return HEADER + _tag(0x05, _tag(0x1C, collection))


def traffic_mix() -> list[http.HTTPFlow]:
    """Ten flows of a realistic mix: 6 Ping, 2 small Sync, 1 FolderSync, 1 Sync with 25 e-mails (~60 kB)."""
    big = sync_response_with(25)
    small = sync_response_with(1)
    ping_response = HEADER + b"\x00\x0d" + _tag(0x05, _tag(0x07, _str("1")))
    kinds: list[http.HTTPFlow] = []
    for index in range(10):
        timestamp = 1_763_700_000.0 + index
        if index < 6:
            kinds.append(eas_flow("Ping", response_body=ping_response, timestamp=timestamp))
        elif index < 8:
            kinds.append(eas_flow("Sync", response_body=small, timestamp=timestamp))
        elif index == 8:
            kinds.append(eas_flow("FolderSync", timestamp=timestamp))
        else:
            kinds.append(eas_flow("Sync", response_body=big, timestamp=timestamp))
    return kinds


def traffic(count: int) -> list[FlowInput]:
    """`count` flows of traffic_mix, each at its own time."""
    inputs = [flow_input_from_mitm(f) for f in traffic_mix()]
    flows = []
    for index in range(count):
        template = inputs[index % len(inputs)]
        shift = (index // len(inputs)) * 10.0  # a flow every 0.1 s on average, each at its own time
        timestamps = {name: value + shift for name, value in template.timestamps.items()}
        flows.append(dataclasses.replace(template, timestamps=timestamps))
    return flows


def measure_sqlite(flows: list[FlowInput], directory: Path) -> tuple[float, float]:
    """The anchor: flows per second that plain sqlite3 stores on this machine now, in the capture's settings (WAL,
    synchronous=NORMAL, a commit per 200 flows): one row of a flow's headers (JSON) and bodies, no index; and the
    CPU milliseconds per flow."""
    path = directory / f"anchor-{time.monotonic_ns()}.sqlite"
    started, cpu = time.perf_counter(), time.process_time()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("CREATE TABLE flows (id INTEGER PRIMARY KEY, url TEXT, request_headers TEXT, "
                       "request_body BLOB, response_headers TEXT, response_body BLOB)")
    for start in range(0, len(flows), 200):
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO flows (url, request_headers, request_body, response_headers, response_body) "
            "VALUES (?, ?, ?, ?, ?)",
            [(flow.display_url(), json.dumps(flow.request_headers), flow.request_body,
              json.dumps(flow.response_headers), flow.response_body) for flow in flows[start:start + 200]],
        )
        connection.execute("COMMIT")
    connection.close()
    return len(flows) / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / len(flows)


def measure(flows: list[FlowInput], *, analyze: bool, directory: Path) -> tuple[float, float, float, float]:
    """(flows per second through close(), CPU ms per flow (every thread of the process: the writer's too),
    median add() microseconds, capture bytes per flow)."""
    path = directory / f"bench-{analyze}-{time.monotonic_ns()}.sqlite"
    add_times: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    writer = CaptureWriter(path, analyze=analyze)
    for flow_input in flows:
        before = time.perf_counter()
        writer.add(flow_input)
        add_times.append(time.perf_counter() - before)
    writer.close()
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu) * 1000 / len(flows)
    with CaptureReader(path) as reader:
        assert reader.count_flows() == len(flows)
    size = path.stat().st_size
    return len(flows) / elapsed, cpu_ms, statistics.median(add_times) * 1e6, size / len(flows)


def measure_reads(path: Path) -> float:
    """FlowRecords read per second (reader.flow) from a capture."""
    with CaptureReader(path) as reader:
        ids = reader.flow_ids()
        started = time.perf_counter()
        for flow_id in ids:
            reader.flow(flow_id)
        return len(ids) / (time.perf_counter() - started)


def measure_queries(path: Path) -> list[tuple[str, float]]:
    """Milliseconds of what the viewer asks while browsing (median of 5)."""
    with CaptureReader(path) as reader:
        newest = reader.max_flow_id()
        queries = {
            "newest page (200 rows)": lambda: reader.flows(limit=200, descending=True),
            "page at the middle": lambda: reader.flows(limit=200, offset=newest // 2),
            "count all": lambda: reader.count_flows(),
            "count command=Sync": lambda: reader.count_flows(FlowFilter(command="Sync")),
            "problems only page": lambda: reader.flows(FlowFilter(problems_only=True)),
            "sorted by EAS status": lambda: reader.flows(order="eas_status", limit=200),
            "text search page": lambda: reader.flows(FlowFilter(text="Report 7"), limit=200),
            "text search count": lambda: reader.count_flows(FlowFilter(text="Report")),
            "sessions": lambda: reader.sessions(),
            "one flow record": lambda: reader.flow(newest),
        }
        timings = []
        for name, query in queries.items():
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                query()
                samples.append(time.perf_counter() - started)
            timings.append((name, statistics.median(samples) * 1000))
        return timings


def spread(values: list[float], digits: int = 0) -> str:
    """`median (min-max)` over the rounds."""
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=2000, help="flows per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args(argv)
    flows = traffic(args.flows)
    average_body = sum(len(f.request_body) + len(f.response_body or b"") for f in flows) / len(flows)
    print(f"{args.flows} EAS flows (6 Ping, 2 small Sync, 1 FolderSync, 1 Sync of 25 mails per 10), "
          f"average bodies {average_body / 1024:.1f} kB per flow; {args.rounds} interleaved rounds; eas codec "
          f"build: {eas._native.status}; {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}")
    print()
    runs: dict[str, list[float]] = {"plain sqlite3 (anchor)": [], "store + eas.analyze": [], "store only (no analysis)": []}
    per_anchor: dict[str, list[float]] = {name: [] for name in runs}
    cpu_ms: dict[str, list[float]] = {name: [] for name in runs}
    add_us: dict[str, list[float]] = {name: [] for name in runs}
    per_flow: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.rounds):
            anchor, anchor_cpu = measure_sqlite(flows, Path(directory))
            runs["plain sqlite3 (anchor)"].append(anchor)
            per_anchor["plain sqlite3 (anchor)"].append(1.0)
            cpu_ms["plain sqlite3 (anchor)"].append(anchor_cpu)
            for analyze, name in ((True, "store + eas.analyze"), (False, "store only (no analysis)")):
                rate, cpu_per_flow, add_median, size = measure(flows, analyze=analyze, directory=Path(directory))
                runs[name].append(rate)
                cpu_ms[name].append(cpu_per_flow)
                per_anchor[name].append(rate / anchor)
                add_us[name].append(add_median)
                per_flow[name] = size
        print("| run | flows/s: median (min-max) | of the anchor, same round | CPU ms/flow | add() median | file/flow |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, rates in runs.items():
            ratio = "1" if name.endswith("(anchor)") else spread(per_anchor[name], 2)
            adds = f"{statistics.median(add_us[name]):.1f} us" if add_us[name] else ""
            size = f"{per_flow[name] / 1024:.1f} kB" if name in per_flow else ""
            print(f"| {name} | {spread(rates)} | {ratio} | {spread(cpu_ms[name], 3)} | {adds} | {size} |")
        newest = max(Path(directory).glob("bench-True-*.sqlite"))
        print()
        print(f"read back (reader.flow): {measure_reads(newest):,.0f} records/s")
        print()
        print(f"| query on {args.flows} flows | ms (median of 5) |")
        print("|---|---:|")
        for name, milliseconds in measure_queries(newest):
            print(f"| {name} | {milliseconds:.2f} |")
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
