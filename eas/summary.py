"""The one-line summary of an exchange, as the mitmproxy comment, `explain` and the viewer's search index say it."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Exchange
from .verdicts import Verdict, judge


@dataclass(frozen=True, slots=True)
class SummaryParts:
    """What the line is made of. The addon has these as flow.metadata values (a flow file may hold no more),
    `exchange_parts` takes them from an analysed exchange and its verdict.

    Attributes:
        kind: "eas", "autodiscover", or None (a request that is neither).
        method: the request method, said where no command names the request (None: not known).
        command, version, user, device_id: from the request's query and headers.
        outcome: the verdict ("ok", "warning", "failed"); None before the analysis: the line then ends after
            the request's words.
        http_status: the response's status; None without a response.
        status_path, status_code, status_meaning: the response's worst EAS Status (eas.verdicts.Verdict.worst).
        worst_reason: what decided the outcome (the verdict's first reason).
        problems: how many judgements are not ok.
        offered_versions: the versions an OPTIONS answer offers, comma-separated.
        redirect: where a 451 sends the client (X-MS-Location).
        finding: the diagnosis findings the flow completes ("rule: summary; ...").
    """

    kind: str | None
    method: str | None = None
    command: str | None = None
    version: str | None = None
    user: str | None = None
    device_id: str | None = None
    outcome: str | None = None
    http_status: int | None = None
    status_path: str | None = None
    status_code: int | None = None
    status_meaning: str | None = None
    worst_reason: str | None = None
    problems: int = 0
    offered_versions: str | None = None
    redirect: str | None = None
    finding: str | None = None


def summary_line(parts: SummaryParts) -> str:
    """One line: kind, command, version, user, device, then (once analysed) the HTTP status, the outcome and what
    decided it (the worst Status, else the worst reason), what the server offers or redirects to, the number of
    problems and the findings:
    `EAS Sync 14.1 user=alice device=X HTTP 200 failed: Sync/Collections/Collection/Status=3 (invalid ...)`."""
    kinds = {"eas": "EAS", "autodiscover": "Autodiscover"}
    words = [kinds.get(parts.kind or "", parts.method or "HTTP")]
    if parts.command and parts.command != "Autodiscover":
        words.append(parts.command)
    elif parts.kind == "eas" and parts.method:
        words.append(parts.method)
    if parts.version:
        words.append(parts.version)
    if parts.user:
        words.append(f"user={parts.user}")
    if parts.device_id:
        words.append(f"device={parts.device_id}")
    if parts.outcome is None:
        return " ".join(words)
    words.append(f"HTTP {parts.http_status}" if parts.http_status is not None else "no response")
    words.append(parts.outcome)
    code, reason = parts.status_code, parts.worst_reason
    shown_status = f"{parts.status_path or 'Status'}={code}" + (f" ({parts.status_meaning})" if parts.status_meaning else "")
    if parts.outcome != "ok" and code is not None and reason and reason.startswith(str(parts.status_path)):
        words[-1] += f": {shown_status}"  # the worst judgement is that Status
    elif parts.outcome != "ok" and reason and not reason.startswith(f"HTTP {parts.http_status}"):
        words[-1] += f": {reason}"
    elif code is not None:
        words.append(shown_status)
    if parts.offered_versions:
        words.append(f"offers {parts.offered_versions}")
    if parts.redirect:
        words.append(f"-> {parts.redirect}")
    if parts.problems > 1:
        words.append(f"| {parts.problems} problems")
    if parts.finding:
        words.append(f"| finding {parts.finding}")
    return " ".join(words)


def exchange_kind(exchange: Exchange) -> str | None:
    """"autodiscover", "eas", or None for a request that is neither."""
    if exchange.is_autodiscover:
        return "autodiscover"
    return "eas" if exchange.is_eas else None


def exchange_parts(exchange: Exchange, verdict: Verdict, *, finding: str | None = None) -> SummaryParts:
    """The summary's parts of an analysed exchange and its verdict."""
    worst = verdict.worst
    return SummaryParts(
        kind=exchange_kind(exchange),
        method=exchange.method,
        command=exchange.command,
        version=exchange.protocol_version,
        user=exchange.user,
        device_id=exchange.device_id,
        outcome=str(verdict.outcome),
        http_status=exchange.http_status,
        status_path=worst.path if worst else None,
        status_code=worst.code if worst else None,
        status_meaning=worst.meaning if worst else None,
        worst_reason=verdict.reasons[0] if verdict.reasons else None,
        problems=len(verdict.reasons),
        offered_versions=",".join(exchange.offered_versions) or None,
        redirect=exchange.redirect_location,
        finding=finding,
    )


def summarize(exchange: Exchange, *, transport_error: str | None = None, verdict: Verdict | None = None) -> str:
    """The summary line of an analysed exchange (judged here unless its `verdict` is given)."""
    if verdict is None:
        verdict = judge(exchange, transport_error=transport_error)
    return summary_line(exchange_parts(exchange, verdict))


__all__ = ["SummaryParts", "exchange_kind", "exchange_parts", "summarize", "summary_line"]
