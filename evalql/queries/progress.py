"""How far sessions have come: counts of their root runs by status and of their feedback
(GraphQL `experimentProgress`), in two statements for any number of sessions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func

from evalql.core.enums import RunStatus
from evalql.db.models import Feedback, Run
from evalql.db.tenant import Tenant, readable


@dataclass(frozen=True, slots=True)
class SessionCounts:
    run_count: int = 0  # root runs, as the session's stats count them
    error_count: int = 0  # root runs with status error
    pending_count: int = 0  # root runs not ended yet (status pending)
    feedback_count: int = 0  # feedback on the session's root runs


async def session_counts(tenant: Tenant, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SessionCounts]:
    if not session_ids:
        return {}
    roots = (Run.session_id.in_(session_ids), Run.is_root.is_(True))
    by_status = (await tenant.db.execute(
        readable(tenant, Run, Run.session_id, Run.status, func.count()).where(*roots)
        .group_by(Run.session_id, Run.status))).all()
    feedback = (await tenant.db.execute(
        readable(tenant, Feedback, Run.session_id, func.count())
        .join(Run, (Run.workspace_id == Feedback.workspace_id) & (Run.id == Feedback.run_id))
        .where(*roots).group_by(Run.session_id))).all()
    runs: dict[uuid.UUID, dict[str, int]] = {}
    for session_id, status, count in by_status:
        runs.setdefault(session_id, {})[status] = count
    feedback_of = dict(feedback)
    out = {}
    for session_id in session_ids:
        found = runs.get(session_id, {})
        out[session_id] = SessionCounts(run_count=sum(found.values()), error_count=found.get(RunStatus.ERROR.value, 0),
                                        pending_count=found.get(RunStatus.PENDING.value, 0),
                                        feedback_count=feedback_of.get(session_id, 0))
    return out


__all__ = ["SessionCounts", "session_counts"]
