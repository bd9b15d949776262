"""A virtual list of flows: only the pages on screen are loaded, so 100,000 flows cost a few hundred rows."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from eas.wiretext import shown

from viewer.source import PAGE_SIZE

if TYPE_CHECKING:
    from capture.model import FlowRow

MAX_PAGES = 40  # pages kept in memory (PAGE_SIZE rows each); older pages are dropped and reloaded on demand

# (title, width) of each column; the last one takes what is left.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("", 2),
    ("#", 7),
    ("time", 13),
    ("command", 17),
    ("coll.", 7),
    ("sync key", 12),
    ("HTTP", 5),
    ("EAS status", 28),
    ("req", 7),
    ("resp", 7),
    ("ms", 7),
)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size}"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f}k"
    return f"{size / 1024 / 1024:.1f}M"


def _cell(value: str, width: int, right: bool = False) -> str:
    if len(value) >= width:
        value = value[: width - 2] + "…" if width > 2 else value[:width]
    return (value.rjust(width - 1) if right else value.ljust(width - 1)) + " "


# which column shows the value each sort order sorts by
SORT_COLUMNS = {
    "ts_start": "time",
    "command": "command",
    "http_status": "HTTP",
    "eas_status": "EAS status",
    "request_size": "req",
    "response_size": "resp",
    "duration": "ms",
}


def header_text(order: str = "ts_start", descending: bool = False) -> str:
    """The column titles, the sorted one marked with ↑ or ↓."""
    marked = SORT_COLUMNS.get(order)
    cells = []
    for title, width in COLUMNS:
        shown = f"{title}{'↓' if descending else '↑'}" if title == marked else title
        cells.append(_cell(shown, width, right=title in ("req", "resp", "ms", "#")))
    return "".join(cells)


UNKNOWN_TIME = "--:--:--.---"


def clock_text(seconds: object) -> str:
    """A timestamp as the local time of day with milliseconds; UNKNOWN_TIME for a value that is not a time."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return UNKNOWN_TIME
    try:
        return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}"
    except (ValueError, OverflowError, OSError):
        return UNKNOWN_TIME


def row_text(row: FlowRow) -> Text:
    """One flow as a line of the list, with the problem mark and status colours."""
    mark = "!" if row.problem_count else ("↻" if row.replay_of is not None else "")
    when = clock_text(row.ts_start)
    try:
        duration = "" if row.ts_end is None else f"{(row.ts_end - row.ts_start) * 1000:.0f}"
    except (TypeError, OverflowError, ValueError):
        duration = ""
    if row.eas_status is None:
        eas = ""
    else:
        eas = f"{row.eas_status} {row.eas_status_meaning or ''}".strip()
    values = (
        mark,
        str(row.id),
        when,
        row.command or ("(not EAS)" if not row.url else row.method),
        row.collection_id or "",
        row.sync_key or "",
        "" if row.http_status is None else str(row.http_status),
        eas,
        human_size(row.request_size),
        human_size(row.response_size),
        duration,
    )
    text = Text(no_wrap=True)
    for (title, width), value in zip(COLUMNS, values):
        style = ""
        if title == "" and value == "!":
            style = "bold red"
        elif title == "HTTP" and row.http_status is not None and row.http_status >= 400:
            style = "red"
        elif title == "EAS status" and row.eas_status not in (None, 1):
            style = "yellow"
        text.append(_cell(shown(value), width, right=title in ("req", "resp", "ms", "#")), style=style)
    return text


class FlowList(ScrollView, can_focus=True):
    """Rows come from pages set by the screen; a missing page is asked for with `PageWanted`."""

    COMPONENT_CLASSES = {"flow-list--cursor", "flow-list--loading"}
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="flows-up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="flows-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="flows-page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="flows-page-down"),
        Binding("home,g", "first", "First flow", show=False, id="flows-first"),
        Binding("end,G", "last", "Last flow", show=False, id="flows-last"),
        Binding("enter", "open", "Open", id="flows-open"),
    ]
    DEFAULT_CSS = """
    FlowList { height: 1fr; }
    FlowList > .flow-list--cursor { background: $accent 40%; text-style: bold; }
    FlowList:focus > .flow-list--cursor { background: $accent; }
    FlowList > .flow-list--loading { color: $text-muted; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    class PageWanted(Message):
        """The list needs page `page` of the current generation."""

        def __init__(self, flow_list: FlowList, generation: int, page: int) -> None:
            super().__init__()
            self.flow_list = flow_list
            self.generation = generation
            self.page = page

    class Highlighted(Message):
        def __init__(self, flow_list: FlowList, index: int, row: FlowRow | None) -> None:
            super().__init__()
            self.flow_list = flow_list
            self.index = index
            self.row = row

    class Opened(Message):
        """Enter (or a click) on a loaded row."""

        def __init__(self, flow_list: FlowList, row: FlowRow) -> None:
            super().__init__()
            self.flow_list = flow_list
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.generation = 0
        self.total = 0
        self._pages: OrderedDict[int, list[FlowRow]] = OrderedDict()
        self._wanted: set[int] = set()
        self._reselect: int | None = None  # flow id to put the cursor back on after `grow`
        self._reselect_page = 0
        self._reselect_tries = 0
        self._width = sum(width for _, width in COLUMNS) + 10

    # --- data, set by the screen ---
    def reset(self, generation: int, total: int, keep_cursor: bool = False) -> None:
        """A new filter (generation) with `total` rows: forget every page."""
        self.generation = generation
        self._reselect = None
        self.total = total
        self._pages.clear()
        self._wanted.clear()
        self.virtual_size = Size(self._width, total)
        if not keep_cursor:
            self.scroll_to(y=0, animate=False, immediate=True)
            self.cursor = 0
        else:
            self.cursor = min(self.cursor, max(0, total - 1))
        self.refresh()

    def grow(self, generation: int, total: int, keep_id: int | None) -> None:
        """The capture grew (following): reload the visible pages, keep the view and the selected flow.

        New flows may land anywhere in the order (a long Ping is stored when it ends, with its start time), so
        every page is reloaded on demand; when the selected flow has moved, the cursor and the view follow it.
        """
        self.generation = generation
        self._pages.clear()
        self._wanted.clear()
        self.total = total
        self.virtual_size = Size(self._width, total)
        self._reselect = keep_id
        self._reselect_page = self.cursor // PAGE_SIZE
        self._reselect_tries = 3
        if self.cursor >= total:
            self.cursor = max(0, total - 1)
        self.refresh()

    def set_page(self, generation: int, page: int, rows: list[FlowRow]) -> None:
        if generation != self.generation:
            return
        self._wanted.discard(page)
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        if self._reselect is not None:
            self._follow_selected(page, rows)
        self.refresh()
        if page == self.cursor // PAGE_SIZE:
            self.post_message(self.Highlighted(self, self.cursor, self.row_at(self.cursor)))

    def _follow_selected(self, page: int, rows: list[FlowRow]) -> None:
        """After `grow`: put the cursor back on the flow it was on, looking a few pages further when needed."""
        for offset, row in enumerate(rows):
            if row.id == self._reselect:
                index = page * PAGE_SIZE + offset
                delta = index - self.cursor
                self._reselect = None
                if delta:
                    self.scroll_to(y=self.scroll_offset.y + delta, animate=False, immediate=True)
                    self.cursor = index
                return
        if page != self._reselect_page:
            return
        self._reselect_tries -= 1
        if self._reselect_tries <= 0 or (page + 1) * PAGE_SIZE >= self.total:
            self._reselect = None
            return
        self._reselect_page = page + 1  # flows inserted before it push the selected one down
        self._want(page + 1)

    def row_at(self, index: int) -> FlowRow | None:
        rows = self._pages.get(index // PAGE_SIZE)
        if rows is None or index % PAGE_SIZE >= len(rows):
            return None
        return rows[index % PAGE_SIZE]

    @property
    def loaded_rows(self) -> int:
        return sum(len(rows) for rows in self._pages.values())

    @property
    def current_row(self) -> FlowRow | None:
        return self.row_at(self.cursor)

    def index_of(self, flow_id: int) -> int | None:
        for page, rows in self._pages.items():
            for offset, row in enumerate(rows):
                if row.id == flow_id:
                    return page * PAGE_SIZE + offset
        return None

    # --- rendering ---
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            self._want(index // PAGE_SIZE)
            text = Text("  …", style=self.get_component_rich_style("flow-list--loading"))
        else:
            text = row_text(row)
        if index == self.cursor:
            text.stylize(self.get_component_rich_style("flow-list--cursor"))
        strip = Strip(text.render(self.app.console), text.cell_len)
        style = base + self.get_component_rich_style("flow-list--cursor") if index == self.cursor else base
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    def _want(self, page: int) -> None:
        if page in self._wanted or page in self._pages:
            return
        self._wanted.add(page)
        self.post_message(self.PageWanted(self, self.generation, page))

    def on_resize(self) -> None:
        self.virtual_size = Size(self._width, self.total)

    # --- cursor ---
    def watch_cursor(self, old: int, new: int) -> None:
        if self.total == 0:
            return
        self.scroll_to_region_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, new, self.row_at(new)))

    def scroll_to_region_cursor(self) -> None:
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def move_cursor(self, index: int) -> None:
        if self.total:
            self.cursor = max(0, min(self.total - 1, index))

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.total - 1)

    def action_open(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Opened(self, row))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is None:
            return
        index = self.scroll_offset.y + int(y)
        if 0 <= index < self.total:
            if index == self.cursor and getattr(event, "chain", 1) >= 2:
                self.action_open()
            self.move_cursor(index)


__all__ = ["COLUMNS", "FlowList", "header_text", "human_size", "row_text"]
