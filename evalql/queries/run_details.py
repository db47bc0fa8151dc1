"""Lookups of runs and their surroundings, shared by the group query, `POST /datasets/{id}/runs`,
the run reads and the GraphQL loaders: each is a fixed number of statements for any number of
runs."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import func

from evalql.core.errors import NotFoundError
from evalql.db.models import Dataset, Feedback, Run
from evalql.db.tenant import Tenant, live, readable
from evalql.queries import feedback_stats as fbs
from evalql.queries.results import RunWithFeedback
from evalql.queries.sessions import SessionRow, sessions_by_id


def comparison_order(session_ids: Sequence[uuid.UUID]) -> Callable[[Run], tuple]:
    """Sort key of the runs of one example (spec §5.3 step 7): session position in S*,
    then start_time, then id."""
    position = {session_id: i for i, session_id in enumerate(session_ids)}
    return lambda run: (position[run.session_id], run.start_time, run.id)


async def run_details(tenant: Tenant, runs: Sequence[Run]) -> dict[uuid.UUID, RunWithFeedback]:
    """Each run with its run-level feedback (and their stats) and its trace's start-time
    bounds, by run id: two statements whatever the number of runs."""
    feedbacks = await feedbacks_by_run(tenant, list({run.id for run in runs}))
    bounds = await trace_bounds(tenant, list({run.trace_id for run in runs}))
    out = {}
    for run in runs:
        found = feedbacks.get(run.id, [])
        out[run.id] = RunWithFeedback(run, found, fbs.finish(fbs.partials_from_rows(found)),
                                      *bounds.get(run.trace_id, (None, None)))
    return out


async def trace_bounds(tenant: Tenant, trace_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple]:
    """(min, max) start_time over each trace's runs."""
    if not trace_ids:
        return {}
    stmt = (readable(tenant, Run, Run.trace_id, func.min(Run.start_time), func.max(Run.start_time))
            .where(Run.trace_id.in_(trace_ids)).group_by(Run.trace_id))
    return {trace_id: (lo, hi) for trace_id, lo, hi in await tenant.db.execute(stmt)}


async def feedbacks_by_run(tenant: Tenant, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Feedback]]:
    out: dict[uuid.UUID, list[Feedback]] = defaultdict(list)
    if not run_ids:
        return out
    stmt = readable(tenant, Feedback).where(Feedback.run_id.in_(run_ids)).order_by(Feedback.created_at, Feedback.id)
    for feedback in await tenant.db.scalars(stmt):
        out[feedback.run_id].append(feedback)
    return out


async def session_level_feedback(tenant: Tenant, session_ids: Sequence[uuid.UUID]) -> dict[tuple, fbs.Partials]:
    base = readable(tenant, Feedback, Feedback.session_id, *fbs.FEEDBACK_COLUMNS).where(
        Feedback.session_id.in_(session_ids), Feedback.run_id.is_(None))
    return await fbs.partials_by_partition(tenant.db, base, ("session_id",))


async def require_dataset_and_sessions(tenant: Tenant, dataset_id: uuid.UUID, session_ids: Sequence[uuid.UUID]
                                       ) -> dict[uuid.UUID, SessionRow]:
    """Checks of spec §5.2 (also §6): the dataset, then the first unknown session in request order."""
    if await live(tenant, Dataset, dataset_id) is None:
        raise NotFoundError(f"Dataset {dataset_id} not found")
    sessions = await sessions_by_id(tenant, session_ids)
    for session_id in session_ids:
        if session_id not in sessions:
            raise NotFoundError(f"Session {session_id} not found")
    return sessions


