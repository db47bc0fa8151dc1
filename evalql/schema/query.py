"""The Query root."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, TypeVar

import strawberry

from evalql.admission import Overloaded
from evalql.core import dataset_runs_request, group_request
from evalql.db import models
from evalql.db.tenant import readable
from evalql.engine.answer import Answer
from evalql.filters.errors import FilterError
from evalql.filters.runs import validate_run_filter
from evalql.queries import results
from evalql.schema.connection import Connection, keyset_page
from evalql.schema.context import Info
from evalql.schema.dataset import Dataset
from evalql.schema.errors import Busy, not_found_as_graphql
from evalql.schema.example import Example
from evalql.schema.group import ExampleGroupWithSessions, ExampleWithRuns
from evalql.schema.inputs import DatasetRunsInput, GroupRunsInput
from evalql.schema.run import Run
from evalql.schema.session import Session
from evalql.schema.viewer import Viewer

T = TypeVar("T")


@strawberry.type(description="The answer of validateFilter: the §4.7 message and offset when not ok.")
class FilterValidation:
    ok: bool
    message: str | None
    offset: int | None


@strawberry.type
class Query:
    @strawberry.field(description="The caller's workspace and key scope.")
    def viewer(self, info: Info) -> Viewer:
        tenant = info.context.tenant
        return Viewer(workspace_id=tenant.workspace_id, read_only=tenant.read_only)

    @strawberry.field
    async def dataset(self, info: Info, id: uuid.UUID) -> Dataset | None:
        found = await info.context.loaders.dataset.load(id)
        return None if found is None else Dataset(row=found)

    @strawberry.field(description="Live datasets, newest first.")
    async def datasets(self, info: Info, first: int = 20, after: str | None = None,
                       name_contains: str | None = None) -> Connection[Dataset]:
        tenant = info.context.tenant
        stmt = readable(tenant, models.Dataset).where(models.Dataset.deleted_at.is_(None))
        if name_contains:
            stmt = stmt.where(models.Dataset.name.icontains(name_contains, autoescape=True))
        return await keyset_page(tenant, stmt, models.Dataset.created_at, models.Dataset.id, first=first,
                                 after=after, descending=True, node=lambda r: Dataset(row=r))

    @strawberry.field
    async def session(self, info: Info, id: uuid.UUID) -> Session | None:
        found = await info.context.loaders.session.load(id)
        return None if found is None else Session.of(found)

    @strawberry.field
    async def example(self, info: Info, id: uuid.UUID) -> Example | None:
        found = await info.context.loaders.example.load(id)
        return None if found is None else Example(row=found)

    @strawberry.field
    async def run(self, info: Info, id: uuid.UUID) -> Run | None:
        found = await info.context.loaders.run.load(id)
        return None if found is None else Run(row=found)

    @strawberry.field(description="Check a run filter string (spec §4) as the user types it.")
    def validate_filter(self, filter: str) -> FilterValidation:
        try:
            validate_run_filter(filter)
        except FilterError as exc:
            return FilterValidation(ok=False, message=exc.message, offset=exc.offset)
        return FilterValidation(ok=True, message=None, offset=None)

    @strawberry.field(description="The group query of spec §5: REST group/runs, typed. With "
                                  "`baselineSessionId` (one of `input.sessionIds`), each other session of a group "
                                  "says how it compares to the baseline (`SessionStats.deltas`).")
    async def group_runs(self, info: Info, dataset_id: uuid.UUID, input: GroupRunsInput,
                         baseline_session_id: uuid.UUID | None = None,
                         delta_tolerance: Annotated[float, strawberry.argument(
                             description="A score difference up to this counts as unchanged (>= 0).")] = 0.0,
                         ) -> list[ExampleGroupWithSessions]:
        query = group_request.to_query(dataset_id, input.request(baseline_session_id, delta_tolerance))
        comparisons, tenant = info.context.comparisons, info.context.tenant
        with not_found_as_graphql():
            groups = await _answer(info, lambda: comparisons.cached_group_query(tenant, query),
                                   lambda: comparisons.group_query(tenant, query))
        _prime(info, (item for group in groups for item in group.examples))
        return [ExampleGroupWithSessions.of(g, query.preview) for g in groups]

    @strawberry.field(description=(
        "Examples with runs, paged by example (spec §6): REST POST /datasets/{id}/runs, typed. The "
        "dataset's examples that the sessions ran (after their filters), by creation or by a feedback "
        "mean (sortParams), each with those runs."))
    async def dataset_runs(self, info: Info, dataset_id: uuid.UUID, input: DatasetRunsInput
                           ) -> list[ExampleWithRuns]:
        request = input.request()
        query = dataset_runs_request.to_query(dataset_id, request)
        comparisons, tenant = info.context.comparisons, info.context.tenant
        with not_found_as_graphql():
            examples = await _answer(info, lambda: comparisons.cached_dataset_runs(tenant, query),
                                     lambda: comparisons.dataset_runs(tenant, query))
        _prime(info, examples)
        return [ExampleWithRuns.of(item, request.preview) for item in examples]


async def _answer(info: Info, cached: Callable[[], Awaitable[Answer[T] | None]],
                  compute: Callable[[], Awaitable[Answer[T]]]) -> T:
    """An answer already computed at this data version is served at once; anything else
    takes a comparison slot (evalql/admission.py) to `compute`, else the error BUSY."""
    try:
        answer = await info.context.request.app.state.admission.answered(info.context.tenant, cached, compute)
    except Overloaded as exc:
        raise Busy(exc.detail, exc.retry_after) from None
    return answer.result


def _prime(info: Info, examples: Iterable[results.ExampleWithRuns]) -> None:
    """Rows the comparison engine already holds serve later lookups without a statement."""
    loaders = info.context.loaders
    for item in examples:
        loaders.example.prime(item.example.id, item.example)
        for run in item.runs:
            loaders.run.prime(run.run.id, run.run)
            loaders.feedbacks.prime(run.run.id, run.feedbacks)
