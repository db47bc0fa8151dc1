"""Rows by primary id, one loader class per model (datasets, examples, runs)."""

from __future__ import annotations

import uuid
from typing import Any

from evalql.db.models import Dataset, Example, Run
from evalql.db.scope import readable
from evalql.loaders.base import ScopedLoader

Key = uuid.UUID


class _RowById(ScopedLoader[Key, Any]):
    model: Any
    live_only = False  # skip soft-deleted rows

    async def batch_load_fn(self, keys: list[Key]) -> list[Any]:
        stmt = readable(self.scope, self.model).where(self.model.id.in_(keys))
        if self.live_only:
            stmt = stmt.where(self.model.deleted_at.is_(None))
        found = {row.id: row for row in await self.scope.db.scalars(stmt)}
        return [found.get(key) for key in keys]


class DatasetById(_RowById):
    model, live_only = Dataset, True


class ExampleById(_RowById):
    model, live_only = Example, True


class RunById(_RowById):
    model = Run
