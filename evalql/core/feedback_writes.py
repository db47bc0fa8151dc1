"""One feedback created, changed or deleted for a caller (spec §7.6): the reads and writes of
REST's `/feedback` routes and of GraphQL's feedback mutations, so that both interfaces store
the same rows. The record is validated before any of these (`core.feedback`).

Each operation is one transaction, committed here. Its write goes through `db.writes`, on a
table the change-log triggers watch: the workspace's data version moves with the commit, so
the comparison engine answers from the new rows on its next request, and a subscription
waiting on the change feed wakes up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from evalql.core.errors import NotFoundError
from evalql.core.feedback import FeedbackCreate, FeedbackPatch
from evalql.db import writes
from evalql.db.models import Feedback, Run
from evalql.db.tenant import Tenant, readable

# run id -> (is_root, trace_id) of stored runs
RunRefs = dict[uuid.UUID, tuple[bool, uuid.UUID]]


def feedback_not_found(feedback_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"Feedback {feedback_id} not found")


async def find_feedback(tenant: Tenant, feedback_id: uuid.UUID) -> Feedback:
    """The workspace's feedback with this id; another workspace's is missing (spec §1.2).
    Read afresh even if the session holds it: an upsert by id replaces rows behind the ORM."""
    stmt = readable(tenant, Feedback).where(Feedback.id == feedback_id).execution_options(populate_existing=True)
    found = await tenant.db.scalar(stmt)
    if found is None:
        raise feedback_not_found(feedback_id)
    return found


async def known_runs(tenant: Tenant, run_ids: Iterable[uuid.UUID | None]) -> RunRefs:
    """(is_root, trace_id) of the stored runs among `run_ids`, in one read."""
    wanted = {run_id for run_id in run_ids if run_id is not None}
    if not wanted:
        return {}
    rows = await tenant.db.execute(readable(tenant, Run, Run.id, Run.is_root, Run.trace_id).where(Run.id.in_(wanted)))
    return {run_id: (bool(root), trace_id) for run_id, root, trace_id in rows}


def is_root(feedback: Feedback, runs: RunRefs) -> bool:
    """Spec §2.5: whether the referenced run is a root run. Feedback may arrive before its run
    (§7.6); until then a run is judged by its ids, as a root run's trace id is its own id.
    Session-level feedback references no run: false."""
    if feedback.run_id is None:
        return False
    if feedback.run_id in runs:
        return runs[feedback.run_id][0]
    return feedback.run_id == feedback.trace_id


async def create_feedback(tenant: Tenant, body: FeedbackCreate, runs: RunRefs | None = None
                          ) -> tuple[Feedback, RunRefs]:
    """Stores `body` (an upsert by id, §7.6) and commits; the stored row, and what is known
    of the run it names. `runs`: the caller has read that run already (`known_runs`)."""
    if runs is None:
        runs = await known_runs(tenant, [body.run_id or body.trace_id])
    record = body.record()
    if body.trace_id is None and body.run_id in runs:
        record["trace_id"] = runs[body.run_id][1]  # the run's own trace, not the run id guessed
    [feedback_id] = await writes.insert_feedback(tenant.db, tenant.workspace_id, [record])
    await tenant.db.commit()
    return await find_feedback(tenant, feedback_id), runs


async def update_feedback(tenant: Tenant, feedback_id: uuid.UUID, patch: FeedbackPatch) -> Feedback:
    """Sets the fields `patch` names (an explicit null clears) and commits."""
    feedback = await find_feedback(tenant, feedback_id)
    await writes.update_feedback(tenant.db, feedback, patch.changes())
    await tenant.db.commit()
    return feedback


async def delete_feedback(tenant: Tenant, feedback_id: uuid.UUID) -> None:
    """Deletes the workspace's feedback with this id and commits; NotFoundError if it has none."""
    if not await writes.delete_feedback(tenant.db, tenant.workspace_id, feedback_id):
        raise feedback_not_found(feedback_id)
    await tenant.db.commit()
