"""One exchange: request and response (XML, tree, headers, query), side by side, problems, raw bytes, diff."""

from __future__ import annotations

import time
from dataclasses import dataclass
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import AwaitMount, Widget
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Static, TabbedContent, TabPane, Tabs

from eas.headers import explain_headers
from eas.verdicts import Outcome
from eas.wiretext import shown

from viewer.curl import RESPONSE_FILE, curl_command, encode_curl_command
from viewer.diff import diff_xml
from viewer.messages import LoadedFlow
from viewer.widgets.flow_list import human_size, worst_status
from viewer.widgets.hexdump import hexdump, line_of_offset
from viewer.widgets.code_view import CodeView, selected_text
from viewer.widgets.xml_tree import XmlTree

if TYPE_CHECKING:
    from eas.exchange import DecodedBody, Exchange, HeaderNote
    from viewer.app import EasInspectorApp


def body_text(body: DecodedBody | None, raw: bytes | None) -> str:
    """What the XML view shows for a body: annotated XML, else the decoder's text, else a note."""
    if body is not None:
        if body.xml:
            return body.xml
        if body.text:
            return body.text
        if body.kind == "empty":
            return "(empty body)"
    if not raw:
        return "(empty body)" if raw is not None else "(no response)"
    return "(not decoded: see the Raw tab)"


# The exchange header's colour for a verdict (and for the status that decided it).
OUTCOME_STYLES: dict[Outcome, str] = {Outcome.OK: "green", Outcome.WARNING: "yellow", Outcome.FAILED: "red"}


def summary(flow: LoadedFlow) -> Text:
    """The header line of an exchange: id, method, command, statuses, sizes, duration, device."""
    row = flow.record.row
    ex = flow.exchange
    text = Text()
    if row.outcome is not None:
        text.append(f" {row.outcome.upper()} ", style=f"bold reverse {OUTCOME_STYLES[row.outcome]}")
        text.append(" ")
    if flow.stored:
        text.append(f"#{row.id} ", style="bold")
    else:
        text.append("(not stored) ", style="bold red")
    if row.replay_of is not None:
        text.append(f"(replay of #{row.replay_of}) ", style="italic")
    text.append(shown(f"{row.method} {row.command or ''} "), style="bold")
    text.append(time.strftime("%Y-%m-%d %H:%M:%S ", time.localtime(row.ts_start)))
    if row.http_status is not None:
        meaning = ex.http_status_meaning if ex is not None and ex.http_status_meaning else flow.record.response_reason or ""
        text.append(shown(f"HTTP {row.http_status} {meaning}  "), style="red" if row.http_status >= 400 else "green")
    elif flow.record.error:
        text.append(f"error: {flow.record.error}  ", style="red")
    worst = worst_status(row)
    if worst is not None:
        place = f" ({worst.table})" if worst.table else ""
        text.append(f"EAS status {worst.code} {worst.meaning or ''}{place}  ", style=OUTCOME_STYLES[worst.outcome])
    elif row.eas_status is not None:
        text.append(f"EAS status {row.eas_status} {row.eas_status_meaning or ''}  ", style="yellow" if row.eas_status != 1 else "green")
    text.append(f"{human_size(row.request_size)} → {human_size(row.response_size)} bytes  ")
    if row.ts_end is not None:
        text.append(f"{(row.ts_end - row.ts_start) * 1000:.0f} ms  ")
    if ex is not None and (ex.user or ex.device_id):
        text.append(shown(f"{ex.user or '?'} on {ex.device_type or '?'} {ex.device_id or ''} v{ex.protocol_version or '?'}"), style="dim")
    if row.problem_count:
        text.append(f"  ! {row.problem_count} problem(s)", style="bold red")
    if flow.replay_ids:
        replays = " ".join(f"#{i}" for i in flow.replay_ids[-5:])
        text.append(f"  ↻ replayed as {replays} (r: latest)", style="italic")
    return text


BODY_WIDGETS = (CodeView, XmlTree, DataTable)  # what holds the focus on this screen: the content, not the tab bar


def shown_now(widget: Widget) -> bool:
    """Whether `widget` is in the pane each of its tab sets shows (its region lags behind until the next layout,
    and focusing a widget of a hidden pane would switch the tabs back to it)."""
    for ancestor in widget.ancestors:
        if isinstance(ancestor, TabPane):
            switcher = ancestor.parent
            if isinstance(switcher, ContentSwitcher) and switcher.current != ancestor.id:
                return False
    return True


class OnDemand(Widget):
    """A placeholder that builds its widget the first time it is shown (hidden tabs cost nothing)."""

    DEFAULT_CSS = "OnDemand { height: 1fr; width: 1fr; }"

    def __init__(self, factory: Callable[[], Widget]) -> None:
        super().__init__()
        self._factory = factory
        self.built = False

    def build(self) -> AwaitMount | None:
        """Create and mount the widget (once); await the result to wait for the mount."""
        if self.built:
            return None
        self.built = True
        return self.mount(self._factory())


class ExchangeScreen(Screen[None]):
    """Everything about one flow; Escape goes back, `e` edits and replays the request."""

    AUTO_FOCUS = None  # the body of the tab shown takes the focus once built (focus_body), never the tab bar

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="exchange-back"),
        Binding("e", "replay", "Edit & replay", id="exchange-replay"),
        Binding("1", "tab('tab-request')", "Request", show=False, id="exchange-tab-request"),
        Binding("2", "tab('tab-response')", "Response", show=False, id="exchange-tab-response"),
        Binding("3", "tab('tab-both')", "Side by side", show=False, id="exchange-tab-both"),
        Binding("4", "tab('tab-problems')", "Problems", show=False, id="exchange-tab-problems"),
        Binding("5", "tab('tab-raw')", "Raw bytes", show=False, id="exchange-tab-raw"),
        Binding("6", "tab('tab-diff')", "Diff", show=False, id="exchange-tab-diff"),
        Binding("t", "toggle_tree", "XML / tree", id="exchange-toggle-tree"),
        Binding("r", "latest_replay", "Latest replay", show=False, id="exchange-latest-replay"),
        Binding("o", "original", "Original of a replay", show=False, id="exchange-original"),
        Binding("right_square_bracket", "neighbour(1)", "Next flow", id="exchange-next-flow"),
        Binding("left_square_bracket", "neighbour(-1)", "Previous flow", show=False, id="exchange-previous-flow"),
        Binding("w", "toggle_wrap", "Wrap lines", show=False, id="exchange-wrap"),
        Binding("y", "copy", "Copy", id="exchange-copy"),
    ]

    def __init__(self, flow: LoadedFlow, view: ExchangeView | None = None, *, tab: str | None = None) -> None:
        super().__init__(classes=f"exchange-{flow.record.row.id}")
        if view is None:
            flow, view = prepare(flow)
        self.flow = flow
        self.view = view
        self.initial_tab = tab  # the tab to open on (next / previous flow keep the one being read)
        self._body_wanted = True  # the next pane shown takes the focus (set by the keys that choose a pane)
        self.wrap = False

    @property
    def inspector(self) -> EasInspectorApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        view = self.view
        yield Static(view.summary, id="exchange-summary")
        # Panes not shown first are mounted lazily (after the first paint): opening an exchange stays quick.
        with TabbedContent(id="exchange-tabs", initial="tab-request"):
            with TabPane("Request", id="tab-request"):
                with TabbedContent(id="request-tabs"):
                    with TabPane("XML", id="request-xml-pane"):
                        yield _viewer(view.request_text, "request-xml")
                    with TabPane("Tree", id="request-tree-pane"):
                        yield OnDemand(lambda: XmlTree(id="request-tree", xml=view.request_xml))
                    with TabPane("Query", id="request-query-pane"):
                        yield OnDemand(lambda: TableView(view.query_rows, ("field", "value"), id="request-query"))
                    with TabPane("Headers", id="request-headers-pane"):
                        yield OnDemand(lambda: TableView(view.request_headers, HEADER_COLUMNS, id="request-headers"))
            with TabPane("Response", id="tab-response"):
                with TabbedContent(id="response-tabs"):
                    with TabPane("XML", id="response-xml-pane"):
                        yield OnDemand(lambda: _viewer(view.response_text, "response-xml"))
                    with TabPane("Tree", id="response-tree-pane"):
                        yield OnDemand(lambda: XmlTree(id="response-tree", xml=view.response_xml))
                    with TabPane("Headers", id="response-headers-pane"):
                        yield OnDemand(lambda: TableView(view.response_headers, HEADER_COLUMNS, id="response-headers"))
            with TabPane("Side by side", id="tab-both"):
                with Horizontal():
                    yield OnDemand(lambda: _viewer(view.request_text, "both-request"))
                    yield OnDemand(lambda: _viewer(view.response_text, "both-response"))
            with TabPane(f"Problems ({len(view.problems)})", id="tab-problems"):
                yield OnDemand(lambda: ProblemTable(view.problems, id="problems"))
            with TabPane("Raw", id="tab-raw"):
                with TabbedContent(id="raw-tabs"):
                    with TabPane("Request bytes", id="raw-request-pane"):
                        yield OnDemand(lambda: _viewer(view.request_hex, "raw-request", language=False))
                    with TabPane("Response bytes", id="raw-response-pane"):
                        yield OnDemand(lambda: _viewer(view.response_hex, "raw-response", language=False))
            if view.diff is not None and self.flow.original is not None:
                with TabPane(f"Diff vs #{self.flow.original.record.row.id}", id="tab-diff"):
                    yield TableView(view.diff, ("", "element", "original", "replay"), id="diff")
        yield Footer()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self.call_after_refresh(self._show_body)

    async def _show_body(self) -> None:
        """Build the panes now visible; give the body the focus when a key or the opening chose the tab (a user
        moving along the tab bar keeps the focus there)."""
        await self._build_visible_now()
        if self._body_wanted or not isinstance(self.focused, Tabs):
            self.call_after_refresh(self.focus_body)

    def focus_body(self) -> None:
        """Focus the view, tree or table of the visible pane, so its keys (j/k, PgDn, +/-, Enter) work at once."""
        focused = self.focused
        if isinstance(focused, BODY_WIDGETS) and shown_now(focused):
            self._body_wanted = False
            return
        for widget in self.query("CodeView, XmlTree, DataTable"):
            if shown_now(widget) and widget.can_focus:
                widget.focus()
                self._body_wanted = False
                return

    def _build_visible(self) -> None:
        for placeholder in self.query(OnDemand):
            if not placeholder.built and placeholder.region.area > 0:
                placeholder.build()

    async def _build_visible_now(self) -> None:
        for placeholder in self.query(OnDemand):
            if not placeholder.built and placeholder.region.area > 0:
                mounting = placeholder.build()
                if mounting is not None:
                    await mounting

    def on_mount(self) -> None:
        ex = self.flow.exchange
        tabs = self.query_one("#exchange-tabs", TabbedContent)
        if self.initial_tab is not None and tabs.query(f"#{self.initial_tab}"):
            tabs.active = self.initial_tab
        elif ex is not None and ex.problems and not (ex.request_body and ex.request_body.xml):
            tabs.active = "tab-problems"
        elif self.flow.original is not None:
            tabs.active = "tab-diff"
        self.call_after_refresh(self._show_body)

    @on(DataTable.RowSelected, "#problems")
    def _problem_selected(self, event: DataTable.RowSelected) -> None:
        ex = self.flow.exchange
        if ex is None or event.row_key.value is None:
            return
        key = str(event.row_key.value)
        if not key.isdigit():
            return
        problem = ex.problems[int(key) - (1 if self.flow.exchange_error else 0)]
        if problem.offset is None:
            return
        which = "response" if "response" in problem.where else "request"
        self.query_one("#exchange-tabs", TabbedContent).active = "tab-raw"
        self.query_one("#raw-tabs", TabbedContent).active = f"raw-{which}-pane"
        self.call_after_refresh(self._show_byte, which, line_of_offset(problem.offset))

    async def _show_byte(self, which: str, line: int) -> None:
        """Put the hex dump's cursor on `line` once the Raw tab (built on demand) is there."""
        await self._build_visible_now()
        views = self.query(f"#raw-{which}")
        if not views:
            return
        area = views.first(CodeView)
        area.move_cursor((line, 0), center=True)
        area.focus()

    def action_back(self) -> None:
        self.dismiss()

    def action_replay(self) -> None:
        self.inspector.open_editor(self.flow)

    def action_latest_replay(self) -> None:
        if not self.flow.replay_ids:
            self.inspector.inform("This flow has not been replayed.", severity="warning")
            return
        self.inspector.open_flow(self.flow.replay_ids[-1], "show")

    def action_original(self) -> None:
        if self.flow.record.row.replay_of is None:
            self.inspector.inform("This flow is not a replay.", severity="warning")
            return
        self.inspector.open_flow(self.flow.record.row.replay_of, "show")

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#exchange-tabs", TabbedContent)
        if tab == "tab-diff" and self.flow.original is None:
            self.inspector.inform("This flow is not a replay: nothing to compare.", severity="warning")
            return
        self._body_wanted = True
        tabs.active = tab
        self.call_after_refresh(self._show_body)

    def action_neighbour(self, step: int) -> None:
        """Show the next (1) or previous (-1) flow of the list, on the same tab."""
        self.inspector.open_neighbour(self.flow.record.row.id, step, self.query_one("#exchange-tabs", TabbedContent).active)

    def action_toggle_wrap(self) -> None:
        """Wrap long lines in every text view of this exchange (or stop wrapping)."""
        self.wrap = not self.wrap
        for view in self.query(CodeView):
            view.wrap = self.wrap
        self.inspector.inform("Long lines wrap." if self.wrap else "Long lines scroll (left / right).", replace="wrap")

    def action_copy(self) -> None:
        """Copy exactly the selected text, else the current element of a tree, else the whole text or table in focus."""
        selected = selected_text(self)
        what = "the selection"
        if not selected:
            selected, what = copy_text(self.focused, self.view)
        if not selected:
            self.inspector.inform("Nothing to copy here.", severity="warning")
            return
        self.app.copy_to_clipboard(selected)
        lines = selected.count("\n") + 1
        self.inspector.inform(f"Copied {what} ({lines:,} line{'s' if lines != 1 else ''}) to the clipboard.", replace="copy")

    def copy_request(self, as_encode: bool) -> None:
        """Copy the request as a curl command (the bytes), or as `eas-inspector encode | curl` (the XML)."""
        record = self.flow.record
        row = record.row
        if not row.url:
            self.inspector.inform("This flow has no request.", severity="warning")
            return
        if as_encode:
            xml = self.view.request_plain_xml
            if xml is None:
                self.inspector.inform("The request has no decoded XML to encode: copy it as curl.", severity="warning")
                return
            command = encode_curl_command(row.method, row.url, record.request_headers, xml)
            what = "the request as eas-inspector encode | curl"
        else:
            command = curl_command(row.method, row.url, record.request_headers, record.request_body)
            what = "the request as curl"
        self.app.copy_to_clipboard(command)
        self.inspector.inform(f"Copied {what}; the answer goes to {RESPONSE_FILE}.", replace="copy")

    def action_toggle_tree(self) -> None:
        tabs = self.query_one("#exchange-tabs", TabbedContent)
        side = "response" if tabs.active == "tab-response" else "request"
        if tabs.active not in ("tab-request", "tab-response"):
            tabs.active = "tab-request"
        inner = self.query_one(f"#{side}-tabs", TabbedContent)
        inner.active = f"{side}-tree-pane" if inner.active != f"{side}-tree-pane" else f"{side}-xml-pane"
        self._body_wanted = True
        self.call_after_refresh(self._show_body)


@dataclass(frozen=True)
class ExchangeView:
    """Everything the exchange screen shows, computed once before composing."""

    summary: Text
    request_text: str
    response_text: str
    request_plain_xml: str | None
    request_xml: str | None
    response_xml: str | None
    query_rows: list[tuple[str, ...]]
    request_headers: list[tuple[str, ...]]
    response_headers: list[tuple[str, ...]]
    problems: list[tuple[str, ...]]
    request_hex: str
    response_hex: str
    diff: list[tuple[str, ...]] | None


def prepare(flow: LoadedFlow) -> tuple[LoadedFlow, ExchangeView]:
    """What the exchange screen shows, computed off the UI thread (workers call this).

    An analysis that cannot be shown (a bug, odd data) is dropped for the raw flow, with the reason as a problem.
    """
    try:
        return flow, _prepare(flow)
    except Exception as err:  # noqa: BLE001 - never crash on an odd analysis: show the raw flow instead
        reason = f"cannot show the analysis: {type(err).__name__}: {err}"
        raw = LoadedFlow(flow.record, None, reason, flow.original, flow.replay_ids)
        return raw, _prepare(raw)


def _prepare(flow: LoadedFlow) -> ExchangeView:
    record, ex = flow.record, flow.exchange
    req_body = ex.request_body if ex is not None else None
    resp_body = ex.response_body if ex is not None else None
    return ExchangeView(
        summary=summary(flow),
        request_text=body_text(req_body, record.request_body),
        response_text=body_text(resp_body, record.response_body),
        request_plain_xml=(req_body.plain_xml or req_body.xml) if req_body is not None and req_body.kind == "wbxml" else None,
        request_xml=req_body.xml if req_body is not None else None,
        response_xml=resp_body.xml if resp_body is not None else None,
        query_rows=_query_rows(ex),
        request_headers=_header_rows(ex, record.request_headers, False),
        response_headers=_header_rows(ex, record.response_headers or (), True),
        problems=_problem_rows(flow),
        request_hex=hexdump(record.request_body),
        response_hex=hexdump(record.response_body or b""),
        diff=diff_rows(flow.original, flow) if flow.original is not None else None,
    )


def diff_rows(original: LoadedFlow, replay: LoadedFlow) -> list[tuple[str, ...]]:
    """The diff table: one row per changed element between the original's response and the replay's."""
    old_xml = _plain_response(original)
    new_xml = _plain_response(replay)
    if old_xml is None or new_xml is None:
        old_status, new_status = original.record.row.http_status, replay.record.row.http_status
        return [("", "(no XML to compare)", f"HTTP {old_status}", f"HTTP {new_status}")]
    try:
        changes = diff_xml(old_xml, new_xml)
    except ValueError as err:
        return [("!", "(cannot compare)", str(err), "")]
    if not changes:
        return [("=", "(same response)", "", "")]
    marks = {"added": "+", "removed": "-", "changed": "~"}
    return [(marks[c.kind], c.path, c.old or "", c.new or "") for c in changes]


def _plain_response(flow: LoadedFlow) -> str | None:
    ex = flow.exchange
    if ex is None or ex.response_body is None:
        return None
    return ex.response_body.plain_xml or ex.response_body.xml


def _viewer(text: str, widget_id: str, language: bool = True) -> CodeView:
    """A read-only view that renders only the visible lines (bodies of megabytes open at once)."""
    return CodeView(text, xml=language, line_numbers=language, id=widget_id)


HEADER_COLUMNS = ("header", "value", "meaning")


class TableView(DataTable[str]):
    """A read-only table filled from rows given up front (so it can be mounted lazily)."""

    def __init__(self, rows: list[tuple[str, ...]], columns: tuple[str, ...], *, id: str) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._initial = (rows, columns)

    def on_mount(self) -> None:
        rows, columns = self._initial
        self.add_columns(*columns)
        for index, row in enumerate(rows):
            self.add_row(*row, key=str(index))


class ProblemTable(DataTable[Text]):
    """The problems, each reason whole: the reason column takes the width left and wraps."""

    COLUMNS = ("where", "severity", "offset", "reason")

    def __init__(self, rows: list[tuple[str, ...]], *, id: str) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.problem_rows = rows
        self._laid_out_for = 0

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width and width != self._laid_out_for:
            self._laid_out_for = width
            self._fill(width)

    def _fill(self, width: int) -> None:
        cursor = self.cursor_row
        self.clear(columns=True)
        fixed = [max([len(title)] + [len(row[i]) for row in self.problem_rows]) for i, title in enumerate(self.COLUMNS[:3])]
        gaps = 2 * len(self.COLUMNS)  # DataTable pads each cell with one space on either side
        reason_width = max(20, width - sum(fixed) - gaps)
        for title, column_width in zip(self.COLUMNS, [*fixed, reason_width]):
            self.add_column(title, width=column_width, key=title)
        for index, row in enumerate(self.problem_rows):
            self.add_row(*(Text(cell) for cell in row), key=str(index), height=None)
        if self.problem_rows:
            self.move_cursor(row=min(cursor, len(self.problem_rows) - 1))


def copy_text(focused: Widget | None, view: ExchangeView) -> tuple[str, str]:
    """What `y` copies from the widget in focus, and how to name it: a tree's current element, a view's text,
    a table's rows as tab-separated lines; else the request's XML."""
    if isinstance(focused, XmlTree):
        element = focused.current_element()
        if element is not None:
            return element, "the element"
    if isinstance(focused, CodeView):
        return focused.text, "the text"
    if isinstance(focused, DataTable):
        rows = [
            "\t".join(str(cell.plain if isinstance(cell, Text) else cell) for cell in focused.get_row_at(i))
            for i in range(focused.row_count)
        ]
        return "\n".join(rows), "the table"
    return view.request_text, "the request"


def _query_rows(ex: Exchange | None) -> list[tuple[str, ...]]:
    if ex is None:
        return []
    return [("form", ex.query_form or "?"), *((name, value) for name, value in ex.query_fields)]


def _header_rows(ex: Exchange | None, raw: tuple[tuple[str, str], ...], response: bool) -> list[tuple[str, ...]]:
    notes: tuple[HeaderNote, ...] | list[HeaderNote] | None = None
    if ex is not None:
        notes = ex.response_headers if response else ex.request_headers
    if not notes and raw:
        try:
            notes = explain_headers(raw, response=response)
        except Exception:  # noqa: BLE001 - names only then: secrets are never shown
            return [(name, "(hidden)" if name.lower() in ("authorization", "cookie") else "", "") for name, _ in raw]
    return [(n.name, n.shown_value, n.meaning or "") for n in notes or ()]


def _problem_rows(flow: LoadedFlow) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    if flow.exchange_error:
        rows.append(("analysis", "error", "", flow.exchange_error))
    if flow.exchange is not None:
        for p in flow.exchange.problems:
            offset = "" if p.offset is None else f"0x{p.offset:X} ({p.offset})"
            rows.append((p.where, p.severity, offset, p.reason))
    return rows


__all__ = ["ExchangeScreen", "ExchangeView", "body_text", "diff_rows", "prepare", "summary"]
