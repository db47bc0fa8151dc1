"""The Mutation root: annotating runs with feedback (spec §7.6) from GraphQL, as a person
does from an application (issue 10).

The mutations make the reads and writes of REST's `/feedback` routes (`core.feedback_writes`),
so the two interfaces store the same rows, and validate by the same rules. Each mutation is
one transaction, committed before it answers: the workspace's data version moves with it, so
the next `groupRuns` answers from the new rows and subscriptions see the change. Mutations of
one document run one after the other, each committed on its own.

Errors: a read-only key is FORBIDDEN; bad input is BAD_USER_INPUT naming the field; a run or
feedback that is not the workspace's (another workspace's, or none) is NOT_FOUND. Nothing is
written then.
"""

from __future__ import annotations

import uuid

import strawberry

from evalql.core import feedback_writes
from evalql.db import models
from evalql.db.tenant import Tenant
from evalql.loaders import Loaders
from evalql.schema.context import Info
from evalql.schema.errors import Forbidden, NotFound, not_found_as_graphql
from evalql.schema.feedback import Feedback
from evalql.schema.feedback_inputs import CreateFeedbackInput, UpdateFeedbackInput


@strawberry.type(description="What `deleteFeedback` deleted.")
class DeletedFeedback:
    id: uuid.UUID


def _writer(info: Info) -> Tenant:
    tenant = info.context.tenant
    if tenant.read_only:
        raise Forbidden("API key is read-only")  # REST's words (spec §1.2)
    return tenant


def _written(info: Info, row: models.Feedback) -> Feedback:
    """The stored feedback, answered with fresh loaders: what this request's loaders read
    before the write (the run's feedbacks, by an earlier mutation's answer) is stale now."""
    info.context.loaders = Loaders(info.context.tenant)
    return Feedback(row=row)


@strawberry.type(description="Writes, each committed before it answers: feedback on runs (annotation). A "
                              "read-only key is refused (FORBIDDEN).")
class Mutation:
    @strawberry.mutation(description=(
        "Annotates a run of the workspace: `POST /feedback` (spec §7.6) for one run. The feedback's source "
        "is `{type: APP}` unless `input.feedbackSource` says otherwise. Unlike REST, the run must exist "
        "(NOT_FOUND otherwise)."))
    async def create_feedback(self, info: Info, input: CreateFeedbackInput) -> Feedback:
        tenant = _writer(info)
        body = input.record()
        runs = await feedback_writes.known_runs(tenant, [body.run_id])
        if body.run_id not in runs:
            raise NotFound(f"input.runId: Run {body.run_id} not found")
        row, _ = await feedback_writes.create_feedback(tenant, body, runs)
        return _written(info, row)

    @strawberry.mutation(description=(
        "Changes the score, value, comment or correction of a feedback of the workspace: `PATCH "
        "/feedback/{id}` (spec §7.6). A field given as null is cleared; a field left out is kept."))
    async def update_feedback(self, info: Info, id: uuid.UUID, input: UpdateFeedbackInput) -> Feedback:
        tenant = _writer(info)
        patch = input.patch()
        with not_found_as_graphql():
            row = await feedback_writes.update_feedback(tenant, id, patch)
        return _written(info, row)

    @strawberry.mutation(description="Deletes a feedback of the workspace: `DELETE /feedback/{id}` (spec §7.6).")
    async def delete_feedback(self, info: Info, id: uuid.UUID) -> DeletedFeedback:
        tenant = _writer(info)
        with not_found_as_graphql():
            await feedback_writes.delete_feedback(tenant, id)
        info.context.loaders = Loaders(tenant)
        return DeletedFeedback(id=id)
