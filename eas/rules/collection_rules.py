"""Diagnosis rules about collections: sync keys, the folder hierarchy, MoreAvailable, windows, duplicate items."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from ..evidence import (
    IGNORED_AFTER,
    FlowEvidence,
    FlowList,
    RuleState,
    SessionState,
    id_list,
    plural,
    top_status,
    transport_failed,
)
from ..facts import CollectionStep, FlowFacts

# ----------------------------------------------------------------------------------------------------------------
# Thresholds, each with the reason for its value.

# Three resets of one collection: one can follow a FolderSync 0 (some servers then forget every key) and one a
# Status 3; a third is churn nothing in the protocol asks for.
RESET_CHURN_MIN = 3
# A client replays only recent keys; older ones are forgotten so that memory stays bounded per collection.
REPLAY_KEYS_KEPT = 32
# MS-ASCMD 2.2.3 WindowSize: 100 is what the server uses without WindowSize; the spec notes that larger
# responses fail more on poor links; above 512 the server reads 512.
WINDOW_SIZE_DEFAULT = 100
WINDOW_SIZE_MAX = 512
WINDOW_FAILURES_MIN = 2
# ServerIds tracked per collection for duplicate Adds; a larger folder stops adding (no false duplicates, only
# missed ones).
MAX_TRACKED_ITEMS = 200_000

# Commands that need the folder hierarchy to be current.
_HIERARCHY_COMMANDS = frozenset({"Sync", "Ping", "GetItemEstimate", "MoveItems", "ItemOperations"})

# The flows each rule here reads (eas.evidence.Rule.commands).
SYNC_COMMANDS = frozenset({"Sync"})
SYNC_KEY_COMMANDS = frozenset({"Sync", "FolderSync"})
HIERARCHY_RULE_COMMANDS = _HIERARCHY_COMMANDS | {"FolderSync"}
MORE_AVAILABLE_COMMANDS = frozenset({"Sync", "Ping"})


def _sync_steps(facts: FlowFacts) -> tuple[CollectionStep, ...]:
    return facts.collections if facts.command == "Sync" else ()


# ----------------------------------------------------------------------------------------------------------------
# Sync keys (MS-ASCMD 2.2.3 SyncKey (Sync), SyncKey (FolderSync); Status (Sync) 3, Status (FolderSync) 9)

_HIERARCHY = ""  # the episode key of the FolderSync chain


@dataclass
class _BadKey:
    key: str | None
    flows: FlowList
    repeats: int = 0


class SyncKeyInvalidLoop(RuleState):
    """Status 3 (FolderSync 9) and the client sends a non-zero key again instead of starting over at 0."""

    def __init__(self) -> None:
        self.bad: dict[str, _BadKey] = {}

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        if facts.command == "FolderSync":
            self._step(evidence, session, _HIERARCHY, facts.folder_sync_key_request, top_status(facts), 9)
        for step in _sync_steps(facts):
            self._step(evidence, session, step.collection_id, step.request_sync_key, step.status, 3)

    def _step(self, evidence: FlowEvidence, session: SessionState, collection_id: str, sent: str | None,
              status: int | None, invalid: int) -> None:
        episode = self.bad.get(collection_id)
        if episode is not None and sent is not None:
            if sent == "0":
                del self.bad[collection_id]
                episode = None
            else:
                episode.repeats += 1
                episode.flows.add(evidence.flow_id)
                what = "the folder hierarchy" if collection_id == _HIERARCHY else session.name(collection_id)
                session.report(
                    (collection_id, episode.flows.head[0]),
                    episode.flows,
                    f"{what}: the server refused SyncKey {episode.key} (Status {invalid}) and the client sent a "
                    f"non-zero SyncKey again {plural(episode.repeats, 'time')} instead of starting over at 0.",
                    "After this status the client must drop its state for the collection and send SyncKey 0 (then "
                    "add back what it had not synced); a client that keeps its key never recovers. Remove and add "
                    "the account on the device, and report the client's behaviour to its vendor.",
                )
                if status != invalid:
                    del self.bad[collection_id]
        if status == invalid and collection_id not in self.bad and sent != "0":
            self.bad[collection_id] = _BadKey(sent, FlowList((evidence.flow_id,)))


@dataclass
class _CollectionHistory:
    synced: bool = False
    resets: FlowList = field(default_factory=FlowList)


class SyncKeyResetChurn(RuleState):
    """The same collection goes back to SyncKey 0 again and again (full resynchronizations)."""

    def __init__(self) -> None:
        self.collections: dict[str, _CollectionHistory] = {}

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        for step in _sync_steps(evidence.facts):
            history = self.collections.setdefault(step.collection_id, _CollectionHistory())
            if step.request_sync_key == "0" and history.synced:
                history.resets.add(evidence.flow_id)
                count = len(history.resets)
                if count >= RESET_CHURN_MIN:
                    session.report(
                        step.collection_id,
                        history.resets,
                        f"{session.name(step.collection_id)} went back to SyncKey 0 {plural(count, 'time')} after "
                        "it had synchronized: each time the whole folder is downloaded again.",
                        "Look at what comes before each reset: a Status 3 (the server lost or refused the key), a "
                        "FolderSync 0, or the client dropping its state by itself (a client bug or a "
                        "storage-constrained device).",
                    )
            if (step.request_sync_key not in (None, "0")) or (
                step.response_sync_key not in (None, "0") and step.status in (None, 1)
            ):
                history.synced = True


class SyncKeyReplayed(RuleState):
    """A (collection, SyncKey) the server already answered with a newer key is sent again."""

    def __init__(self) -> None:
        self.collections: dict[str, OrderedDict[str, tuple[int, tuple[str, ...], str]]] = {}

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        for step in _sync_steps(evidence.facts):
            sent = step.request_sync_key
            advanced = self.collections.setdefault(step.collection_id, OrderedDict())
            if sent not in (None, "0") and sent in advanced:
                flow_id, suspects, answered = advanced[sent]
                if flow_id != evidence.flow_id:
                    suspect_text = f" Items in that response: {id_list(suspects)}." if suspects else ""
                    session.report(
                        (step.collection_id, sent),
                        (flow_id, evidence.flow_id),
                        f"{session.name(step.collection_id)}: the client sent SyncKey {sent} again after the server "
                        f"had answered it with {answered} in flow {flow_id}: it did not accept that response."
                        + suspect_text,
                        "The client (or something between it and the server) dropped the response; when the "
                        "response carried items, one of them is likely what the client cannot store: look at "
                        "those items.",
                    )
            answered_key = step.response_sync_key
            if sent is not None and answered_key is not None and answered_key != sent and step.status in (None, 1):
                suspects = step.server_ids_added + step.server_ids_updated + step.server_ids_deleted
                advanced[sent] = (evidence.flow_id, suspects, answered_key)
                advanced.move_to_end(sent)
                if len(advanced) > REPLAY_KEYS_KEPT:
                    advanced.popitem(last=False)


# ----------------------------------------------------------------------------------------------------------------
# Folder hierarchy (MS-ASCMD 2.2.3.177.17 Status (Sync) 12, 2.2.3.177.11 Status (Ping) 7)


class FolderSyncRequiredIgnored(RuleState):
    """The server asked for a FolderSync and the client carries on without one."""

    def __init__(self) -> None:
        self.pending: FlowList | None = None
        self.cause = ""
        self.later = 0

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        if facts.command == "FolderSync":
            self.pending = None
            return
        if self.pending is not None and facts.command in _HIERARCHY_COMMANDS:
            self.later += 1
            self.pending.add(evidence.flow_id)
            if self.later >= IGNORED_AFTER:
                session.report(
                    self.pending.head[0],
                    self.pending,
                    f"{self.cause}, and the client sent {plural(self.later, 'more request')} without a FolderSync.",
                    "The client must send FolderSync when told the hierarchy changed; until it does, folders that "
                    "moved or were deleted keep failing.",
                )
        cause = self._cause(facts, session)
        if cause is not None and self.pending is None:
            self.pending = FlowList((evidence.flow_id,))
            self.cause = cause
            self.later = 0

    @staticmethod
    def _cause(facts: FlowFacts, session: SessionState) -> str | None:
        if facts.command == "Ping" and top_status(facts) == 7:
            return "The server answered a Ping with Status 7 (folder hierarchy changed)"
        if facts.command == "Sync":
            stale = [step.collection_id for step in facts.collections if step.status == 12]
            if stale:
                names = ", ".join(session.name(collection_id) for collection_id in stale)
                return f"The server answered Sync of {names} with Status 12 (folder hierarchy changed)"
            if top_status(facts) == 12:
                return "The server answered a Sync with Status 12 (folder hierarchy changed)"
        return None


# ----------------------------------------------------------------------------------------------------------------
# Windows (MS-ASCMD 2.2.3 MoreAvailable, WindowSize)


class MoreAvailableNotFollowed(RuleState):
    """The server said MoreAvailable and the client never asked for the rest."""

    def __init__(self) -> None:
        # collection id -> (the flow that said MoreAvailable, the key to continue with, session flows seen then)
        self.pending: dict[str, tuple[int, str, int]] = {}

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        for step in _sync_steps(facts):
            self.pending.pop(step.collection_id, None)
            if step.more_available and step.response_sync_key:
                self.pending[step.collection_id] = (evidence.flow_id, step.response_sync_key, session.flows_seen)
        if facts.command == "Ping":  # a Ping syncs no collection: each one still waiting was left behind
            for collection_id in list(self.pending):
                self._report(collection_id, evidence.flow_id, session, "went on to Ping")

    def finish(self, session: SessionState) -> None:
        for collection_id, (_, _, seen) in list(self.pending.items()):
            if session.flows_seen > seen:  # the session went on after it
                self._report(collection_id, None, session, "never asked for the rest")

    def _report(self, collection_id: str, flow_id: int | None, session: SessionState, what: str) -> None:
        first, key, _ = self.pending.pop(collection_id)
        flows = (first,) if flow_id is None else (first, flow_id)
        session.report(
            (collection_id, first),
            flows,
            f"{session.name(collection_id)}: the server said more changes were waiting (MoreAvailable, SyncKey "
            f"{key}) and the client {what}.",
            "After MoreAvailable the client must Sync again with the new SyncKey until the server stops sending "
            "MoreAvailable; otherwise the folder stays incomplete on the device.",
        )


class WindowTooLarge(RuleState):
    """Syncs with a large WindowSize that keep failing; WindowSize above the 512 maximum."""

    def __init__(self) -> None:
        self.failures: dict[str, FlowList] = {}
        self.above_max_reported = False

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        facts = evidence.facts
        failed = transport_failed(facts) or (facts.http_status is not None and facts.http_status >= 500)
        for step in _sync_steps(facts):
            window = step.window_size
            if window is None:
                continue
            if window > WINDOW_SIZE_MAX and not self.above_max_reported:
                self.above_max_reported = True
                session.report(
                    "above-max",
                    (evidence.flow_id,),
                    f"{session.name(step.collection_id)}: the client asked for WindowSize {window}; the maximum is "
                    f"{WINDOW_SIZE_MAX}, and the server reads anything above it as {WINDOW_SIZE_MAX}.",
                    "Harmless by itself, but a sign the client ignores the spec's limits.",
                    severity="info",
                )
            if window <= WINDOW_SIZE_DEFAULT:
                continue
            if failed or step.status == 5:
                flows = self.failures.setdefault(step.collection_id, FlowList())
                flows.add(evidence.flow_id)
                if len(flows) >= WINDOW_FAILURES_MIN:
                    session.report(
                        ("failed", step.collection_id),  # a tuple: a CollectionId may be any text, "above-max" too
                        flows,
                        f"{session.name(step.collection_id)}: {plural(len(flows), 'Sync')} with WindowSize {window} "
                        "failed (no answer, a server error or Status 5).",
                        f"Large windows make large responses, which fail more on slow or flaky links and on busy "
                        f"servers: lower WindowSize (the default is {WINDOW_SIZE_DEFAULT}).",
                    )
            elif step.status == 1:
                self.failures.pop(step.collection_id, None)


class DuplicateItems(RuleState):
    """The client adds the same ClientId twice, or the server adds an item the client already has."""

    def __init__(self) -> None:
        self.client_ids: dict[str, dict[str, str | None]] = {}
        self.server_ids: dict[str, set[str]] = {}
        self.answered: dict[str, set[str]] = {}
        self.duplicates: dict[str, tuple[FlowList, list[str]]] = {}

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        for step in _sync_steps(evidence.facts):
            collection_id = step.collection_id
            sent = step.request_sync_key
            if sent == "0":
                self.client_ids.pop(collection_id, None)
                self.server_ids.pop(collection_id, None)
                self.answered.pop(collection_id, None)
            clients = self.client_ids.setdefault(collection_id, {})
            known = self.server_ids.setdefault(collection_id, set())
            answered = self.answered.setdefault(collection_id, set())
            replay = sent is not None and sent in answered  # a resent request gets the same answer again
            found = [f"ClientId {client_id}" for client_id in step.client_ids_added
                     if client_id in clients and clients[client_id] != sent]
            if not replay:
                found += [f"ServerId {server_id}" for server_id in step.server_ids_added if server_id in known]
            if found:
                flows, items = self.duplicates.setdefault(collection_id, (FlowList(), []))
                flows.add(evidence.flow_id)
                items.extend(found)
                session.report(
                    collection_id,
                    flows,
                    f"{session.name(collection_id)}: the same item was added twice ({id_list(items)}).",
                    "A ClientId added again means the client resent an Add it had already synced (duplicate items "
                    "on the server); a ServerId added again means the server sends an item the device already has "
                    "(duplicates on the device). Compare the two Adds.",
                )
            for client_id in step.client_ids_added:
                clients.setdefault(client_id, sent)
            if len(known) < MAX_TRACKED_ITEMS:
                known.update(step.server_ids_added)
                known.update(step.server_ids_assigned)
            known.difference_update(step.server_ids_deleted)
            if sent is not None and step.response_sync_key not in (None, sent):
                answered.add(sent)
