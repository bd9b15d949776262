"""A scripted EAS server on loopback: each device's requests get the answers of its script, in order.

The fault scenarios of the diagnosis (issue 12) are played through a real mitmdump against it: a device whose
script says "Status 3" gets Status 3 however it asks, so the client side only has to send the requests a
misbehaving phone would send.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import eas

WBXML_TYPE = "application/vnd.ms-sync.wbxml"
AUTH = "Basic YWxpY2U6YWxpY2Vwdw=="  # alice:alicepw


# --- bodies, written as MS-ASCMD's XML examples and encoded with the codec


def folder_sync_request(key: str) -> bytes:
    return eas.encode(f'<FolderSync xmlns="FolderHierarchy"><SyncKey>{key}</SyncKey></FolderSync>')


def folder_sync_response(key: str = "1") -> bytes:
    return eas.encode(
        '<FolderSync xmlns="FolderHierarchy"><Status>1</Status>'
        f"<SyncKey>{key}</SyncKey><Changes><Count>2</Count>"
        "<Add><ServerId>1</ServerId><ParentId>0</ParentId><DisplayName>INBOX</DisplayName><Type>2</Type></Add>"
        "<Add><ServerId>2</ServerId><ParentId>0</ParentId><DisplayName>Calendar</DisplayName><Type>8</Type></Add>"
        "</Changes></FolderSync>"
    )


def sync_request(key: str, collection: str = "1") -> bytes:
    return eas.encode(
        '<Sync xmlns="AirSync"><Collections><Collection>'
        f"<SyncKey>{key}</SyncKey><CollectionId>{collection}</CollectionId>"
        "</Collection></Collections></Sync>"
    )


def sync_response(status: int, new_key: str | None = None, collection: str = "1") -> bytes:
    key = f"<SyncKey>{new_key}</SyncKey>" if new_key is not None else ""
    return eas.encode(
        '<Sync xmlns="AirSync"><Collections><Collection>'
        f"{key}<CollectionId>{collection}</CollectionId><Status>{status}</Status>"
        "</Collection></Collections></Sync>"
    )


def sync_top_status(status: int) -> bytes:
    """A Sync response with only a top-level Status (MS-ASCMD 2.2.3.177.17: 12 = folder hierarchy changed)."""
    return eas.encode(f'<Sync xmlns="AirSync"><Status>{status}</Status></Sync>')


def ping_request(heartbeat: int) -> bytes:
    return eas.encode(
        f'<Ping xmlns="Ping"><HeartbeatInterval>{heartbeat}</HeartbeatInterval>'
        "<Folders><Folder><Id>1</Id><Class>Email</Class></Folder></Folders></Ping>"
    )


def ping_response(status: int, heartbeat: int | None = None) -> bytes:
    limit = f"<HeartbeatInterval>{heartbeat}</HeartbeatInterval>" if heartbeat is not None else ""
    return eas.encode(f'<Ping xmlns="Ping"><Status>{status}</Status>{limit}</Ping>')


# --- the script


@dataclass(frozen=True)
class Step:
    """One request a device sends and the answer the server gives it."""

    command: str
    request_body: bytes
    status: int = 200
    response_body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A device's requests and answers, in order, and what the diagnosis must say about them.

    `expected` maps a rule id to the indexes (into `steps`) of the flows the finding rests on.
    """

    device_id: str
    steps: tuple[Step, ...]
    expected: dict[str, tuple[int, ...]] = field(default_factory=dict)


def scenarios() -> list[Scenario]:
    """The fault scenarios of issue 12, one device each."""
    folders = Step("FolderSync", folder_sync_request("0"), response_body=folder_sync_response())
    invalid = Step("Sync", sync_request("k5"), response_body=sync_response(3))
    return [
        # The client sends the same SyncKey again after Status 3 (MS-ASCMD 2.2.3.177.17) instead of 0.
        Scenario("DEVLOOP", (folders, invalid, invalid, invalid), {"sync-key-invalid-loop": (1, 2, 3)}),
        # The same collection goes back to SyncKey 0 three times.
        Scenario("DEVRESET", (
            folders,
            Step("Sync", sync_request("0"), response_body=sync_response(1, "a")),
            Step("Sync", sync_request("a"), response_body=sync_response(1, "b")),
            Step("Sync", sync_request("0"), response_body=sync_response(1, "c")),
            Step("Sync", sync_request("c"), response_body=sync_response(1, "d")),
            Step("Sync", sync_request("0"), response_body=sync_response(1, "e")),
            Step("Sync", sync_request("0"), response_body=sync_response(1, "f")),
        ), {"sync-key-reset-churn": (3, 5, 6)}),
        # Three 401s in a row.
        Scenario("DEVAUTH", tuple(
            Step("FolderSync", folder_sync_request("0"), 401, headers=(("WWW-Authenticate", 'Basic realm="eas"'),))
            for _ in range(3)
        ), {"auth-failures": (0, 1, 2)}),
        # 449 (provision first) again and again.
        Scenario("DEVPROV", tuple(Step("FolderSync", folder_sync_request("0"), 449) for _ in range(3)),
                 {"provisioning-loop": (0, 1, 2)}),
        # A 451 to another server, and the client keeps asking this one.
        Scenario("DEVREDIR", (
            Step("Sync", sync_request("k1"), 451,
                 headers=(("X-MS-Location", "https://new.example.com/Microsoft-Server-ActiveSync"),)),
            Step("Sync", sync_request("k1"), response_body=sync_response(1, "k2")),
            Step("Ping", ping_request(480), response_body=ping_response(1)),
        ), {"redirect-loop": (0, 1, 2)}),
        # A 503 with Retry-After: 60, and the client retries at once.
        Scenario("DEVBUSY", (
            Step("Sync", sync_request("k1"), 503, headers=(("Retry-After", "60"), ("X-MS-ASThrottle", "CommandFrequency"))),
            Step("Sync", sync_request("k1"), response_body=sync_response(1, "k2")),
            Step("Sync", sync_request("k2"), response_body=sync_response(1, "k3")),
        ), {"throttled": (0,), "retry-too-early": (0, 1, 2)}),
        # Ping Status 5 (heartbeat out of range, limit 480 s) and the same heartbeat asked again.
        Scenario("DEVPING", tuple(
            Step("Ping", ping_request(3600), response_body=ping_response(5, 480)) for _ in range(2)
        ), {"ping-heartbeat-out-of-range": (0, 1)}),
        # Sync Status 12 (hierarchy changed) and no FolderSync follows.
        Scenario("DEV12", (
            folders,
            Step("Sync", sync_request("k1"), response_body=sync_top_status(12)),
            Step("Sync", sync_request("k1"), response_body=sync_top_status(12)),
            Step("Ping", ping_request(480), response_body=ping_response(1)),
        ), {"folder-sync-required-ignored": (1, 2, 3)}),
    ]  # fmt: skip


def request_path(command: str, device_id: str, user: str = "alice") -> str:
    return f"/Microsoft-Server-ActiveSync?Cmd={command}&User={user}&DeviceId={device_id}&DeviceType=SmartPhone"


def request_headers() -> dict[str, str]:
    return {"Authorization": AUTH, "MS-ASProtocolVersion": "14.1", "Content-Type": WBXML_TYPE,
            "X-MS-PolicyKey": "1234567890"}  # fmt: skip


def play(port: int, scenario: Scenario) -> list[int]:
    """Send the scenario's requests to `port` in order; the HTTP statuses answered."""
    statuses = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for step in scenario.steps:
            connection.request("POST", request_path(step.command, scenario.device_id), step.request_body,
                               request_headers())  # fmt: skip
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        connection.close()
    return statuses


# --- the server


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        server: ScriptedServer = self.server  # type: ignore[assignment]
        match = re.search(r"[?&]DeviceId=([^&]+)", self.path)
        step = server.next_step(match.group(1) if match else "")
        if step is None:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(step.status)
        if step.response_body:
            self.send_header("Content-Type", WBXML_TYPE)
        self.send_header("MS-Server-ActiveSync", "14.1")
        for name, value in step.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(step.response_body)))
        self.end_headers()
        self.wfile.write(step.response_body)


class ScriptedServer(ThreadingHTTPServer):
    """Answers each device's requests with its scenario's steps, in order (400 once the script is done)."""

    daemon_threads = True

    def __init__(self, scenarios: list[Scenario]) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self._lock = threading.Lock()
        self._steps = {scenario.device_id: list(scenario.steps) for scenario in scenarios}

    def next_step(self, device_id: str) -> Step | None:
        with self._lock:
            steps = self._steps.get(device_id)
            return steps.pop(0) if steps else None

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def serve(scenarios: list[Scenario]) -> Iterator[ScriptedServer]:
    """Run a ScriptedServer in a thread for the duration of the generator."""
    server = ScriptedServer(scenarios)
    thread = threading.Thread(target=server.serve_forever, name="scripted-eas", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
