"""The store, the flow conversion and the EAS path rule the importers build on, imported in this one place."""

from __future__ import annotations

from addon.activesync import eas_kind
from addon.convert import flow_input_from_mitm
from addon.store import CaptureError, CaptureWriter, FlowInput, Headers, analyze_parts

__all__ = ["CaptureError", "CaptureWriter", "FlowInput", "Headers", "analyze_parts", "eas_kind", "flow_input_from_mitm"]
