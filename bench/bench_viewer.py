"""Viewer benchmark: time to first screen, common actions and peak memory on captures of 1k to 100k flows."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (1_000, 100_000)
TEMPLATES = 200  # flows written through CaptureWriter (analysed); the rest are SQL copies of them


def _template_flows() -> list[object]:
    from tests.viewer.conftest import (
        FOLDERSYNC_REQUEST,
        FOLDERSYNC_RESPONSE,
        GARBAGE,
        SYNC_REQUEST,
        SYNC_RESPONSE,
        SYNC_RESPONSE_BAD,
        eas_flow,
    )

    kinds = [
        ("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE, 200),
        ("Sync", SYNC_REQUEST, SYNC_RESPONSE, 200),
        ("Sync", SYNC_REQUEST, SYNC_RESPONSE, 200),
        ("Sync", SYNC_REQUEST, SYNC_RESPONSE_BAD, 200),
        ("Ping", b"", b"", 200),
        ("Ping", GARBAGE, b"", 401),
    ]
    flows = []
    for i in range(TEMPLATES):
        cmd, req, resp, status = kinds[i % len(kinds)]
        flows.append(
            eas_flow(cmd, req, resp, status=status, ts=1_763_800_000.0 + i * 0.5, user=f"user{i % 10}", device=f"DEV{i % 10:03d}")
        )
    return flows


def build_capture(path: Path, total: int) -> float:
    """Write TEMPLATES analysed flows, then copy them with SQL (doubling) up to `total`; returns seconds."""
    from capture.writer import CaptureWriter

    started = time.perf_counter()
    writer = CaptureWriter(path)
    for flow in _template_flows()[: min(TEMPLATES, total)]:
        writer.add(flow)  # type: ignore[arg-type]
    writer.close()
    db = sqlite3.connect(path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(flows)") if row[1] != "id"]
    shifted = ", ".join(f"{c} + :dt" if c in ("ts_start", "ts_end") else c for c in columns)
    # other tables keyed by the flow id (bodies kept apart from the row, for instance), copied alongside
    keyed: list[tuple[str, str, list[str]]] = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'flow_text%'"):
        if table in ("flows", "sessions", "meta"):
            continue
        info = list(db.execute(f"PRAGMA table_info({table})"))
        key = next((row[1] for row in info if row[5] == 1 and row[1] in ("flow_id", "id")), None)
        if key is not None:
            keyed.append((table, key, [row[1] for row in info if row[1] != key]))
    count = db.execute("SELECT count(*) FROM flows").fetchone()[0]
    with db:
        while count < total:
            n = min(count, total - count)
            dt = count * 0.5
            db.execute(
                f"INSERT INTO flows (id, {', '.join(columns)}) SELECT id + :count, {shifted} FROM flows WHERE id <= :n",
                {"count": count, "n": n, "dt": dt},
            )
            for table, key, others in keyed:
                db.execute(
                    f"INSERT INTO {table} ({key}, {', '.join(others)}) "
                    f"SELECT {key} + :count, {', '.join(others)} FROM {table} WHERE {key} <= :n",
                    {"count": count, "n": n},
                )
            db.execute(
                "INSERT INTO flow_text (rowid, url, summary, request_text, response_text) "
                "SELECT rowid + :count, url, summary, request_text, response_text FROM flow_text WHERE rowid <= :n",
                {"count": count, "n": n},
            )
            count += n
        db.execute(
            "UPDATE sessions SET flow_count = (SELECT count(*) FROM flows WHERE session_id = sessions.id), "
            "problem_count = (SELECT count(*) FROM flows WHERE session_id = sessions.id AND problem_count > 0), "
            "last_seen = (SELECT max(ts_start) FROM flows WHERE session_id = sessions.id)"
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - started


async def _measure(path: Path) -> dict[str, float]:
    from tests.viewer.helpers import wait_for
    from viewer.app import make_app
    from viewer.screens.exchange import ExchangeScreen

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        flows = app.main_screen.query_one("#flows")

        def first_rows() -> bool:
            return flows.total > 0 and flows.row_at(0) is not None  # type: ignore[attr-defined]

        await wait_for(pilot, first_rows, "first screen")
        out["first_screen_s"] = time.perf_counter() - t0
        out["flows"] = flows.total  # type: ignore[attr-defined]

        t = time.perf_counter()
        await pilot.press("end")
        last = flows.total - 1  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: flows.row_at(last) is not None, "last row")  # type: ignore[attr-defined]
        out["jump_to_end_s"] = time.perf_counter() - t

        # 20 jumps to spread positions (deep OFFSET pages), each waiting for its row
        total = flows.total  # type: ignore[attr-defined]
        t = time.perf_counter()
        for k in range(20):
            index = (k * 7919 * 13) % total
            flows.move_cursor(index)  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: flows.current_row is not None, "row after jump")  # type: ignore[attr-defined]
        out["jump_avg_s"] = (time.perf_counter() - t) / 20
        out["rows_in_memory"] = flows.loaded_rows  # type: ignore[attr-defined]

        t = time.perf_counter()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen), "exchange")
        out["open_exchange_s"] = time.perf_counter() - t
        await pilot.press("escape")

        t = time.perf_counter()
        await pilot.press("home")
        screen = app.main_screen
        screen.apply_filter(screen.filter.with_(text="FolderSync"))
        await wait_for(pilot, lambda: screen.progress != "counting…" and flows.row_at(0) is not None, "text search")  # type: ignore[attr-defined]
        out["text_search_s"] = time.perf_counter() - t
        out["text_matches"] = flows.total  # type: ignore[attr-defined]

        t = time.perf_counter()
        screen.apply_filter(screen.filter.with_(text=None, problems_only=True))
        await wait_for(pilot, lambda: screen.progress != "counting…" and flows.row_at(0) is not None, "problems only")  # type: ignore[attr-defined]
        out["problems_only_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def build_big_capture(path: Path, items: int = 2000) -> int:
    """One Sync whose response holds `items` mails (about 0.7 MB of WBXML, 1.5 MB of XML); returns its size."""
    import eas

    from tests.viewer.conftest import SYNC_REQUEST, eas_flow, write_capture

    adds = "".join(
        f"<Add><ServerId>1:{i}</ServerId><ApplicationData><email:Subject>Message {i} with a subject</email:Subject>"
        f"<email:From>someone{i}@example.com</email:From><airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
        f"<airsyncbase:Data>{'Hello world. ' * 20}</airsyncbase:Data></airsyncbase:Body></ApplicationData></Add>"
        for i in range(items)
    )
    xml = (
        '<Sync xmlns="AirSync" xmlns:email="Email" xmlns:airsyncbase="AirSyncBase"><Collections><Collection>'
        f"<SyncKey>2</SyncKey><CollectionId>1</CollectionId><Status>1</Status><Commands>{adds}</Commands>"
        "</Collection></Collections></Sync>"
    )
    body = bytes(eas.encode(xml))
    write_capture(path, [eas_flow("Sync", SYNC_REQUEST, body)])
    return len(body)


async def _measure_big(path: Path) -> dict[str, float]:
    from tests.viewer.helpers import wait_for, wait_loaded, wait_screen
    from viewer.app import make_app
    from viewer.screens.exchange import ExchangeScreen

    out: dict[str, float] = {}
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_loaded(pilot, app, 1)
        t = time.perf_counter()
        await pilot.press("enter")
        screen = await wait_screen(pilot, app, ExchangeScreen)
        out["open_big_exchange_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await pilot.press("2")
        await wait_for(pilot, lambda: screen.query("#response-xml"), "response XML")
        out["big_response_tab_s"] = time.perf_counter() - t
        t = time.perf_counter()
        screen.query_one("#response-tabs").active = "response-tree-pane"
        await wait_for(pilot, lambda: screen.query("#response-tree"), "response tree")
        await pilot.pause()
        out["big_tree_tab_s"] = time.perf_counter() - t
    out["peak_rss_big_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--measure-big", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="comma-separated flow counts")
    parser.add_argument("--repeat", type=int, default=3, help="viewer runs per size (the table shows medians)")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(_measure(Path(args.measure)))))
        return 0
    if args.measure_big:
        print(json.dumps(asyncio.run(_measure_big(Path(args.measure_big)))))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-viewer-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"bench-{size}.sqlite"
            build_s = build_capture(path, size)
            # a fresh process per run, so the peak RSS is the viewer's alone; medians smooth a busy machine
            runs = []
            for _ in range(args.repeat):
                result = subprocess.run(
                    [sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True, check=True, cwd=ROOT
                )
                runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
            measured = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            measured["first_screen_max_s"] = max(run["first_screen_s"] for run in runs)
            measured["build_s"] = build_s
            measured["file_mb"] = path.stat().st_size / 1e6
            rows.append(measured)
        big_path = Path(tmp) / "bench-big.sqlite"
        big_size = build_big_capture(big_path)
        big_runs = []
        for _ in range(args.repeat):
            result = subprocess.run(
                [sys.executable, __file__, "--measure-big", str(big_path)], capture_output=True, text=True, check=True, cwd=ROOT
            )
            big_runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
        big = {key: statistics.median(run[key] for run in big_runs) for key in big_runs[0]}
    keys = [
        ("flows", "{:,.0f}"),
        ("file_mb", "{:.1f}"),
        ("build_s", "{:.2f}"),
        ("first_screen_s", "{:.3f}"),
        ("first_screen_max_s", "{:.3f}"),
        ("jump_to_end_s", "{:.3f}"),
        ("jump_avg_s", "{:.3f}"),
        ("open_exchange_s", "{:.3f}"),
        ("text_search_s", "{:.3f}"),
        ("text_matches", "{:,.0f}"),
        ("problems_only_s", "{:.3f}"),
        ("rows_in_memory", "{:,.0f}"),
        ("peak_rss_mb", "{:.1f}"),
    ]
    width = max(len(k) for k, _ in keys)
    sizes = ", ".join(f"{int(r['flows']):,}" for r in rows)
    print(f"viewer on captures of {sizes} flows (medians of {args.repeat} runs; uptime load {os.getloadavg()[0]:.1f})")
    print(f"{'metric':<{width}}  " + "  ".join(f"{int(r['flows']):>12,}" for r in rows))
    for key, fmt in keys:
        print(f"{key:<{width}}  " + "  ".join(f"{fmt.format(r[key]):>12}" for r in rows))
    print()
    print(f"one Sync response of {big_size / 1024:.0f} KiB WBXML (2,000 mails; medians of {args.repeat} runs)")
    for key in ("open_big_exchange_s", "big_response_tab_s", "big_tree_tab_s", "peak_rss_big_mb"):
        print(f"{key:<{width}}  {big[key]:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
