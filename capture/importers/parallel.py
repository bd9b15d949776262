"""Import work in worker processes: .mitm records turned into flows and every flow analysed, in file order."""

# The expensive part of an import is per flow and independent: reading a .mitm record (mitmproxy's parser and
# Flow.from_state) and `eas.analyze` (decode, annotate, statuses), which the capture writer would otherwise run
# in its thread, one flow after the other, under the same interpreter lock as the reading. Here worker
# processes do both and hand back (entry, analysis); the main process only splits the file and writes, passing
# each analysis to `CaptureWriter.add(exchange=...)`. Chunks go out in file order and come back in file order;
# at most WINDOW_PER_WORKER chunks per worker are in flight, so memory stays bounded however large the file.
# Workers are forked before the writer starts its thread (a fork copies no running thread), or spawned when
# other threads already run.

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from multiprocessing.pool import Pool
from typing import Any, BinaryIO, Final, TypeAlias

from capture.analysis import analyze_parts
from capture.model import FlowInput
from eas.exchange import Exchange

from . import mitm
from .evidence import ImportedEntry

CHUNK_SIZE: Final = 32
WINDOW_PER_WORKER: Final = 4
# Below this size the workers' start-up costs more than they save.
MIN_PARALLEL_BYTES: Final = 4 * 1024 * 1024

Analyzed: TypeAlias = tuple[ImportedEntry, Exchange | None]


def worker_count() -> int:
    """Workers for an import: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def analyze(flow_input: FlowInput) -> Exchange:
    """The analysis the capture writer would make of this flow (annotated, search text from it)."""
    return analyze_parts(
        flow_input.method,
        flow_input.display_url(),
        flow_input.request_headers,
        flow_input.request_body,
        flow_input.response_status,
        flow_input.response_headers,
        flow_input.response_body,
        plain_xml=False,
        request_time=flow_input.ts_start or None,  # 0: the flow has no time
    )


def _work(items: list[Any], name: str) -> list[Analyzed]:
    results: list[Analyzed] = []
    for item in items:
        if isinstance(item, mitm.Record):
            item = mitm.entry(item, name)
        if isinstance(item, tuple):
            results.append((item, analyze(item[1])))
        else:
            results.append((item, None))
    return results


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def start_pool(workers: int) -> Pool:
    """Worker processes; start them before any thread of this import (the capture writer's) runs."""
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method).Pool(workers)


def analyzed_entries(
    read: Callable[[BinaryIO, str], Iterator[ImportedEntry]],
    form: str,
    source: BinaryIO,
    name: str,
    pool: Pool,
    workers: int,
) -> Iterator[Analyzed]:
    """The entries of `source` with their analyses, made by the pool's `workers` processes, in file order."""
    items: Iterable[Any] = mitm.records(source) if form == mitm.FORM else read(source, name)
    work = partial(_work, name=name)
    in_flight: deque[Any] = deque()
    for chunk in _chunks(items):
        in_flight.append(pool.apply_async(work, (chunk,)))
        if len(in_flight) >= workers * WINDOW_PER_WORKER:
            yield from in_flight.popleft().get()
    while in_flight:
        yield from in_flight.popleft().get()


def sequential_entries(
    read: Callable[[BinaryIO, str], Iterator[ImportedEntry]], source: BinaryIO, name: str
) -> Iterator[Analyzed]:
    """The entries of `source`, analysis left to the capture writer."""
    for item in read(source, name):
        yield item, None


__all__ = ["Analyzed", "MIN_PARALLEL_BYTES", "analyze", "analyzed_entries", "sequential_entries", "start_pool",
           "worker_count"]
