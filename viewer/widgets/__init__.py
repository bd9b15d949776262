"""The viewer's widgets: virtual flow list, XML text and tree views, hex dump."""

from __future__ import annotations
