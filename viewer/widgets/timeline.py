"""A device session's requests over time: one row per collection or command, cells coloured by their worst outcome."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.events import Click, Resize
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from eas.verdicts import Outcome
from eas.wiretext import shown

from capture.timeline import (
    ROUND_STEPS,
    Cell,
    LaneKey,
    Timeline,
    TimelineFlow,
    build_timeline,
    flow_lanes,
    lane_label,
    lane_order,
)

# A cell's colour by its worst outcome (the flow list's colours); a cell whose flows have no verdict is grey.
OUTCOME_COLOURS: Mapping[Outcome | None, str] = {
    Outcome.OK: "green",
    Outcome.WARNING: "yellow",
    Outcome.FAILED: "red",
    None: "grey50",
}
EMPTY_GLYPH = "·"  # a cell no flow starts or runs in: gaps read as dotted runs
RUNNING_GLYPH = "━"  # a cell a flow started before still runs through (a Ping held open)
MANY_GLYPH = "+"  # ten flows or more start in the cell
AXIS_ROWS = 2  # the time labels, then the ruler under them


def started_glyph(count: int) -> str:
    """How many flows start in a cell: 1 to 9, then MANY_GLYPH."""
    return str(count) if count < 10 else MANY_GLYPH


def cell_look(cell: Cell | None) -> tuple[str, str]:
    """(glyph, Rich style) of a cell: the count of flows starting in it on its outcome's colour; a cell only
    running flows pass through, a line in that colour; an empty one, a dim dot."""
    if cell is None:
        return EMPTY_GLYPH, "grey37"
    colour = OUTCOME_COLOURS[cell.outcome]
    if cell.started:
        return started_glyph(len(cell.started)), f"bold black on {colour}"
    return RUNNING_GLYPH, colour


def label_width(width: int, labels: Sequence[str]) -> int:
    """The row names' column: as wide as the longest name and a gap, at most a fifth of the width (at least 8)."""
    longest = max((len(label) for label in labels), default=0) + 1
    return max(2, min(longest, max(8, width // 5)))


def _clock_format(step: float, span: float) -> str:
    if span >= 86400:
        return "%m-%d %H:%M"
    return "%H:%M:%S" if step < 60 else "%H:%M"


def clock(ts: float, fmt: str, step: float) -> str:
    """A cell's start as the axis shows it (tenths of a second when cells are shorter than one)."""
    try:
        text = time.strftime(fmt, time.localtime(ts))
    except (ValueError, OverflowError, OSError):
        return "?"
    return text + f".{int(ts * 10) % 10}" if step < 1 else text


def label_step(step: float, room: int) -> float:
    """How far apart the axis' time labels are: the shortest round length (ROUND_STEPS) that is a whole number of
    cells and leaves `room` cells for each label."""
    for candidate in ROUND_STEPS:
        cells = candidate / step
        if cells >= room and abs(cells - round(cells)) < 1e-6:
            return candidate
    return step * room


def step_text(step: float) -> str:
    """`5 s`, `2 min`, `1 h`: how long a cell lasts."""
    if step < 60:
        return f"{step:g} s"
    if step < 3600:
        return f"{step / 60:g} min"
    return f"{step / 3600:g} h"


class TimelineView(Widget, can_focus=True):
    """The grid: arrows move over cells that hold flows (shift+arrows: one cell), each move posts CellHighlighted."""

    BINDINGS = [
        Binding("left,h", "step(-1)", "Previous cell with flows", show=False, id="timeline-left"),
        Binding("right,l", "step(1)", "Next cell with flows", show=False, id="timeline-right"),
        Binding("shift+left", "nudge(-1)", "One cell left", show=False, id="timeline-nudge-left"),
        Binding("shift+right", "nudge(1)", "One cell right", show=False, id="timeline-nudge-right"),
        Binding("up,k", "lane(-1)", "Row above", show=False, id="timeline-up"),
        Binding("down,j", "lane(1)", "Row below", show=False, id="timeline-down"),
        Binding("home,g", "edge(0)", "First cell with flows", show=False, id="timeline-first"),
        Binding("end,G", "edge(1)", "Last cell with flows", show=False, id="timeline-last"),
    ]
    DEFAULT_CSS = """
    TimelineView { height: 1fr; }
    """

    cursor_lane: reactive[int] = reactive(0, always_update=True)
    cursor_cell: reactive[int] = reactive(0, always_update=True)

    class CellHighlighted(Message):
        """The cursor is on another cell (or the grid was laid out again)."""

        def __init__(self, view: TimelineView, lane: LaneKey | None, index: int, cell: Cell | None) -> None:
            super().__init__()
            self.view = view
            self.lane = lane
            self.index = index
            self.cell = cell

    def __init__(self, flows: Sequence[TimelineFlow], folder_names: Mapping[str, str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.flows = list(flows)
        self.folder_names = folder_names
        self.timeline: Timeline = build_timeline((), 1)
        ordered = sorted(self.flows, key=lambda flow: (flow.ts_start, flow.flow_id))
        lanes = lane_order(flow_lanes(flow.command, flow.collection_ids) for flow in ordered)
        self.labels: list[str] = [shown(lane_label(lane, folder_names)) for lane in lanes]
        self.label_width = 8
        self.top = 0  # the first row shown when there are more rows than room
        self._laid_out_width: int | None = None

    # --- layout ---
    def on_resize(self, event: Resize) -> None:
        self.lay_out(event.size.width)

    def on_mount(self) -> None:
        if self.size.width:
            self.lay_out(self.size.width)

    def lay_out(self, width: int) -> None:
        """Fit the time axis to `width` cells minus the row names; the cursor keeps its row and its time (a change
        of height alone changes nothing but the rows shown)."""
        if width == self._laid_out_width:
            self._show_cursor_row()
            return
        first = self._laid_out_width is None
        self._laid_out_width = width
        kept_time = self.timeline.cell_start(self.cursor_cell)
        self.label_width = label_width(width, self.labels)
        self.timeline = build_timeline(self.flows, max(1, width - self.label_width))
        if first:
            self.cursor_lane = 0
            self.cursor_cell = self._nearest(0, 0)
        else:
            self.cursor_cell = self.timeline.index_of(kept_time)
        self.refresh()

    # --- what the cursor is on ---
    @property
    def lane(self) -> LaneKey | None:
        lanes = self.timeline.lanes
        return lanes[self.cursor_lane] if 0 <= self.cursor_lane < len(lanes) else None

    @property
    def cell(self) -> Cell | None:
        lane = self.lane
        return None if lane is None else self.timeline.cell(lane, self.cursor_cell)

    def _occupied(self, lane_index: int) -> list[int]:
        if not 0 <= lane_index < len(self.timeline.lanes):
            return []
        return sorted(self.timeline.rows[self.timeline.lanes[lane_index]])

    def _nearest(self, lane_index: int, index: int) -> int:
        """The occupied cell of the row closest to `index` (the earlier of two as close); `index` in an empty row."""
        cells = self._occupied(lane_index)
        return min(cells, key=lambda cell: (abs(cell - index), cell)) if cells else index

    def watch_cursor_lane(self) -> None:
        self._cursor_moved()

    def watch_cursor_cell(self) -> None:
        self._cursor_moved()

    def _show_cursor_row(self) -> None:
        """Scroll the rows so that the cursor's row is shown."""
        rows_shown = max(1, self.size.height - AXIS_ROWS)
        if self.cursor_lane < self.top:
            self.top = self.cursor_lane
        elif self.cursor_lane >= self.top + rows_shown:
            self.top = self.cursor_lane - rows_shown + 1
        self.refresh()

    def _cursor_moved(self) -> None:
        self._show_cursor_row()
        self.post_message(self.CellHighlighted(self, self.lane, self.cursor_cell, self.cell))

    # --- actions ---
    def action_step(self, direction: int) -> None:
        cells = self._occupied(self.cursor_lane)
        after = [cell for cell in cells if (cell - self.cursor_cell) * direction > 0]
        if after:
            self.cursor_cell = after[0] if direction > 0 else after[-1]

    def action_nudge(self, direction: int) -> None:
        self.cursor_cell = max(0, min(self.timeline.cell_count - 1, self.cursor_cell + direction))

    def action_lane(self, direction: int) -> None:
        target = self.cursor_lane + direction
        if 0 <= target < len(self.timeline.lanes):
            self.cursor_cell = self._nearest(target, self.cursor_cell)
            self.cursor_lane = target

    def action_edge(self, last: int) -> None:
        cells = self._occupied(self.cursor_lane)
        if cells:
            self.cursor_cell = cells[-1] if last else cells[0]

    def move_to(self, lane_index: int, index: int) -> None:
        """Put the cursor on cell `index` of row `lane_index` (as a click would)."""
        if 0 <= lane_index < len(self.timeline.lanes):
            self.cursor_lane = lane_index
            self.cursor_cell = max(0, min(self.timeline.cell_count - 1, index))

    def on_click(self, event: Click) -> None:
        if event.y >= AXIS_ROWS and event.x >= self.label_width:
            self.move_to(self.top + event.y - AXIS_ROWS, event.x - self.label_width)

    # --- drawing ---
    def axis_lines(self) -> tuple[Text, Text]:
        """The time labels over the cells, and the ruler that ticks the cell each label names."""
        timeline = self.timeline
        span = timeline.step * timeline.cell_count
        fmt = _clock_format(timeline.step, span)
        labels = Text(" " * self.label_width, no_wrap=True)
        ruler = Text(step_text(timeline.step).rjust(self.label_width - 1)[: self.label_width - 1] + " ", style="dim",
                     no_wrap=True)
        every = label_step(timeline.step, len(clock(timeline.start, fmt, timeline.step)) + 2)
        line = [" "] * timeline.cell_count
        ticks = ["─"] * timeline.cell_count
        for index in range(timeline.cell_count):
            start = timeline.cell_start(index)
            if abs(start / every - round(start / every)) > 1e-6:
                continue
            label = clock(start, fmt, timeline.step)
            if index + len(label) > timeline.cell_count:
                break
            line[index : index + len(label)] = list(label)
            ticks[index] = "┬"
        labels.append("".join(line))
        ruler.append("".join(ticks), style="dim")
        return labels, ruler

    def lane_line(self, lane_index: int) -> Text:
        """One row: its name, then a glyph per cell (cell_look), the cursor's cell reversed."""
        lane = self.timeline.lanes[lane_index]
        name = self.labels[lane_index]
        room = self.label_width - 1
        name = name if len(name) <= room else name[: max(0, room - 1)] + "…"
        focused_row = lane_index == self.cursor_lane
        line = Text(no_wrap=True)
        line.append(name.ljust(room) + " ", style="bold reverse" if focused_row else "bold")
        cells = self.timeline.rows[lane]
        for index in range(self.timeline.cell_count):
            glyph, style = cell_look(cells.get(index))
            if focused_row and index == self.cursor_cell:
                style = f"{style} reverse underline"
            line.append(glyph, style=style)
        return line

    def render(self) -> Text:
        if not self.timeline.lanes:
            return Text("This session has no flows.", style="dim")
        labels, ruler = self.axis_lines()
        lines = [labels, ruler]
        rows_shown = max(1, self.size.height - AXIS_ROWS)
        for lane_index in range(self.top, min(len(self.timeline.lanes), self.top + rows_shown)):
            lines.append(self.lane_line(lane_index))
        return Text("\n", no_wrap=True).join(lines)


__all__ = ["OUTCOME_COLOURS", "TimelineView", "cell_look", "label_width", "started_glyph", "step_text"]
