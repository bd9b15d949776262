"""Diagnosis of device sessions: run every rule (eas.rules) over each session's flows and return the findings."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from itertools import pairwise

from .evidence import (
    EVIDENCE_PARTS,
    SEVERITY_RANK,
    Finding,
    FlowEvidence,
    Rule,
    SessionKey,
    SessionState,
    Severity,
)
from .facts import apply_folder_changes
from .rules import RULE_IDS, RULES

__all__ = [
    "Diagnoser",
    "Finding",
    "FlowEvidence",
    "RULES",
    "RULE_IDS",
    "Rule",
    "SessionKey",
    "Severity",
    "diagnose",
    "unchecked",
]

# ----------------------------------------------------------------------------------------------------------------
# Theory of operation: flows are grouped by device session (host, user, device id, device type); each session keeps
# one small state per rule and sees its flows in time order. A rule reports a finding per episode (a loop, a
# collection, a status code); a later flow of the same episode replaces the finding with a longer one, so a live
# proxy can mark each flow that adds to it and a batch run keeps only the last version. Nothing keeps the flows
# themselves: memory grows with sessions, collections and open episodes, not with the number of flows.

_PART_NAMES = {
    "request_body": "request bodies",
    "response_body": "response bodies",
    "request_headers": "request headers",
    "response_headers": "response headers",
}


def unchecked(rule: Rule, missing: Iterable[str], session: SessionKey, flow_id: int) -> Finding:
    """The info finding that says a rule could not be checked: the source lacks what the rule reads.

    Args:
        rule: the rule.
        missing: the parts the source does not carry that the rule needs.
        session: the device session.
        flow_id: the first flow that lacks them.
    """
    parts = sorted(set(missing) & EVIDENCE_PARTS)
    described = ", ".join(_PART_NAMES[part] for part in parts)
    return Finding(
        rule=rule.id,
        severity="info",
        device_id=session.device_id,
        user=session.user,
        flows=(flow_id,),
        summary=f"Not checked ({rule.detects}): the source has no {described}.",
        advice="Capture the traffic through the proxy (eas-inspector's mitmproxy addon) to check this.",
        spec=rule.spec,
        host=session.host,
        device_type=session.device_type,
        checked=False,
    )


class Diagnoser:
    """Incremental diagnosis: feed flows as they complete (each session's in time order), read findings any time."""

    def __init__(self, rules: Sequence[Rule] = RULES) -> None:
        self._rules = tuple(rules)
        self._sessions: dict[SessionKey, SessionState] = {}
        self._offered_by_host: dict[str | None, tuple[str, ...]] = {}

    def feed(self, evidence: FlowEvidence) -> list[Finding]:
        """Take one flow; return the findings it completes or extends (each in its latest form)."""
        session = self._session(evidence.session)
        if evidence.facts.offered_versions:
            self._offered_by_host[evidence.host] = evidence.facts.offered_versions
        session.host_offered_versions = self._offered_by_host.get(evidence.host, ())
        if evidence.missing:
            self._note_unchecked(evidence, session)
        session.flows_seen += 1
        command = evidence.facts.command
        reading = session.by_command.get(command)
        if reading is None:
            reading = [(rule, state) for rule, state in session.active
                       if rule.commands is None or command in rule.commands]
            session.by_command[command] = reading
        for rule, state in reading:
            session.rule = rule
            state.feed(evidence, session)
        session.rule = None
        # Folder names after the rules: a FolderSync names folders for the flows after it.
        apply_folder_changes(session.folder_names, evidence.facts)
        return self._take_changed(session)

    def finish(self) -> list[Finding]:
        """The evidence is complete: run the checks only the end can prove; return the findings they add."""
        changed: list[Finding] = []
        for session in self._sessions.values():
            for rule, state in session.active:
                session.rule = rule
                state.finish(session)
            session.rule = None
            changed += self._take_changed(session)
        return changed

    def findings(self) -> list[Finding]:
        """Every finding so far: sessions with the worst findings first, then most severe first, then by flow."""
        ordered: list[tuple[tuple[int, int, int, int], Finding]] = []
        for session in self._sessions.values():
            if not session.findings:
                continue
            worst = min(SEVERITY_RANK[finding.severity] for finding in session.findings.values())
            for finding in session.findings.values():
                first_flow = finding.flows[0] if finding.flows else -1
                ordered.append(((worst, session.order, SEVERITY_RANK[finding.severity], first_flow), finding))
        ordered.sort(key=lambda item: item[0])
        return [finding for _, finding in ordered]

    def folder_names(self, session: SessionKey) -> dict[str, str]:
        """The folder names a session knows so far (collection id -> display name)."""
        state = self._sessions.get(session)
        return dict(state.folder_names) if state is not None else {}

    def _session(self, key: SessionKey) -> SessionState:
        session = self._sessions.get(key)
        if session is None:
            session = SessionState(key=key, order=len(self._sessions))
            session.states = {rule.id: rule.state() for rule in self._rules}
            session.active = [(rule, session.states[rule.id]) for rule in self._rules]
            self._sessions[key] = session
        return session

    def _note_unchecked(self, evidence: FlowEvidence, session: SessionState) -> None:
        command = evidence.facts.command
        for rule in self._rules:
            if rule.commands is not None and command not in rule.commands:
                continue  # a rule never reads this command's flows: what they lack does not stop it
            lacking = rule.needs & evidence.missing
            if lacking and rule.id not in session.unchecked:
                session.unchecked.add(rule.id)
                key: tuple[str, Hashable] = (rule.id, "unchecked")
                session.findings[key] = unchecked(rule, lacking, session.key, evidence.flow_id)
                session.changed.append(key)
                session.active = [(active, state) for active, state in session.active if active.id != rule.id]
                session.by_command.clear()

    @staticmethod
    def _take_changed(session: SessionState) -> list[Finding]:
        if not session.changed:
            return []
        keys = list(dict.fromkeys(session.changed))
        session.changed.clear()
        return [session.findings[key] for key in keys]


def _in_time_order(flows: Sequence[FlowEvidence]) -> bool:
    for earlier, later in pairwise(flows):
        if later.ts < earlier.ts or (later.ts == earlier.ts and later.flow_id < earlier.flow_id):
            return False
    return True


def diagnose(evidence: Iterable[FlowEvidence], rules: Sequence[Rule] = RULES) -> list[Finding]:
    """Diagnose every device session in `evidence` (any order; sorted here by time, then flow id).

    Returns:
        The findings, sessions with the worst findings first, most severe first within a session. A caller with
        flows already in time order and very many of them can feed a Diagnoser directly instead of holding them.
    """
    diagnoser = Diagnoser(rules)
    flows = list(evidence)
    # A capture reads its flows in time order already; sorting then only costs time (and a key per flow).
    if not _in_time_order(flows):
        flows.sort(key=lambda flow: (flow.ts, flow.flow_id))
    for item in flows:
        diagnoser.feed(item)
    diagnoser.finish()
    return diagnoser.findings()
