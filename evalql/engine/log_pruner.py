"""Keeps the change log short: what was logged more than `horizon` seconds ago is deleted.

Every server process runs one (pruning twice is harmless: a delete of rows already gone).
It notes each workspace's version once per `interval`, and prunes through the version it
noted at least `horizon` ago. A process whose state is older than that (idle for longer
than the horizon) learns so from `ChangesPruned` and rebuilds its state from the tables.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from typing import Any

from sqlalchemy import select

from evalql.db import rls
from evalql.db.changes import current_version, prune_changes
from evalql.db.models import Workspace
from evalql.db.outage import is_outage

log = logging.getLogger("evalql.engine")


class LogPruner:
    def __init__(self, db_sessions: Any, horizon: float = 600.0, interval: float = 60.0) -> None:
        self.db_sessions, self.horizon, self.interval = db_sessions, horizon, interval
        self._seen: dict[uuid.UUID, deque[tuple[float, int]]] = {}

    async def prune_once(self, now: float | None = None) -> dict[uuid.UUID, int]:
        """One pass over every workspace; returns the workspaces pruned, with the version
        pruned through."""
        now = time.monotonic() if now is None else now
        pruned = {}
        async with self.db_sessions() as db:
            # Marked, so that what counts a request's statements (the tests) can leave it out.
            await db.connection(execution_options={"evalql_background": True})
            for workspace_id in list(await db.scalars(select(Workspace.id))):
                # Row-level security (PostgreSQL) shows one workspace at a time: the same
                # transaction moves on to each in turn (the setting is transaction-local).
                rls.bind(db, workspace_id)
                version = await current_version(db, workspace_id)
                seen = self._seen.setdefault(workspace_id, deque())
                seen.append((now, version.version))
                through = None
                while seen and seen[0][0] <= now - self.horizon:
                    through = seen.popleft()[1]
                if through is not None and through > version.pruned_through:
                    pruned[workspace_id] = await prune_changes(db, workspace_id, through)
            await db.commit()
        return pruned

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.prune_once()
            except Exception as exc:  # a database outage must not end the loop: the next pass retries
                if is_outage(exc):  # expected while the database restarts: one line, no traceback
                    log.warning("pruning the change log failed: the database is unavailable (%s)", exc)
                else:
                    log.exception("pruning the change log failed")
