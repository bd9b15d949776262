"""mitmproxy flow files (.mitm), read flow by flow with mitmproxy's own reader."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import BinaryIO, Final

from mitmproxy import http, io
from mitmproxy.exceptions import FlowReadException

from . import evidence
from ._store import flow_input_from_mitm
from .evidence import ImportedEntry, ImportIssue, SkippedEntry

FORM: Final = "mitm"


def read(source: BinaryIO, name: str) -> Iterator[ImportedEntry]:
    """Every flow of a .mitm file: (flow number from 1, flow), non-HTTP flows skipped, and where the file breaks."""
    number = 0
    size = os.fstat(source.fileno()).st_size
    flows = io.FlowReader(source).stream()
    while True:
        start = source.tell()
        try:
            mitm_flow = next(flows)
        except StopIteration:
            return
        except (FlowReadException, ValueError, KeyError, TypeError) as err:
            if source.tell() >= size:
                reason = "the file ends inside this flow (cut short?)"
            else:
                reason = f"not a readable flow ({err or type(err).__name__})"
            yield ImportIssue(f"flow {number + 1}", f"{reason}; it starts at byte {start:,}", stopped=True)
            return
        number += 1
        if not isinstance(mitm_flow, http.HTTPFlow):
            yield SkippedEntry(number, f"{mitm_flow.type} flow")
            continue
        flow_input = flow_input_from_mitm(mitm_flow)
        missing = [] if mitm_flow.response else [evidence.RESPONSE]
        if mitm_flow.request.raw_content is None:
            missing.append(evidence.REQUEST_BODY)
        if mitm_flow.response and mitm_flow.response.raw_content is None:
            missing.append(evidence.RESPONSE_BODY)
        origin = evidence.provenance(FORM, name, number, missing=missing)
        yield number, dataclasses.replace(flow_input, extra={**flow_input.extra, **origin})
