"""The first page of each dataset's sessions (`Dataset.sessions` without `after`), batched:
one statement per distinct `first` however many datasets a query lists."""

from __future__ import annotations

import uuid
from collections import defaultdict

from evalql.loaders.base import TenantLoader
from evalql.queries.dataset_sessions import first_sessions
from evalql.queries.sessions import SessionRow

Key = tuple[uuid.UUID, int]  # (dataset id, first)
Result = list[SessionRow]  # up to first + 1 rows, by (start_time, id)


class FirstSessionsByDataset(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        by_first: defaultdict[int, list[uuid.UUID]] = defaultdict(list)
        for dataset_id, first in keys:
            by_first[first].append(dataset_id)
        found = {first: await first_sessions(self.tenant, ids, first) for first, ids in by_first.items()}
        return [found[first].get(dataset_id, []) for dataset_id, first in keys]
