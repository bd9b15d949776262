"""HAR 1.2 export of a capture's flows, through mitmproxy's own HAR writer (importers live in capture/importers/)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from mitmproxy.addons.savehar import SaveHar

from capture.mitm import flow_from_record, selected_records
from capture.model import CaptureError, FlowRecord


def make_har(records: Sequence[FlowRecord]) -> dict[str, Any]:
    """HAR 1.2 of the records, built by mitmproxy's own HAR exporter."""
    har: dict[str, Any] = SaveHar().make_har([flow_from_record(record) for record in records])
    har["log"]["creator"]["comment"] = "exported by eas-inspector"
    return har


def export_har(
    capture_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], flow_ids: Iterable[int] | None = None
) -> int:
    """Write flows of a capture (all when `flow_ids` is None) as HAR 1.2 JSON; returns how many.

    Raises:
        CaptureError: the capture cannot be read, a flow id does not exist, or the file cannot be written.
    """
    records = selected_records(capture_path, flow_ids)
    har = make_har(records)
    try:
        with open(dst_path, "w", encoding="utf-8") as dst:
            json.dump(har, dst, indent=2)
    except OSError as err:
        raise CaptureError(f"{dst_path}: cannot write: {err.strerror or err}") from err
    return len(records)
