"""viewer: the Textual terminal viewer of eas-inspector captures (browse, inspect, edit and replay)."""

from __future__ import annotations
