"""A device session's timeline: which row each flow is drawn in, which cells of a time axis it falls in, and the
worst outcome of each cell; pure values that the viewer's timeline and the HTML report both draw."""

from __future__ import annotations

# Theory of operation
# -------------------
# 1. Rows. A flow that names collections is drawn in the row of each of them (Sync, GetItemEstimate ...): the
#    collection is what a person follows. Ping names the folders it watches, not what it synchronises, and is
#    held for minutes, so it has its command's row, as does every flow that names no collection (FolderSync,
#    Provision, Settings, Options ...). Collection rows come first, in the order first met, then command rows.
# 2. The axis. A cell lasts a round step (1 s, 2 s, 5 s, 10 s, 15 s, 30 s, 1 min ...: the first that fits the
#    session in the cells there are) and the axis starts at a multiple of it, so cell edges fall on round times.
# 3. Cells. A flow falls in the cell of its start ("started": what a burst or a gap is counted in) and in every
#    later cell up to the one of its end ("running": a Ping held open). A flow without an end ends at its start.
# 4. A cell's outcome is the worst of every flow it holds, started or running (eas.verdicts.worst); flows
#    stored without a verdict count for none, so a cell holding only those has no outcome.

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from eas.verdicts import Outcome, worst

# The row of a flow: ("collection", CollectionId) or ("command", command name).
LaneKey = tuple[str, str]
COLLECTION = "collection"
COMMAND = "command"

# Commands whose collections are not their rows (rule 1): Ping's Folder ids are folders it watches
# (MS-ASCMD 2.2.3.72, Folder (Ping)).
OWN_ROW_COMMANDS = frozenset({"Ping"})
NO_COMMAND = "(no command)"

# Cell lengths in seconds, shortest first (rule 2); past the last, whole multiples of it.
ROUND_STEPS: tuple[float, ...] = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
)


@dataclass(frozen=True, slots=True)
class TimelineFlow:
    """What the timeline knows of one flow (stored columns, never analysed again).

    Attributes:
        flow_id: the flow's id in the capture.
        ts_start, ts_end: when the request started and the response ended (None: no end recorded).
        command: the EAS command (None when the request names none).
        collection_ids: the collections the flow names, in order.
        outcome: the stored verdict; None for a flow stored without one.
        http_status: the response's HTTP status, None without a response.
        eas_status: the worst EAS Status of the response, None without one.
    """

    flow_id: int
    ts_start: float
    ts_end: float | None
    command: str | None
    collection_ids: tuple[str, ...]
    outcome: Outcome | None
    http_status: int | None = None
    eas_status: int | None = None


def flow_lanes(command: str | None, collection_ids: Sequence[str]) -> tuple[LaneKey, ...]:
    """The rows a flow is drawn in (rule 1)."""
    if collection_ids and command not in OWN_ROW_COMMANDS:
        return tuple((COLLECTION, collection_id) for collection_id in dict.fromkeys(collection_ids))
    return ((COMMAND, command or NO_COMMAND),)


def lane_order(lanes_of_flows: Iterable[Sequence[LaneKey]]) -> tuple[LaneKey, ...]:
    """Every row once: collection rows in the order first met, then command rows in the order first met."""
    seen: dict[LaneKey, None] = {}
    for lanes in lanes_of_flows:
        for lane in lanes:
            seen.setdefault(lane, None)
    return tuple(lane for lane in seen if lane[0] == COLLECTION) + tuple(lane for lane in seen if lane[0] != COLLECTION)


def round_step(span: float, cells: int) -> float:
    """The shortest round cell length with which `cells` cells cover `span` seconds from a round start (rule 2)."""
    cells = max(1, cells)
    for step in ROUND_STEPS:
        # the axis starts up to one step before the first flow: one cell is kept for that
        if span / step <= cells - 1 or (cells == 1 and span < step):
            return step
    largest = ROUND_STEPS[-1]
    return largest * math.ceil(span / largest / max(1, cells - 1))


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a row: the flows that start in it and those started before that still run through it.

    Attributes:
        started: ids of the flows that start in this cell, in time order.
        running: ids of the flows started in an earlier cell and not ended before this one, in time order.
        outcome: the worst outcome of all of them; None when none has a verdict.
    """

    started: tuple[int, ...]
    running: tuple[int, ...]
    outcome: Outcome | None

    @property
    def flows(self) -> tuple[int, ...]:
        """Every flow the cell holds: those that start in it, then those running through it."""
        return self.started + self.running


@dataclass(frozen=True)
class Timeline:
    """A session's flows laid out on `cell_count` cells of `step` seconds from `start`, one row per lane.

    Attributes:
        start: when the first cell begins (a multiple of `step`).
        step: how long a cell lasts, in seconds.
        cell_count: how many cells the axis has.
        lanes: the rows, in order (lane_order).
        rows: per lane, its cells that hold a flow, by cell index (empty cells are absent).
        flows: every flow of the timeline by id.
    """

    start: float
    step: float
    cell_count: int
    lanes: tuple[LaneKey, ...]
    rows: Mapping[LaneKey, Mapping[int, Cell]]
    flows: Mapping[int, TimelineFlow]

    def cell(self, lane: LaneKey, index: int) -> Cell | None:
        """The cell `index` of `lane`, None when it holds no flow."""
        return self.rows.get(lane, {}).get(index)

    def cell_start(self, index: int) -> float:
        """When cell `index` begins."""
        return self.start + index * self.step

    def index_of(self, ts: float) -> int:
        """The cell a time falls in, within the axis."""
        return min(self.cell_count - 1, max(0, math.floor((ts - self.start) / self.step)))


def build_timeline(flows: Iterable[TimelineFlow], cell_count: int) -> Timeline:
    """Lay `flows` out on at most `cell_count` cells by the rules above (flows in any order).

    Raises:
        ValueError: `cell_count` is below 1.
    """
    if cell_count < 1:
        raise ValueError(f"a timeline needs at least one cell, not {cell_count}")
    ordered = sorted(flows, key=lambda flow: (flow.ts_start, flow.flow_id))
    lanes_of = {flow.flow_id: flow_lanes(flow.command, flow.collection_ids) for flow in ordered}
    lanes = lane_order(lanes_of[flow.flow_id] for flow in ordered)
    if not ordered:
        return Timeline(0.0, 1.0, cell_count, (), MappingProxyType({}), MappingProxyType({}))
    first = ordered[0].ts_start
    last = max(max(flow.ts_start, flow.ts_end or flow.ts_start) for flow in ordered)
    step = round_step(last - first, cell_count)
    start = math.floor(first / step) * step
    used = min(cell_count, math.floor((last - start) / step) + 1)
    timeline = Timeline(start, step, used, lanes, MappingProxyType({}), MappingProxyType({}))
    started: dict[LaneKey, dict[int, list[TimelineFlow]]] = {lane: {} for lane in lanes}
    running: dict[LaneKey, dict[int, list[TimelineFlow]]] = {lane: {} for lane in lanes}
    for flow in ordered:
        first_cell = timeline.index_of(flow.ts_start)
        last_cell = timeline.index_of(max(flow.ts_start, flow.ts_end or flow.ts_start))
        for lane in lanes_of[flow.flow_id]:
            started[lane].setdefault(first_cell, []).append(flow)
            for index in range(first_cell + 1, last_cell + 1):
                running[lane].setdefault(index, []).append(flow)
    rows: dict[LaneKey, Mapping[int, Cell]] = {}
    for lane in lanes:
        cells: dict[int, Cell] = {}
        for index in sorted(set(started[lane]) | set(running[lane])):
            held = started[lane].get(index, []) + running[lane].get(index, [])
            known = [flow.outcome for flow in held if flow.outcome is not None]
            cells[index] = Cell(
                started=tuple(flow.flow_id for flow in started[lane].get(index, [])),
                running=tuple(flow.flow_id for flow in running[lane].get(index, [])),
                outcome=worst(known) if known else None,
            )
        rows[lane] = MappingProxyType(cells)
    return Timeline(start, step, used, lanes, MappingProxyType(rows),
                    MappingProxyType({flow.flow_id: flow for flow in ordered}))


def lane_label(lane: LaneKey, folder_names: Mapping[str, str]) -> str:
    """What a row is called: the folder's name from the session's FolderSync (else its CollectionId), or the
    command's name."""
    kind, value = lane
    if kind == COLLECTION:
        return folder_names.get(value, value)
    return value


__all__ = [
    "COLLECTION",
    "COMMAND",
    "ROUND_STEPS",
    "Cell",
    "LaneKey",
    "NO_COMMAND",
    "Timeline",
    "TimelineFlow",
    "build_timeline",
    "flow_lanes",
    "lane_label",
    "lane_order",
    "round_step",
]
