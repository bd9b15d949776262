"""The Textual app: opens a capture, routes flows to the exchange and editor screens, stores replays."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import Notification, Notify, SeverityLevel
from textual.screen import Screen
from textual.worker import get_current_worker

from eas.wiretext import error_line

from capture.model import FlowRecord, FlowRow, SessionRow
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from viewer.commands import InspectorCommands
from viewer.loading import analysed, load_flow
from viewer.messages import FlowLoaded, FlowLoadFailed, LoadedFlow, ReplayFinished
from viewer.screens.editor import EditorScreen
from viewer.screens.exchange import ExchangeScreen, prepare
from viewer.screens.help import HelpScreen
from viewer.screens.main import MainScreen
from viewer.screens.timeline import TimelineScreen
from viewer.source import PAGE_SIZE, CaptureSource, FlowListing
from viewer.store_replay import replay_input, unsaved_record
from viewer.widgets.flow_list import FlowList
from viewer.widgets.timeline import TimelineView
from viewer.widgets.xml_tree import XmlTree

if TYPE_CHECKING:
    from viewer.replay import ReplayRequest, ReplayResult


logger = logging.getLogger(__name__)

REPLAY_STORE_TIMEOUT = 10.0  # seconds to wait for the capture writer before showing a replay unsaved

InitialRead = tuple[list["SessionRow"], list[str], int, int, list["FlowRow"]]


def read_initial(reader: CaptureReader) -> InitialRead:
    """What the first screen shows: sessions, commands, newest id, flow count and the first page (default filter)."""
    first = FlowListing()
    return (
        reader.sessions(),
        reader.commands(),
        reader.max_flow_id(),
        reader.count_flows(first),
        first.rows(reader, 0, PAGE_SIZE),
    )


class EasInspectorApp(App[None]):
    """Browse a capture: sessions, flows, one exchange; edit and replay requests."""

    CSS_PATH = "app.tcss"
    TITLE = "eas-inspector"
    COMMANDS = App.COMMANDS | {InspectorCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app-help"),
        Binding("ctrl+q", "quit", "Quit", id="app-quit", priority=True),
    ]

    def __init__(
        self, capture_path: Path, follow: bool = False, *, label: str | None = None, kept_as: Path | None = None
    ) -> None:
        super().__init__()
        self.capture_path = Path(capture_path)
        # A temporary capture (a .mitm file imported to view it): where it is kept on exit when it holds replays.
        self.kept_as = kept_as
        self.replays_stored = 0
        # Passwords typed for replays, by (host, user): asked once per viewer session, kept in memory only.
        self.passwords: dict[tuple[str, str], str] = {}
        self.follow = follow
        self.capture_label = label or self.capture_path.name
        self.source = CaptureSource(self.capture_path)
        self._writer: CaptureWriter | None = None
        self._writer_lock = threading.Lock()
        self.sub_title = self.capture_label
        self.replay_store_timeout = REPLAY_STORE_TIMEOUT
        self.notices: list[tuple[str, str]] = []  # (severity, message) of every notification, oldest first
        self._keyed_notifications: dict[str, Notification] = {}
        # Read sessions, commands and the first page while Textual starts up (the reader has its own thread).
        self.initial_read: Future[InitialRead] = self.source.submit(read_initial)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a notification and log it (Textual's own messages use markup: `Press [b]ctrl+q[/b] to quit`; the
        app's own go through `inform`, plain); an error or warning as one line with its control characters escaped
        (eas.wiretext.error_line)."""
        if severity in ("error", "warning"):
            message = error_line(message)
        self.notices.append((severity, Text.from_markup(message).plain if markup else message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def inform(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        replace: str | None = None,
    ) -> None:
        """Show one of the viewer's own messages as plain text (errors may contain brackets).

        A message with a `replace` key takes the place of the previous message with that key still shown (so
        "Sorted by" toasts do not pile up); without one this is thread-safe, with one it runs on the UI thread.
        """
        if replace is None:
            self.notify(message, title=title, severity=severity, timeout=timeout, markup=False)
            return
        self.notices.append((severity, message))
        notification = Notification(
            message, title, severity, self.NOTIFICATION_TIMEOUT if timeout is None else timeout, markup=False
        )
        self._replace_notification(replace, notification)

    def _replace_notification(self, key: str, notification: Notification) -> None:
        previous = self._keyed_notifications.get(key)
        if previous is not None and previous in self._notifications:
            self._unnotify(previous, refresh=False)
        self._keyed_notifications[key] = notification
        self.post_message(Notify(notification))

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen()

    @property
    def main_screen(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("no main screen")

    # ------------------------------------------------------------------ flows
    def open_flow(self, flow_id: int, purpose: str) -> None:
        """Load flow `flow_id` in a worker, then show it ("show") or edit it ("edit")."""
        self.load_flow_worker(flow_id, purpose)

    @work(thread=True, exclusive=True, group="flow")
    def load_flow_worker(self, flow_id: int, purpose: str) -> None:
        try:
            flow = load_flow(self.source, flow_id)
            view = None
            if purpose == "show":
                flow, view = prepare(flow)  # the exchange screen's content, built off the UI thread
        except Exception as err:  # noqa: BLE001
            self.post_message(FlowLoadFailed(flow_id, f"cannot read flow #{flow_id}: {err}"))
            return
        self.post_message(FlowLoaded(flow, purpose, view))

    def open_neighbour(self, flow_id: int, step: int, tab: str) -> None:
        """Replace the exchange shown (flow `flow_id`) by the next (step 1) or previous (-1) flow of the list."""
        flows = self.main_screen.query_one(FlowList)
        index = flows.index_of(flow_id)
        if index is None:
            index = flows.cursor  # a flow opened from another one (a replay): go on from the list's cursor
        target = index + step
        if not 0 <= target < flows.total:
            self.inform("No more flows " + ("below." if step > 0 else "above."), replace="neighbour")
            return
        flows.move_cursor(target)
        row = flows.row_at(target)
        self.load_neighbour_worker(self.main_screen.filter, target, row.id if row is not None else None, tab)

    @work(thread=True, exclusive=True, group="flow")
    def load_neighbour_worker(self, flow_filter: FlowListing, index: int, flow_id: int | None, tab: str) -> None:
        worker = get_current_worker()
        try:
            if flow_id is None:  # not among the pages the list holds
                rows = self.source.call(lambda r: flow_filter.rows(r, index, 1))
                if not rows:
                    return
                flow_id = rows[0].id
            flow, view = prepare(load_flow(self.source, flow_id))
        except Exception as err:  # noqa: BLE001
            self.post_message(FlowLoadFailed(flow_id or 0, f"cannot read the flow at row {index + 1}: {err}"))
            return
        if not worker.is_cancelled:
            self.post_message(FlowLoaded(flow, "replace", view, tab))

    @on(FlowLoaded)
    def _flow_loaded(self, event: FlowLoaded) -> None:
        if event.purpose == "edit":
            self.open_editor(event.flow)
        elif event.purpose == "replace" and isinstance(self.screen, ExchangeScreen):
            self.switch_screen(ExchangeScreen(event.flow, event.view, tab=event.tab))
        else:
            self.push_screen(ExchangeScreen(event.flow, event.view))

    @on(FlowLoadFailed)
    def _flow_load_failed(self, event: FlowLoadFailed) -> None:
        self.inform(event.error, title="Flow", severity="error", timeout=10)

    def open_editor(self, flow: LoadedFlow) -> None:
        if not flow.record.row.url:
            self.inform("This flow has no request to replay.", severity="error")
            return
        self.push_screen(EditorScreen(flow))

    # ------------------------------------------------------------------ replays
    def store_replay(self, original: FlowRecord, request: ReplayRequest, result: ReplayResult) -> int:
        """Write a replay into the capture, linked to its original; returns its id. Runs in a worker."""
        with self._writer_lock:
            if self._writer is None:
                self._writer = CaptureWriter(self.capture_path, busy_timeout=min(5.0, self.replay_store_timeout))
            writer = self._writer
        flow_input = replay_input(original, request, result)
        flow_id = int(writer.add_sync(flow_input, replay_of=original.row.id, timeout=self.replay_store_timeout))
        self.replays_stored += 1
        return flow_id

    def unsaved_replay(self, original: LoadedFlow, request: ReplayRequest, result: ReplayResult) -> LoadedFlow:
        """The replay as a flow that is not in the capture, analysed, for showing when storing failed."""
        return analysed(unsaved_record(original.record, request, result), original)

    def replay_finished(self, editor: EditorScreen, event: ReplayFinished) -> None:
        """Show the replay (decoded like any flow, with a diff against the original)."""
        if event.flow_id is None and event.unsaved is None:
            return
        if self.screen is editor:
            editor.dismiss()
        if event.flow_id is not None:
            self.open_flow(event.flow_id, "show")
        elif event.unsaved is not None:
            self.push_screen(ExchangeScreen(event.unsaved, event.unsaved_view))

    # ------------------------------------------------------------------ app
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(
            HelpScreen(
                [
                    (
                        "everywhere",
                        [
                            *self.BINDINGS,
                            Binding("ctrl+p", "command_palette", "Command palette (flow: Replay, filter: Errors only …)"),
                            Binding("tab,shift+tab", "focus_next", "Next / previous field"),
                        ],
                    ),
                    ("flows", list(MainScreen.BINDINGS) + list(FlowList.BINDINGS)),
                    ("exchange", list(ExchangeScreen.BINDINGS) + list(XmlTree.BINDINGS)),
                    ("replay editor", list(EditorScreen.BINDINGS)),
                    ("timeline", list(TimelineScreen.BINDINGS) + list(TimelineView.BINDINGS)),
                ]
            )
        )

    def on_unmount(self) -> None:
        self.source.close()
        with self._writer_lock:
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception as err:  # noqa: BLE001 - the app is closing: log, do not crash on the way out
                    logger.error("closing the capture writer: %s", err)
                self._writer = None


def make_app(
    capture_path: Path | str, follow: bool = False, *, label: str | None = None, kept_as: Path | None = None
) -> EasInspectorApp:
    """The viewer for `capture_path` (an eas-inspector SQLite capture); the CLI and the tests build it here.

    `kept_as`: the capture is temporary (a .mitm file imported to view it) and is kept there on exit when it
    holds replays; the editor says so when it stores one.
    """
    return EasInspectorApp(Path(capture_path), follow=follow, label=label, kept_as=kept_as)


__all__ = ["EasInspectorApp", "load_flow", "make_app"]
