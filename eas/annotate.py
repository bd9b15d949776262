"""Meanings of EAS values as XML comments (placeholder until it lands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AnnotationContext:
    command: str | None = None
    is_response: bool = False
    protocol_version: str | None = None
    collection_class: str | None = None


def annotate(root: Any, context: AnnotationContext) -> Any:
    return root
