"""Events the viewer's workers post to the UI (past tense; handlers own the state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from capture.model import FlowRecord, FlowRow, SessionRow
    from eas.exchange import Exchange
    from viewer.replay import ReplayResult


class FolderNamesLoaded(Message):
    """Folder names of every session (session id, CollectionId) -> name, from the sessions' FolderSync."""

    def __init__(self, folder_names: dict[tuple[int | None, str], str]) -> None:
        super().__init__()
        self.folder_names = folder_names


class CaptureOpened(Message):
    """The capture is readable: its sessions, commands and newest flow id."""

    def __init__(self, sessions: list[SessionRow], commands: list[str], max_flow_id: int) -> None:
        super().__init__()
        self.sessions = sessions
        self.commands = commands
        self.max_flow_id = max_flow_id


class CaptureFailed(Message):
    """The capture could not be opened or read."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class FlowsAppended(Message):
    """Following: the capture has grown; coalesces while the UI is busy."""

    def __init__(self, max_flow_id: int, sessions: list[SessionRow], commands: list[str]) -> None:
        super().__init__()
        self.max_flow_id = max_flow_id
        self.sessions = sessions
        self.commands = commands

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FlowsAppended)


class FlowCountLoaded(Message):
    """How many flows the current filter matches (generation: which filter asked)."""

    def __init__(self, generation: int, total: int) -> None:
        super().__init__()
        self.generation = generation
        self.total = total


class FlowPageLoaded(Message):
    """One page of flow rows for the flow list."""

    def __init__(self, generation: int, page: int, rows: list[FlowRow]) -> None:
        super().__init__()
        self.generation = generation
        self.page = page
        self.rows = rows


class ProblemLocated(Message):
    """The next (or previous) flow with a problem, as an index in the flow list, or None when there is none."""

    def __init__(self, generation: int, index: int | None, forward: bool) -> None:
        super().__init__()
        self.generation = generation
        self.index = index
        self.forward = forward


class LoadProgressed(Message):
    """A long load advanced (done of total)."""

    def __init__(self, what: str, done: int, total: int | None) -> None:
        super().__init__()
        self.what = what
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgressed) and message.what == self.what


@dataclass
class LoadedFlow:
    """One flow with its analysis; `original` is the flow it replays, when it is a replay."""

    record: FlowRecord
    exchange: Exchange | None
    exchange_error: str | None
    original: LoadedFlow | None = None
    replay_ids: tuple[int, ...] = ()  # stored replays of this flow, oldest first

    @property
    def stored(self) -> bool:
        """False for a replay that could not be written to the capture (shown anyway)."""
        return self.record.row.id != 0


class FlowLoaded(Message):
    """A flow is read and analysed, ready to show (purpose: "show", "replace" the exchange shown, or "edit");
    `view` is what the exchange screen shows."""

    def __init__(self, flow: LoadedFlow, purpose: str, view: Any = None, tab: str | None = None) -> None:
        super().__init__()
        self.flow = flow
        self.purpose = purpose
        self.view = view
        self.tab = tab  # for "replace" (next / previous flow): the tab to show


class FlowLoadFailed(Message):
    def __init__(self, flow_id: int, error: str) -> None:
        super().__init__()
        self.flow_id = flow_id
        self.error = error


class ReplayFinished(Message):
    """The server answered a replay; `flow_id` is the stored replay, or None and `unsaved` when storing failed."""

    def __init__(
        self,
        result: ReplayResult,
        flow_id: int | None,
        store_error: str | None,
        unsaved: LoadedFlow | None = None,
        unsaved_view: Any = None,
    ) -> None:
        super().__init__()
        self.result = result
        self.flow_id = flow_id
        self.store_error = store_error
        self.unsaved = unsaved
        self.unsaved_view = unsaved_view


class ReplayFailed(Message):
    """The replay did not get an answer (refused, timeout, TLS, cancelled...)."""

    def __init__(self, error: str, kind: str) -> None:
        super().__init__()
        self.error = error
        self.kind = kind


def payload(message: Message) -> dict[str, Any]:
    """The message's own attributes, for logs and tests."""
    return {k: v for k, v in vars(message).items() if not k.startswith("_")}
