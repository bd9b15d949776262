"""The browsing screen: device sessions, filters, and the (virtual) list of flows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Footer, Input, Select, Static
from textual.worker import get_current_worker

from eas.wiretext import shown

from capture.model import CaptureError
from viewer.screens.diagnosis import ChainScreen, DiagnosisScreen, session_findings
from viewer.screens.timeline import TimelineScreen
from viewer.export import EXPORT_FORMATS, ExportPathScreen, default_export_path, export_flows
from viewer.messages import (
    CaptureFailed,
    CaptureOpened,
    FlowCountLoaded,
    FlowPageLoaded,
    FlowsAppended,
    FolderNamesLoaded,
    LoadProgressed,
    ProblemLocated,
)
from viewer.source import PAGE_SIZE, SORT_ORDERS, FlowListing, parse_status, status_field
from viewer.widgets.flow_detail import SPLIT_MIN_WIDTH, FlowDetail, FlowSplit
from viewer.widgets.flow_list import FlowList, device_text, header_text, needs_attention

if TYPE_CHECKING:
    from capture.model import FlowRow, SessionRow
    from capture.reader import CaptureReader
    from capture.timeline import TimelineFlow
    from viewer.app import EasInspectorApp

ALL_SESSIONS = "all"
FOLLOW_INTERVAL = 1.0
PROBLEM_SCAN_PAGE = 1000


def _when(ts: float) -> str:
    try:
        return time.strftime("%m-%d %H:%M:%S", time.localtime(ts))
    except (TypeError, ValueError, OverflowError, OSError):
        return "--:-- --:--:--"  # a damaged stored time: the session is still listed


def empty_reason(flow_filter: FlowListing, following: bool = False) -> str:
    """Why the flow list is empty, and what to do about it."""
    narrowing = [part for part in flow_filter.describe().split(" · ") if not part.startswith("by ") and not part.startswith("text ")]
    if flow_filter.session_id is not None:
        narrowing.append("this session (a: all sessions)")
    if flow_filter.text:
        reason = (
            f"No flow contains {flow_filter.text!r}: each word matches the start of a word in the URL, the summary "
            'or the decoded XML; "quotes" match a phrase exactly.'
        )
        if narrowing:
            reason += " Also filtered by: " + ", ".join(narrowing) + "."
        return reason + " c clears every filter; F1 explains the search."
    if narrowing:
        return "No flow matches: " + ", ".join(narrowing) + ". c clears the filters; F1 explains them."
    if following:
        return "No flows yet: new flows show here as the proxy stores them."
    return "This capture holds no flows."


class FlowCountGrew(FlowCountLoaded):
    """A recount after the capture grew (following): keeps the selection."""


class MainScreen(Screen[None]):
    """Sessions on top, filters, then flows; Enter opens a flow, `e` edits and replays it."""

    AUTO_FOCUS = "#flows"
    BINDINGS = [
        Binding("slash", "focus_search", "Filter", id="main-filter"),
        Binding("q", "leave", "Quit", show=False, id="main-quit"),
        Binding("n", "next_problem", "Next problem", id="main-next-problem"),
        Binding("N", "previous_problem", "Previous problem", show=False, id="main-previous-problem"),
        Binding("p", "toggle_problems", "Problems only", show=False, id="main-problems-only"),
        Binding("o", "cycle_sort", "Sort", show=False, id="main-sort"),
        Binding("O", "reverse_sort", "Reverse sort", show=False, id="main-reverse-sort"),
        Binding("e", "replay", "Edit & replay", id="main-replay"),
        Binding("a", "all_sessions", "All sessions", show=False, id="main-all-sessions"),
        Binding("c", "clear_filters", "Clear filters", show=False, id="main-clear-filters"),
        Binding("s", "focus_sessions", "Sessions", show=False, id="main-focus-sessions"),
        Binding("l", "focus_flows", "Flows", show=False, id="main-focus-flows"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="main-reload"),
        Binding("x", "export('xml')", "Export", show=False, id="main-export"),
        Binding("D", "diagnosis", "Diagnosis", show=False, id="main-diagnosis"),
        Binding("f", "collection_filter", "This collection", show=False, id="main-collection"),
        Binding("K", "sync_key_chain", "SyncKey chain", show=False, id="main-chain"),
        Binding(
            "v", "toggle_split", f"Split: list + detail (on from {SPLIT_MIN_WIDTH} columns)", show=False, id="main-split"
        ),
        Binding("T", "timeline", "Timeline", show=False, id="main-timeline"),
    ]

    def __init__(self) -> None:
        super().__init__(id="main")
        self.filter = FlowListing()
        self.generation = 0
        self.sessions: list[SessionRow] = []
        self.folder_names: dict[tuple[int | None, str], str] = {}  # (session id, CollectionId) -> name
        self.commands: list[str] = []
        self.max_flow_id = 0
        self.total = 0
        self.opened = False
        self.progress = ""

    @property
    def inspector(self) -> EasInspectorApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-pane"):
            yield Static("Sessions", classes="pane-title")
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="filters"):
            yield Input(placeholder="search decoded XML, Enter", id="filter-text", compact=True)
            yield Select[str]([], prompt="any command", id="filter-command", compact=True)
            yield Input(placeholder="status 401 4xx !1 3-9", id="filter-status", compact=True)
            yield Checkbox("problems only", id="filter-problems")
        with FlowSplit(id="browse"):
            with Vertical(id="list-pane"):
                yield Static("", id="flow-header")
                yield FlowList(id="flows")
            yield FlowDetail(self.inspector.source, id="flow-detail")
        yield Static("Opening…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#sessions", DataTable)
        for title in ("user", "device id", "type", "host", "versions", "first seen", "last seen", "flows", "problems"):
            table.add_column(title, key=title)
        flows = self.query_one(FlowList)
        flows.show_device = self.filter.session_id is None
        flows.loading = True
        self.open_capture(initial=True)

    # ------------------------------------------------------------------ workers (I/O only)
    @work(thread=True, exclusive=True, group="open")
    def open_capture(self, initial: bool = False) -> None:
        source = self.inspector.source
        try:
            if initial:
                # read ahead by the app while Textual started: sessions, commands, count and first page
                sessions, commands, max_id, total, rows = self.inspector.initial_read.result()
            else:
                sessions, commands, max_id = source.call(lambda r: (r.sessions(), r.commands(), r.max_flow_id()))
        except Exception as err:  # noqa: BLE001 - any failure becomes a notification
            self.post_message(CaptureFailed(f"cannot open {source.path}: {err}"))
            return
        self.post_message(CaptureOpened(sessions, commands, max_id))
        self.load_folder_names([session.id for session in sessions])
        if initial:
            self.post_message(FlowCountLoaded(1, total))
            self.post_message(FlowPageLoaded(1, 0, rows))

    @work(thread=True, exclusive=True, group="count")
    def load_flows(self, generation: int, flow_filter: FlowListing, first_page: int, grew: bool) -> None:
        source = self.inspector.source
        worker = get_current_worker()
        try:
            total = source.call(lambda r: r.count_flows(flow_filter))
            if worker.is_cancelled:
                return
            self.post_message((FlowCountGrew if grew else FlowCountLoaded)(generation, total))
            if total and not grew:
                rows = source.call(lambda r: _page(r, flow_filter, first_page))
                if not worker.is_cancelled:
                    self.post_message(FlowPageLoaded(generation, first_page, rows))
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot list flows ({flow_filter.describe()}): {err}"))

    @work(thread=True, exclusive=True, group="folders")
    def load_folder_names(self, session_ids: list[int]) -> None:
        """The coll. column's folder names: each session's FolderSync, read after the first page is shown."""
        names: dict[tuple[int | None, str], str] = {}
        try:
            for session_id in session_ids:
                folders = self.inspector.source.call(lambda r: r.folder_names(session_id))
                names.update(((session_id, collection_id), name) for collection_id, name in folders.items())
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot read folder names: {err}"))
            return
        self.post_message(FolderNamesLoaded(names))

    @work(thread=True, group="pages")
    def load_page(self, generation: int, flow_filter: FlowListing, page: int) -> None:
        try:
            rows = self.inspector.source.call(lambda r: _page(r, flow_filter, page))
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot read flows: {err}"))
            return
        self.post_message(FlowPageLoaded(generation, page, rows))

    @work(thread=True, exclusive=True, group="follow")
    def follow(self, since: int) -> None:
        worker = get_current_worker()
        source = self.inspector.source
        last = since
        while not worker.is_cancelled:
            for _ in range(int(FOLLOW_INTERVAL * 10)):
                if worker.is_cancelled:
                    return
                time.sleep(0.1)
            try:
                max_id = source.call(lambda r: r.max_flow_id())
                if max_id > last:
                    sessions, commands = source.call(lambda r: (r.sessions(), r.commands()))
                    last = max_id
                    self.post_message(FlowsAppended(max_id, sessions, commands))
            except Exception as err:  # noqa: BLE001
                self.post_message(CaptureFailed(f"following stopped: {err}"))
                return

    @work(thread=True, exclusive=True, group="problem")
    def find_problem(self, generation: int, flow_filter: FlowListing, start: int, total: int, forward: bool) -> None:
        """Scan pages from `start` (exclusive) for a flow with problems; posts its index or None."""
        worker = get_current_worker()
        source = self.inspector.source
        index = start
        scanned = 0
        try:
            while not worker.is_cancelled:
                if forward:
                    offset = index + 1
                    if offset >= total:
                        break
                else:
                    offset = max(0, index - PROBLEM_SCAN_PAGE)
                    if index <= 0:
                        break
                limit = PROBLEM_SCAN_PAGE if forward else index - offset
                rows = source.call(lambda r: flow_filter.rows(r, offset, limit))
                if not rows:
                    break
                positions = range(len(rows)) if forward else range(len(rows) - 1, -1, -1)
                for i in positions:
                    if needs_attention(rows[i]):
                        self.post_message(ProblemLocated(generation, offset + i, forward))
                        return
                scanned += len(rows)
                index = offset + len(rows) - 1 if forward else offset
                self.post_message(LoadProgressed("problems", scanned, total))
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot search problems: {err}"))
            return
        if not worker.is_cancelled:
            self.post_message(ProblemLocated(generation, None, forward))

    # ------------------------------------------------------------------ handlers (own the state)
    @on(CaptureOpened)
    def _capture_opened(self, event: CaptureOpened) -> None:
        self.opened = True
        self.sessions = event.sessions
        self.commands = event.commands
        self.max_flow_id = event.max_flow_id
        self._fill_sessions()
        select = self.query_one("#filter-command", Select)
        select.set_options([(c, c) for c in event.commands])
        if self.generation == 0 and self.filter == FlowListing():
            # the first count and page are already on their way (read ahead by the app)
            self.generation = 1
            self._sync_filter_widgets()
            self.progress = "counting…"
            self._update_status()
        else:
            self.apply_filter(self.filter)
        if self.inspector.follow:
            self.follow(event.max_flow_id)

    @on(FolderNamesLoaded)
    def _folder_names_loaded(self, event: FolderNamesLoaded) -> None:
        self.folder_names = event.folder_names
        self.query_one(FlowList).set_folder_names(event.folder_names)

    @on(CaptureFailed)
    def _capture_failed(self, event: CaptureFailed) -> None:
        self.query_one(FlowList).loading = False
        self.progress = ""
        self.inspector.inform(event.error, title="Capture", severity="error", timeout=10)
        self._update_status()

    @on(FlowCountLoaded)
    def _count_loaded(self, event: FlowCountLoaded) -> None:
        if event.generation != self.generation:
            return
        flows = self.query_one(FlowList)
        flows.loading = False
        if self.progress == "counting…":
            self.progress = ""
        if isinstance(event, FlowCountGrew):
            if event.total != self.total:
                self.generation += 1  # pages asked for before this are stale
                selected = flows.current_row
                # Following: a cursor on the last row stays on the last row; on the first row of a newest-first
                # list it stays on the first row; anywhere else it stays on its flow.
                tail = self.total > 0 and flows.cursor == self.total - 1 and not self.filter.descending
                head = flows.cursor == 0 and self.filter.descending and self.filter.order == "ts_start"
                keep = None if head or selected is None else selected.id
                flows.grow(self.generation, event.total, keep, tail=tail)
        else:
            flows.reset(event.generation, event.total, keep_cursor=self._keep_cursor)
            if self._cursor_after_count is not None and self._cursor_after_count[0] == event.generation:
                flows.move_cursor(self._cursor_after_count[1])  # a flow the timeline went to
                self._cursor_after_count = None
        flows.empty_message = empty_reason(self.filter, self.inspector.follow)
        self.total = event.total
        self._update_status()

    @on(FlowPageLoaded)
    def _page_loaded(self, event: FlowPageLoaded) -> None:
        self.query_one(FlowList).set_page(event.generation, event.page, event.rows)

    @on(FlowList.PageWanted)
    def _page_wanted(self, event: FlowList.PageWanted) -> None:
        if event.generation == self.generation:
            self.load_page(event.generation, self.filter, event.page)

    @on(FlowList.Opened)
    def _flow_opened(self, event: FlowList.Opened) -> None:
        self.inspector.open_flow(event.row.id, "show")

    @on(FlowList.ColumnsChanged)
    def _columns_changed(self, event: FlowList.ColumnsChanged) -> None:
        self._update_header()
        self._update_status()  # it names the flow's device when the device column does not fit

    def _update_header(self) -> None:
        columns = self.query_one(FlowList).columns
        self.query_one("#flow-header", Static).update(header_text(columns, self.filter.order, self.filter.descending))

    @on(FlowList.Highlighted)
    def _flow_highlighted(self, event: FlowList.Highlighted) -> None:
        self._update_status()

    @on(FlowsAppended)
    def _flows_appended(self, event: FlowsAppended) -> None:
        self.max_flow_id = event.max_flow_id
        self.sessions = event.sessions
        self._fill_sessions()
        if event.commands != self.commands:
            self.commands = event.commands
            select = self.query_one("#filter-command", Select)
            select.set_options([(c, c) for c in event.commands])  # clears the selection: put it back
            if self.filter.command in event.commands:
                select.value = self.filter.command
        self.load_flows(self.generation, self.filter, 0, True)
        self.load_folder_names([session.id for session in event.sessions])  # a new FolderSync may name folders

    @on(ProblemLocated)
    def _problem_located(self, event: ProblemLocated) -> None:
        self.progress = ""
        if event.generation != self.generation:
            return
        if event.index is None:
            self.inspector.inform("No more flows with problems " + ("below." if event.forward else "above."))
        else:
            self.query_one(FlowList).move_cursor(event.index)
        self._update_status()

    @on(LoadProgressed)
    def _progressed(self, event: LoadProgressed) -> None:
        of = f" of {event.total:,}" if event.total else ""
        self.progress = f"searching {event.what}: {event.done:,}{of} flows scanned…"
        self._update_status()

    @on(DataTable.RowHighlighted, "#sessions")
    def _session_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        session_id = None if key in (None, ALL_SESSIONS) else int(key)
        if session_id != self.filter.session_id:
            self.apply_filter(self.filter.with_(session_id=session_id))

    @on(DataTable.RowSelected, "#sessions")
    def _session_selected(self, event: DataTable.RowSelected) -> None:
        self.query_one(FlowList).focus()

    @on(Input.Submitted, "#filter-text")
    def _text_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(self.filter.with_(text=event.value.strip() or None))
        self.query_one(FlowList).focus()

    @on(Input.Changed, "#filter-text")
    def _text_changed(self, event: Input.Changed) -> None:
        if not event.value.strip() and self.filter.text:
            self.apply_filter(self.filter.with_(text=None))

    @on(Input.Submitted, "#filter-status")
    def _status_submitted(self, event: Input.Submitted) -> None:
        try:
            http_status, eas_status = parse_status(event.value)
        except ValueError as err:
            self.inspector.inform(str(err), title="Filter", severity="error")
            return
        self.apply_filter(self.filter.with_(http_status=http_status, eas_status=eas_status))
        self.query_one(FlowList).focus()

    @on(Select.Changed, "#filter-command")
    def _command_changed(self, event: Select.Changed) -> None:
        command = None if event.value is Select.NULL else str(event.value)
        if command != self.filter.command:
            self.apply_filter(self.filter.with_(command=command))

    @on(Checkbox.Changed, "#filter-problems")
    def _problems_changed(self, event: Checkbox.Changed) -> None:
        if event.value != self.filter.problems_only:
            self.apply_filter(self.filter.with_(problems_only=event.value))

    def on_screen_resume(self) -> None:
        if self.opened:
            self.refresh_counts()

    # ------------------------------------------------------------------ state changes
    _keep_cursor = False
    _cursor_after_count: tuple[int, int] | None = None  # (generation, row): where the cursor goes once counted

    def apply_filter(self, flow_filter: FlowListing, keep_cursor: bool = False) -> None:
        """Show the flows matching `flow_filter` (a new generation: older pages and counts are ignored)."""
        self.filter = flow_filter
        self.generation += 1
        self._keep_cursor = keep_cursor
        self.workers.cancel_group(self, "problem")
        self.progress = "counting…"
        self._sync_filter_widgets()
        flows = self.query_one(FlowList)
        flows.set_show_device(flow_filter.session_id is None)
        self._update_header()
        self.load_flows(self.generation, flow_filter, 0, False)
        self._update_status()

    def refresh_counts(self) -> None:
        """Recount after the capture changed under us (a replay was stored), keeping the selection."""
        self.load_flows(self.generation, self.filter, 0, True)

    def _sync_filter_widgets(self) -> None:
        f = self.filter
        text = self.query_one("#filter-text", Input)
        if (text.value.strip() or None) != f.text:
            text.value = f.text or ""
        select = self.query_one("#filter-command", Select)
        wanted = f.command if f.command is not None else Select.NULL
        if select.value != wanted and (f.command is None or f.command in self.commands):
            select.value = wanted
        check = self.query_one("#filter-problems", Checkbox)
        if check.value != f.problems_only:
            check.value = f.problems_only
        status = self.query_one("#filter-status", Input)
        status_text = status_field(f.http_status, f.eas_status)
        try:
            current = parse_status(status.value)
        except ValueError:
            current = (None, None)
        if current != (f.http_status, f.eas_status):
            status.value = status_text

    def _fill_sessions(self) -> None:
        """Show the sessions; rows are updated in place so the cursor (and the session filter) never moves."""
        table = self.query_one("#sessions", DataTable)
        total_flows = sum(s.flow_count for s in self.sessions)
        total_problems = sum(s.problem_count for s in self.sessions)
        rows: list[tuple[str, tuple[str, ...]]] = [
            (ALL_SESSIONS, ("(all sessions)", "", "", "", "", "", "", f"{total_flows:,}", f"{total_problems:,}"))
        ]
        for s in self.sessions:
            rows.append(
                (
                    str(s.id),
                    (
                        shown(s.user or "?"),
                        shown(s.device_id or "?"),
                        shown(s.device_type or "?"),
                        shown(s.host),
                        shown(s.protocol_versions),
                        _when(s.first_seen),
                        _when(s.last_seen),
                        f"{s.flow_count:,}",
                        f"{s.problem_count:,}" if s.problem_count else "",
                    ),
                )
            )
        existing = {key.value for key in table.rows}
        columns = list(table.columns)
        for key, cells in rows:
            if key in existing:
                for column, value in zip(columns, cells):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)

    def _update_status(self) -> None:
        flows = self.query_one(FlowList)
        parts = [self.inspector.capture_label]
        if not self.opened:
            parts.append("opening…")
        else:
            position = f"{flows.cursor + 1:,}/" if self.total else ""
            parts.append(f"{position}{self.total:,} flows")
            parts.append(self.filter.describe())
            row = flows.current_row
            if row is not None and flows.show_device and "device" not in {c.key for c in flows.columns}:
                parts.append(shown(device_text(row)))  # every session's flows, no room for the device column
        if flows.marked:
            parts.append(f"{len(flows.marked)} marked")
        if self.inspector.follow:
            parts.append("following")
        if self.progress:
            parts.append(self.progress)
        self.query_one("#status", Static).update(" │ ".join(parts))

    @property
    def current_flow(self) -> FlowRow | None:
        return self.query_one(FlowList).current_row

    # ------------------------------------------------------------------ actions
    def action_focus_search(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_focus_sessions(self) -> None:
        self.query_one("#sessions", DataTable).focus()

    def action_focus_flows(self) -> None:
        self.query_one(FlowList).focus()

    def action_toggle_split(self) -> None:
        """`v`: the selected flow's detail beside the list, or the list alone (whatever the width)."""
        shown_now = self.query_one(FlowSplit).toggle()
        self.inspector.inform("The detail shows beside the list." if shown_now else "The list alone.", replace="split")

    def action_next_problem(self) -> None:
        self._find_problem(True)

    def action_previous_problem(self) -> None:
        self._find_problem(False)

    def _find_problem(self, forward: bool) -> None:
        flows = self.query_one(FlowList)
        if not self.total:
            return
        # a loaded page answers at once; else the worker scans the capture
        step = 1 if forward else -1
        index = flows.cursor + step
        while 0 <= index < self.total:
            row = flows.row_at(index)
            if row is None:
                break
            if needs_attention(row):
                flows.move_cursor(index)
                return
            index += step
        if not 0 <= index < self.total:
            self.inspector.inform("No more flows with problems " + ("below." if forward else "above."))
            return
        self.progress = "searching problems…"
        self._update_status()
        self.find_problem(self.generation, self.filter, index - step, self.total, forward)

    def action_toggle_problems(self) -> None:
        self.apply_filter(self.filter.with_(problems_only=not self.filter.problems_only))

    def action_cycle_sort(self) -> None:
        orders = list(SORT_ORDERS)
        following = orders[(orders.index(self.filter.order) + 1) % len(orders)] if self.filter.order in orders else orders[0]
        self.set_sort(following, self.filter.descending)

    def action_reverse_sort(self) -> None:
        self.set_sort(self.filter.order, not self.filter.descending)

    def set_sort(self, order: str, descending: bool) -> None:
        self.apply_filter(self.filter.with_(order=order, descending=descending))
        self.inspector.inform(
            f"Sorted by {SORT_ORDERS.get(order, order)} {'(newest/largest first)' if descending else ''}".strip(),
            replace="sort",
        )

    def action_all_sessions(self) -> None:
        self.query_one("#sessions", DataTable).move_cursor(row=0)
        self.apply_filter(self.filter.with_(session_id=None))

    def action_clear_filters(self) -> None:
        self.apply_filter(FlowListing(session_id=self.filter.session_id, order=self.filter.order, descending=self.filter.descending))

    def action_reload(self) -> None:
        self.open_capture()

    def action_leave(self) -> None:
        """`q`: on the flow list, quit (elsewhere it goes back). Not called `quit`: Ctrl+C names the quit key."""
        self.app.exit()

    def action_replay(self) -> None:
        row = self.current_flow
        if row is None:
            self.inspector.inform("No flow selected.", severity="warning")
            return
        self.inspector.open_flow(row.id, "edit")

    def action_export(self, fmt: str = "xml") -> None:
        """Export the marked flows, or (none marked) every flow the list shows, after asking where."""
        marked = sorted(self.query_one(FlowList).marked)
        what = f"{len(marked)} marked flow(s)" if marked else f"the {self.total} flow(s) of the list"
        title = f"Export {what} as {EXPORT_FORMATS[fmt][1]} to:"
        suggested = default_export_path(self.inspector.capture_path, fmt)

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.export_worker(fmt, path, marked, self.filter)

        self.app.push_screen(ExportPathScreen(title, suggested), chosen)

    @work(thread=True, group="export")
    def export_worker(self, fmt: str, dst: Path, marked: list[int], flow_filter: FlowListing) -> None:
        try:
            flow_ids = marked or self.inspector.source.call(
                lambda r: [row.id for row in flow_filter.rows(r, 0, None)]
            )
            count = export_flows(self.inspector.capture_path, flow_ids, dst, fmt)
        except CaptureError as err:
            self.inspector.inform(f"Export failed: {err}", severity="error")
            return
        self.inspector.inform(f"Exported {count} flow(s) to {dst}")

    def folder_name(self, session_id: int | None, collection_id: str) -> str:
        """The folder's name when the session's FolderSync gave one, else its CollectionId."""
        return self.folder_names.get((session_id, collection_id), collection_id)

    def action_collection_filter(self) -> None:
        """`f`: only the selected flow's collection (]/[ in an exchange then step through it); again: every one."""
        if self.filter.collection_id is not None:
            self.apply_filter(self.filter.with_(collection_id=None))
            return
        row = self.current_flow
        if row is None or not row.collection_id:
            self.inspector.inform("The selected flow names no collection.", severity="warning")
            return
        self.filter_collection(row.collection_id)

    def filter_collection(self, collection_id: str) -> None:
        self.apply_filter(self.filter.with_(collection_id=collection_id))

    def action_diagnosis(self) -> None:
        """`D`: the findings of the session shown (of every session when all are shown)."""
        self.progress = "diagnosing…"
        self._update_status()
        self.diagnosis_worker(self.filter.session_id)

    @work(thread=True, exclusive=True, group="diagnosis")
    def diagnosis_worker(self, session_id: int | None) -> None:
        try:
            findings = self.inspector.source.call(lambda r: session_findings(r, session_id))
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot diagnose: {err}"))
            return
        self.app.call_from_thread(self._show_findings, session_id, findings)

    def _show_findings(self, session_id: int | None, findings: list[Any]) -> None:
        self.progress = ""
        self._update_status()
        whose = "every session" if session_id is None else f"session {self._session_name(session_id)}"
        title = f"Diagnosis of {whose}: {len(findings)} finding(s), most severe first"

        def chosen(flow_ids: tuple[int, ...] | None) -> None:
            if flow_ids:
                self.apply_filter(self.filter.with_(flow_ids=flow_ids))

        self.app.push_screen(DiagnosisScreen(title, findings), chosen)

    def _session_name(self, session_id: int) -> str:
        for session in self.sessions:
            if session.id == session_id:
                return shown(" ".join(str(part) for part in (session.user, session.device_type, session.device_id) if part))
        return f"#{session_id}"

    def action_sync_key_chain(self) -> None:
        """`K`: the SyncKey chain of the selected flow's collection in its session; Enter opens a flow of it."""
        row = self.current_flow
        if row is None or not row.collection_id or row.session_id is None:
            self.inspector.inform("The selected flow names no collection.", severity="warning")
            return
        self.chain_worker(row.session_id, row.collection_id)

    @work(thread=True, exclusive=True, group="chain")
    def chain_worker(self, session_id: int, collection_id: str) -> None:
        try:
            links = self.inspector.source.call(lambda r: r.sync_key_chain(session_id, collection_id))
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot read the SyncKey chain: {err}"))
            return
        title = f"SyncKey chain of {self.folder_name(session_id, collection_id)} ({len(links)} step(s)); Enter opens a flow"
        self.app.call_from_thread(
            self.app.push_screen, ChainScreen(shown(title), links), self._chain_chosen
        )

    def _chain_chosen(self, flow_id: int | None) -> None:
        if flow_id is not None:
            self.inspector.open_flow(flow_id, "show")

    def action_timeline(self) -> None:
        """`T`: the timeline of the session shown (of the selected flow's when every session is shown)."""
        session_id = self.filter.session_id
        if session_id is None and self.current_flow is not None:
            session_id = self.current_flow.session_id
        if session_id is None:
            self.inspector.inform("Choose a device session (s), or a flow of one, for its timeline.", severity="warning")
            return
        self.timeline_worker(session_id)

    @work(thread=True, exclusive=True, group="timeline")
    def timeline_worker(self, session_id: int) -> None:
        try:
            flows = self.inspector.source.call(lambda r: r.timeline_flows(session_id))
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot read the timeline: {err}"))
            return
        self.app.call_from_thread(self._show_timeline, session_id, flows)

    def _show_timeline(self, session_id: int, flows: list[TimelineFlow]) -> None:
        names = {collection_id: name for (session, collection_id), name in self.folder_names.items() if session == session_id}
        span = f", {_when(flows[0].ts_start)} to {_when(max(f.ts_end or f.ts_start for f in flows))}" if flows else ""
        title = shown(f"Timeline of {self._session_name(session_id)}: {len(flows)} flow(s){span}")

        def chosen(flow_id: int | None) -> None:
            if flow_id is not None:
                self.locate_worker(flow_id, self.filter, session_id)
                self.inspector.open_flow(flow_id, "show")

        self.app.push_screen(TimelineScreen(title, flows, names), chosen)

    @work(thread=True, exclusive=True, group="locate")
    def locate_worker(self, flow_id: int, flow_filter: FlowListing, session_id: int) -> None:
        """Find the flow in the list as filtered; when the filter leaves it out, in its session's whole list."""
        def place(reader: CaptureReader, wanted: FlowListing) -> int | None:
            return reader.position(flow_id, wanted, order=wanted.order, descending=wanted.descending)

        try:
            position = self.inspector.source.call(lambda r: place(r, flow_filter))
            if position is None:
                flow_filter = FlowListing(session_id=session_id, order=flow_filter.order, descending=flow_filter.descending)
                position = self.inspector.source.call(lambda r: place(r, flow_filter))
        except Exception as err:  # noqa: BLE001
            self.post_message(CaptureFailed(f"cannot find flow #{flow_id} in the list: {err}"))
            return
        if position is not None:
            self.app.call_from_thread(self._flow_located, flow_filter, position)

    def _flow_located(self, flow_filter: FlowListing, position: int) -> None:
        if flow_filter == self.filter:
            self.query_one(FlowList).move_cursor(position)
            return
        self.apply_filter(flow_filter)
        self._cursor_after_count = (self.generation, position)

    def set_filter(self, **changes: Any) -> None:
        """Change some filter fields (the command palette uses this)."""
        self.apply_filter(self.filter.with_(**changes))


def _page(reader: CaptureReader, flow_filter: FlowListing, page: int) -> list[FlowRow]:
    return flow_filter.rows(reader, page * PAGE_SIZE, PAGE_SIZE)


__all__ = ["MainScreen"]
