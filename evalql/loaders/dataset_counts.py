"""The counts of datasets (spec §2.1), batched."""

from __future__ import annotations

import uuid

from evalql.loaders.base import TenantLoader
from evalql.queries.datasets import DatasetCounts, dataset_counts

Key = uuid.UUID
Result = DatasetCounts


class DatasetCountsLoader(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        found = await dataset_counts(self.tenant, keys)
        return [found[key] for key in keys]
