"""Direct children of runs, ordered by (start_time, id)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from evalql.db.models import Run
from evalql.db.tenant import readable
from evalql.loaders.base import TenantLoader

Key = uuid.UUID  # parent run id
Result = list[Run]


class ChildRunsByParent(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        stmt = readable(self.tenant, Run).where(Run.parent_run_id.in_(keys)).order_by(Run.start_time, Run.id)
        found: defaultdict[Key, Result] = defaultdict(list)
        for run in await self.tenant.db.scalars(stmt):
            found[run.parent_run_id].append(run)
        return [found[key] for key in keys]
