"""Rows by primary id, one loader class per model (datasets, examples, runs)."""

from __future__ import annotations

import uuid
from typing import Any

from evalql.db.models import Dataset, Example, Run
from evalql.db.tenant import readable
from evalql.loaders.base import TenantLoader

Key = uuid.UUID


class _RowById(TenantLoader[Key, Any]):
    model: Any
    live_only = False  # skip soft-deleted rows

    async def batch_load_fn(self, keys: list[Key]) -> list[Any]:
        stmt = readable(self.tenant, self.model).where(self.model.id.in_(keys))
        if self.live_only:
            stmt = stmt.where(self.model.deleted_at.is_(None))
        found = {row.id: row for row in await self.tenant.db.scalars(stmt)}
        return [found.get(key) for key in keys]


class DatasetById(_RowById):
    model, live_only = Dataset, True


class ExampleById(_RowById):
    model, live_only = Example, True


class RunById(_RowById):
    model = Run
