"""A virtual list of flows: only the pages on screen are loaded, so 100,000 flows cost a few hundred rows."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from eas.verdicts import JudgedStatus, Outcome
from eas.wiretext import shown

from viewer.source import PAGE_SIZE

if TYPE_CHECKING:
    from capture.model import FlowRow

MAX_PAGES = 40  # pages kept in memory (PAGE_SIZE rows each); older pages are dropped and reloaded on demand

# Folder names by (session id, collection id): a CollectionId is a folder's ServerId, which names a folder only
# within the account's own FolderSync hierarchy (MS-ASCMD 2.2.3.151.2), hence the session in the key.
FolderNames = Mapping[tuple[int | None, str], str]
NO_FOLDER_NAMES: FolderNames = MappingProxyType({})


@dataclass(frozen=True)
class Column:
    """One column of the flow list.

    `minimum` is its width when the terminal is narrow, `natural` (when larger) the width it gets first when there
    is room; `weight` is its share of the width left after that (0: none), up to `maximum` (None: no limit).
    A column with `keep` 0 is always there; the others join, highest `keep` first, while the columns already in
    keep their natural widths and the newcomer gets its own (or its minimum, with `squeeze`).
    """

    key: str
    title: str
    minimum: int
    natural: int = 0
    weight: int = 0
    maximum: int | None = None
    keep: int = 0
    squeeze: bool = False
    right: bool = False
    width: int = 0


COLUMNS: tuple[Column, ...] = (
    Column("mark", "", 3),
    Column("id", "#", 6, right=True),
    Column("time", "time", 9, natural=13, keep=5, squeeze=True),
    Column("device", "device", 10, natural=14, weight=2, maximum=30, keep=4),
    Column("command", "command", 10, natural=13, weight=1, maximum=18),
    Column("collection", "coll.", 7, natural=10, weight=2, maximum=40),
    Column("sync_key", "sync key", 10, natural=14, weight=3, maximum=60),
    Column("http", "HTTP", 5),
    Column("eas", "EAS status", 12, natural=16, weight=3),
    Column("request_size", "req", 7, keep=1, right=True),
    Column("response_size", "resp", 7, keep=2, right=True),
    Column("duration", "ms", 7, keep=3, right=True),
)


# Which columns get their natural width first when there is some room but not much.
NATURAL_FIRST = ("command", "eas", "time", "id", "sync_key", "device", "collection")


def layout(width: int, *, device: bool = False) -> tuple[Column, ...]:
    """The columns that fit `width` cells, each with its `width` set; they fill `width` exactly when they fit.

    The device column is there only when `device` (the list shows the flows of every session).
    """
    candidates = [c for c in COLUMNS if device or c.key != "device"]
    chosen = {c.key for c in candidates if not c.keep}
    used = sum(max(c.minimum, c.natural) for c in candidates if c.key in chosen)
    for c in sorted((c for c in candidates if c.keep), key=lambda c: -c.keep):
        needed = c.minimum if c.squeeze else max(c.minimum, c.natural)
        if used + needed <= width:
            chosen.add(c.key)
            used += needed
    columns = [c for c in candidates if c.key in chosen]
    widths = {c.key: c.minimum for c in columns}
    extra = width - sum(widths.values())
    for c in sorted(columns, key=lambda c: NATURAL_FIRST.index(c.key) if c.key in NATURAL_FIRST else len(NATURAL_FIRST)):
        grown = min(max(0, c.natural - c.minimum), extra)
        widths[c.key] += grown
        extra -= grown
    while extra > 0:
        growing = [c for c in columns if c.weight and (c.maximum is None or widths[c.key] < c.maximum)]
        if not growing:
            break
        total_weight = sum(c.weight for c in growing)
        share_left = extra
        for c in growing:
            share = max(1, share_left * c.weight // total_weight)
            if c.maximum is not None:
                share = min(share, c.maximum - widths[c.key])
            share = min(share, extra)
            widths[c.key] += share
            extra -= share
            if not extra:
                break
    return tuple(replace(c, width=widths[c.key]) for c in columns)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size}"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f}k"
    return f"{size / 1024 / 1024:.1f}M"


def _cell(value: str, width: int, right: bool = False, cut: str = "end") -> str:
    """`value` in `width` cells (the last one a gap); too long, it is cut with "…" at the "end" or in the
    "middle", or just cut ("plain")."""
    room = width - 1
    if len(value) > room:
        if room <= 1 or cut == "plain":
            value = value[:room]
        elif cut == "middle":
            head = (room - 1) // 2
            value = value[:head] + "…" + value[len(value) - (room - 1 - head) :]
        else:
            value = value[: room - 1] + "…"
    return (value.rjust(room) if right else value.ljust(room)) + " "


# which column shows the value each sort order sorts by
SORT_COLUMNS = {
    "ts_start": "time",
    "command": "command",
    "http_status": "http",
    "eas_status": "eas",
    "request_size": "request_size",
    "response_size": "response_size",
    "duration": "duration",
}


def header_text(columns: tuple[Column, ...], order: str = "ts_start", descending: bool = False) -> str:
    """The column titles, the sorted one marked with ↑ or ↓."""
    marked = SORT_COLUMNS.get(order)
    cells = []
    for column in columns:
        title = f"{column.title}{'↓' if descending else '↑'}" if column.key == marked else column.title
        cells.append(_cell(title, column.width, right=column.right))
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


def needs_attention(row: FlowRow) -> bool:
    """The verdict is failed or warning; a flow stored without a verdict counts by its problems."""
    if row.outcome is None:
        return row.problem_count > 0
    return row.outcome is not Outcome.OK


def worst_status(row: FlowRow) -> JudgedStatus | None:
    """The response's EAS Status that went worst (the first of equals), each read with its own table."""
    worst: JudgedStatus | None = None
    for status in row.statuses:
        if worst is None or status.outcome.rank > worst.outcome.rank:
            worst = status
    return worst


def status_text(row: FlowRow) -> str:
    """The worst EAS Status with its meaning in its own table, else the stored first status."""
    worst = worst_status(row)
    if worst is not None:
        return f"{worst.code} {worst.meaning or ''}".strip()
    return "" if row.eas_status is None else f"{row.eas_status} {row.eas_status_meaning or ''}".strip()


# The flow list's mark and colour per verdict: a failed exchange red `!`, a warning yellow `~`.
OUTCOME_MARKS: dict[Outcome, tuple[str, str]] = {
    Outcome.FAILED: ("!", "bold red"),
    Outcome.WARNING: ("~", "bold yellow"),
}


def outcome_mark(row: FlowRow) -> tuple[str, str]:
    """(mark, style) for the verdict column: by outcome, `!` for problems without one, `↻` for a replay."""
    if row.outcome is not None and row.outcome in OUTCOME_MARKS:
        return OUTCOME_MARKS[row.outcome]
    if row.outcome is None and row.problem_count:
        return OUTCOME_MARKS[Outcome.FAILED]
    return ("↻", "") if row.replay_of is not None else (" ", "")


def sync_key_text(row: FlowRow) -> str:
    """`4-17 -> 4-18` (request's key, response's key), or the one that is known."""
    request_key, response_key = row.sync_key or "", row.response_sync_key or ""
    if request_key and response_key:
        return f"{request_key} -> {response_key}"
    return request_key or (f"-> {response_key}" if response_key else "")


def collection_text(row: FlowRow, folder_names: FolderNames) -> str:
    """The folder's name from the session's FolderSync when known, else its CollectionId."""
    if not row.collection_id:
        return ""
    return folder_names.get((row.session_id, row.collection_id), row.collection_id)


def device_text(row: FlowRow) -> str:
    return " ".join(part for part in (row.device_type, row.device_id) if part) or row.user or ""


def cell_values(row: FlowRow, folder_names: FolderNames, marked: bool = False) -> dict[str, str]:
    """What each column shows for `row`, by column key."""
    mark = outcome_mark(row)[0]
    try:
        duration = "" if row.ts_end is None else f"{(row.ts_end - row.ts_start) * 1000:.0f}"
    except (TypeError, OverflowError, ValueError):
        duration = ""
    eas = status_text(row)
    return {
        "mark": ("●" if marked else " ") + mark,
        "id": str(row.id),
        # milliseconds last: a narrow column cuts them off and keeps the time of day
        "time": clock_text(row.ts_start),
        "device": device_text(row),
        "command": row.command or ("(not EAS)" if not row.url else row.method),
        "collection": collection_text(row, folder_names),
        "sync_key": sync_key_text(row),
        "http": "" if row.http_status is None else str(row.http_status),
        "eas": eas,
        "request_size": human_size(row.request_size),
        "response_size": human_size(row.response_size),
        "duration": duration,
    }


# How a value too long for its column is cut: sync keys and device ids differ at their ends as often as at their
# starts; the time loses its milliseconds.
_CUTS = {"sync_key": "middle", "device": "middle", "collection": "middle", "time": "plain"}


def row_text(row: FlowRow, columns: tuple[Column, ...], folder_names: FolderNames = NO_FOLDER_NAMES, marked: bool = False) -> Text:
    """One flow as a line of the list, with the marks and status colours."""
    values = cell_values(row, folder_names, marked)
    text = Text(no_wrap=True)
    for column in columns:
        value = values[column.key]
        style = ""
        if column.key == "mark":
            style = outcome_mark(row)[1] or ("bold yellow" if marked else "")
        elif column.key == "http" and row.http_status is not None and row.http_status >= 400:
            style = "red"
        elif column.key in ("eas", "command") and row.outcome in OUTCOME_MARKS:
            style = OUTCOME_MARKS[row.outcome][1].removeprefix("bold ")
        elif column.key == "eas" and row.outcome is None and row.eas_status not in (None, 1):
            style = "yellow"
        text.append(_cell(shown(value), column.width, right=column.right, cut=_CUTS.get(column.key, "end")), style=style)
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
        Binding("m", "toggle_mark", "Mark", show=False, id="flows-mark"),
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

    class ColumnsChanged(Message):
        """The columns were laid out again (the width changed, or the device column came or went)."""

        def __init__(self, flow_list: FlowList, columns: tuple[Column, ...]) -> None:
            super().__init__()
            self.flow_list = flow_list
            self.columns = columns

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
        self.columns = layout(sum(c.minimum for c in COLUMNS))
        self._laid_out = False
        self.show_device = False  # the device column: on while the list shows every session's flows
        self.folder_names: FolderNames = NO_FOLDER_NAMES
        self.marked: set[int] = set()  # flow ids the user marked (`m`), for this viewer session
        self.empty_message = ""  # shown instead of rows when nothing matches (says why)

    # --- data, set by the screen ---
    def reset(self, generation: int, total: int, keep_cursor: bool = False) -> None:
        """A new filter (generation) with `total` rows: forget every page."""
        self.generation = generation
        self._reselect = None
        self.total = total
        self._pages.clear()
        self._wanted.clear()
        self.virtual_size = Size(self.size.width, total)
        if not keep_cursor:
            self.scroll_to(y=0, animate=False, immediate=True)
            self.cursor = 0
        else:
            self.cursor = min(self.cursor, max(0, total - 1))
        self.refresh()

    def grow(self, generation: int, total: int, keep_id: int | None, tail: bool = False) -> None:
        """The capture grew (following): reload the visible pages, keep the view and the selected flow.

        New flows may land anywhere in the order (a long Ping is stored when it ends, with its start time), so
        every page is reloaded on demand; when the selected flow has moved, the cursor and the view follow it.
        With `tail` (the cursor was on the last row) the cursor goes to the new last row instead, as `tail -f`.
        """
        self.generation = generation
        self._pages.clear()
        self._wanted.clear()
        self.total = total
        self.virtual_size = Size(self.size.width, total)
        if tail and total:
            self._reselect = None
            self.cursor = total - 1
            self.refresh()
            return
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
            if self.total == 0 and self.empty_message and not self.loading:
                message = Text(self.empty_message, style=self.get_component_rich_style("flow-list--loading"))
                lines = message.wrap(self.app.console, max(10, width - 2))
                if y < len(lines):
                    line = Text(" ") + lines[y]
                    return Strip(line.render(self.app.console), line.cell_len).extend_cell_length(width, base)
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            self._want(index // PAGE_SIZE)
            text = Text("  …", style=self.get_component_rich_style("flow-list--loading"))
        else:
            text = row_text(row, self.columns, self.folder_names, row.id in self.marked)
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
        self.virtual_size = Size(self.size.width, self.total)
        self.relayout()

    def relayout(self) -> None:
        """Fit the columns to the width (and the device column to `show_device`); tell the screen when they change."""
        width = self.scrollable_content_region.width or self.size.width
        columns = layout(width, device=self.show_device)
        if columns != self.columns or not self._laid_out:
            self._laid_out = True
            self.columns = columns
            self.refresh()
            self.post_message(self.ColumnsChanged(self, columns))

    def set_show_device(self, show: bool) -> None:
        if show != self.show_device:
            self.show_device = show
            self.relayout()

    def set_folder_names(self, folder_names: FolderNames) -> None:
        """Show these folder names in the collection column (keys: session id and CollectionId)."""
        self.folder_names = folder_names
        self.refresh()

    def action_toggle_mark(self) -> None:
        row = self.current_row
        if row is None:
            return
        self.marked.symmetric_difference_update({row.id})
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor, row))

    # --- cursor ---
    def watch_cursor(self, old: int, new: int) -> None:
        if self.total == 0:
            self.post_message(self.Highlighted(self, new, None))  # nothing selected (the list is empty)
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


__all__ = [
    "COLUMNS",
    "Column",
    "FlowList",
    "FolderNames",
    "UNKNOWN_TIME",
    "cell_values",
    "clock_text",
    "header_text",
    "human_size",
    "layout",
    "row_text",
    "sync_key_text",
]
