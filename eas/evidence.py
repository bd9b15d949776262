"""What a session diagnosis reads (FlowEvidence) and says (Finding), and the frame every diagnosis rule fits in."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from .facts import FlowFacts

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

# What a source may be unable to carry (FlowEvidence.missing): imported server logs have no bodies or headers.
EVIDENCE_PARTS = frozenset({"request_body", "response_body", "request_headers", "response_headers"})

# A finding lists the flows it rests on; a loop of thousands of flows keeps its first and its latest ones (the
# summary gives the count), so a finding stays small however long the loop runs.
MAX_FLOWS_KEPT = 100
# After an answer that tells the client to act (Status 12, Ping 7, a 451), one request may already have been on
# its way: the second one proves the client did not act on it.
IGNORED_AFTER = 2


class SessionKey(NamedTuple):
    """One device session: the same device of the same user against the same server."""

    host: str | None
    user: str | None
    device_id: str | None
    device_type: str | None


@dataclass(frozen=True, slots=True)
class FlowEvidence:
    """One flow as the diagnosis sees it.

    Attributes:
        flow_id: the flow's id in the capture.
        ts: when the request started (seconds since the epoch).
        user, device_id, device_type: from the query (or the credentials).
        host: the server the request went to (host[:port]).
        facts: the flow's FlowFacts.
        missing: parts the source could not carry ("request_body", "response_body", "request_headers",
            "response_headers"); rules that need one say they could not check.
        duration: seconds from the request to the end of the response, when known.
    """

    flow_id: int
    ts: float
    user: str | None
    device_id: str | None
    device_type: str | None
    host: str | None
    facts: FlowFacts
    missing: frozenset[str] = frozenset()
    duration: float | None = None

    @property
    def session(self) -> SessionKey:
        """The device session this flow belongs to."""
        return SessionKey(self.host, self.user, self.device_id, self.device_type)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something that went wrong (or is worth knowing) in a device session.

    Attributes:
        rule: the rule id (eas.rules.RULES), part of the interface: sync-key-invalid-loop, ...
        severity: "error", "warning" or "info".
        device_id, user: the session's device and user.
        flows: ids of the flows the finding rests on, in order (a long loop keeps its first and latest flows).
        summary: one sentence of what happened, folders named.
        advice: what to do about it.
        spec: the spec sections it rests on.
        host, device_type: the rest of the session key.
        checked: False when the rule could not be checked for lack of evidence (then severity is "info").
    """

    rule: str
    severity: Severity
    device_id: str | None
    user: str | None
    flows: tuple[int, ...]
    summary: str
    advice: str
    spec: str
    host: str | None = None
    device_type: str | None = None
    checked: bool = True

    def to_json(self) -> dict[str, Any]:
        """The finding as the CLI's --json prints it."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "device_id": self.device_id,
            "user": self.user,
            "flows": list(self.flows),
            "summary": self.summary,
            "advice": self.advice,
            "spec": self.spec,
            "host": self.host,
            "device_type": self.device_type,
            "checked": self.checked,
        }


class FlowList:
    """The flows of one finding, bounded: the first MAX_FLOWS_KEPT/2 and the latest MAX_FLOWS_KEPT/2."""

    __slots__ = ("head", "tail", "count")

    def __init__(self, flows: Iterable[int] = ()) -> None:
        self.head: list[int] = []
        self.tail: list[int] = []
        self.count = 0
        for flow_id in flows:
            self.add(flow_id)

    def add(self, flow_id: int) -> None:
        if flow_id in self.tail or flow_id in self.head:
            return
        self.count += 1
        if len(self.head) < MAX_FLOWS_KEPT // 2:
            self.head.append(flow_id)
            return
        self.tail.append(flow_id)
        if len(self.tail) > MAX_FLOWS_KEPT // 2:
            del self.tail[0]

    def ids(self) -> tuple[int, ...]:
        return tuple(self.head + self.tail)

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True, slots=True)
class Rule:
    """One diagnosis rule, as data.

    Attributes:
        id: the rule id (part of the interface).
        severity: the severity of its findings, unless a finding says otherwise.
        spec: the sections it rests on.
        detects: what it looks for, in one line.
        needs: the parts of a flow it reads (EVIDENCE_PARTS); without them it cannot check.
        state: makes the rule's per-session state (a RuleState).
        commands: the commands whose flows it reads; None for every flow.
    """

    id: str
    severity: Severity
    spec: str
    detects: str
    needs: frozenset[str]
    state: type[RuleState]
    commands: frozenset[str] | None = None


class RuleState:
    """A rule's memory for one session; `feed` sees each flow in time order, `finish` the end of the capture."""

    def feed(self, evidence: FlowEvidence, session: SessionState) -> None:
        raise NotImplementedError

    def finish(self, session: SessionState) -> None:
        """End of the evidence: report what only the end proves (most rules need nothing here)."""


@dataclass
class SessionState:
    """What a session knows while its flows go by: its key, folder names, its rules' states and findings."""

    key: SessionKey
    order: int
    folder_names: dict[str, str] = field(default_factory=dict)
    states: dict[str, RuleState] = field(default_factory=dict)
    active: list[tuple[Rule, RuleState]] = field(default_factory=list)  # the rules still checked, with states
    by_command: dict[str | None, list[tuple[Rule, RuleState]]] = field(default_factory=dict)  # `active` per command
    flows_seen: int = 0
    findings: dict[tuple[str, Hashable], Finding] = field(default_factory=dict)
    changed: list[tuple[str, Hashable]] = field(default_factory=list)
    unchecked: set[str] = field(default_factory=set)
    rule: Rule | None = None  # the rule being fed, so that `report` knows whose finding it is
    # The versions the server offered to anyone (an OPTIONS answer often carries no user or device).
    host_offered_versions: tuple[str, ...] = ()

    def name(self, collection_id: str) -> str:
        """A collection as people know it: its folder name with the id ("INBOX (2)"), or "collection ID"."""
        name = self.folder_names.get(collection_id)
        return f"{name} ({collection_id})" if name else f"collection {collection_id}"

    def report(
        self,
        episode: Hashable,
        flows: FlowList | Iterable[int],
        summary: str,
        advice: str,
        severity: Severity | None = None,
    ) -> None:
        """Record (or update) the current rule's finding for one episode (a loop, a collection, a code ...)."""
        rule = self.rule
        assert rule is not None, "report is called from a rule's feed or finish"
        ids = flows.ids() if isinstance(flows, FlowList) else tuple(dict.fromkeys(flows))
        key = (rule.id, episode)
        self.findings[key] = Finding(
            rule=rule.id,
            severity=severity or rule.severity,
            device_id=self.key.device_id,
            user=self.key.user,
            flows=ids,
            summary=summary,
            advice=advice,
            spec=rule.spec,
            host=self.key.host,
            device_type=self.key.device_type,
        )
        self.changed.append(key)

def transport_failed(facts: FlowFacts) -> bool:
    """No (complete) response: a transport error, or no HTTP status at all."""
    return facts.transport_error is not None or facts.http_status is None


def top_status(facts: FlowFacts) -> int | None:
    """The command's own top-level Status (FolderSync/Status, Ping/Status), not a nested one."""
    if facts.statuses and facts.statuses[0][0].count("/") == 1:
        return facts.statuses[0][1]
    return None


def plural(count: int, noun: str) -> str:
    """"1 time", "3 times"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def id_list(ids: Iterable[str], limit: int = 5) -> str:
    """A short list of ids for a summary: "a, b, c and 4 more"."""
    items = list(dict.fromkeys(ids))
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"
