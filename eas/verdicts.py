"""The verdict on one exchange: ok, warning or failed, from HTTP, transport, decoding and every EAS Status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from types import MappingProxyType

from .exchange import Exchange, Problem
from .meanings.status import StatusTable, status_table_for


class Outcome(StrEnum):
    """How an exchange, or one of its statuses, went; the order of severity is ok < warning < failed."""

    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """0 for ok, 1 for warning, 2 for failed: the larger, the worse."""
        return _RANK[self]


_RANK: Mapping[Outcome, int] = MappingProxyType({Outcome.OK: 0, Outcome.WARNING: 1, Outcome.FAILED: 2})


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The most severe of `outcomes`; ok when there are none."""
    return max(outcomes, key=_RANK.__getitem__, default=Outcome.OK)


@dataclass(frozen=True, slots=True)
class JudgedStatus:
    """One EAS Status of a response, read with its own table.

    Attributes:
        path: the element path, as in StatusNote, e.g. "Sync/Collections/Collection/Status".
        code: the Status value.
        meaning: what the code means in the table of its place (or the common codes); None when unknown.
        outcome: ok, warning or failed, by that table's success and warning codes.
        table: the short name of the table of its place, e.g. "Sync collection".
        section: the spec section that defines the code: the table's, or MS-ASCMD 2.2.2 for a common code.
    """

    path: str
    code: int
    meaning: str | None
    outcome: Outcome
    table: str
    section: str

    def describe(self) -> str:
        """One line: `Sync/Collections/Collection/Status = 3 (invalid synchronization key: ...)`."""
        meaning = self.meaning if self.meaning is not None else f"unknown {self.table} status code"
        return f"{self.path} = {self.code} ({meaning})"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one exchange and why.

    Attributes:
        outcome: the worst of every judgement below.
        statuses: every EAS Status of the response, judged, in the order of the exchange's statuses.
        reasons: one line per judgement that is not ok, worst first (e.g. "HTTP 401 Unauthorized",
            "Sync/Collections/Collection/Status = 3 (invalid synchronization key: ...)").
    """

    outcome: Outcome
    statuses: tuple[JudgedStatus, ...]
    reasons: tuple[str, ...]

    @property
    def worst(self) -> JudgedStatus | None:
        """The status with the worst outcome (the first of equals); None when the response has none."""
        found: JudgedStatus | None = None
        for judged in self.statuses:
            if found is None or judged.outcome.rank > found.outcome.rank:
                found = judged
        return found


def judge_status(command: str | None, path: str, code: int, *, in_request: bool = False) -> JudgedStatus:
    """Read one Status code with the table of its place (`status_table_for`).

    A code in the table's (or, from 101 up, the common table's) ok set is ok, in its warning set a warning,
    anything else failed: each table names the codes that are no failure, and a code no table lists fails.
    """
    table = status_table_for(command, path, in_request=in_request)
    source: StatusTable | None = table.source_of(code)
    if source is None:
        return JudgedStatus(path, code, None, Outcome.FAILED, table.name, table.section)
    if code in source.ok:
        outcome = Outcome.OK
    elif code in source.warning:
        outcome = Outcome.WARNING
    else:
        outcome = Outcome.FAILED
    return JudgedStatus(path, code, source.meanings[code], outcome, table.name, source.section)


# HTTP status codes EAS adds to RFC 9110's (MS-ASHTTP 2.2.2.1.1; 449 from MS-ASPROV 3.2.5.1).
_EAS_HTTP_REASONS: Mapping[int, str] = MappingProxyType({449: "Retry With (provision first)", 451: "Redirect"})

# Rule 2's warnings: the protocol tells the client what to do next and nothing is lost.
_HTTP_WARNINGS = frozenset({449, 451})


def http_outcome(code: int) -> Outcome:
    """The outcome of an HTTP status alone (rule 2 of `judge`)."""
    if 200 <= code <= 299:
        return Outcome.OK
    if code in _HTTP_WARNINGS or code < 200 or 300 <= code <= 399:
        return Outcome.WARNING
    return Outcome.FAILED


def http_reason(code: int) -> str:
    """`HTTP 401 Unauthorized`: the code with its reason phrase, where one is known."""
    phrase = _EAS_HTTP_REASONS.get(code)
    if phrase is None:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
    return f"HTTP {code} {phrase}".rstrip()


# Rules of judge, in the order its reasons are listed among equals:
# 1. No response: a transport error (reset, timeout, refused) fails the exchange, with the error as the
#    reason ("no response: connection reset"). No response and no error recorded is a warning: the capture
#    may have ended before the answer came.
# 2. The HTTP status: 2xx is ok. 449 (provision first) and 451 (redirect to X-MS-Location) are warnings: the
#    protocol tells the client what to do next. 1xx and 3xx are warnings (EAS sends none; a proxy or a login
#    page may). 401, 403, every other 4xx and every 5xx fail; 503 too: the server refused the work, and
#    Retry-After says when to come back.
# 3. A transport error beside a response (the body cut short) fails the exchange.
# 4. Each EAS Status of the response is judged by the table of its place (judge_status): ok, warning, failed.
# 5. Problems: a part that could not be decoded (severity "error") fails; a rule broken by a decoded part
#    (severity "warning": the schema, a value) is a warning.
# 6. The outcome is the worst of all (ok when nothing was judged); reasons list every judgement that is not
#    ok, worst first.
def judge(exchange: Exchange, *, transport_error: str | None = None) -> Verdict:
    """The verdict on one exchange by the rules above.

    Args:
        exchange: the analysed exchange (`eas.exchange.analyze`).
        transport_error: what went wrong on the connection, when something did (mitmproxy's flow.error).
    """
    found: list[tuple[Outcome, str]] = []
    if exchange.http_status is None:
        if transport_error:
            found.append((Outcome.FAILED, f"no response: {transport_error}"))
        else:
            found.append((Outcome.WARNING, "no response recorded"))
    else:
        outcome = http_outcome(exchange.http_status)
        if outcome is not Outcome.OK:
            found.append((outcome, _with_redirect(http_reason(exchange.http_status), exchange)))
        if transport_error:
            found.append((Outcome.FAILED, f"transport error: {transport_error}"))
    statuses = tuple(judge_status(exchange.command, note.path, note.code) for note in exchange.eas_statuses)
    found += [(judged.outcome, judged.describe()) for judged in statuses if judged.outcome is not Outcome.OK]
    found += [(_problem_outcome(problem), f"{problem.where}: {problem.reason}") for problem in exchange.problems]
    found.sort(key=lambda item: -item[0].rank)  # stable: equals keep the order of the rules
    return Verdict(
        outcome=worst(outcome for outcome, _ in found),
        statuses=statuses,
        reasons=tuple(reason for _, reason in found),
    )


def _with_redirect(reason: str, exchange: Exchange) -> str:
    if exchange.redirect_location:
        return f"{reason} to {exchange.redirect_location}"
    return reason


def _problem_outcome(problem: Problem) -> Outcome:
    return Outcome.FAILED if problem.severity == "error" else Outcome.WARNING


__all__ = ["JudgedStatus", "Outcome", "Verdict", "http_outcome", "http_reason", "judge", "judge_status", "worst"]
