"""The Textual app: opens a capture, routes flows to the exchange and editor screens, stores replays."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from eas.wiretext import error_line

from capture.model import FlowRecord, FlowRow, SessionRow
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from viewer.commands import InspectorCommands
from viewer.messages import FlowLoaded, FlowLoadFailed, LoadedFlow, ReplayFinished
from viewer.screens.editor import EditorScreen
from viewer.screens.exchange import ExchangeScreen, prepare
from viewer.screens.help import HelpScreen
from viewer.screens.main import MainScreen
from viewer.source import PAGE_SIZE, CaptureSource, FlowFilter
from viewer.store_replay import replay_input, unsaved_record
from viewer.widgets.flow_list import FlowList
from viewer.widgets.xml_tree import XmlTree

if TYPE_CHECKING:
    from viewer.replay import ReplayRequest, ReplayResult


def analysed(record: FlowRecord, original: LoadedFlow | None = None, replay_ids: tuple[int, ...] = ()) -> LoadedFlow:
    """A record with its analysis (the analysis failing is recorded, not raised)."""
    try:
        exchange, error = record.exchange(), None
    except Exception as err:  # noqa: BLE001 - shown in the Problems tab; raw bytes stay available
        exchange, error = None, f"{type(err).__name__}: {err}"
    return LoadedFlow(record, exchange, error, original, replay_ids)


def load_flow(source: CaptureSource, flow_id: int, with_original: bool = True) -> LoadedFlow:
    """Read one flow, its replays' ids and (for a replay) its original, and analyse them. Runs in a worker."""
    record, replays = source.call(lambda r: (r.flow(flow_id), r.replays(flow_id)))
    original = None
    if with_original and record.row.replay_of is not None:
        try:
            original = load_flow(source, record.row.replay_of, with_original=False)
        except Exception:  # noqa: BLE001 - the replay is still worth showing without its original
            original = None
    return analysed(record, original, tuple(r.id for r in replays))


logger = logging.getLogger(__name__)

REPLAY_STORE_TIMEOUT = 10.0  # seconds to wait for the capture writer before showing a replay unsaved

InitialRead = tuple[list["SessionRow"], list[str], int, int, list["FlowRow"]]


def read_initial(reader: CaptureReader) -> InitialRead:
    """What the first screen shows: sessions, commands, newest id, flow count and the first page (default filter)."""
    first = FlowFilter()
    return (
        reader.sessions(),
        reader.commands(),
        reader.max_flow_id(),
        reader.count_flows(**first.filters()),
        reader.flows(**first.filters(), order=first.order, descending=first.descending, offset=0, limit=PAGE_SIZE),
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

    def __init__(self, capture_path: Path, follow: bool = False, *, label: str | None = None) -> None:
        super().__init__()
        self.capture_path = Path(capture_path)
        self.follow = follow
        self.capture_label = label or self.capture_path.name
        self.source = CaptureSource(self.capture_path)
        self._writer: CaptureWriter | None = None
        self._writer_lock = threading.Lock()
        self.sub_title = self.capture_label
        self.replay_store_timeout = REPLAY_STORE_TIMEOUT
        self.notices: list[tuple[str, str]] = []  # (severity, message) of every notification, oldest first
        # Read sessions, commands and the first page while Textual starts up (the reader has its own thread).
        self.initial_read: Future[InitialRead] = self.source.submit(read_initial)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Show a notification (plain text by default: error messages may contain brackets) and log it; an error
        or warning as one line with its control characters escaped (eas.wiretext.error_line)."""
        if severity in ("error", "warning"):
            message = error_line(message)
        self.notices.append((severity, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

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

    @on(FlowLoaded)
    def _flow_loaded(self, event: FlowLoaded) -> None:
        if event.purpose == "edit":
            self.open_editor(event.flow)
        else:
            self.push_screen(ExchangeScreen(event.flow, event.view))

    @on(FlowLoadFailed)
    def _flow_load_failed(self, event: FlowLoadFailed) -> None:
        self.notify(event.error, title="Flow", severity="error", timeout=10)

    def open_editor(self, flow: LoadedFlow) -> None:
        if not flow.record.row.url:
            self.notify("This flow has no request to replay.", severity="error")
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
        return int(writer.add_sync(flow_input, replay_of=original.row.id, timeout=self.replay_store_timeout))

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


def make_app(capture_path: Path | str, follow: bool = False, *, label: str | None = None) -> EasInspectorApp:
    """The viewer for `capture_path` (an eas-inspector SQLite capture); the CLI and the tests build it here."""
    return EasInspectorApp(Path(capture_path), follow=follow, label=label)


__all__ = ["EasInspectorApp", "load_flow", "make_app"]
