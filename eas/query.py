"""The EAS request URI query, plain and base64 forms (placeholder until it lands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EasQuery:
    form: str = "plain"


def decode_query(query: str) -> EasQuery:
    raise NotImplementedError


def encode_plain(q: EasQuery) -> str:
    raise NotImplementedError


def encode_base64(q: EasQuery) -> str:
    raise NotImplementedError
