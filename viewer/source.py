"""The viewer's model of a capture: filters, and one reader thread that every capture read goes through."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from capture.reader import CaptureReader


T = TypeVar("T")

# CaptureReader.flows(order=...) values the viewer offers, with what the user reads.
SORT_ORDERS: dict[str, str] = {
    "ts_start": "time",
    "command": "command",
    "http_status": "HTTP status",
    "eas_status": "EAS status",
    "request_size": "request size",
    "response_size": "response size",
    "duration": "duration",
}

PAGE_SIZE = 100


@dataclass(frozen=True)
class FlowFilter:
    """What the flow list shows: CaptureReader.flows() filters plus the sort order."""

    session_id: int | None = None
    command: str | None = None
    eas_status: int | None = None
    http_status: int | None = None
    problems_only: bool = False
    text: str | None = None
    order: str = "ts_start"
    descending: bool = False

    def filters(self) -> dict[str, Any]:
        """Keyword arguments shared by CaptureReader.flows() and count_flows()."""
        return {
            "session_id": self.session_id,
            "command": self.command,
            "eas_status": self.eas_status,
            "http_status": self.http_status,
            "problems_only": self.problems_only,
            "text": self.text or None,
        }

    def with_(self, **changes: Any) -> FlowFilter:
        return replace(self, **changes)

    def describe(self) -> str:
        """A short summary for the status line, e.g. `Sync · HTTP 401 · problems · "inbox" · by time ↑`."""
        parts = []
        if self.command:
            parts.append(self.command)
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.eas_status is not None:
            parts.append(f"EAS {self.eas_status}")
        if self.problems_only:
            parts.append("problems only")
        if self.text:
            parts.append(f"text {self.text!r}")
        parts.append(f"by {SORT_ORDERS.get(self.order, self.order)} {'↓' if self.descending else '↑'}")
        return " · ".join(parts)


def parse_status(text: str) -> tuple[int | None, int | None]:
    """Read the status filter field: `401` / `http 401` (HTTP), `3` / `eas 3` (EAS); empty means no filter.

    A bare number of 200 or more is an HTTP status, a smaller one an EAS status.

    Raises:
        ValueError: the text is not one of these forms.
    """
    words = text.strip().lower().replace(":", " ").split()
    if not words:
        return None, None
    kind = None
    if words[0] in ("http", "eas"):
        kind = words.pop(0)
    if len(words) != 1 or not words[0].isdigit():
        raise ValueError(f"status filter {text!r}: expected a number, 'http 401' or 'eas 3'")
    code = int(words[0])
    if kind is None:
        kind = "http" if code >= 200 else "eas"
    return (code, None) if kind == "http" else (None, code)


class CaptureSource:
    """Owns one CaptureReader on a dedicated thread (SQLite connections belong to the thread that made them).

    Workers call `call(fn)`; `fn(reader)` runs on the reader thread and its result (or exception) comes back.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="capture-reader")
        self._reader: CaptureReader | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _get(self) -> CaptureReader:
        if self._reader is None:
            self._reader = CaptureReader(self.path)
        return self._reader

    def call(self, fn: Callable[[CaptureReader], T]) -> T:
        """Run `fn(reader)` on the reader thread and return its result.

        Raises:
            whatever `fn` or opening the reader raises (CaptureError for a bad capture).
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("capture closed")
            future = self._executor.submit(lambda: fn(self._get()))
        return future.result()

    def submit(self, fn: Callable[[CaptureReader], T]) -> concurrent.futures.Future[T]:
        """Start `fn(reader)` on the reader thread now and return its future (used to read ahead at start-up)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("capture closed")
            return self._executor.submit(lambda: fn(self._get()))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True

        def _close() -> None:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

        self._executor.submit(_close)
        self._executor.shutdown(wait=True)


__all__ = ["PAGE_SIZE", "SORT_ORDERS", "CaptureSource", "FlowFilter", "parse_status"]
