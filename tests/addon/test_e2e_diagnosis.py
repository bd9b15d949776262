"""Fault scenarios recorded through a real mitmdump against a scripted EAS server, then diagnosed by the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http, io

from capture.model import FlowFilter
from capture.reader import CaptureReader
from tests.addon import scripted_eas
from tests.addon.conftest import ROOT, start_mitmdump
from tests.addon.scripted_eas import Scenario


@dataclass
class Recorded:
    scenarios: list[Scenario]
    statuses: dict[str, list[int]]  # device -> HTTP statuses the client got
    capture: Path
    flows: list[http.HTTPFlow]  # the save_stream_file, in order
    output: str  # mitmdump's event log


@pytest.fixture(scope="module")
def recorded(mitm_confdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    work = tmp_path_factory.mktemp("diagnosis")
    capture, flows_file = work / "faults.sqlite", work / "faults.mitm"
    scenarios = scripted_eas.scenarios()
    server_run = scripted_eas.serve(scenarios)
    server = next(server_run)
    proxy = start_mitmdump(server.port, mitm_confdir, addon=True, options={
        "activesync_capture": str(capture), "save_stream_file": str(flows_file), "activesync_annotate": "wait",
    })  # fmt: skip
    try:
        statuses = {scenario.device_id: scripted_eas.play(proxy.port, scenario) for scenario in scenarios}
    finally:
        proxy.stop()
        server_run.close()
    with flows_file.open("rb") as handle:
        flows = [flow for flow in io.FlowReader(handle).stream() if isinstance(flow, http.HTTPFlow)]
    yield Recorded(scenarios, statuses, capture, flows, proxy.output)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eas_inspector", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def flow_ids_by_device(listed: list[dict[str, Any]]) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for entry in listed:
        ids.setdefault(entry["device_id"], []).append(entry["id"])
    return ids


def test_the_server_answered_as_scripted(recorded: Recorded) -> None:
    assert recorded.statuses["DEVAUTH"] == [401, 401, 401]
    assert recorded.statuses["DEVPROV"] == [449, 449, 449]
    assert recorded.statuses["DEVREDIR"] == [451, 200, 200]
    assert recorded.statuses["DEVBUSY"] == [503, 200, 200]


def test_diagnose_finds_each_fault_on_its_flows(recorded: Recorded) -> None:
    listed = cli("list", "--json", str(recorded.capture))
    diagnosed = cli("diagnose", "--json", str(recorded.capture))
    assert listed.returncode == 0 and diagnosed.returncode == 0, listed.stderr + diagnosed.stderr
    ids = flow_ids_by_device(json.loads(listed.stdout))
    findings = json.loads(diagnosed.stdout)["findings"]
    for scenario in recorded.scenarios:
        device_ids = ids[scenario.device_id]
        assert len(device_ids) == len(scenario.steps)
        for rule, indexes in scenario.expected.items():
            found = [f for f in findings if f["rule"] == rule and f["device_id"] == scenario.device_id]
            assert [f["flows"] for f in found] == [[device_ids[index] for index in indexes]], (rule, found)
            assert found[0]["user"] == "alice" and found[0]["summary"] and found[0]["advice"] and found[0]["spec"]


def test_list_shows_each_flows_outcome(recorded: Recorded) -> None:
    listed = json.loads(cli("list", "--json", str(recorded.capture)).stdout)
    by_device: dict[str, list[dict[str, Any]]] = {}
    for entry in listed:
        by_device.setdefault(entry["device_id"], []).append(entry)
    assert [entry["outcome"] for entry in by_device["DEVLOOP"]] == ["ok", "failed", "failed", "failed"]
    assert [entry["outcome"] for entry in by_device["DEVAUTH"]] == ["failed"] * 3
    assert [entry["outcome"] for entry in by_device["DEVPROV"]] == ["warning"] * 3  # 449: provision first
    # Ping Status 5: the server names the allowed heartbeat, a warning in the Ping table (MS-ASCMD 2.2.3.177.11)
    assert [entry["outcome"] for entry in by_device["DEVPING"]] == ["warning"] * 2
    loop = by_device["DEVLOOP"][1]
    assert loop["collection"] == "INBOX" and loop["http_status"] == 200 and loop["problems"] == 1
    assert loop["statuses"] == [{"path": "Sync/Collections/Collection/Status", "code": 3,
                                 "meaning": loop["statuses"][0]["meaning"], "ok": False}]
    assert "synchronization key" in loop["statuses"][0]["meaning"].lower()
    failed = json.loads(cli("list", "--json", "--failed", "--device", "DEVBUSY", str(recorded.capture)).stdout)
    assert [(entry["http_status"], entry["outcome"]) for entry in failed] == [(503, "failed")]


def test_mitmproxy_comments_carry_http_status_outcome_and_worst_status(recorded: Recorded) -> None:
    comments = [(flow.request.query.get("DeviceId"), flow.comment) for flow in recorded.flows]
    loop = [comment for device, comment in comments if device == "DEVLOOP"]
    assert loop[0].startswith("EAS FolderSync 14.1 user=alice device=DEVLOOP HTTP 200 ok")
    assert loop[1].startswith(
        "EAS Sync 14.1 user=alice device=DEVLOOP HTTP 200 failed: Sync/Collections/Collection/Status=3 ("
    )
    auth = [comment for device, comment in comments if device == "DEVAUTH"]
    assert auth[0] == "EAS FolderSync 14.1 user=alice device=DEVAUTH HTTP 401 failed"


def test_failed_flows_are_marked_and_counted_as_problems(recorded: Recorded) -> None:
    for flow in recorded.flows:
        outcome = flow.metadata["activesync.outcome"]
        if outcome == "failed":
            assert flow.marked, flow.comment
            assert flow.metadata["activesync.problems"] >= 1
        if outcome == "ok":
            assert flow.metadata["activesync.problems"] == 0
            # an ok flow is marked only when it completes a finding (a reset SyncKey 0 may)
            assert flow.marked == (":warning:" if "activesync.finding" in flow.metadata else "")
    auth = next(flow for flow in recorded.flows if flow.request.query.get("DeviceId") == "DEVAUTH")
    assert (auth.metadata["activesync.http_status"], auth.metadata["activesync.problems"]) == (401, 1)


def test_the_flow_that_completes_a_finding_says_so_and_the_log_says_it_once(recorded: Recorded) -> None:
    loop = [flow for flow in recorded.flows if flow.request.query.get("DeviceId") == "DEVLOOP"]
    assert "finding" not in loop[1].comment  # one Status 3 is not a loop ...
    assert "| finding sync-key-invalid-loop: " in loop[2].comment  # ... the same key sent again is
    assert "| finding sync-key-invalid-loop: " in loop[3].comment  # and the next one extends it
    assert loop[2].marked == loop[3].marked == ":warning:"
    assert recorded.output.count("ActiveSync finding sync-key-invalid-loop") == 1
    assert recorded.output.count("ActiveSync finding auth-failures") == 1


def test_the_capture_stores_the_comment_and_metadata_after_the_analysis(recorded: Recorded) -> None:
    with CaptureReader(recorded.capture) as reader:
        rows = reader.flows(FlowFilter(device_id="DEVAUTH"), order="id")
        record = reader.flow(rows[0].id)
    assert record.extra["comment"] == "EAS FolderSync 14.1 user=alice device=DEVAUTH HTTP 401 failed"
    assert record.extra["metadata"]["activesync.outcome"] == "failed"
    assert record.extra["marked"]
