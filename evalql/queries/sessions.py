"""Session lookups shared by the group query, REST and GraphQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from evalql.db.models import TracerSession
from evalql.db.tenant import Tenant, readable


@dataclass(frozen=True, slots=True)
class SessionRow:
    session: TracerSession
    test_run_number: int | None


async def sessions_by_id(tenant: Tenant, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SessionRow]:
    """Sessions with their `test_run_number` (spec §3.2): the 1-based rank among the
    workspace's sessions of the same reference dataset by (start_time, id)."""
    if not ids:
        return {}
    earlier = aliased(TracerSession)
    rank = (
        select(func.count())
        .where(earlier.workspace_id == TracerSession.workspace_id,
               earlier.reference_dataset_id == TracerSession.reference_dataset_id,
               or_(earlier.start_time < TracerSession.start_time,
                   and_(earlier.start_time == TracerSession.start_time, earlier.id <= TracerSession.id)))
        .correlate(TracerSession)
        .scalar_subquery()
    )
    stmt = readable(tenant, TracerSession, TracerSession, rank.label("rank")).where(TracerSession.id.in_(ids))
    return {
        session.id: SessionRow(session, rank if session.reference_dataset_id is not None else None)
        for session, rank in (await tenant.db.execute(stmt))
    }
