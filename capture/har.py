"""HAR 1.2 export of a capture's flows, through mitmproxy's own HAR writer (importers live in capture/importers/)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from mitmproxy.addons.savehar import SaveHar

from capture.exportfile import open_export
from capture.mitm import exported_flows, selected_records
from capture.model import CaptureError, FlowRecord


def make_har(records: Sequence[FlowRecord], damaged: list[str] | None = None) -> dict[str, Any]:
    """HAR 1.2 of the records, built by mitmproxy's own HAR exporter. With `damaged`, a record that cannot be
    made into a flow is left out and named there; otherwise its CaptureError is raised."""
    har: dict[str, Any] = SaveHar().make_har(list(exported_flows(records, damaged)))
    har["log"]["creator"]["comment"] = "exported by eas-inspector"
    return har


def export_har(
    capture_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    flow_ids: Iterable[int] | None = None,
    damaged: list[str] | None = None,
) -> int:
    """Write flows of a capture (all when `flow_ids` is None) as HAR 1.2 JSON (0600, its folder created); returns
    how many. With `damaged`, flows that cannot be read are left out and named there.

    Raises:
        CaptureError: the capture cannot be read, a flow id does not exist, or the file cannot be written.
    """
    records = selected_records(capture_path, flow_ids, damaged)
    before = len(damaged) if damaged is not None else 0
    har = make_har(records, damaged)
    try:
        with open_export(dst_path) as dst:
            json.dump(har, dst, indent=2)
    except OSError as err:
        raise CaptureError(f"{dst_path}: cannot write: {err.strerror or err}") from err
    return len(records) - ((len(damaged) - before) if damaged is not None else 0)
