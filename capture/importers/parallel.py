"""Import work in worker processes: .mitm records turned into flows, analysed and prepared as rows, in file order."""

# The expensive part of an import is per flow and independent: reading a .mitm record, `eas.analyze` (decode,
# annotate, statuses) and turning the flow into its rows (redaction, JSON columns, search text), which the
# capture writer would otherwise do in its thread, one flow after the other, under the same interpreter lock as
# the reading. Here worker processes do all three and hand back each flow as its rows (`PreparedFlow`: plain
# values, cheap to send); the main process only splits the file and writes (`CaptureWriter.add_prepared`).
# An entry a worker does not prepare (an issue, a skipped or non-EAS flow) comes back as it is.
# Chunks go out in file order and come back in file order; a chunk ends at CHUNK_ENTRIES entries or once it
# holds CHUNK_BYTES of records or bodies, and at most WINDOW_PER_WORKER chunks per worker are in flight, so
# memory stays bounded however large the file or its flows.
# Workers are forked before the writer starts its thread (a fork copies no running thread), or spawned when
# other threads already run.

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from multiprocessing.pool import Pool
from typing import Any, BinaryIO, Final, TypeAlias

from capture.model import FlowInput
from capture.writer import PreparedFlow, analyze_flow, prepare_flow
from eas.constants import path_kind
from eas.exchange import Exchange

from . import mitm
from .evidence import ImportedEntry

# Each chunk is a task of the pool, whose hand-over costs the main process per task: chunks of many small flows.
CHUNK_ENTRIES: Final = 128
CHUNK_BYTES: Final = 1024 * 1024
WINDOW_PER_WORKER: Final = 4
# Below this size the workers' start-up costs more than they save.
MIN_PARALLEL_BYTES: Final = 4 * 1024 * 1024
# The cyclic garbage collector's thresholds while an import runs (gc.set_threshold), in the main process and in
# the workers. An import allocates and drops thousands of small containers per flow (trees, rows, dicts) and
# keeps almost none: at CPython's default (a young collection every 700 allocations) the collector runs every
# few flows and keeps walking what survived the last runs. Rarer young collections still free the few cycles an
# analysis makes, with a bounded heap.
IMPORT_GC_THRESHOLDS: Final = (50_000, 20, 100)

# An entry with the analysis made of it (None: left to the writer), or a flow a worker prepared as its rows.
Analyzed: TypeAlias = tuple[ImportedEntry, Exchange | None] | PreparedFlow


@dataclass(frozen=True)
class RowOptions:
    """How the rows of an import are made: what the capture writer and the import's filter are told."""

    keep_credentials: bool = False
    max_body_size: int | None = None
    all_http: bool = False  # keep every HTTP flow, not only EAS and Autodiscover
    flow_objects: bool = False  # read .mitm records through mitmproxy's Flow objects (the reference path)


def worker_count() -> int:
    """Workers for an import: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def is_eas(flow_input: FlowInput) -> bool:
    """A flow an import keeps without `all_http`: its path is EAS or Autodiscover."""
    return path_kind(flow_input.path) is not None


def _work(items: list[Any], name: str, options: RowOptions) -> list[Analyzed]:
    results: list[Analyzed] = []
    for item in items:
        if isinstance(item, mitm.Record):
            item = mitm.entry(item, name, flow_objects=options.flow_objects)
        if not isinstance(item, tuple) or not (options.all_http or is_eas(item[1])):
            results.append((item, None))
            continue
        exchange = analyze_flow(item[1])
        try:
            prepared = prepare_flow(item[1], exchange, keep_credentials=options.keep_credentials,
                                    max_body_size=options.max_body_size)
        except Exception:  # the writer's thread tries again, and logs what it cannot store
            results.append((item, exchange))
            continue
        results.append(prepared)
    return results


def _size(item: Any) -> int:
    """The bytes an entry carries to a worker: a .mitm record's, or a read entry's bodies."""
    if isinstance(item, mitm.Record):
        return len(item.data)
    if isinstance(item, tuple):
        flow_input = item[1]
        return len(flow_input.request_body or b"") + len(flow_input.response_body or b"")
    return 0


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    size = 0
    for item in items:
        chunk.append(item)
        size += _size(item)
        if len(chunk) >= CHUNK_ENTRIES or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


@contextlib.contextmanager
def import_collector() -> Iterator[None]:
    """The collector thresholds of an import (IMPORT_GC_THRESHOLDS) inside the `with`, the process's own after."""
    previous = gc.get_threshold()
    gc.set_threshold(*IMPORT_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _start_worker() -> None:
    gc.set_threshold(*IMPORT_GC_THRESHOLDS)
    # What the worker inherited or imported lives as long as it does: out of the collector's sight, its pages
    # (shared with the parent after a fork) are not written to by every full collection.
    gc.freeze()


def start_pool(workers: int) -> Pool:
    """Worker processes; start them before any thread of this import (the capture writer's) runs."""
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method).Pool(workers, initializer=_start_worker)


def analyzed_entries(
    read: Callable[[BinaryIO, str], Iterator[ImportedEntry]],
    form: str,
    source: BinaryIO,
    name: str,
    pool: Pool,
    workers: int,
    options: RowOptions,
) -> Iterator[Analyzed]:
    """The entries of `source`, prepared or analysed by the pool's `workers` processes, in file order."""
    items: Iterable[Any] = mitm.records(source) if form == mitm.FORM else read(source, name)
    work = partial(_work, name=name, options=options)
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


__all__ = ["Analyzed", "IMPORT_GC_THRESHOLDS", "MIN_PARALLEL_BYTES", "RowOptions", "analyzed_entries",
           "import_collector", "is_eas", "sequential_entries", "start_pool", "worker_count"]
