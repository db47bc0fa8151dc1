"""Direct children of runs, ordered by (start_time, id)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from evalql.db.models import Run
from evalql.db.scope import readable
from evalql.loaders.base import ScopedLoader

Key = uuid.UUID  # parent run id
Result = list[Run]


class ChildRunsByParent(ScopedLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        stmt = readable(self.scope, Run).where(Run.parent_run_id.in_(keys)).order_by(Run.start_time, Run.id)
        found: defaultdict[Key, Result] = defaultdict(list)
        for run in await self.scope.db.scalars(stmt):
            found[run.parent_run_id].append(run)  # type: ignore[index]
        return [found[key] for key in keys]
