"""`eas-inspector diagnose` on a 100,000-flow capture: the flows stream from SQLite into the diagnosis; a table."""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_diagnose import build  # noqa: E402
from capture.model import FlowInput  # noqa: E402
from capture.reader import CaptureReader  # noqa: E402
from capture.writer import CaptureWriter  # noqa: E402
from eas_inspector.cmd_diagnose import diagnosis  # noqa: E402

# The columns a copied row takes from the template flow; the rest are the synthetic flow's own.
_COPIED = ("method", "host", "url", "request_size", "scheme", "target_host", "port", "path", "http_version",
           "timestamps", "connection", "request_headers", "is_eas")  # fmt: skip


def make_capture(path: Path, flows: int, devices: int) -> int:
    """A capture of `flows` synthetic flows (bench_diagnose's sessions): one flow written by the writer, then
    its row copied with each synthetic flow's time, device, command, outcome and stored facts."""
    with CaptureWriter(path) as writer:
        writer.add_sync(FlowInput(
            method="POST", scheme="https", target_host="mail.example.com", port=443,
            path="/Microsoft-Server-ActiveSync?Cmd=Sync&User=u&DeviceId=D&DeviceType=Phone", http_version="HTTP/1.1",
            request_headers=(("MS-ASProtocolVersion", "14.1"),), request_body=b"", timestamps={"request_start": 1.0},
        ))  # fmt: skip
    evidence = build(flows, devices)
    connection = sqlite3.connect(path)
    try:
        connection.execute("BEGIN")
        connection.executemany(
            f"INSERT INTO flows (ts_start, ts_end, user, device_id, device_type, command, http_status, outcome, "
            f"facts, {', '.join(_COPIED)}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, {', '.join(_COPIED)} "
            "FROM flows WHERE id = 1",
            (
                (item.ts, item.ts + 0.1, item.user, item.device_id, item.device_type, item.facts.command,
                 item.facts.http_status, "ok", json.dumps(item.facts.to_json(), separators=(",", ":")))
                for item in evidence
            ),
        )  # fmt: skip
        connection.execute("DELETE FROM flows WHERE id = 1")
        connection.execute("COMMIT")
    finally:
        connection.close()
    return len(evidence)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-diagnose-") as directory:
        path = Path(directory) / "many.sqlite"
        started = time.perf_counter()
        count = make_capture(path, args.flows, args.devices)
        made = time.perf_counter() - started
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with CaptureReader(path) as reader:
            wall, cpu = time.perf_counter(), time.process_time()
            findings = diagnosis(reader)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            tracemalloc.start()
            diagnosis(reader)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        print(f"{count:,} flows of {args.devices} device sessions in a capture of "
              f"{path.stat().st_size / 2**20:.0f} MB (made in {made:.1f} s); {len(findings)} findings")
        print("| step | wall | CPU | CPU per flow | allocations peak (tracemalloc) |")
        print("|---|---|---|---|---|")
        print(f"| CaptureReader.evidence -> Diagnoser (the CLI's diagnosis) | {wall:.2f} s | {cpu:.2f} s | "
              f"{cpu / count * 1e6:.1f} us | {peak:.1f} MB |")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
              f"({rss_before:.0f} MB of it reached while making the capture)")


if __name__ == "__main__":
    main()
