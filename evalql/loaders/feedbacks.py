"""Run-level feedback of runs, ordered by (created_at, id)."""

from __future__ import annotations

import uuid

from evalql.db.models import Feedback
from evalql.loaders.base import TenantLoader
from evalql.queries.run_details import feedbacks_by_run

Key = uuid.UUID  # run id
Result = list[Feedback]


class FeedbacksByRun(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        found = await feedbacks_by_run(self.tenant, keys)
        return [found.get(key, []) for key in keys]
