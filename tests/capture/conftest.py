"""Fixtures for the capture tests: the loopback origin server and mitmproxy's configuration directory."""

from __future__ import annotations

from tests.addon.conftest import mitm_confdir, origin

__all__ = ["mitm_confdir", "origin"]
