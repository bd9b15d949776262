"""EAS Sync requests per second through mitmdump on loopback, without and with the ActiveSync addon."""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import eas  # noqa: E402
from tests.addon.processes import descendants  # noqa: E402  (the /proc walk the addon's tests use)

MITMDUMP = Path(sys.executable).parent / "mitmdump"
WBXML_TYPE = "application/vnd.ms-sync.wbxml"
PATH = "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=BENCH0001&DeviceType=SmartPhone"

SYNC_REQUEST_XML = """<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase">
  <Collections>
    <Collection>
      <SyncKey>{sync_key}</SyncKey><CollectionId>1</CollectionId><DeletesAsMoves>1</DeletesAsMoves>
      <GetChanges/><WindowSize>25</WindowSize>
      <Options><FilterType>3</FilterType>
        <airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type>
          <airsyncbase:TruncationSize>5120</airsyncbase:TruncationSize></airsyncbase:BodyPreference>
      </Options>
    </Collection>
  </Collections>
</Sync>"""

EMAIL_XML = """<Add><ServerId>1:{n}</ServerId><ApplicationData>
  <email:To>"Alice" &lt;alice@example.com&gt;</email:To><email:From>"Bob {n}" &lt;bob@example.com&gt;</email:From>
  <email:Subject>Quarterly numbers, part {n}</email:Subject><email:DateReceived>2026-11-21T10:{m:02d}:00.000Z</email:DateReceived>
  <email:DisplayTo>Alice</email:DisplayTo><email:Importance>1</email:Importance><email:Read>0</email:Read>
  <airsyncbase:Body><airsyncbase:Type>2</airsyncbase:Type><airsyncbase:EstimatedDataSize>{size}</airsyncbase:EstimatedDataSize>
    <airsyncbase:Truncated>0</airsyncbase:Truncated><airsyncbase:Data>{html}</airsyncbase:Data></airsyncbase:Body>
  <email:MessageClass>IPM.Note</email:MessageClass><airsyncbase:NativeBodyType>2</airsyncbase:NativeBodyType>
</ApplicationData></Add>"""


def sync_response_xml(items: int) -> str:
    html = "&lt;p&gt;" + "Numbers attached, see the table below. " * 20 + "&lt;/p&gt;"
    adds = "".join(EMAIL_XML.format(n=n, m=n % 60, size=len(html), html=html) for n in range(items))
    return (
        '<Sync xmlns="AirSync" xmlns:email="Email" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
        "<SyncKey>2</SyncKey><CollectionId>1</CollectionId><Status>1</Status>"
        f"<Commands>{adds}</Commands></Collection></Collections></Sync>"
    )


class Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, response_body: bytes) -> None:
        self.response_body = response_body
        super().__init__(("127.0.0.1", 0), OriginHandler)


class OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = self.server.response_body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", WBXML_TYPE)
        self.send_header("MS-Server-ActiveSync", "14.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Proxy:
    """A mitmdump in reverse mode in front of the origin (quiet), stopped like Ctrl-C."""

    def __init__(self, origin_port: int, confdir: Path, args: list[str]) -> None:
        command = [
            str(MITMDUMP), "--listen-host", "127.0.0.1", "-p", "0",
            "--mode", f"reverse:http://127.0.0.1:{origin_port}",
            "--set", f"confdir={confdir}", "--set", "flow_detail=0", *args,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        self.lines: list[str] = []
        port = None
        for line in self.process.stdout:
            self.lines.append(line)
            if match := re.search(r"listening at 127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
                break
        if port is None:
            raise RuntimeError("mitmdump did not start:\n" + "".join(self.lines))
        self.port = port
        stdout = self.process.stdout
        self.reader = threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True)
        self.reader.start()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join()


def pin_threads(pid: int, cpus: set[int]) -> None:
    """Keep every thread a process has now (not its children) on `cpus`."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def worker_cpu(pid: int) -> float:
    """CPU time of the processes below the proxy (the addon's workers), once they have gone idle: unchanged over
    0.5 s, longer than the analysis holds back after the last flow (0.15 s, and 0.05 s for the proxy's
    dispatch), so a round's analysis is counted in its round and never overlaps the next setup's."""
    previous = -1.0
    while True:
        total = sum(cpu_seconds(child) for child in descendants(pid))
        if total == previous:
            return total
        previous = total
        time.sleep(0.5)


class CaptureCounter:
    """Counts the flows committed to a capture, read-only, while the proxy's worker writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection: sqlite3.Connection | None = None

    def count(self) -> int:
        try:
            if self.connection is None:
                self.connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            return int(self.connection.execute("SELECT count(*) FROM flows").fetchone()[0])
        except sqlite3.Error:  # not created yet
            return 0

    def drain(self, expected: int, since: float, timeout: float = 300.0) -> float:
        """Seconds from `since` (the last response) until the capture holds `expected` flows."""
        while self.count() < expected:
            if time.perf_counter() - since > timeout:
                raise RuntimeError(f"{self.path}: {self.count()} flows of {expected} after {timeout:g} s")
            time.sleep(0.002)
        return time.perf_counter() - since

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def run_requests(port: int, requests: int, body: bytes) -> tuple[float, float]:
    """Send `requests` Sync POSTs on one keep-alive connection; returns requests per second and the time
    (perf_counter) the last response was read."""
    headers = {
        "Content-Type": WBXML_TYPE,
        "MS-ASProtocolVersion": "14.1",
        "Authorization": "Basic YWxpY2U6YWxpY2Vwdw==",
        "User-Agent": "bench_proxy",
        "Host": "mail.example.com",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        start = time.perf_counter()
        for _ in range(requests):
            connection.request("POST", PATH, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
        end = time.perf_counter()
        return requests / (end - start), end
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="Sync POSTs per round (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per setup; the median is shown (default 3)")
    parser.add_argument("--items", type=int, default=10, help="emails in each Sync response (default 10)")
    parser.add_argument(
        "--only", default="", help="|-separated words: run only the setups whose names contain one of them (and mitmdump)"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="keep this process (client and origin) and each mitmdump on the first CPU, the others left to the "
        "addon's worker: a proxy host whose clients and servers are other machines (default: all float)",
    )
    args = parser.parse_args(argv)
    first_cpu = {min(os.sched_getaffinity(0))}
    if args.pin and len(os.sched_getaffinity(0)) < 2:
        parser.error("--pin needs 2 CPUs or more")

    request_body = eas.encode(SYNC_REQUEST_XML.format(sync_key="1"))
    response_body = eas.encode(sync_response_xml(args.items))
    origin = Origin(response_body)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    origin_port = int(origin.server_address[1])

    results: dict[str, list[tuple[float, float, float, float | None]]] = {}
    load_before = os.getloadavg()[0]
    warm_up = 20
    addon = ["-s", str(ROOT / "activesync_addon.py")]
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        work = Path(tmp)
        setups: dict[str, list[str]] = {
            "mitmdump": [],
            "mitmdump, a second one (control)": [],
            "+ addon (defaults: live, capture)": [*addon, "--set", f"activesync_capture={work / 'live.sqlite'}"],
            "+ addon, live, no capture": [*addon, "--set", "activesync_capture="],
            "+ addon, wait, capture": [
                *addon, "--set", f"activesync_capture={work / 'wait.sqlite'}", "--set", "activesync_annotate=wait",
            ],
            "+ addon, annotate off, capture": [
                *addon, "--set", f"activesync_capture={work / 'off.sqlite'}", "--set", "activesync_annotate=off",
            ],
            "+ addon, annotate off, no capture": [
                *addon, "--set", "activesync_capture=", "--set", "activesync_annotate=off",
            ],
        }
        if args.only:
            words = [word.strip() for word in args.only.split("|") if word.strip()]
            setups = {
                name: extra for name, extra in setups.items() if name.startswith("mitmdump") or any(w in name for w in words)
            }
        proxies = {name: Proxy(origin_port, work / "conf", extra) for name, extra in setups.items()}
        counters = {
            name: CaptureCounter(Path(option.split("=", 1)[1]))
            for name, extra in setups.items()
            for option in extra
            if option.startswith("activesync_capture=") and option != "activesync_capture="
        }
        stored = dict.fromkeys(counters, 0)
        try:
            ports = {"direct to origin": origin_port, **{name: proxy.port for name, proxy in proxies.items()}}
            pids = {name: proxy.process.pid for name, proxy in proxies.items()}
            for name, port in ports.items():
                _, end = run_requests(port, warm_up, request_body)  # imports, first connection, capture creation
                if name in counters:
                    stored[name] += warm_up
                    counters[name].drain(stored[name], end)
            if args.pin:  # after the warm-up: each addon's worker has started, on the last CPU, and stays there
                for pid in [os.getpid(), *pids.values()]:
                    pin_threads(pid, first_cpu)  # threads started later inherit it
            proxied = [name for name in ports if name != "direct to origin"]
            for round_number in range(args.rounds):
                # Interleaved, so drift in machine load hits every setup alike, and rotated, so no setup always
                # runs right after the same other one (whose capture the kernel may still be writing out).
                shift = round_number % len(proxied)
                for name in ["direct to origin", *proxied[shift:], *proxied[:shift]]:
                    port = ports[name]
                    pid = pids.get(name)
                    main_before = cpu_seconds(pid) if pid else 0.0
                    worker_before = worker_cpu(pid) if pid else 0.0
                    rate, end = run_requests(port, args.requests, request_body)
                    drain = None
                    if name in counters:
                        stored[name] += args.requests
                        drain = counters[name].drain(stored[name], end)
                    main_cpu = (cpu_seconds(pid) - main_before) if pid else 0.0
                    child_cpu = (worker_cpu(pid) - worker_before) if pid else 0.0
                    per_request = 1000 / args.requests
                    results.setdefault(name, []).append(
                        (rate, main_cpu * per_request, child_cpu * per_request, drain)
                    )
        finally:
            for counter in counters.values():
                counter.close()
            for proxy in proxies.values():
                proxy.stop()
            origin.shutdown()
            origin.server_close()

    print(
        f"EAS Sync POSTs over one keep-alive connection, {args.requests} per round, median of {args.rounds} "
        f"rounds; request {len(request_body)} B, response {len(response_body)} B WBXML ({args.items} emails); "
        f"{os.cpu_count()} CPUs{', client, origin and proxy pinned to CPU ' + str(min(first_cpu)) if args.pin else ''}, "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    baseline_rounds = [rate for rate, _, _, _ in results["mitmdump"]]
    print(
        f"{'setup':36} {'requests/s':>10} {'vs mitmdump':>11} {'middle half':>13} {'proxy CPU ms/req':>16} "
        f"{'worker CPU ms/req':>17} {'capture lag s':>13}"
    )
    for name, rounds in results.items():
        rate = statistics.median(r for r, _, _, _ in rounds)
        main_ms = statistics.median(m for _, m, _, _ in rounds)
        child_ms = statistics.median(c for _, _, c, _ in rounds)
        drains = [d for _, _, _, d in rounds if d is not None]
        # Each round's rate against mitmdump's in the same round (paired: the machine's speed drifts by 10% and
        # more between runs here, far less between neighbouring measurements), then the median of the rounds.
        ratios = sorted((r / base - 1) * 100 for (r, _, _, _), base in zip(rounds, baseline_rounds))
        relative = spread = ""
        if name != "direct to origin":
            relative = f"{statistics.median(ratios):+.1f}%"
            if len(ratios) >= 4:
                low, _, high = statistics.quantiles(ratios, n=4)
                spread = f"{low:+.0f}..{high:+.0f}%"
        cpu = "" if name == "direct to origin" else f"{main_ms:.2f}"
        worker = "" if name == "direct to origin" or name.startswith("mitmdump") else f"{child_ms:.2f}"
        lag = f"{statistics.median(drains):.2f}/{max(drains):.2f}" if drains else ""
        print(f"{name:36} {rate:10.0f} {relative:>11} {spread:>13} {cpu:>16} {worker:>17} {lag:>13}")
    print(
        "proxy CPU: the mitmdump process; worker CPU: the addon's workers (the spooler, which puts each flow in "
        "the capture's spool; the analysis, for flow.metadata and the capture, and the capture's SQLite writes). "
        "The analysis runs at a lower CPU priority: where CPUs "
        "are short (here client, origin, proxy and worker share them) the traffic goes first and the capture "
        "lags behind during a burst. capture lag: median/max seconds from the last response of a round until "
        "the capture holds every flow of the round (the worker holds its analysis back until the traffic pauses "
        "for 0.15 s, at most 2 s; then the writer commits in batches of up to 0.1 s). vs mitmdump: the median, "
        "over the rounds, of each round's rate against mitmdump's in the same round; middle half: the quartiles of those "
        "round ratios (how much the machine moved during the run; the control row shows the same for no change)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
