"""Request classification and the flow.metadata keys: what the addon writes into a flow, and its summary line."""

from __future__ import annotations

from typing import Any

from mitmproxy import flow, http

import eas
from eas.constants import path_kind
from eas.summary import SummaryParts, summary_line

from capture.analysis import problem_count
from eas.wiretext import shown

# flow.metadata keys; small scalars so `~meta`, mitmweb and .mitm files carry them.
META_KIND = "activesync.kind"  # "eas" | "autodiscover"
META_COMMAND = "activesync.command"
META_USER = "activesync.user"
META_DEVICE = "activesync.device"
META_DEVICE_TYPE = "activesync.device_type"
META_VERSION = "activesync.version"
META_HTTP_STATUS = "activesync.http_status"
META_OUTCOME = "activesync.outcome"  # ok | warning | failed (eas.verdicts)
META_STATUS = "activesync.status"  # the worst EAS Status of the response, not the first
META_STATUS_PATH = "activesync.status_path"
META_STATUS_MEANING = "activesync.status_meaning"  # from the Status' own table
META_PROBLEMS = "activesync.problems"  # judgements that are not ok: decode problems, HTTP, statuses, transport
META_PROBLEM = "activesync.problem"  # the worst of them
META_FINDING = "activesync.finding"  # "rule: summary" of the diagnosis findings this flow completes
META_OFFERS = "activesync.offers"  # the protocol versions an OPTIONS answer offers, comma-separated
META_REDIRECT = "activesync.redirect"  # where a 451 sends the client (X-MS-Location)
META_SUMMARY = "activesync.summary"
META_MARKED = "activesync.marked"  # the mark the addon set (a user's own mark is never replaced)
META_ERROR = "activesync.error"
ANALYSIS_KEYS = (META_HTTP_STATUS, META_OUTCOME, META_STATUS, META_STATUS_PATH, META_STATUS_MEANING, META_PROBLEMS,
                 META_PROBLEM, META_FINDING, META_OFFERS, META_REDIRECT)  # fmt: skip

# mitmproxy marks (emoji short codes) for flows the analysis judged failed, and for a flow that completes a finding.
MARK_FAILED = ":exclamation:"
MARK_FINDING = ":warning:"


def flow_kind(f: flow.Flow) -> str | None:
    """The EAS kind of a flow (see `eas.constants.path_kind`), None for non-HTTP flows and non-EAS requests."""
    if not isinstance(f, http.HTTPFlow):
        return None
    kind = f.metadata.get(META_KIND)
    if isinstance(kind, str):
        return kind
    return path_kind(f.request.path)


def header_pairs(headers: http.Headers) -> list[tuple[str, str]]:
    """Headers as (name, value) strings in wire order, repeated names kept."""
    return list(headers.items(multi=True))


def request_metadata(kind: str, method: str, path: str, version: str | None) -> dict[str, Any]:
    """What the request line and the MS-ASProtocolVersion header say (no body decoding: cheap enough for
    every flow, inline; a device repeats the same few request lines, so they are remembered)."""
    key = (kind, method, path, version)
    known = _request_metadata_memo.get(key)
    if known is None:
        if len(_request_metadata_memo) >= REQUEST_METADATA_MEMO_SIZE:
            _request_metadata_memo.clear()
        known = _request_metadata_memo[key] = tuple(_request_metadata(kind, method, path, version).items())
    return dict(known)


# request_metadata's memo: (kind, method, path, version) -> the values as items. Bounded: a client that puts a
# counter in every query would otherwise grow it without end.
REQUEST_METADATA_MEMO_SIZE = 1024
_request_metadata_memo: dict[tuple[str, str, str, str | None], tuple[tuple[str, Any], ...]] = {}


def _request_metadata(kind: str, method: str, path: str, version: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {META_KIND: kind}
    if kind == "autodiscover":
        values[META_COMMAND] = "Autodiscover"
        return values
    query = path.partition("?")[2]
    if query:
        try:
            decoded = eas.decode_query(query)
        except eas.EasError:
            decoded = None
        if decoded is not None:
            values[META_COMMAND] = decoded.command
            values[META_USER] = decoded.user
            values[META_DEVICE] = decoded.device_id
            values[META_DEVICE_TYPE] = decoded.device_type
            version = decoded.protocol_version or version
    elif method.upper() == "OPTIONS":
        values[META_COMMAND] = "Options"
    values[META_VERSION] = version
    return _metadata(values)


def analysis_metadata(kind: str, exchange: eas.Exchange, verdict: eas.Verdict) -> dict[str, Any]:
    """The flow.metadata entries of a full analysis and its verdict; keys with no value are left out."""
    worst = verdict.worst
    values: dict[str, Any] = {
        META_KIND: kind,
        META_COMMAND: exchange.command,
        META_USER: exchange.user,
        META_DEVICE: exchange.device_id,
        META_DEVICE_TYPE: exchange.device_type,
        META_VERSION: exchange.protocol_version,
        META_HTTP_STATUS: exchange.http_status,
        META_OUTCOME: str(verdict.outcome),
        META_STATUS: worst.code if worst else None,
        META_STATUS_PATH: worst.path if worst else None,
        META_STATUS_MEANING: worst.meaning if worst else None,
        META_PROBLEMS: problem_count(verdict),
        META_PROBLEM: verdict.reasons[0] if verdict.reasons else None,
        META_OFFERS: ",".join(exchange.offered_versions) or None,
        META_REDIRECT: exchange.redirect_location,
    }
    return _metadata(values)


def _metadata(values: dict[str, Any]) -> dict[str, Any]:
    """The entries that have a value, text as people see it: bytes that were not UTF-8 as \\xNN (mitmproxy's flow
    files and its UI take only valid Unicode; the capture keeps the exact bytes)."""
    return {
        key: shown(value) if isinstance(value, str) else value for key, value in values.items() if value is not None
    }


def _word(value: Any) -> str | None:
    """A metadata value as text for the summary (a flow file may hold any type), None when absent or empty."""
    return None if value is None or value == "" else str(value)


def summary_of(values: Any) -> str:
    """The flow comment: the one summary line (eas.summary) of the flow's metadata values; before the analysis
    the request's words only."""
    problems = values.get(META_PROBLEMS) or 0
    return summary_line(SummaryParts(
        kind=_word(values.get(META_KIND)),
        command=_word(values.get(META_COMMAND)),
        version=_word(values.get(META_VERSION)),
        user=_word(values.get(META_USER)),
        device_id=_word(values.get(META_DEVICE)),
        outcome=_word(values.get(META_OUTCOME)),
        http_status=values.get(META_HTTP_STATUS),
        status_path=_word(values.get(META_STATUS_PATH)),
        status_code=values.get(META_STATUS),
        status_meaning=_word(values.get(META_STATUS_MEANING)),
        worst_reason=_word(values.get(META_PROBLEM)),
        problems=problems if isinstance(problems, int) else 0,
        offered_versions=_word(values.get(META_OFFERS)),
        redirect=_word(values.get(META_REDIRECT)),
        finding=_word(values.get(META_FINDING)),
    ))


def annotated(
    metadata: dict[Any, Any], comment: str, marked: str, values: dict[str, Any], *, complete: bool
) -> tuple[str, str]:
    """Write metadata values into `metadata` (in place) and return the flow's comment and mark after them.

    The summary becomes the comment unless the user wrote one; a failed outcome marks the flow MARK_FAILED and a
    finding MARK_FINDING, unless the user marked it. The addon applies this to a live flow, and its worker to
    the copy the capture stores, so both say the same.

    Args:
        complete: the values come from a full analysis, so earlier analysis keys they lack are dropped.
    """
    previous_summary = metadata.get(META_SUMMARY)
    if complete:
        for key in ANALYSIS_KEYS:
            metadata.pop(key, None)
    metadata.update(values)
    summary = summary_of(metadata)
    metadata[META_SUMMARY] = summary
    if not comment or comment == previous_summary:
        comment = summary
    ours = metadata.get(META_MARKED)
    if not marked or marked == ours:
        mark = MARK_FINDING if metadata.get(META_FINDING) else MARK_FAILED if metadata.get(META_OUTCOME) == "failed" else ""
        if mark or ours:
            marked = mark
            metadata[META_MARKED] = mark
    return comment, marked


def apply_metadata(f: http.HTTPFlow, values: dict[str, Any], *, complete: bool) -> None:
    """Write metadata values (the summary comment and the mark, see `annotated`) into the flow."""
    f.comment, f.marked = annotated(f.metadata, f.comment, f.marked, values, complete=complete)

