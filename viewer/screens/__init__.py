"""The viewer's screens: main (sessions and flows), exchange, replay editor, help."""

from __future__ import annotations
