"""WBXML 1.3 decoding and encoding over the MS-ASWBXML code pages (placeholder until the codec lands)."""

from __future__ import annotations

from typing import Any


def decode(data: bytes, *, strict: bool = False) -> Any:
    raise NotImplementedError


def decode_to_xml(data: bytes, *, strict: bool = False, pretty: bool = True) -> str:
    raise NotImplementedError


def encode(tree: Any) -> bytes:
    raise NotImplementedError


def to_xml(root: Any, pretty: bool = True) -> str:
    raise NotImplementedError


def parse_xml(text: str | bytes) -> Any:
    raise NotImplementedError
