"""A corpus of hostile .mitm files and damaged captures (issue 17.5), generated from valid ones, for every command."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import io
from mitmproxy.io import tnetstring

from capture.mitm import flow_input_from_mitm
from capture.writer import CaptureWriter
from tests.addon.test_non_utf8 import mitm_flow

GOOD_FLOWS = 3


def good_flows() -> list[Any]:
    return [mitm_flow(timestamp=1_763_700_000.0 + number) for number in range(GOOD_FLOWS)]


def mitm_bytes(flows: list[Any]) -> bytes:
    """The .mitm file of these flows, as mitmproxy writes it."""
    import io as std_io

    buffer = std_io.BytesIO()
    writer = io.FlowWriter(buffer)  # type: ignore[no-untyped-call]
    for one in flows:
        writer.add(one)
    return buffer.getvalue()


def _record(state: dict[Any, Any]) -> bytes:
    return tnetstring.dumps(state)


def _changed_state(change: Callable[[dict[Any, Any]], None]) -> bytes:
    state = mitm_flow(timestamp=1_763_700_100.0).get_state()
    change(state)
    return _record(state)


def _deep_list(depth: int) -> bytes:
    value = b"0:]"
    for _ in range(depth):
        value = str(len(value)).encode() + b":" + value + b"]"
    return value


def _drop(*path: str) -> Callable[[dict[Any, Any]], None]:
    def change(state: dict[Any, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _set(value: Any, *path: str) -> Callable[[dict[Any, Any]], None]:
    def change(state: dict[Any, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def hostile_mitm_files() -> dict[str, bytes]:
    """Each a .mitm file: good flows, then one hostile record (so the readable part is there to be used)."""
    good = mitm_bytes(good_flows())
    return {
        "deep-nesting": good + _deep_list(20_000),
        "huge-length": good + b"999999999999:" + b"x" * 64,
        "missing-request": good + _changed_state(_drop("request")),
        "missing-host": good + _changed_state(_drop("request", "host")),
        "huge-port": good + _changed_state(_set(10**30, "request", "port")),
        "negative-port": good + _changed_state(_set(-5, "request", "port")),
        "huge-status": good + _changed_state(_set(10**30, "response", "status_code")),
        "text-status": good + _changed_state(_set(b"abc", "response", "status_code")),
        "huge-timestamp": good + _changed_state(_set(1e308, "request", "timestamp_start")),
        "headers-not-a-list": good + _changed_state(_set(7, "request", "headers")),
        "truncated": good[: len(good) * 2 // 3 + 40],  # inside the third flow
        "bit-flip": bytes(byte ^ 0x20 if index == len(good) // 2 else byte for index, byte in enumerate(good)),
        "not-a-flow-file": b"PK\x03\x04 this is a zip",
    }


# Damaged captures: an SQL statement run on a valid capture of GOOD_FLOWS flows, damaging flow 2 only.
DAMAGED_CAPTURES = {
    "headers-bad-json": "UPDATE flows SET request_headers = '[[\"Host\", ' WHERE id = 2",
    "headers-not-a-list": "UPDATE flows SET response_headers = '{\"a\": 1}' WHERE id = 2",
    "problems-bad-json": "UPDATE flows SET problems = '{oops' WHERE id = 2",
    "problems-wrong-type": "UPDATE flows SET problems = '[1, 2]' WHERE id = 2",
    "timestamps-wrong-type": "UPDATE flows SET timestamps = '[1, 2]' WHERE id = 2",
    "ts-start-text": "UPDATE flows SET ts_start = 'yesterday' WHERE id = 2",
    "ts-start-huge": "UPDATE flows SET ts_start = 1e300, ts_end = 1e301 WHERE id = 2",
    "ts-start-blob": "UPDATE flows SET ts_start = x'FFFE' WHERE id = 2",
    "port-huge": "UPDATE flows SET port = 9223372036854775807 WHERE id = 2",
    "status-huge": "UPDATE flows SET http_status = 9223372036854775807 WHERE id = 2",
    "status-text": "UPDATE flows SET http_status = 'two hundred' WHERE id = 2",
    "body-text": "UPDATE flow_bodies SET request_body = 'text where bytes belong' WHERE flow_id = 2",
    "connection-null": "UPDATE flows SET connection = 'null', extra = '7' WHERE id = 2",
    "sizes-text": "UPDATE flows SET request_size = 'big', problem_count = 'many' WHERE id = 2",
}
# Damage the reader cannot read around for that flow's record: `explain` and `export` name it and fail.
RECORD_DAMAGE = {"headers-bad-json", "headers-not-a-list", "problems-bad-json", "problems-wrong-type",
                 "timestamps-wrong-type", "port-huge", "connection-null"}


def write_good_capture(path: Path) -> None:
    writer = CaptureWriter(path)
    try:
        for one in good_flows():
            writer.add(flow_input_from_mitm(one))
    finally:
        writer.close()


def damaged_capture(path: Path, damage: str) -> Path:
    """A capture of GOOD_FLOWS flows with flow 2 damaged by DAMAGED_CAPTURES[damage]."""
    write_good_capture(path)
    connection = sqlite3.connect(path)
    try:
        connection.execute(DAMAGED_CAPTURES[damage])
        connection.commit()
    finally:
        connection.close()
    return path
