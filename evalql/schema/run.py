"""Run (spec §2.4): a node of a trace tree."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry
from strawberry.scalars import JSON

from evalql.core.formats import app_path, metadata_of, preview_text
from evalql.db import models
from evalql.queries import feedback_stats as fbs
from evalql.schema.computed import Computed, Values, attributes, computed, described
from evalql.schema.context import Info, prefetched_or_load
from evalql.schema.enums import RunStatus, RunType
from evalql.schema.feedback import Feedback
from evalql.schema.feedback_stats import FeedbackStats, StatsByKey, feedback_stats_list

if TYPE_CHECKING:
    from evalql.schema.example import Example
    from evalql.schema.session import Session


@described
@strawberry.type
class Run(Computed):
    row: strawberry.Private[models.Run]
    # Handed down by the group query; None means "ask the loader".
    prefetched_feedbacks: strawberry.Private[list[models.Feedback] | None] = None
    # ... and their statistics, as the group query computed them (else computed from them).
    prefetched_stats: strawberry.Private[StatsByKey | None] = None
    # `preview: true` of the group query nulls the heavy fields (spec §5.6).
    preview: strawberry.Private[bool] = False

    id: uuid.UUID = computed()
    name: str = computed()
    run_type: RunType = computed()
    status: RunStatus = computed()
    start_time: dt.datetime = computed()
    end_time: dt.datetime | None = computed()

    latency: float | None = computed("Seconds from start to end; null while pending.")
    first_token_time: dt.datetime | None = computed()
    inputs: JSON | None = computed()
    outputs: JSON | None = computed()
    inputs_preview: str | None = computed()
    outputs_preview: str | None = computed()
    error: str | None = computed()
    extra: JSON | None = computed()
    metadata: JSON | None = computed()
    tags: list[str] = computed()
    events: JSON | None = computed()
    serialized: JSON | None = computed()
    trace_id: uuid.UUID = computed()
    dotted_order: str = computed()
    execution_order: int = computed()
    parent_run_id: uuid.UUID | None = computed()
    total_tokens: int = computed()
    prompt_tokens: int = computed()
    completion_tokens: int = computed()
    total_cost: Decimal | None = computed()
    prompt_cost: Decimal | None = computed()
    completion_cost: Decimal | None = computed()
    app_path: str = computed()
    _values: ClassVar[Values] = {
        **attributes("row", "id", "name", "start_time", "end_time", "latency", "first_token_time", "error", "extra",
                     "trace_id", "dotted_order", "parent_run_id", "total_tokens", "prompt_tokens", "completion_tokens",
                     "total_cost", "prompt_cost", "completion_cost"),
        "run_type": lambda self: RunType(self.row.run_type),
        "status": lambda self: RunStatus(self.row.status),
        "inputs": lambda self: None if self.preview else self.row.inputs,
        "outputs": lambda self: None if self.preview else self.row.outputs,
        "inputs_preview": lambda self: preview_text(self.row.inputs),
        "outputs_preview": lambda self: preview_text(self.row.outputs),
        "metadata": lambda self: JSON(metadata_of(self.row.extra)),
        "tags": lambda self: list(self.row.tags or []),
        "events": lambda self: None if self.preview else self.row.events,
        "serialized": lambda self: None if self.preview else self.row.serialized,
        "execution_order": lambda self: 1,
        "app_path": lambda self: app_path(self.row),
    }

    # Functions of the run's own data (`schema.execution`, point 2), with `result_key`.
    __evalql_pure__: ClassVar[frozenset[str]] = frozenset({"feedback_stats", "feedbacks"})

    def result_key(self) -> tuple[object, ...] | None:
        """What this run's pure fields are a function of: its row, feedback and statistics as
        the group query handed them down (the engine replaces them when they change, never
        changes them), and `preview`. Without handed-down feedback, none (a loader reads it)."""
        if self.prefetched_feedbacks is None or self.prefetched_stats is None:
            return None
        return self.row, self.prefetched_feedbacks, self.prefetched_stats, self.preview

    @strawberry.field
    async def parent(self, info: Info) -> Run | None:
        if self.row.parent_run_id is None:
            return None
        found = await info.context.loaders.run.load(self.row.parent_run_id)
        return None if found is None else Run(row=found)

    @strawberry.field
    async def children(self, info: Info) -> list[Run]:
        return [Run(row=r) for r in await info.context.loaders.child_runs.load(self.row.id)]

    @strawberry.field
    async def session(self, info: Info) -> Annotated[Session, strawberry.lazy("evalql.schema.session")]:
        from evalql.schema.session import Session

        return Session.of(await info.context.loaders.session.load(self.row.session_id))

    @strawberry.field
    async def reference_example(
        self, info: Info,
    ) -> Annotated[Example, strawberry.lazy("evalql.schema.example")] | None:
        from evalql.schema.example import Example

        if self.row.reference_example_id is None:
            return None
        found = await info.context.loaders.example.load(self.row.reference_example_id)
        return None if found is None else Example(row=found)

    @strawberry.field
    def feedbacks(self, info: Info) -> list[Feedback]:
        return prefetched_or_load(self.prefetched_feedbacks, info.context.loaders.feedbacks, self.row.id,
                                  lambda rows: [Feedback(row=f) for f in rows])

    @strawberry.field
    def feedback_stats(self, info: Info) -> list[FeedbackStats]:
        if self.prefetched_stats is not None:
            return feedback_stats_list(self.prefetched_stats)
        return prefetched_or_load(self.prefetched_feedbacks, info.context.loaders.feedbacks, self.row.id,
                                  lambda rows: feedback_stats_list(fbs.finish(fbs.partials_from_rows(rows))))
