"""Long id lists split for `IN (...)`: each id is a bound parameter, and both databases
cap those per statement (SQLite at 32,766, asyncpg at 32,767)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

CHUNK = 500  # ids per IN list, well below both limits


def id_chunks(ids: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    items = list(ids)
    for start in range(0, len(items), size):
        yield items[start:start + size]
