"""(example_count, session_count) of datasets (spec §2.1)."""

from __future__ import annotations

import uuid

from sqlalchemy import func

from evalql.db.models import Example, TracerSession
from evalql.db.tenant import readable
from evalql.loaders.base import TenantLoader

Key = uuid.UUID
Result = tuple[int, int]


class DatasetCounts(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        examples = dict((await self.tenant.db.execute(
            readable(self.tenant, Example, Example.dataset_id, func.count())
            .where(Example.dataset_id.in_(keys), Example.deleted_at.is_(None)).group_by(Example.dataset_id)
        )).all())
        sessions = dict((await self.tenant.db.execute(
            readable(self.tenant, TracerSession, TracerSession.reference_dataset_id, func.count())
            .where(TracerSession.reference_dataset_id.in_(keys)).group_by(TracerSession.reference_dataset_id)
        )).all())
        return [(examples.get(key, 0), sessions.get(key, 0)) for key in keys]
