"""Keyset pagination: stable pages over growing tables, cheap at any depth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_after: int | None


def clamp_limit(limit: int | None) -> int:
    return max(1, min(limit or DEFAULT_LIMIT, MAX_LIMIT))


def page_of(rows: list[T], limit: int, key=lambda row: row.id) -> Page[T]:
    """``rows`` was fetched with ``limit + 1``; the extra row only tells that another page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, key(rows[-1]))
    return Page(rows, None)
