"""The flow list with the selected flow's detail beside it (the split of wide terminals), and that detail pane."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from eas.verdicts import Outcome, judge
from eas.wiretext import shown

from capture.model import FlowRow
from viewer.loading import load_flow
from viewer.messages import LoadedFlow
from viewer.screens.exchange import OUTCOME_STYLES, body_text
from viewer.source import CaptureSource
from viewer.widgets.code_view import CodeText, CodeView, selected_text
from viewer.widgets.flow_list import FlowList, collection_text

# From this many columns the main screen shows the detail beside the list by default: the list then keeps about
# 80 columns, where every essential column of the flow list still fits.
SPLIT_MIN_WIDTH = 160
# How long the cursor rests on a flow before its detail is read: holding j through the list reads nothing.
DETAIL_DELAY = 0.15
# Lines of statuses and of problems the summary lists before it says how many more there are.
SUMMARY_ITEMS = 6

STATUS_MARKS = {Outcome.OK: "✓", Outcome.WARNING: "~", Outcome.FAILED: "!"}


@dataclass(frozen=True)
class FlowDetailView:
    """What the detail pane shows for one flow, made in a worker."""

    flow_id: int
    summary: Text
    response: CodeText
    request: CodeText


def detail_view(flow: LoadedFlow, folder_name: str) -> FlowDetailView:
    """The detail of `flow`: summary (command, collection, HTTP status, outcome, statuses, problems) and the
    annotated XML of both bodies. `folder_name` names its collection (from the session's FolderSync)."""
    record, exchange = flow.record, flow.exchange
    return FlowDetailView(
        flow_id=record.row.id,
        summary=detail_summary(flow, folder_name),
        response=CodeText.of(body_text(exchange.response_body if exchange else None, record.response_body)),
        request=CodeText.of(body_text(exchange.request_body if exchange else None, record.request_body)),
    )


def detail_summary(flow: LoadedFlow, folder_name: str) -> Text:
    """The summary lines: `FAILED #12 Sync · collection INBOX (5) · HTTP 200 OK`, then the statuses with their
    meanings in their own tables, then what went wrong (the verdict's other reasons, decode problems)."""
    record, exchange, row = flow.record, flow.exchange, flow.record.row
    text = Text(no_wrap=False)
    if row.outcome is not None:
        text.append(f" {row.outcome.upper()} ", style=f"bold reverse {OUTCOME_STYLES[row.outcome]}")
        text.append(" ")
    text.append(shown(f"#{row.id} {row.command or row.method}"), style="bold")
    if row.collection_id:
        named = folder_name if folder_name == row.collection_id else f"{folder_name} ({row.collection_id})"
        text.append(shown(f" · collection {named}"))
    if row.http_status is not None:
        meaning = exchange.http_status_meaning if exchange is not None and exchange.http_status_meaning else record.response_reason or ""
        text.append(shown(f" · HTTP {row.http_status} {meaning}".rstrip()), style="red" if row.http_status >= 400 else "green")
    else:
        text.append(shown(f" · no response{': ' + record.error if record.error else ''}"), style="red")
    statuses = row.statuses
    reasons: tuple[str, ...] = ()
    if exchange is not None:
        verdict = judge(exchange, transport_error=record.error)
        statuses = verdict.statuses or statuses
        status_lines = {status.describe() for status in verdict.statuses}
        reasons = tuple(reason for reason in verdict.reasons if reason not in status_lines)
    if flow.exchange_error:
        reasons = (f"analysis: {flow.exchange_error}", *reasons)
    text.append("\nstatuses:" if statuses else "\nno EAS status", style="bold")
    ordered = sorted(statuses, key=lambda status: -status.outcome.rank)  # the worst first, equals in order
    for status in ordered[:SUMMARY_ITEMS]:
        text.append(f"\n {STATUS_MARKS[status.outcome]} ", style=OUTCOME_STYLES[status.outcome])
        text.append(shown(status.describe()), style=OUTCOME_STYLES[status.outcome] if status.outcome is not Outcome.OK else "")
    if len(ordered) > SUMMARY_ITEMS:
        text.append(f"\n   … and {len(ordered) - SUMMARY_ITEMS} more (Enter shows them all)", style="dim")
    text.append("\nproblems:" if reasons else "\nno problems", style="bold")
    for reason in reasons[:SUMMARY_ITEMS]:
        text.append("\n ! ", style="red")
        text.append(shown(reason))
    if len(reasons) > SUMMARY_ITEMS:
        text.append(f"\n   … and {len(reasons) - SUMMARY_ITEMS} more (Enter, then 4)", style="dim")
    return text


class FlowDetail(Vertical):
    """The selected flow's summary and its response and request XML; `show_row` asks for a flow, which is read
    in a worker once the cursor rests on it, and shown only if it is still the one asked for."""

    BINDINGS = [Binding("y", "copy", "Copy", id="detail-copy")]
    DEFAULT_CSS = """
    FlowDetail { width: 1fr; height: 1fr; border-left: vkey $panel-lighten-2; }
    FlowDetail > #detail-summary { height: auto; max-height: 50%; padding: 0 1; background: $panel; }
    FlowDetail > .detail-title { height: 1; background: $boost; text-style: bold; padding: 0 1; }
    FlowDetail > #detail-response { height: 2fr; }
    FlowDetail > #detail-request { height: 1fr; }
    """

    class Loaded(Message):
        """A flow's detail was read and prepared."""

        def __init__(self, view: FlowDetailView) -> None:
            super().__init__()
            self.view = view

    class LoadFailed(Message):
        def __init__(self, flow_id: int, error: str) -> None:
            super().__init__()
            self.flow_id = flow_id
            self.error = error

    def __init__(self, source: CaptureSource, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source
        self.wanted_id: int | None = None  # the flow the cursor is on: only its detail is shown
        self.shown: FlowDetailView | None = None  # the detail on screen
        self._timer: Timer | None = None
        self.delay = DETAIL_DELAY
        self.display = False  # until the split knows its width

    def compose(self) -> ComposeResult:
        yield Static("No flow selected.", id="detail-summary")
        yield Static("Response", classes="detail-title")
        yield CodeView("", id="detail-response")
        yield Static("Request", classes="detail-title")
        yield CodeView("", id="detail-request")

    def show_row(self, row: FlowRow | None, folder_name: str = "") -> None:
        """Show the detail of `row` once the cursor has rested on it for `delay` seconds (None: the row is not loaded
        yet; the list says again when it is)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if row is None:
            return
        self.wanted_id = row.id
        if self.shown is not None and row.id == self.shown.flow_id:  # back on the flow shown: its summary again
            self.query_one("#detail-summary", Static).update(self.shown.summary)
            return
        self.query_one("#detail-summary", Static).update(Text(shown(f"#{row.id} {row.command or row.method} …"), style="bold"))
        self._timer = self.set_timer(self.delay, lambda: self.load_detail(row.id, folder_name))

    @property
    def shown_id(self) -> int | None:
        """The flow whose detail is on screen."""
        return None if self.shown is None else self.shown.flow_id

    def clear(self) -> None:
        """No flow selected (the list is empty)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.wanted_id = None
        self.shown = None
        self.query_one("#detail-summary", Static).update("No flow selected.")
        for view in self.query(CodeView):
            view.show(CodeText.of(""))

    @work(thread=True, exclusive=True, group="flow-detail")
    def load_detail(self, flow_id: int, folder_name: str) -> None:
        worker = get_current_worker()
        try:
            view = detail_view(load_flow(self.source, flow_id, with_original=False), folder_name)
        except Exception as err:  # noqa: BLE001 - shown in the pane; the list goes on
            self.post_message(self.LoadFailed(flow_id, f"cannot read flow #{flow_id}: {err}"))
            return
        if not worker.is_cancelled:
            self.post_message(self.Loaded(view))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        event.stop()
        if event.view.flow_id != self.wanted_id:
            return  # the cursor has moved on
        self.shown = event.view
        self.query_one("#detail-summary", Static).update(event.view.summary)
        self.query_one("#detail-response", CodeView).show(event.view.response)
        self.query_one("#detail-request", CodeView).show(event.view.request)

    @on(LoadFailed)
    def _load_failed(self, event: LoadFailed) -> None:
        event.stop()
        if event.flow_id == self.wanted_id:
            self.shown = None
            self.query_one("#detail-summary", Static).update(Text(shown(event.error), style="red"))

    def action_copy(self) -> None:
        """`y`: the selected text, else the XML in focus (the response when neither view has the focus)."""
        copied = selected_text(self.screen)
        what = "the selection"
        if not copied:
            focused = self.screen.focused
            view = focused if isinstance(focused, CodeView) else self.query_one("#detail-response", CodeView)
            copied, what = view.text, "the request" if view.id == "detail-request" else "the response"
        self.app.copy_to_clipboard(copied)
        lines = copied.count("\n") + 1
        self.app.notify(f"Copied {what} ({lines:,} line{'s' if lines != 1 else ''}) to the clipboard.", markup=False)


class FlowSplit(Horizontal):
    """The list pane and, when `split_shown`, the detail beside it: on by default from SPLIT_MIN_WIDTH columns;
    `toggle` overrides that at any width until the width next crosses the threshold."""

    DEFAULT_CSS = """
    FlowSplit { height: 1fr; }
    FlowSplit > #list-pane { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.override: bool | None = None  # the user's choice (toggle); None: by the width
        self.wide: bool | None = None  # whether the width is SPLIT_MIN_WIDTH or more (None: not laid out yet)

    @property
    def detail(self) -> FlowDetail:
        return self.query_one(FlowDetail)

    @property
    def split_shown(self) -> bool:
        return bool(self.detail.display)

    def on_resize(self, event: Resize) -> None:
        wide = event.size.width >= SPLIT_MIN_WIDTH
        if wide != self.wide:
            self.wide = wide
            self.override = None  # crossing the threshold brings back the default of the new width
            self._apply()

    def toggle(self) -> bool:
        """Show the detail if hidden, else hide it; returns whether it is shown."""
        self.override = not self.split_shown
        self._apply()
        return self.split_shown

    def _apply(self) -> None:
        shown_now = self.override if self.override is not None else bool(self.wide)
        detail = self.detail
        if shown_now == bool(detail.display):
            return
        detail.display = shown_now
        if shown_now:
            self._show_selected(self.query_one(FlowList).current_row)

    def _show_selected(self, row: FlowRow | None) -> None:
        flows = self.query_one(FlowList)
        self.detail.show_row(row, collection_text(row, flows.folder_names) if row is not None else "")

    @on(FlowList.Highlighted)
    def _highlighted(self, event: FlowList.Highlighted) -> None:
        # not stopped: the screen updates its status line from the same message
        if not self.split_shown:
            return
        if event.row is None and event.flow_list.total == 0:
            self.detail.clear()
        else:
            self._show_selected(event.row)


__all__ = ["DETAIL_DELAY", "SPLIT_MIN_WIDTH", "FlowDetail", "FlowDetailView", "FlowSplit", "detail_summary", "detail_view"]
