"""Root runs of examples in given sessions, ordered by (session position, start_time, id)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from evalql.db.models import Run
from evalql.db.tenant import readable
from evalql.loaders.base import TenantLoader

Key = tuple[uuid.UUID, tuple[uuid.UUID, ...]]  # (example id, session ids in order)
Result = list[Run]


class RootRunsByExample(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        examples = {example for example, _ in keys}
        sessions = {s for _, wanted in keys for s in wanted}
        stmt = (readable(self.tenant, Run)
                .where(Run.reference_example_id.in_(examples), Run.session_id.in_(sessions), Run.is_root.is_(True))
                .order_by(Run.start_time, Run.id))
        by_example: defaultdict[uuid.UUID, list[Run]] = defaultdict(list)
        for run in await self.tenant.db.scalars(stmt):
            by_example[run.reference_example_id].append(run)
        out = []
        for example, wanted in keys:
            position = {s: i for i, s in enumerate(wanted)}
            runs = [r for r in by_example[example] if r.session_id in position]
            out.append(sorted(runs, key=lambda r: (position[r.session_id], r.start_time, r.id)))
        return out
