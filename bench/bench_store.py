"""How many flows per second the capture writer stores (with and without analysis), printed as a table."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mitmproxy import http  # noqa: E402

from capture.mitm import flow_input_from_mitm  # noqa: E402
from capture.model import FlowInput  # noqa: E402
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


def traffic(count: int) -> list[FlowInput]:
    """A realistic mix: per 10 flows, 6 Ping, 2 small Sync, 1 FolderSync, 1 Sync with 25 emails (~60 kB)."""
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
    inputs = [flow_input_from_mitm(f) for f in kinds]
    flows = []
    for index in range(count):
        template = inputs[index % len(inputs)]
        shift = (index // len(inputs)) * 10.0  # a flow every 0.1 s on average, each at its own time
        timestamps = {name: value + shift for name, value in template.timestamps.items()}
        flows.append(dataclasses.replace(template, timestamps=timestamps))
    return flows


def measure(flows: list[FlowInput], *, analyze: bool, directory: Path) -> tuple[float, float, float]:
    """(flows per second through close(), median add() microseconds, capture bytes per flow)."""
    path = directory / f"bench-{analyze}-{time.monotonic_ns()}.sqlite"
    add_times: list[float] = []
    started = time.perf_counter()
    writer = CaptureWriter(path, analyze=analyze)
    for flow_input in flows:
        before = time.perf_counter()
        writer.add(flow_input)
        add_times.append(time.perf_counter() - before)
    writer.close()
    elapsed = time.perf_counter() - started
    with CaptureReader(path) as reader:
        assert reader.count_flows() == len(flows)
    size = path.stat().st_size
    return len(flows) / elapsed, statistics.median(add_times) * 1e6, size / len(flows)


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
            "count command=Sync": lambda: reader.count_flows(command="Sync"),
            "problems only page": lambda: reader.flows(problems_only=True),
            "sorted by EAS status": lambda: reader.flows(order="eas_status", limit=200),
            "text search page": lambda: reader.flows(text="Report 7", limit=200),
            "text search count": lambda: reader.count_flows(text="Report"),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=2000, help="flows per run (default 2000)")
    args = parser.parse_args(argv)
    flows = traffic(args.flows)
    average_body = sum(len(f.request_body) + len(f.response_body or b"") for f in flows) / len(flows)
    print(f"{args.flows} EAS flows (6 Ping, 2 small Sync, 1 FolderSync, 1 Sync of 25 mails per 10), "
          f"average bodies {average_body / 1024:.1f} kB per flow")
    print()
    print(f"{'run':<28} {'flows/s':>10} {'add() median':>14} {'file/flow':>11}")
    with tempfile.TemporaryDirectory() as directory:
        for analyze in (True, False):
            rate, add_us, per_flow = measure(flows, analyze=analyze, directory=Path(directory))
            label = "store + eas.analyze" if analyze else "store only (no analysis)"
            print(f"{label:<28} {rate:>10.0f} {add_us:>11.1f} us {per_flow / 1024:>8.1f} kB")
        newest = max(Path(directory).glob("bench-True-*.sqlite"))
        print(f"{'read back (reader.flow)':<28} {measure_reads(newest):>10.0f}")
        print()
        print(f"{'query on ' + str(args.flows) + ' flows':<28} {'ms':>10}")
        for name, milliseconds in measure_queries(newest):
            print(f"{name:<28} {milliseconds:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
