"""End to end: a real client, real mitmdump processes (with and without the addon) and a real origin, on loopback."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mitmproxy import flowfilter, io
from mitmproxy import http as mitmhttp

from tests.addon.conftest import (
    FOLDERSYNC_REQUEST,
    ADDON_SCRIPT,
    AUTH,
    MITMDUMP,
    Answer,
    CannedRequest,
    Origin,
    ReceivedRequest,
    canned_requests,
    eas_headers,
    send,
    start_mitmdump,
)
from tests.addon.processes import children, running
from tests.lab.policy import lab_missing


@dataclass
class Run:
    """What one pass of the canned traffic produced, directly and through each proxy."""

    requests: list[CannedRequest]
    direct: list[Answer]
    plain: list[Answer]
    addon: list[Answer]
    live: list[Answer]
    received_direct: list[ReceivedRequest]
    received_plain: list[ReceivedRequest]
    received_addon: list[ReceivedRequest]
    received_live: list[ReceivedRequest]
    capture: Path
    live_capture: Path
    flows_file: Path
    addon_output: str
    addon_exit: int


def send_all(port: int, requests: list[CannedRequest]) -> list[Answer]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        return [send(connection, request) for request in requests]
    finally:
        connection.close()


def forwarded(origin: Origin, port: int, requests: list[CannedRequest]) -> tuple[list[Answer], list[ReceivedRequest]]:
    first = len(origin.received)
    answers = send_all(port, requests)
    return answers, origin.received[first:]


@pytest.fixture(scope="module")
def run(origin: Origin, mitm_confdir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    work = tmp_path_factory.mktemp("e2e")
    capture = work / "capture.sqlite"
    live_capture = work / "live.sqlite"
    flows_file = work / "flows.mitm"
    requests = canned_requests()
    plain = start_mitmdump(origin.port, mitm_confdir, addon=False)
    # "wait": flows reach save_stream_file with their analysis; the default "live" mode runs alongside.
    with_addon = start_mitmdump(
        origin.port,
        mitm_confdir,
        addon=True,
        options={
            "activesync_capture": str(capture),
            "save_stream_file": str(flows_file),
            "activesync_annotate": "wait",
        },
    )
    live = start_mitmdump(origin.port, mitm_confdir, addon=True, options={"activesync_capture": str(live_capture)})
    try:
        direct_answers, received_direct = forwarded(origin, origin.port, requests)
        plain_answers, received_plain = forwarded(origin, plain.port, requests)
        addon_answers, received_addon = forwarded(origin, with_addon.port, requests)
        live_answers, received_live = forwarded(origin, live.port, requests)
    finally:
        plain.stop()
        addon_exit = with_addon.stop()
        live_exit = live.stop()
    yield Run(
        requests,
        direct_answers,
        plain_answers,
        addon_answers,
        live_answers,
        received_direct,
        received_plain,
        received_addon,
        received_live,
        capture,
        live_capture,
        flows_file,
        with_addon.output + live.output,
        addon_exit or live_exit,
    )


def without_host(received: ReceivedRequest) -> ReceivedRequest:
    headers = tuple((name, value) for name, value in received.headers if name.lower() != "host")
    return ReceivedRequest(received.method, received.path, headers, received.body)


@pytest.mark.parametrize("index", range(len(canned_requests())), ids=[r.name for r in canned_requests()])
def test_responses_are_byte_identical_with_and_without_the_addon(run: Run, index: int) -> None:
    assert run.addon[index] == run.direct[index]
    assert run.live[index] == run.direct[index]
    assert run.plain[index] == run.direct[index]


@pytest.mark.parametrize("index", range(len(canned_requests())), ids=[r.name for r in canned_requests()])
def test_requests_reach_the_origin_unchanged(run: Run, index: int) -> None:
    assert without_host(run.received_addon[index]) == without_host(run.received_plain[index])
    assert without_host(run.received_live[index]) == without_host(run.received_plain[index])
    assert run.received_addon[index].body == run.requests[index].body


def test_the_big_body_and_the_broken_bodies_pass_whole(run: Run) -> None:
    by_name = {request.name: answer for request, answer in zip(run.requests, run.addon)}
    assert len(by_name["big"].body) > 2 * 1024 * 1024
    assert by_name["malformed"].body.startswith(b"\x03\x01\x6a\x00\x45")
    assert by_name["text-500"].status == 500
    assert by_name["text-500"].body == b"Unsupported folder type during creation."
    assert by_name["sendmail-empty"].body == b""


def test_mitmdump_with_the_addon_exits_cleanly(run: Run) -> None:
    assert run.addon_exit == 0, run.addon_output
    assert "Traceback" not in run.addon_output


def read_flows(path: Path) -> list[mitmhttp.HTTPFlow]:
    with path.open("rb") as f:
        return [flow for flow in io.FlowReader(f).stream() if isinstance(flow, mitmhttp.HTTPFlow)]


def test_eas_flows_carry_their_analysis_in_metadata(run: Run) -> None:
    flows = read_flows(run.flows_file)
    assert len(flows) == len(run.requests)
    for request, flow in zip(run.requests, flows):
        if not request.eas:
            assert not any(key.startswith("activesync.") for key in flow.metadata), request.name
            assert flow.comment == ""
            continue
        assert "activesync.error" not in flow.metadata, (request.name, flow.metadata)
        kind = "autodiscover" if "/autodiscover/" in request.path.lower() else "eas"
        assert flow.metadata["activesync.kind"] == kind, request.name
        if request.command:
            assert flow.metadata["activesync.command"] == request.command, request.name
            assert request.command in flow.comment


def test_metadata_filter_finds_the_flows_of_one_command(run: Run) -> None:
    flows = read_flows(run.flows_file)
    sync_filter = flowfilter.parse('~meta "activesync.command: Sync$"')
    names = [request.name for request, flow in zip(run.requests, flows) if sync_filter(flow)]
    assert names == ["sync", "sync-base64", "gzip"]


def test_malformed_bodies_are_reported_as_problems(run: Run) -> None:
    flows = {request.name: flow for request, flow in zip(run.requests, read_flows(run.flows_file))}
    assert flows["malformed"].metadata["activesync.problems"] >= 1
    assert "response body" in flows["malformed"].metadata["activesync.problem"]
    assert flows["foldersync"].metadata["activesync.problems"] == 0


@pytest.mark.parametrize("which", ["wait", "live"])
def test_the_capture_holds_every_eas_flow_decoded(run: Run, which: str) -> None:
    from capture.reader import CaptureReader

    reader = CaptureReader(run.capture if which == "wait" else run.live_capture)
    try:
        rows = reader.flows(limit=1000)
        eas_requests = [request for request in run.requests if request.eas]
        assert len(rows) == len(eas_requests)
        rows.sort(key=lambda row: row.id)
        for request, row in zip(eas_requests, rows):
            assert request.path.split("?")[0] in row.url, (request.name, row.url)
            assert row.command == request.command, request.name
            record = reader.flow(row.id)
            assert record.request_body == request.body
        big = next(row for request, row in zip(eas_requests, rows) if request.name == "big")
        assert big.response_size > 2 * 1024 * 1024
        stored_headers = dict(reader.flow(rows[1].id).request_headers)
        assert AUTH not in stored_headers.values()  # activesync_keep_credentials is off by default
    finally:
        reader.close()


def test_an_unwritable_capture_never_stops_the_traffic(
    origin: Origin, mitm_confdir: Path, tmp_path: Path
) -> None:
    capture_is_a_directory = tmp_path / "capture.sqlite"
    capture_is_a_directory.mkdir()
    requests = canned_requests()
    proxy = start_mitmdump(
        origin.port, mitm_confdir, addon=True, options={"activesync_capture": str(capture_is_a_directory)}
    )
    try:
        through_proxy = send_all(proxy.port, requests)
        direct = send_all(origin.port, requests)
    finally:
        exit_code = proxy.stop()
    assert through_proxy == direct
    assert exit_code == 0
    assert proxy.output.count("capture disabled") == 1, proxy.output


def test_a_bad_option_value_is_refused_at_startup(origin: Origin, mitm_confdir: Path) -> None:
    # mitmdump itself stops when an addon refuses an option while it starts (its errorcheck addon).
    result = subprocess.run(
        [
            str(MITMDUMP), "--listen-host", "127.0.0.1", "-p", "0", "--set", f"confdir={mitm_confdir}",
            "--mode", f"reverse:http://127.0.0.1:{origin.port}", "-s", str(ADDON_SCRIPT),
            "--set", "activesync_max_body=-1", "--set", "activesync_capture=",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "activesync_max_body must be 0 (no limit) or more, not -1" in result.stdout + result.stderr


def test_ctrl_c_in_a_terminal_keeps_every_flow(origin: Origin, mitm_confdir: Path, tmp_path: Path) -> None:
    # A terminal's Ctrl-C reaches the proxy and its worker process alike; the worker must outlive the proxy's
    # shutdown so that the capture is closed with every flow in it.
    from capture.reader import CaptureReader

    capture = tmp_path / "capture.sqlite"
    requests = [request for request in canned_requests() if request.eas]
    proxy = start_mitmdump(
        origin.port, mitm_confdir, addon=True, options={"activesync_capture": str(capture)}, own_group=True
    )
    try:
        send_all(proxy.port, requests)
    finally:
        exit_code = proxy.stop(whole_group=True)
    assert exit_code == 0, proxy.output
    assert capture.exists(), proxy.output
    with CaptureReader(capture) as reader:
        assert reader.count_flows() == len(requests)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the worker process through /proc")
def test_a_sigkill_of_the_proxy_loses_nothing_completed_a_second_before(
    origin: Origin, mitm_confdir: Path, tmp_path: Path
) -> None:
    # The worker (a session of its own, lowest CPU priority) outlives the proxy: what the proxy handed over
    # is recorded even when the worker lags behind, and the proxy hands every flow over within 50 ms.
    from capture.reader import CaptureReader

    capture = tmp_path / "capture.sqlite"
    (request,) = [r for r in canned_requests() if r.command == "FolderSync"]
    proxy = start_mitmdump(origin.port, mitm_confdir, addon=True, options={"activesync_capture": str(capture)})
    completed_at: list[float] = []
    try:
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
        try:
            started = time.monotonic()
            # Traffic for 2.5 s, and on a slow machine until 20 flows completed over a second ago: the count
            # below then holds by construction, however fast the machine is.
            while (time.monotonic() - started < 2.5 or len(completed_at) < 20
                   or time.monotonic() - completed_at[19] <= 1.2):
                send(connection, request)
                completed_at.append(time.monotonic())
        finally:
            connection.close()
        workers = children(proxy.process.pid)
        assert workers, proxy.output
        proxy.process.kill()
        killed_at = time.monotonic()
    finally:
        proxy.stop()
    deadline = time.monotonic() + 120
    while any(running(pid) for pid in workers):  # the worker records what it received, then exits
        assert time.monotonic() < deadline, "the worker did not finish after the proxy died"
        time.sleep(0.05)
    safe = sum(1 for at in completed_at if killed_at - at > 1.0)
    assert safe >= 20
    with CaptureReader(capture) as reader:
        assert safe <= reader.count_flows() <= len(completed_at)


def lab_port() -> int | None:
    """The lab server's port (../shared/lab/eas-server.sh) when it is up, else None."""
    port = int(os.environ.get("NGINX_PORT", "18081"))
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return None
    return port


def lab_login(port: int) -> str | None:
    """The login the lab accepts for alice (SOGo may be set up with or without the mail domain)."""
    for login in ("alice@example.com", "alice"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            auth = "Basic " + base64.b64encode(f"{login}:alicepw".encode()).decode()
            connection.request("OPTIONS", "/Microsoft-Server-ActiveSync", headers={"Authorization": auth})
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                return login
        finally:
            connection.close()
    return None


@pytest.mark.lab
def test_the_real_server_through_the_addon(mitm_confdir: Path, tmp_path: Path) -> None:
    port = lab_port()
    if port is None:
        lab_missing("the lab ActiveSync server is not running (../shared/lab/eas-server.sh)")
    login = lab_login(port)
    if login is None:
        lab_missing("the lab server refuses alice's password (lab state changed?)")
    capture, flows_file = tmp_path / "lab.sqlite", tmp_path / "lab.mitm"
    proxy = start_mitmdump(
        port,
        mitm_confdir,
        addon=True,
        options={
            "activesync_capture": str(capture),
            "save_stream_file": str(flows_file),
            "activesync_annotate": "wait",
        },
    )
    auth = "Basic " + base64.b64encode(f"{login}:alicepw".encode()).decode()
    query = f"Cmd=FolderSync&User={login}&DeviceId=ADDONE2E01&DeviceType=SmartPhone"
    requests = [
        CannedRequest("options", "OPTIONS", "/Microsoft-Server-ActiveSync", {"Authorization": auth}, b"", True),
        CannedRequest(
            "foldersync", "POST", f"/Microsoft-Server-ActiveSync?{query}",
            {**eas_headers(), "Authorization": auth}, FOLDERSYNC_REQUEST, True,
        ),
    ]
    try:
        answers = send_all(proxy.port, requests)
    finally:
        assert proxy.stop() == 0, proxy.output
    assert [answer.status for answer in answers] == [200, 200]
    assert answers[0].body == b"" and answers[1].body.startswith(b"\x03\x01\x6a")
    flows = read_flows(flows_file)
    assert flows[1].metadata["activesync.command"] == "FolderSync"
    assert flows[1].metadata["activesync.status"] == 1
    from capture.reader import CaptureReader

    with CaptureReader(capture) as reader:
        rows = sorted(reader.flows(), key=lambda row: row.id)
        assert [(row.command, row.eas_status) for row in rows] == [("Options", None), ("FolderSync", 1)]
        assert reader.flow(rows[1].id).response_body == answers[1].body


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 300 KB tmpfs, to fill up (needs the right to mount; skipped otherwise)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_never_stops_the_traffic(origin: Origin, mitm_confdir: Path, tiny_disk: Path) -> None:
    requests = canned_requests()  # the 2 MB body alone fills the disk
    proxy = start_mitmdump(
        origin.port, mitm_confdir, addon=True, options={"activesync_capture": str(tiny_disk / "capture.sqlite")}
    )
    try:
        through_proxy = [send_all(proxy.port, requests) for _ in range(2)]
        direct = send_all(origin.port, requests)
    finally:
        exit_code = proxy.stop()
    assert through_proxy == [direct, direct]
    assert exit_code == 0
    assert "disk is full" in proxy.output, proxy.output
    assert proxy.output.count("closing failed") == 1
