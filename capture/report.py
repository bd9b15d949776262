"""The HTML report of a capture: sessions, diagnosis, a timeline per device session and every exchange, one file."""

from __future__ import annotations

# Theory of operation
# -------------------
# Nothing is analysed again: the page shows what the capture stored when it took each flow, the verdict columns
# and the diagnosis facts, as the viewer and `eas-inspector diagnose` do, so the three agree. The first pass keeps,
# per flow, only what the overview needs (FlowView: times, command, collections, the stored verdict); the
# diagnosis reads the capture's evidence (CaptureReader.evidence, time order), the same stream `diagnose` reads.
# The second pass writes the page section by section, reading each flow's stored annotated XML and headers as it
# goes, so memory holds the small values of every flow but the bodies of one at a time. The page is written to a
# 0600 temporary file beside the destination and renamed into place when complete.

import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from eas import __version__
from eas.diagnosis import diagnose
from eas.evidence import Finding, FlowEvidence
from eas.facts import folder_names
from eas.headers import explain_headers
from eas.verdicts import Outcome

from capture.model import CaptureError, FlowRecord, SessionRow
from capture.reader import CaptureReader
from capture.report_html import (
    FlowView,
    SessionView,
    exchange_details,
    exchanges_filter,
    findings_section,
    page_end,
    page_start,
    session_end,
    session_start,
    sessions_section,
)

OTHER_ANCHOR = "session-other"


@dataclass(frozen=True)
class ReportSummary:
    """What `write_report` wrote: how many flows, device sessions and findings."""

    flows: int
    sessions: int
    findings: int
    errors: int


# Why a flow shows as a warning when the capture holds no verdict for it (stored without analysis, or its verdict
# columns are damaged): the page does not judge it again, it says so.
NO_VERDICT = "the capture holds no verdict for this flow (stored without analysis, or its verdict is damaged)"


def _flow_view(record: FlowRecord) -> FlowView:
    """The flow as the overview shows it, from the capture's stored verdict and facts."""
    row = record.row
    if record.facts is not None:
        collections = tuple(dict.fromkeys(step.collection_id for step in record.facts.collections))
    else:
        collections = record.collection_ids
    outcome, reasons = (row.outcome, record.reasons) if row.outcome is not None else (Outcome.WARNING, (NO_VERDICT,))
    return FlowView(
        flow_id=row.id,
        ts_start=row.ts_start,
        ts_end=row.ts_end,
        method=row.method,
        url=row.url,
        command=row.command,
        http_status=row.http_status,
        collections=collections,
        outcome=outcome,
        reasons=reasons,
        statuses=tuple(judged.describe() for judged in row.statuses),
    )


def _session_label(session: SessionRow) -> str:
    device = " ".join(part for part in (session.device_type, session.device_id) if part) or "no device id"
    return f"{session.user or 'no user'} · {device} @ {session.host}"


def _session_details(session: SessionRow) -> tuple[tuple[str, str], ...]:
    return (
        ("server", session.host),
        ("user", session.user or "(none)"),
        ("device id", session.device_id or "(none)"),
        ("device type", session.device_type or "(none)"),
        ("protocol versions", session.protocol_versions or "(none)"),
        ("flows", str(session.flow_count)),
    )


@dataclass
class _Collected:
    sessions: list[SessionView]
    findings: list[Finding]
    session_of_flow: dict[int, SessionView]
    flow_count: int


def _collect(reader: CaptureReader) -> _Collected:
    """The first pass: every flow's view, the diagnosis, and the sessions with their folder names."""
    views: dict[int | None, list[FlowView]] = defaultdict(list)
    session_of: dict[int, int | None] = {}
    flow_count = 0
    for record in reader.records():
        flow_count += 1
        views[record.row.session_id].append(_flow_view(record))
        session_of[record.row.id] = record.row.session_id
    everything = list(reader.evidence())
    findings = diagnose(everything)
    evidence: dict[int | None, list[FlowEvidence]] = defaultdict(list)
    for item in everything:
        evidence[session_of.get(item.flow_id)].append(item)
    rows = sorted(reader.sessions(), key=lambda session: (session.first_seen, session.id))
    sessions: list[SessionView] = []
    for row in rows:
        sessions.append(_session_view(f"session-{row.id}", _session_label(row), _session_details(row),
                                      views.pop(row.id, []), evidence.get(row.id, [])))
    # Flows no device session claims (a session id the capture does not list counts as none).
    leftover = [view for flows in views.values() for view in flows]
    if leftover:
        details = (("flows", str(len(leftover))),
                   ("why here", "no user or device id: OPTIONS, Autodiscover and other requests"))
        others = [item for key, items in evidence.items() if key not in {row.id for row in rows} for item in items]
        sessions.append(_session_view(OTHER_ANCHOR, "Flows outside device sessions", details, leftover, others))
    session_of_flow = {flow.flow_id: session for session in sessions for flow in session.flows}
    return _Collected(sessions, findings, session_of_flow, flow_count)


def _session_view(anchor: str, label: str, details: tuple[tuple[str, str], ...], flows: list[FlowView],
                  evidence: list[FlowEvidence]) -> SessionView:
    flows.sort(key=lambda flow: (flow.ts_start, flow.flow_id))
    evidence.sort(key=lambda item: (item.ts, item.flow_id))
    return SessionView(anchor, label, details, tuple(flows), folder_names(item.facts for item in evidence))


def _exchanges(reader: CaptureReader, session: SessionView) -> Iterator[str]:
    """The second pass: each exchange of a session, read from the capture one at a time."""
    for flow in session.flows:
        record = reader.flow(flow.flow_id)
        request_text, response_text = record.request_text, record.response_text
        yield exchange_details(
            flow,
            session,
            request_headers=explain_headers(record.request_headers, response=False, request_time=flow.ts_start),
            response_headers=None if record.response_headers is None
            else explain_headers(record.response_headers, response=True),
            request_text=request_text,
            response_text=response_text,
            request_size=record.row.request_size,
            response_size=record.row.response_size,
            error=record.error,
        )


def _write(out: TextIO, reader: CaptureReader, collected: _Collected, title: str,
           facts: list[tuple[str, str]]) -> None:
    out.write(page_start(title, facts))
    out.write(sessions_section(collected.sessions))
    out.write(findings_section(collected.findings, lambda finding: next(
        (collected.session_of_flow[flow_id] for flow_id in finding.flows if flow_id in collected.session_of_flow),
        None)))
    if collected.sessions:
        out.write(exchanges_filter())
    for session in collected.sessions:
        out.write(session_start(session))
        for part in _exchanges(reader, session):
            out.write(part)
        out.write(session_end())
    out.write(page_end())


def write_report(
    capture_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    source_label: str | None = None,
) -> ReportSummary:
    """Write the HTML report of a capture (mode 0600), replacing `out_path` only when complete.

    Args:
        capture_path: the capture to read.
        out_path: the .html file to write.
        source_label: what the page calls its source (default: the capture's file name); a shared report passes
            a label that names no one.

    Raises:
        CaptureError: the capture cannot be read, or the report cannot be written.
    """
    destination = Path(out_path)
    with CaptureReader(capture_path) as reader:
        collected = _collect(reader)
        errors = sum(1 for finding in collected.findings if finding.severity == "error")
        facts = [
            ("source", source_label if source_label is not None else Path(capture_path).name),
            ("flows", str(collected.flow_count)),
            ("device sessions", str(sum(1 for s in collected.sessions if s.anchor != OTHER_ANCHOR))),
            ("findings", f"{len(collected.findings)} ({errors} {'error' if errors == 1 else 'errors'})"),
            ("made by", f"eas-inspector {__version__} on {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"),
        ]
        directory = destination.parent if str(destination.parent) else Path(".")
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=directory)
        except OSError as err:
            raise CaptureError(f"{destination}: cannot write: {err.strerror or err}") from err
        try:
            # mkstemp makes the file 0600; the page may hold mailbox content and names.
            with os.fdopen(handle, "w", encoding="utf-8", errors="replace", newline="\n") as out:
                _write(out, reader, collected, "ActiveSync report", facts)
            os.replace(temporary, destination)
        except OSError as err:
            Path(temporary).unlink(missing_ok=True)
            raise CaptureError(f"{destination}: cannot write: {err.strerror or err}") from err
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    sessions = sum(1 for session in collected.sessions if session.anchor != OTHER_ANCHOR)
    return ReportSummary(collected.flow_count, sessions, len(collected.findings), errors)
