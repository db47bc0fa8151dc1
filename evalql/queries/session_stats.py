"""The §3.2 stats block of whole sessions (over their root runs)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement

from evalql.db.models import Feedback, Run
from evalql.db.tenant import Tenant, readable
from evalql.queries import feedback_stats as fbs
from evalql.queries.results import FeedbackStats, RunSetStats
from evalql.queries.run_details import session_level_feedback
from evalql.queries.run_stats import apply_percentiles, latency_percentiles, metric_columns, stats_by_partition

PARTITION = ("session_id",)


@dataclass(slots=True)
class SessionStatsRow:
    stats: RunSetStats
    session_feedback_stats: FeedbackStats


async def stats_for_sessions(tenant: Tenant, session_ids: Sequence[uuid.UUID],
                             conditions: Sequence[ColumnElement[bool]] = ()) -> dict[uuid.UUID, SessionStatsRow]:
    """`conditions` (compiled filters) narrow the root runs; session-level feedback is not
    restricted by them (spec §3.2)."""
    roots = (readable(tenant, Run, Run.id.label("run_id"), Run.session_id.label("session_id"),
                      Run.reference_example_id.label("example_id"), *metric_columns())
             .where(Run.session_id.in_(session_ids), Run.is_root.is_(True), *conditions).subquery("session_roots"))
    stats = await stats_by_partition(tenant, roots, PARTITION)
    pct = await latency_percentiles(tenant, roots, PARTITION, first_token=True)
    feedback_base = readable(tenant, Feedback, roots.c.session_id, *fbs.FEEDBACK_COLUMNS).join(
        roots, roots.c.run_id == Feedback.run_id)
    run_feedback = await fbs.partials_by_partition(tenant.db, feedback_base, PARTITION)
    session_feedback = await session_level_feedback(tenant, session_ids)
    out = {}
    for session_id in session_ids:
        block = stats.get((session_id,), RunSetStats())
        apply_percentiles(block, pct.get((session_id,)))
        block.feedback_stats = fbs.finish(run_feedback.get((session_id,), {}))
        out[session_id] = SessionStatsRow(block, fbs.finish(session_feedback.get((session_id,), {})))
    return out
