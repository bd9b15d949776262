"""Fixtures for the viewer tests: real SQLite captures written through capture.writer.CaptureWriter."""

from __future__ import annotations

import asyncio
import base64
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from capture.model import FlowInput
from capture.writer import CaptureWriter

WBXML_CT = "application/vnd.ms-sync.wbxml"
# MS-ASWBXML examples: FolderSync request with SyncKey 0, and Sync responses with statuses 1 / 3.
FOLDERSYNC_REQUEST = bytes.fromhex("03016a00000756524b033000010101")
FOLDERSYNC_RESPONSE = bytes.fromhex("03016a0000075652034f4b0001524b03310001010101")
SYNC_REQUEST = bytes.fromhex("03016a00455c4f4b033000015203310001010101")
SYNC_RESPONSE = bytes.fromhex("03016a00455c4f4b03310001520331000103310001010101")
SYNC_RESPONSE_BAD = bytes.fromhex("03016a00455c4f4b0330000152033100014e0333000101010101")
GARBAGE = b"\x03\x01\x6a\x00\x45\xff\xff\xff"
BASE_TS = 1_763_800_000.0


def auth(user: str = "jdoe", password: str = "s3cret") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def eas_flow(
    cmd: str,
    body: bytes,
    response: bytes | None,
    *,
    status: int = 200,
    ts: float = BASE_TS,
    host: str = "mail.example.com",
    port: int = 443,
    scheme: str = "https",
    user: str = "jdoe",
    device: str = "ABC123",
    device_type: str = "iPhone",
) -> FlowInput:
    path = f"/Microsoft-Server-ActiveSync?Cmd={cmd}&User={user}&DeviceId={device}&DeviceType={device_type}"
    headers = (
        ("Host", host if port in (80, 443) else f"{host}:{port}"),
        ("Authorization", auth(user)),
        ("MS-ASProtocolVersion", "16.1"),
        ("User-Agent", "Apple-iPhone/1"),
        ("Content-Type", WBXML_CT),
        ("Content-Length", str(len(body))),
    )
    return FlowInput(
        method="POST",
        scheme=scheme,
        target_host=host,
        port=port,
        path=path,
        http_version="HTTP/1.1",
        request_headers=headers,
        request_body=body,
        timestamps={"request_start": ts, "request_end": ts + 0.01, "response_start": ts + 0.1, "response_end": ts + 0.12},
        host=host,
        response_http_version="HTTP/1.1",
        response_status=status,
        response_reason="OK" if status == 200 else "Unauthorized" if status == 401 else "Error",
        response_headers=(("Content-Type", WBXML_CT), ("Content-Length", str(len(response or b"")))),
        response_body=response,
        tls=scheme == "https",
    )


def standard_flows(host: str = "mail.example.com", port: int = 443, scheme: str = "https") -> list[FlowInput]:
    kw = {"host": host, "port": port, "scheme": scheme}
    return [
        eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE, ts=BASE_TS, **kw),
        eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, ts=BASE_TS + 1, **kw),
        eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE_BAD, ts=BASE_TS + 2, **kw),
        eas_flow("Ping", GARBAGE, b"", ts=BASE_TS + 3, status=401, **kw),
        eas_flow("Sync", SYNC_REQUEST, SYNC_RESPONSE, ts=BASE_TS + 4, user="asmith", device="XYZ9", device_type="Android", **kw),
    ]


def write_capture(path: Path, flows: list[FlowInput], keep_credentials: bool = True) -> list[int]:
    writer = CaptureWriter(path, keep_credentials=keep_credentials)
    try:
        return [writer.add_sync(f) for f in flows]
    finally:
        writer.close()


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "eas-test.sqlite"
    write_capture(path, standard_flows())
    yield path


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests (Textual pilots) in a fresh event loop; no asyncio plugin is needed."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True
