"""What the capture keeps of a flow's analysis (eas.analyze): the indexed text, the search words and the verdict columns."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import eas
from eas.exchange import Exchange
from eas.facts import FlowFacts
from eas.summary import summarize
from eas.verdicts import JudgedStatus, Verdict, judge

# Base64 and hex runs (attachments, ItemOperations data) are not words anyone searches for, and would bloat the
# index; they are left out of the indexed text, and so is anything beyond MAX_INDEXED_CHARS of a body.
MAX_INDEXED_CHARS = 256 * 1024
_OPAQUE_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_OPAQUE_RUN = re.compile(r"[A-Za-z0-9+/=]{512,}")
# The regex walks every character even where no run is; this probe (every opaque character as "a", anything
# else, non-ASCII included, as a space) answers in C whether a run can be there at all.
_OPAQUE_TABLE = bytes(0x61 if byte in _OPAQUE_CHARS else 0x20 for byte in range(256))
_OPAQUE_PROBE = b"a" * 512


def indexed_text(body: Any) -> str:
    """The decoded body as indexed for search: its annotated XML or readable text, shortened."""
    if body is None:
        return ""
    text = str(body.xml or body.text or "")
    if _OPAQUE_PROBE in text.encode("utf-8", "surrogatepass").translate(_OPAQUE_TABLE):
        text = _OPAQUE_RUN.sub(lambda run: f"[{len(run.group())} characters not indexed]", text)
    if len(text) > MAX_INDEXED_CHARS:
        text = text[:MAX_INDEXED_CHARS] + f"\n[{len(text) - MAX_INDEXED_CHARS} more characters not indexed]"
    return text



def search_words(host: str, exchange: Exchange, error: str | None, verdict: Verdict) -> str:
    """The words a full-text search finds a flow by, beside its URL and bodies (the `summary` column of
    `flow_text`): the summary line (eas.summary: command, user, device, version, HTTP status, outcome and the
    worst Status with its meaning), then the host, the device type, the transport error and every reason of the
    verdict (decode problems included)."""
    return " ".join(
        part
        for part in (summarize(exchange, verdict=verdict), host, exchange.device_type, error, *verdict.reasons)
        if part
    )


# ---------------------------------------------------------------------------------------------------------------
# The verdict columns: what the capture stores of eas.verdicts and eas.facts, computed once per flow.


def flow_facts(exchange: Exchange, error: str | None) -> FlowFacts | None:
    """The exchange's diagnosis facts with the flow's transport error (which only the flow knows)."""
    facts = exchange.facts
    if facts is None:
        return None
    if error and facts.transport_error != error:
        facts = dataclasses.replace(facts, transport_error=error)
    return facts


def response_sync_key(facts: FlowFacts | None) -> str | None:
    """The SyncKey the server answered: the first collection's (Sync, GetItemEstimate), else FolderSync's."""
    if facts is None:
        return None
    for step in facts.collections:
        if step.response_sync_key is not None:
            return step.response_sync_key
    return facts.folder_sync_key_response


def json_array(items: Iterable[Any]) -> str:
    """An array column's JSON (`json.dumps` of the items as a list); `[]` straight away for none, as most flows
    have no problems, collection ids or sync keys."""
    values = list(items)
    return json.dumps(values) if values else "[]"


def statuses_json(statuses: Sequence[JudgedStatus]) -> str:
    """The `statuses` column: every judged Status as {path, code, meaning, ok, outcome, table, section}."""
    return json.dumps([
        {"path": s.path, "code": s.code, "meaning": s.meaning, "ok": s.outcome == "ok", "outcome": str(s.outcome),
         "table": s.table, "section": s.section}
        for s in statuses
    ])


def statuses_from_json(text: str | None) -> tuple[JudgedStatus, ...]:
    """The judged statuses of a `statuses` column (see `statuses_json`)."""
    if not text:
        return ()
    return tuple(
        JudgedStatus(str(item["path"]), int(item["code"]), item.get("meaning"), eas.Outcome(item["outcome"]),
                     str(item.get("table") or ""), str(item.get("section") or ""))
        for item in json.loads(text)
    )


def problem_count(verdict: Verdict) -> int:
    """What the capture counts as a flow's problems: every judgement that is not ok (a decode or schema problem,
    an HTTP failure, a failed or warning Status, a transport error), so a 401 or a Sync Status 3 is a problem."""
    return len(verdict.reasons)


def verdict_columns(
    exchange: Exchange, error: str | None, *, analysed: bool = True, verdict: Verdict | None = None
) -> dict[str, Any]:
    """The capture's verdict columns of one flow (eas.verdicts.judge with the flow's transport error).

    Args:
        analysed: False for a flow stored without analysis: its columns stay empty (outcome NULL).
        verdict: the flow's verdict when the caller has it already (judged here otherwise).
    """
    if not analysed:
        return {"outcome": None, "statuses": "[]", "eas_status": None, "eas_status_meaning": None,
                "problem_count": 0, "response_sync_key": None, "facts": None, "reasons": "[]"}
    if verdict is None:
        verdict = judge(exchange, transport_error=error)
    shown_status = verdict.worst
    facts = flow_facts(exchange, error)
    return {
        "outcome": str(verdict.outcome),
        "statuses": statuses_json(verdict.statuses),
        "eas_status": shown_status.code if shown_status else None,
        "eas_status_meaning": shown_status.meaning if shown_status else None,
        "problem_count": problem_count(verdict),
        "response_sync_key": response_sync_key(facts),
        "facts": None if facts is None else json.dumps(facts.to_json(), separators=(",", ":")),
        "reasons": json_array(verdict.reasons),
    }
