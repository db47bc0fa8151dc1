"""Stats blocks of whole sessions (root runs), batched across sessions."""

from __future__ import annotations

import uuid

from evalql.loaders.base import TenantLoader
from evalql.queries.session_stats import SessionStatsRow, stats_for_sessions

Key = uuid.UUID
Result = SessionStatsRow


class SessionStatsBySession(TenantLoader[Key, Result]):
    async def batch_load_fn(self, keys: list[Key]) -> list[Result]:
        found = await stats_for_sessions(self.tenant, keys)
        return [found[key] for key in keys]
