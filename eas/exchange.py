"""One analysis of a whole EAS exchange (placeholder until it lands)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Exchange:
    command: str | None = None


def analyze(*args: object, **kwargs: object) -> Exchange:
    raise NotImplementedError
