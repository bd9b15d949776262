"""Meaning tables of EAS values as data, one module per family, each table citing its spec section."""

from __future__ import annotations
