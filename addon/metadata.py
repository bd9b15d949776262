"""Request classification and the flow.metadata keys: what the addon writes into a flow, and its summary line."""

from __future__ import annotations

from typing import Any

from mitmproxy import flow, http

import eas
from eas.constants import path_kind
from eas.wiretext import shown

# flow.metadata keys; small scalars so `~meta`, mitmweb and .mitm files carry them.
META_KIND = "activesync.kind"  # "eas" | "autodiscover"
META_COMMAND = "activesync.command"
META_USER = "activesync.user"
META_DEVICE = "activesync.device"
META_DEVICE_TYPE = "activesync.device_type"
META_VERSION = "activesync.version"
META_STATUS = "activesync.status"
META_STATUS_MEANING = "activesync.status_meaning"
META_PROBLEMS = "activesync.problems"
META_PROBLEM = "activesync.problem"
META_SUMMARY = "activesync.summary"
META_ERROR = "activesync.error"
ANALYSIS_KEYS = (META_STATUS, META_STATUS_MEANING, META_PROBLEMS, META_PROBLEM)


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


def analysis_metadata(kind: str, exchange: eas.Exchange) -> dict[str, Any]:
    """The flow.metadata entries of a full analysis; keys with no value are left out."""
    first = exchange.problems[0] if exchange.problems else None
    values: dict[str, Any] = {
        META_KIND: kind,
        META_COMMAND: exchange.command,
        META_USER: exchange.user,
        META_DEVICE: exchange.device_id,
        META_DEVICE_TYPE: exchange.device_type,
        META_VERSION: exchange.protocol_version,
        META_STATUS: exchange.eas_status,
        META_STATUS_MEANING: exchange.eas_statuses[0].meaning if exchange.eas_statuses else None,
        META_PROBLEMS: len(exchange.problems),
        META_PROBLEM: f"{first.where}: {first.reason}" if first else None,
    }
    return _metadata(values)


def _metadata(values: dict[str, Any]) -> dict[str, Any]:
    """The entries that have a value, text as people see it: bytes that were not UTF-8 as \\xNN (mitmproxy's flow
    files and its UI take only valid Unicode; the capture keeps the exact bytes)."""
    return {
        key: shown(value) if isinstance(value, str) else value for key, value in values.items() if value is not None
    }


def summary_of(values: Any) -> str:
    """One line for flow.comment: command, version, user, device, EAS status and the first problem."""
    words = ["EAS" if values.get(META_KIND) == "eas" else "Autodiscover"]
    if values.get(META_COMMAND) and values.get(META_COMMAND) != "Autodiscover":
        words.append(str(values[META_COMMAND]))
    if values.get(META_VERSION):
        words.append(str(values[META_VERSION]))
    if values.get(META_USER):
        words.append(f"user={values[META_USER]}")
    if values.get(META_DEVICE):
        words.append(f"device={values[META_DEVICE]}")
    if values.get(META_STATUS) is not None:
        meaning = values.get(META_STATUS_MEANING)
        words.append(f"status={values[META_STATUS]}" + (f" ({meaning})" if meaning else ""))
    count = values.get(META_PROBLEMS) or 0
    if count:
        words.append(f"| {count} problem{'s' if count > 1 else ''}: {values.get(META_PROBLEM)}")
    return " ".join(words)


def apply_metadata(f: http.HTTPFlow, values: dict[str, Any], *, complete: bool) -> None:
    """Write metadata values (and the summary comment, unless the user wrote one) into the flow.

    Args:
        complete: the values come from a full analysis, so earlier analysis keys they lack are dropped.
    """
    previous_summary = f.metadata.get(META_SUMMARY)
    if complete:
        for key in ANALYSIS_KEYS:
            f.metadata.pop(key, None)
    f.metadata.update(values)
    summary = summary_of(f.metadata)
    f.metadata[META_SUMMARY] = summary
    if not f.comment or f.comment == previous_summary:
        f.comment = summary

