"""The addon's export commands: flows written as annotated XML, .mitm or HAR, the way `eas-inspector export` writes them."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from mitmproxy import http

from capture.exportfile import open_export
from capture.har import export_har
from capture.mitm import export_mitm, flow_input_from_mitm
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from capture.xml_export import export_xml

def export_flows(
    fmt: str, flows: Sequence[http.HTTPFlow], path: str, *, keep_credentials: bool, max_body: int | None
) -> int:
    """Write flows to `path` as "xml", "mitm" or "har", the way `eas-inspector export` writes a capture.

    The flows go through a temporary capture first, so the same redaction and decoding apply.

    Raises:
        OSError, capture.model.CaptureError: reading or writing failed.
    """
    with tempfile.TemporaryDirectory(prefix="eas-export-") as tmp:
        capture = Path(tmp) / "export.sqlite"
        writer = CaptureWriter(capture, keep_credentials=keep_credentials, max_body_size=max_body)
        try:
            for f in flows:
                writer.add(flow_input_from_mitm(f))
        finally:
            writer.close()
        if fmt == "mitm":
            return export_mitm(capture, path)
        if fmt == "har":
            return export_har(capture, path)
        with CaptureReader(capture) as reader:
            records = list(reader.records())
        with open_export(path) as dst:
            dst.write(export_xml(records))
        return len(records)

