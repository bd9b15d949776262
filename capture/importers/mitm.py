"""mitmproxy flow files (.mitm): split into records here, each record read by mitmproxy's own code."""

# A .mitm file is a sequence of tnetstrings (`LENGTH:payload` and one type byte), one per flow. Splitting the
# file into records needs only the length prefixes, so it is cheap and can run ahead of the expensive part,
# turning a record into a flow (mitmproxy's tnetstring parser, its format migrations, Flow.from_state), which
# `parallel` runs in worker processes. A record that mitmproxy cannot read costs only that flow: the framing
# says where the next one starts. A file cut short ends with the record it cuts.

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, BinaryIO, Final

from mitmproxy import flow, http
from mitmproxy.io import compat, tnetstring

from capture.mitm import flow_input_from_fields, flow_input_from_mitm
from capture.model import FlowInput

from . import evidence, mitm_state
from .evidence import ImportedEntry, ImportIssue, SkippedEntry

FORM: Final = "mitm"
MAX_LENGTH_DIGITS: Final = 12  # mitmproxy's own limit on a tnetstring length prefix


@dataclasses.dataclass(frozen=True)
class Record:
    """One flow's bytes and where it starts."""

    number: int
    offset: int
    data: bytes


def records(source: BinaryIO) -> Iterator[Record | ImportIssue]:
    """Every record of the file, then an issue if the file ends inside one or its framing breaks."""
    number, offset = 0, 0
    while True:
        digits = b""
        character = source.read(1)
        if not character:
            return
        number += 1
        while character.isdigit() and len(digits) <= MAX_LENGTH_DIGITS:
            digits += character
            character = source.read(1)
        if character != b":" or not digits:
            reason = "the file ends inside this flow (cut short?)" if not character else "not a flow record"
            yield ImportIssue(f"flow {number}", f"{reason}; it starts at byte {offset:,}", stopped=True)
            return
        body = _read_up_to(source, int(digits) + 1)
        if len(body) < int(digits) + 1:
            yield ImportIssue(f"flow {number}", f"the file ends inside this flow (cut short?); it starts at byte "
                              f"{offset:,}", stopped=True)
            return
        yield Record(number, offset, digits + b":" + body)
        offset += len(digits) + 1 + len(body)


# How much of a record is read at once: a length prefix of 999999999999 reads what the file holds, 1 MiB at a time,
# instead of asking for that much memory up front.
READ_STEP: Final = 1024 * 1024


def _read_up_to(source: BinaryIO, length: int) -> bytes:
    """Up to `length` bytes of the source, fewer when it ends first."""
    pieces = []
    left = length
    while left > 0:
        piece = source.read(min(left, READ_STEP))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


def entry(record: Record, name: str, *, flow_objects: bool = False) -> ImportedEntry:
    """The flow of one record, a skipped non-HTTP flow, or why it cannot be read.

    A record of the current format is read straight into the capture's fields (`mitm_state`); any other, and
    every record with `flow_objects`, through mitmproxy's Flow objects (`flow_object_entry`), the reference.
    """
    fast = None if flow_objects else mitm_state.http_flow(record.data)
    if fast is None:
        return flow_object_entry(record, name)
    fields, request_body, response_body = fast
    return _imported(record, name, flow_input_from_fields(fields, request_body, response_body),
                     has_response=fields.response is not None)


def flow_object_entry(record: Record, name: str) -> ImportedEntry:
    """The entry of one record as mitmproxy reads it: tnetstring parser, format migrations, Flow.from_state."""
    try:
        loaded: Any = tnetstring.loads(record.data)
        if not isinstance(loaded, dict):
            raise ValueError("not a flow")
        mitm_flow = flow.Flow.from_state(compat.migrate_flow(loaded))
        if not isinstance(mitm_flow, http.HTTPFlow):
            return SkippedEntry(record.number, f"{mitm_flow.type} flow")
        # Inside the try: from_state lets some wrong values through (an error of 0, metadata that is no dict),
        # which only the conversion meets.
        flow_input = flow_input_from_mitm(mitm_flow)
    except Exception as err:  # mitmproxy raises ValueError, KeyError, TypeError ... on damaged records
        return ImportIssue(f"flow {record.number}", f"not a readable flow ({err or type(err).__name__}); it starts "
                           f"at byte {record.offset:,}")
    return _imported(record, name, flow_input, has_response=mitm_flow.response is not None)


def _imported(record: Record, name: str, flow_input: FlowInput, *, has_response: bool) -> ImportedEntry:
    """The entry with its provenance: form, file, flow number, and the parts the flow lacks."""
    missing = [] if has_response else [evidence.RESPONSE]
    if flow_input.extra.get("request_body_missing"):
        missing.append(evidence.REQUEST_BODY)
    if has_response and flow_input.response_body is None:
        missing.append(evidence.RESPONSE_BODY)
    origin = evidence.provenance(FORM, name, record.number, missing=missing)
    return record.number, dataclasses.replace(flow_input, extra={**flow_input.extra, **origin})


def read(source: BinaryIO, name: str, *, flow_objects: bool = False) -> Iterator[ImportedEntry]:
    """Every flow of a .mitm file: (flow number from 1, flow), non-HTTP flows skipped, damaged ones named
    (`flow_objects`: every record through mitmproxy's Flow objects, see `entry`)."""
    for item in records(source):
        yield item if isinstance(item, ImportIssue) else entry(item, name, flow_objects=flow_objects)
