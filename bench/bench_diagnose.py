"""How long eas.diagnosis.diagnose takes on a 100,000-flow capture (synthetic sessions), printed as a table."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
import gc
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eas.diagnosis import Diagnoser, FlowEvidence, diagnose  # noqa: E402
from eas.facts import CollectionStep, FlowFacts, FolderChange  # noqa: E402

FOLDERS = [("2", "INBOX", 2), ("3", "Drafts", 3), ("5", "Sent", 5), ("8", "Calendar", 8), ("9", "Contacts", 9)]


def _hierarchy() -> FlowFacts:
    return FlowFacts(
        command="FolderSync", protocol_version="14.1", http_status=200, statuses=(("FolderSync/Status", 1),),
        folder_sync_key_request="0", folder_sync_key_response="h1",
        folder_changes=tuple(FolderChange("Add", server_id, "0", name, kind) for server_id, name, kind in FOLDERS),
    )


def _sync(collection_id: str, sent: str, answered: str | None, status: int, adds: tuple[str, ...],
          more: bool = False) -> FlowFacts:
    return FlowFacts(
        command="Sync", protocol_version="14.1", http_status=200,
        statuses=(("Sync/Collections/Collection/Status", status),),
        collections=(CollectionStep(collection_id, None, sent, answered, status, more, 100, True,
                                    server_ids_added=adds),),
        request_size=120, response_size=400 * len(adds) + 60,
    )


def _ping(status: int) -> FlowFacts:
    return FlowFacts(
        command="Ping", protocol_version="14.1", http_status=200, statuses=(("Ping/Status", status),),
        collections=tuple(CollectionStep(server_id) for server_id, _, _ in FOLDERS),
        ping_heartbeat_requested=900, ping_changed_folders=("2",) if status == 2 else (),
    )


def session_flows(device: int, count: int, first_id: int, start: float) -> list[FlowEvidence]:
    """One device's traffic: a FolderSync, then Ping / Sync rounds with advancing keys and new mail; every tenth
    device also loops on an invalid SyncKey for a while and hits a few 401s, so rules have episodes to track."""
    flows: list[FlowEvidence] = []
    keys = {server_id: 0 for server_id, _, _ in FOLDERS}
    item = 0
    faulty = device % 10 == 0

    def add(facts: FlowFacts) -> None:
        flow_id = first_id + len(flows)
        flows.append(FlowEvidence(flow_id, start + len(flows) * 3.0, f"user{device}", f"DEV{device:05d}",
                                  "Phone", "mail.example.com", facts))

    add(_hierarchy())
    while len(flows) < count:
        step = len(flows)
        if faulty and 200 <= step < 260:
            add(_sync("2", "stale", None, 3, ()))
            continue
        if faulty and step % 500 == 1:
            add(FlowFacts(command="Sync", http_status=401, auth_scheme="Basic"))
            continue
        add(_ping(2 if step % 3 else 1))
        collection_id = FOLDERS[step % len(FOLDERS)][0]
        sent = str(keys[collection_id])
        keys[collection_id] += 1
        adds = tuple(f"{collection_id}:{item + offset}" for offset in range(step % 4))
        item += len(adds)
        add(_sync(collection_id, sent, str(keys[collection_id]), 1, adds))
    return flows[:count]


def build(flows: int, devices: int) -> list[FlowEvidence]:
    per_device = flows // devices
    evidence: list[FlowEvidence] = []
    for device in range(devices):
        evidence += session_flows(device, per_device, len(evidence) + 1, 1_765_000_000.0 + device * 0.1)
    return evidence


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    built = build(args.flows, args.devices)
    stored = [json.dumps(item.facts.to_json()) for item in built]
    # The evidence as a capture gives it: facts read back from their stored JSON.
    evidence = [dataclasses.replace(item, facts=FlowFacts.from_json(json.loads(text)))
                for item, text in zip(built, stored)]
    del built
    gc.collect()
    rss_built = _rss_mb()
    rows: list[tuple[str, tuple[float, float]]] = []

    def read_stored() -> None:
        for text in stored:
            FlowFacts.from_json(json.loads(text))

    rows.append(("json.loads + FlowFacts.from_json (stored -> facts)", _best(read_stored, args.runs)))
    findings: list[object] = []

    def run_diagnose() -> None:
        findings[:] = diagnose(evidence)

    rows.append(("diagnose (sorts, then every rule)", _best(run_diagnose, args.runs)))

    def run_streaming() -> None:
        diagnoser = Diagnoser()
        for item in evidence:
            diagnoser.feed(item)
        diagnoser.finish()

    rows.append(("Diagnoser.feed, flows in time order", _best(run_streaming, args.runs)))

    print(f"{len(evidence):,} flows, {args.devices} device sessions, {len(findings)} findings, "
          f"stored facts {sum(map(len, stored)) / len(stored):.0f} bytes of JSON a flow")
    # CPU seconds beside wall seconds: on a shared machine the process's own CPU time is the steadier number.
    print(f"| step | wall, best of {args.runs} | CPU | CPU per flow |")
    print("|---|---|---|---|")
    for label, (wall, cpu) in rows:
        print(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {cpu / len(evidence) * 1e6:.1f} us |")
    tracemalloc.start()
    diagnose(evidence)
    diagnose_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"peak RSS {_rss_mb():.0f} MB ({rss_built:.0f} MB of it reached while building the synthetic evidence); "
          f"diagnose's own allocations peak at {diagnose_peak:.1f} MB (tracemalloc)")


def _best(work: Callable[[], None], runs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `runs` runs."""
    timings = []
    for _ in range(runs):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        timings.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(timings)


if __name__ == "__main__":
    main()
