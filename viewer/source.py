"""The viewer's model of a capture: filters, and one reader thread that every capture read goes through."""

from __future__ import annotations

import concurrent.futures
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from capture.model import FlowFilter, FlowRow, StatusMatch
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
class FlowListing(FlowFilter):
    """What the flow list shows: the flows a FlowFilter selects (its fields), in a sort order."""

    order: str = "ts_start"  # a key of SORT_ORDERS
    descending: bool = False

    def with_(self, **changes: Any) -> FlowListing:
        return replace(self, **changes)

    def rows(self, reader: CaptureReader, offset: int, limit: int | None) -> list[FlowRow]:
        """The listed flows from `offset` on, at most `limit` (None: all)."""
        return reader.flows(self, order=self.order, descending=self.descending, offset=offset, limit=limit)

    def describe(self) -> str:
        """A short summary for the status line, e.g. `Sync · HTTP 401 · problems · "inbox" · by time ↑`."""
        parts = []
        if self.command:
            parts.append(self.command)
        if self.http_status is not None:
            parts.append(f"HTTP {status_text(self.http_status)}")
        if self.eas_status is not None:
            parts.append(f"EAS {status_text(self.eas_status)}")
        if self.problems_only:
            parts.append("problems only")
        if self.text:
            parts.append(f"text {self.text!r}")
        if self.collection_id is not None:
            parts.append(f"collection {self.collection_id}")
        if self.flow_ids is not None:
            parts.append(f"{len(self.flow_ids)} flow(s) of a finding")
        parts.append(f"by {SORT_ORDERS.get(self.order, self.order)} {'↓' if self.descending else '↑'}")
        return " · ".join(parts)


# The status field: an optional kind, an optional "!" (any other code), then `401`, `4xx` or `3-9`.
_STATUS_FORM = re.compile(r"^(?:(?P<kind>http|eas)\s+)?(?P<negated>!)?\s*(?:(?P<low>\d+)(?:\s*-\s*(?P<high>\d+))?|(?P<klass>[1-5])xx)$")
HTTP_FROM = 200  # a bare code from 200 up is an HTTP status; below, an EAS status (MS-ASCMD's codes end below 200)

STATUS_HELP = "a number (401, 3), 'http 401' / 'eas 3', a class (4xx), a range (3-9), or ! for any other (!1)"


def parse_status(text: str) -> tuple[StatusMatch | None, StatusMatch | None]:
    """Read the status filter field into (HTTP, EAS) filters for CaptureReader.flows(); empty means no filter.

    `401`, `http 401`, `eas 3`, `3`; `4xx` (400 to 499); `3-9` (a range); `!1` (a status other than 1). A bare
    number, or a range starting, from 200 up is an HTTP status, a smaller one an EAS status; `Nxx` is HTTP.

    Raises:
        ValueError: the text is not one of these forms.
    """
    cleaned = " ".join(text.strip().lower().replace(":", " ").split())
    if not cleaned:
        return None, None
    form = _STATUS_FORM.match(cleaned)
    if form is None:
        raise ValueError(f"status filter {text!r}: expected {STATUS_HELP}")
    negated = form["negated"] is not None
    if form["klass"] is not None:
        low = high = int(form["klass"]) * 100
        high += 99
    else:
        low = int(form["low"])
        high = int(form["high"]) if form["high"] is not None else low
    if high < low:
        raise ValueError(f"status filter {text!r}: the range {low}-{high} is empty")
    kind = form["kind"] or ("http" if form["klass"] is not None or low >= HTTP_FROM else "eas")
    match: StatusMatch = (low, high, negated) if negated or high != low else low
    return (match, None) if kind == "http" else (None, match)


def status_text(match: StatusMatch) -> str:
    """A status filter as the field shows it: `401`, `4xx`, `3-9`, `!1`."""
    if isinstance(match, int):
        return str(match)
    low, high, negated = match
    mark = "!" if negated else ""
    if low == high:
        return f"{mark}{low}"
    if low % 100 == 0 and high == low + 99:
        return f"{mark}{low // 100}xx"
    return f"{mark}{low}-{high}"


def status_field(http_status: StatusMatch | None, eas_status: StatusMatch | None) -> str:
    """The status field's text for these filters (the kind spelled out, so it reads back the same)."""
    if http_status is not None:
        return f"http {status_text(http_status)}"
    if eas_status is not None:
        return f"eas {status_text(eas_status)}"
    return ""


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


__all__ = [
    "PAGE_SIZE",
    "SORT_ORDERS",
    "STATUS_HELP",
    "CaptureSource",
    "FlowListing",
    "parse_status",
    "status_field",
    "status_text",
]
