"""The timeline of a device session: the grid, what the highlighted cell holds, and Enter to go to one of its flows."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from eas.wiretext import shown

from capture.timeline import NO_COMMAND, Cell, LaneKey, TimelineFlow, lane_label
from viewer.widgets.timeline import OUTCOME_COLOURS, RUNNING_GLYPH, TimelineView, step_text

# A cell's detail names at most this many of its flows; the rest are counted.
MAX_LISTED = 12


def flow_line(flow: TimelineFlow) -> str:
    """`#12 Sync HTTP 200 Status 3 failed`: one flow of a cell."""
    parts = [f"#{flow.flow_id}", flow.command or NO_COMMAND]
    parts.append(f"HTTP {flow.http_status}" if flow.http_status is not None else "no response")
    if flow.eas_status is not None:
        parts.append(f"Status {flow.eas_status}")
    parts.append(str(flow.outcome) if flow.outcome is not None else "not judged")
    return " ".join(parts)


def cell_detail(
    cell: Cell | None,
    lane_name: str,
    start: float,
    step: float,
    flows: Mapping[int, TimelineFlow],
    chosen: int = 0,
) -> Text:
    """What the highlighted cell holds: its time, its row, then its flows (started, then running through it),
    the one Enter goes to (`chosen`, an index into `cell.flows`) marked with ▶."""
    try:
        when = time.strftime("%H:%M:%S", time.localtime(start)) + f" +{step_text(step)}"
    except (ValueError, OverflowError, OSError):
        when = "?"
    text = Text(f"{when} · {lane_name}: ", style="bold")
    if cell is None:
        text.append("no flow (←/→ go to the cells that hold some)", style="dim")
        return text
    outcome = "not judged" if cell.outcome is None else str(cell.outcome)
    text.append(f"{len(cell.started)} started, {len(cell.running)} running through, worst {outcome}\n",
                style=OUTCOME_COLOURS[cell.outcome])
    for position, flow_id in enumerate(cell.flows[:MAX_LISTED]):
        flow = flows.get(flow_id)
        line = flow_line(flow) if flow is not None else f"#{flow_id}"
        if position >= len(cell.started):
            line = f"{RUNNING_GLYPH} {line} (running)"
        marker = "▶ " if position == chosen else "  "
        colour = OUTCOME_COLOURS[flow.outcome if flow is not None else None]
        text.append(marker, style="bold")
        text.append(shown(line), style=f"bold {colour}" if position == chosen else colour)
        text.append("  ")
    if len(cell.flows) > MAX_LISTED:
        text.append(f"and {len(cell.flows) - MAX_LISTED} more", style="dim")
    return text


class TimelineScreen(Screen[int | None]):
    """A session's requests over time; Enter returns the chosen flow of the highlighted cell (the first by default)."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="timeline-back"),
        Binding("enter", "choose", "Open the flow", id="timeline-choose"),
        Binding("right_square_bracket", "pick(1)", "Next flow of the cell", id="timeline-next-flow"),
        Binding("left_square_bracket", "pick(-1)", "Previous flow of the cell", show=False, id="timeline-previous-flow"),
    ]

    def __init__(self, title: str, flows: Sequence[TimelineFlow], folder_names: Mapping[str, str]) -> None:
        super().__init__()
        self._title = title
        self.flows = list(flows)
        self.folder_names = folder_names
        self.chosen = 0  # which flow of the highlighted cell Enter goes to

    def compose(self) -> ComposeResult:
        yield Static(self._title, id="timeline-title")
        yield TimelineView(self.flows, self.folder_names, id="timeline")
        yield Static(id="timeline-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#timeline-detail", Static).styles.height = "auto"
        self.query_one("#timeline-detail", Static).styles.max_height = 5
        self.query_one(TimelineView).focus()

    @property
    def view(self) -> TimelineView:
        return self.query_one(TimelineView)

    @on(TimelineView.CellHighlighted)
    def _highlighted(self, event: TimelineView.CellHighlighted) -> None:
        self.chosen = 0
        self._show_detail(event.lane, event.index, event.cell)

    def _show_detail(self, lane: LaneKey | None, index: int, cell: Cell | None) -> None:
        timeline = self.view.timeline
        detail = self.query_one("#timeline-detail", Static)
        if lane is None:
            detail.update("This session has no flows.")
            return
        name = shown(lane_label(lane, self.folder_names))
        detail.update(cell_detail(cell, name, timeline.cell_start(index), timeline.step, timeline.flows, self.chosen))

    @property
    def chosen_flow(self) -> int | None:
        """The flow Enter goes to: the chosen one of the highlighted cell, None on an empty cell."""
        cell = self.view.cell
        if cell is None or not cell.flows:
            return None
        return cell.flows[min(self.chosen, len(cell.flows) - 1)]

    def action_pick(self, step: int) -> None:
        cell = self.view.cell
        if cell is None or not cell.flows:
            return
        self.chosen = (self.chosen + step) % len(cell.flows)
        self._show_detail(self.view.lane, self.view.cursor_cell, cell)

    def action_choose(self) -> None:
        flow_id = self.chosen_flow
        if flow_id is None:
            self.app.notify("No flow in this cell: ←/→ go to the cells that hold some.", severity="warning",
                            markup=False)
            return
        self.dismiss(flow_id)

    def action_back(self) -> None:
        self.dismiss(None)


__all__ = ["TimelineScreen", "cell_detail", "flow_line"]
