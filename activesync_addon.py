"""mitmproxy entry script: `mitmproxy -s activesync_addon.py` decodes, annotates and records ActiveSync traffic."""

from __future__ import annotations

from pathlib import Path

from mitmproxy import contentviews

from addon.activesync import ActiveSyncAddon
from addon.contentview import ActiveSyncContentview, ActiveSyncShownContentview
from addon.edit_guard import EditGuardAddon

contentviews.add(ActiveSyncContentview)
contentviews.add(ActiveSyncShownContentview)

addons = [ActiveSyncAddon(capture_dir=Path(__file__).resolve().parent / "captures"), EditGuardAddon()]
