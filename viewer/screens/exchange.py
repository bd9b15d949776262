"""One exchange: request and response (XML, tree, headers, query), side by side, problems, raw bytes, diff."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from viewer.diff import diff_xml
from viewer.messages import LoadedFlow
from viewer.widgets.flow_list import human_size
from viewer.widgets.hexdump import hexdump, line_of_offset
from viewer.widgets.xml_text import XmlTextArea
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


def summary(flow: LoadedFlow) -> Text:
    """The header line of an exchange: id, method, command, statuses, sizes, duration, device."""
    row = flow.record.row
    ex = flow.exchange
    text = Text()
    text.append(f"#{row.id} ", style="bold")
    if row.replay_of is not None:
        text.append(f"(replay of #{row.replay_of}) ", style="italic")
    text.append(f"{row.method} {row.command or ''} ", style="bold")
    text.append(time.strftime("%Y-%m-%d %H:%M:%S ", time.localtime(row.ts_start)))
    if row.http_status is not None:
        meaning = ex.http_status_meaning if ex is not None and ex.http_status_meaning else flow.record.response_reason or ""
        text.append(f"HTTP {row.http_status} {meaning}  ", style="red" if row.http_status >= 400 else "green")
    elif flow.record.error:
        text.append(f"error: {flow.record.error}  ", style="red")
    if row.eas_status is not None:
        text.append(f"EAS status {row.eas_status} {row.eas_status_meaning or ''}  ", style="yellow" if row.eas_status != 1 else "green")
    text.append(f"{human_size(row.request_size)} → {human_size(row.response_size)} bytes  ")
    if row.ts_end is not None:
        text.append(f"{(row.ts_end - row.ts_start) * 1000:.0f} ms  ")
    if ex is not None and (ex.user or ex.device_id):
        text.append(f"{ex.user or '?'} on {ex.device_type or '?'} {ex.device_id or ''} v{ex.protocol_version or '?'}", style="dim")
    if row.problem_count:
        text.append(f"  ! {row.problem_count} problem(s)", style="bold red")
    return text


class ExchangeScreen(Screen[None]):
    """Everything about one flow; Escape goes back, `e` edits and replays the request."""

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
    ]

    def __init__(self, flow: LoadedFlow) -> None:
        super().__init__(id=f"exchange-{flow.record.row.id}")
        self.flow = flow

    @property
    def inspector(self) -> EasInspectorApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        flow = self.flow
        record, ex = flow.record, flow.exchange
        yield Static(summary(flow), id="exchange-summary")
        req_body = ex.request_body if ex is not None else None
        resp_body = ex.response_body if ex is not None else None
        with TabbedContent(id="exchange-tabs", initial="tab-request"):
            with TabPane("Request", id="tab-request"):
                with TabbedContent(id="request-tabs"):
                    with TabPane("XML", id="request-xml-pane"):
                        yield _viewer(body_text(req_body, record.request_body), "request-xml")
                    with TabPane("Tree", id="request-tree-pane"):
                        yield XmlTree(id="request-tree")
                    with TabPane("Query", id="request-query-pane"):
                        yield DataTable(id="request-query", cursor_type="row")
                    with TabPane("Headers", id="request-headers-pane"):
                        yield DataTable(id="request-headers", cursor_type="row")
            with TabPane("Response", id="tab-response"):
                with TabbedContent(id="response-tabs"):
                    with TabPane("XML", id="response-xml-pane"):
                        yield _viewer(body_text(resp_body, record.response_body), "response-xml")
                    with TabPane("Tree", id="response-tree-pane"):
                        yield XmlTree(id="response-tree")
                    with TabPane("Headers", id="response-headers-pane"):
                        yield DataTable(id="response-headers", cursor_type="row")
            with TabPane("Side by side", id="tab-both"):
                with Horizontal():
                    yield _viewer(body_text(req_body, record.request_body), "both-request")
                    yield _viewer(body_text(resp_body, record.response_body), "both-response")
            problems = len(ex.problems) if ex is not None else 0
            with TabPane(f"Problems ({problems + (1 if flow.exchange_error else 0)})", id="tab-problems"):
                yield DataTable(id="problems", cursor_type="row")
            with TabPane("Raw", id="tab-raw"):
                with TabbedContent(id="raw-tabs"):
                    with TabPane("Request bytes", id="raw-request-pane"):
                        yield _viewer(hexdump(record.request_body), "raw-request", language=False)
                    with TabPane("Response bytes", id="raw-response-pane"):
                        yield _viewer(hexdump(record.response_body or b""), "raw-response", language=False)
            if flow.original is not None:
                with TabPane(f"Diff vs #{flow.original.record.row.id}", id="tab-diff"):
                    yield DataTable(id="diff", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        flow, ex = self.flow, self.flow.exchange
        self.query_one("#request-tree", XmlTree).load_xml(ex.request_body.xml if ex and ex.request_body else None)
        self.query_one("#response-tree", XmlTree).load_xml(ex.response_body.xml if ex and ex.response_body else None)
        query = self.query_one("#request-query", DataTable)
        query.add_columns("field", "value")
        if ex is not None:
            query.add_row("form", ex.query_form or "?")
            for name, value in ex.query_fields:
                query.add_row(name, value)
        _fill_headers(self.query_one("#request-headers", DataTable), ex.request_headers if ex else None, flow.record.request_headers)
        _fill_headers(
            self.query_one("#response-headers", DataTable),
            ex.response_headers if ex else None,
            flow.record.response_headers or (),
        )
        problems = self.query_one("#problems", DataTable)
        problems.add_columns("where", "severity", "offset", "reason")
        if flow.exchange_error:
            problems.add_row("analysis", "error", "", flow.exchange_error)
        if ex is not None:
            for index, p in enumerate(ex.problems):
                offset = "" if p.offset is None else f"0x{p.offset:X} ({p.offset})"
                problems.add_row(p.where, p.severity, offset, p.reason, key=str(index))
        if flow.original is not None:
            self._fill_diff()
        if ex is not None and ex.problems and not (ex.request_body and ex.request_body.xml):
            self.query_one("#exchange-tabs", TabbedContent).active = "tab-problems"
        elif flow.original is not None:
            self.query_one("#exchange-tabs", TabbedContent).active = "tab-diff"

    def _fill_diff(self) -> None:
        table = self.query_one("#diff", DataTable)
        table.add_columns("", "element", "original", "replay")
        original = self.flow.original
        assert original is not None
        old_xml = _plain_response(original)
        new_xml = _plain_response(self.flow)
        if old_xml is None or new_xml is None:
            old_status, new_status = original.record.row.http_status, self.flow.record.row.http_status
            table.add_row("", "(no XML to compare)", f"HTTP {old_status}", f"HTTP {new_status}")
            return
        try:
            changes = diff_xml(old_xml, new_xml)
        except ValueError as err:
            self.inspector.notify(f"Cannot compare the responses: {err}", severity="error")
            return
        if not changes:
            table.add_row("=", "(same response)", "", "")
        marks = {"added": "+", "removed": "-", "changed": "~"}
        for change in changes:
            table.add_row(marks[change.kind], change.path, change.old or "", change.new or "")

    @on(DataTable.RowSelected, "#problems")
    def _problem_selected(self, event: DataTable.RowSelected) -> None:
        ex = self.flow.exchange
        if ex is None or event.row_key.value is None:
            return
        problem = ex.problems[int(event.row_key.value)]
        if problem.offset is None:
            return
        which = "response" if "response" in problem.where else "request"
        self.query_one("#exchange-tabs", TabbedContent).active = "tab-raw"
        self.query_one("#raw-tabs", TabbedContent).active = f"raw-{which}-pane"
        area = self.query_one(f"#raw-{which}", XmlTextArea)
        area.move_cursor((line_of_offset(problem.offset), 0), center=True)
        area.focus()

    def action_back(self) -> None:
        self.dismiss()

    def action_replay(self) -> None:
        self.inspector.open_editor(self.flow)

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#exchange-tabs", TabbedContent)
        if tab == "tab-diff" and self.flow.original is None:
            self.inspector.notify("This flow is not a replay: nothing to compare.", severity="warning")
            return
        tabs.active = tab

    def action_toggle_tree(self) -> None:
        tabs = self.query_one("#exchange-tabs", TabbedContent)
        side = "response" if tabs.active == "tab-response" else "request"
        if tabs.active not in ("tab-request", "tab-response"):
            tabs.active = "tab-request"
        inner = self.query_one(f"#{side}-tabs", TabbedContent)
        inner.active = f"{side}-tree-pane" if inner.active != f"{side}-tree-pane" else f"{side}-xml-pane"


def _plain_response(flow: LoadedFlow) -> str | None:
    ex = flow.exchange
    if ex is None or ex.response_body is None:
        return None
    return ex.response_body.plain_xml or ex.response_body.xml


def _viewer(text: str, widget_id: str, language: bool = True) -> XmlTextArea:
    area = XmlTextArea(text, read_only=True, id=widget_id, show_line_numbers=language, soft_wrap=False)
    if not language:
        area.highlight_cursor_line = True
    return area


def _fill_headers(table: DataTable, notes: tuple[HeaderNote, ...] | None, raw: tuple[tuple[str, str], ...]) -> None:
    table.add_columns("header", "value", "meaning")
    if notes is not None:
        for note in notes:
            table.add_row(note.name, note.shown_value, note.meaning or "")
        return
    from eas.headers import explain_headers

    try:
        explained = explain_headers(raw, response=False)
    except Exception:  # noqa: BLE001 - fall back to names only, never show secrets
        explained = []
    for note in explained:
        table.add_row(note.name, note.shown_value, note.meaning or "")


__all__ = ["ExchangeScreen", "body_text", "summary"]
