"""Base of every loader: bound to one request's scope, so caches never cross requests."""

from __future__ import annotations

from typing import Generic, TypeVar

from aiodataloader import DataLoader

from evalql.db.scope import Scope

K = TypeVar("K")
R = TypeVar("R")


class ScopedLoader(DataLoader, Generic[K, R]):  # type: ignore[type-arg]
    def __init__(self, scope: Scope) -> None:
        super().__init__()
        self.scope = scope
