"""The first sessions of many datasets in one statement, for `Dataset.sessions` under a
list of datasets (a landing page lists datasets with their experiments).

A session's rank among its dataset's sessions by (start_time, id) is both its position
in the page and its `test_run_number` (spec §3.2), so one window function gives the page
and the numbers: `ROW_NUMBER() OVER (PARTITION BY reference_dataset_id ORDER BY
start_time, id)`, kept up to `first + 1` (the extra row says whether a next page exists).
Both databases have the window function (SQLite since 3.25).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func

from evalql.db.models import TracerSession
from evalql.db.tenant import Tenant, readable
from evalql.queries.sessions import SessionRow


async def first_sessions(tenant: Tenant, dataset_ids: Sequence[uuid.UUID], first: int
                         ) -> dict[uuid.UUID, list[SessionRow]]:
    """Each dataset's first `first + 1` sessions by (start_time, id), with their ranks."""
    if not dataset_ids:
        return {}
    rank = func.row_number().over(partition_by=TracerSession.reference_dataset_id,
                                  order_by=(TracerSession.start_time, TracerSession.id)).label("rank")
    ranked = readable(tenant, TracerSession, TracerSession.id, rank).where(
        TracerSession.reference_dataset_id.in_(dataset_ids)).subquery()
    stmt = (readable(tenant, TracerSession, TracerSession, ranked.c.rank)
            .join(ranked, ranked.c.id == TracerSession.id)
            .where(ranked.c.rank <= first + 1)
            .order_by(TracerSession.reference_dataset_id, ranked.c.rank))
    found: defaultdict[uuid.UUID, list[SessionRow]] = defaultdict(list)
    for session, position in await tenant.db.execute(stmt):
        found[session.reference_dataset_id].append(SessionRow(session, position))
    return found
