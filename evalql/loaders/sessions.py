"""Sessions by id, with their test_run_number."""

from __future__ import annotations

import uuid

from evalql.loaders.base import TenantLoader
from evalql.queries.sessions import SessionRow, sessions_by_id

Key = uuid.UUID
Result = SessionRow | None


class SessionById(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        found = await sessions_by_id(self.tenant, keys)
        return [found.get(key) for key in keys]
