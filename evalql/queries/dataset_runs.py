"""Examples with runs, paged by example (spec §6): the dataset's examples that the
sessions ran, each with those runs.

REST answers §6 through the engine (`engine/answer.ComparisonEngine.dataset_runs`); this
SQL evaluation is the reference the engine is tested against
(tests/test_engine_differential.py).

The run set is the group query's step 1 (`candidate_runs`, §5.3). After the checks of
§5.2, four statements answer any request, whatever the page size or the number of runs:
the page of examples (ordered, or sorted by a feedback mean), the candidate runs of those
examples, their feedback, and their traces' start-time bounds.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, func, select

from evalql.db.bounds import MAX_OFFSET
from evalql.db.models import Example, Feedback, Run
from evalql.db.tenant import Tenant, readable
from evalql.queries.candidates import candidate_runs
from evalql.queries.results import ExampleWithRuns, RunWithFeedback
from evalql.queries.run_details import comparison_order, require_dataset_and_sessions, run_details


@dataclass(frozen=True)
class FeedbackSort:
    """Order examples by the mean score of one feedback key over their runs."""

    key: str
    descending: bool


@dataclass(frozen=True)
class DatasetRunsQuery:
    dataset_id: uuid.UUID
    session_ids: Sequence[uuid.UUID]  # de-duplicated, request order
    offset: int = 0
    limit: int = 10
    # Per-session SQL conditions on `Run`, AND-ed (compiled from filter strings).
    run_conditions: Mapping[uuid.UUID, Sequence[ColumnElement[bool]]] = field(default_factory=dict)
    # The filter strings they were compiled from: what tells two requests apart in the
    # engine's answer cache (`engine/answer.dataset_runs_key`).
    filter_strings: Mapping[uuid.UUID, Sequence[str]] = field(default_factory=dict)
    example_ids: Sequence[uuid.UUID] | None = None  # None: every example of the dataset
    sort: FeedbackSort | None = None


async def answer_dataset_runs(tenant: Tenant, query: DatasetRunsQuery) -> list[ExampleWithRuns]:
    await require_dataset_and_sessions(tenant, query.dataset_id, query.session_ids)
    examples = await page_of_examples(tenant, query)
    if not examples:
        return []
    runs = await runs_of_examples(tenant, query, [e.id for e in examples])
    return [ExampleWithRuns(example, runs.get(example.id, [])) for example in examples]


def _candidates(tenant: Tenant, query: DatasetRunsQuery, *columns: Any) -> Select:
    stmt = candidate_runs(tenant, query.dataset_id, query.session_ids, query.run_conditions, *columns)
    if query.example_ids is not None:
        stmt = stmt.where(Run.reference_example_id.in_(query.example_ids))
    return stmt


async def page_of_examples(tenant: Tenant, query: DatasetRunsQuery) -> list[Example]:
    """Live examples of the dataset with at least one candidate run, by (created_at, id),
    or by their feedback mean (nulls last, then by created_at, id), sliced."""
    ran = _candidates(tenant, query, Run.id.label("run_id"), Run.reference_example_id.label("example_id")).cte("ran")
    examples = select(ran.c.example_id).distinct().subquery("ran_examples")
    stmt = (
        readable(tenant, Example)
        .join(examples, examples.c.example_id == Example.id)
        .where(Example.dataset_id == query.dataset_id, Example.deleted_at.is_(None))
    )
    order: list[SQLColumnExpression[Any]] = [Example.created_at, Example.id]
    if query.sort is not None:
        scores = (
            readable(tenant, Feedback, ran.c.example_id, func.avg(Feedback.score).label("score"))
            .join(ran, ran.c.run_id == Feedback.run_id)
            .where(Feedback.key == query.sort.key)
            .group_by(ran.c.example_id)
            .subquery("example_scores")
        )
        stmt = stmt.outerjoin(scores, scores.c.example_id == Example.id)
        score = scores.c.score
        # Written out rather than NULLS LAST, so both directions read the same on both databases.
        order = [score.is_(None), score.desc() if query.sort.descending else score.asc(), *order]
    stmt = stmt.order_by(*order).offset(min(query.offset, MAX_OFFSET)).limit(query.limit)
    return list(await tenant.db.scalars(stmt))


async def runs_of_examples(tenant: Tenant, query: DatasetRunsQuery, example_ids: list[uuid.UUID]
                           ) -> dict[uuid.UUID, list[RunWithFeedback]]:
    """The candidate runs of these examples, in §5.3 step 7 order, by example."""
    runs = list(await tenant.db.scalars(_candidates(tenant, query).where(Run.reference_example_id.in_(example_ids))))
    details = await run_details(tenant, runs)
    runs.sort(key=comparison_order(query.session_ids))
    out: dict[uuid.UUID, list[RunWithFeedback]] = defaultdict(list)
    for run in runs:
        out[run.reference_example_id].append(details[run.id])
    return out
