"""Run (spec §2.4): a node of a trace tree."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from evalql.core.formats import app_path, metadata_of, preview_text
from evalql.db import models
from evalql.queries import feedback_stats as fbs
from evalql.schema.context import Info, prefetched_or_load
from evalql.schema.enums import RunStatus, RunType
from evalql.schema.feedback import Feedback
from evalql.schema.feedback_stats import FeedbackStats, feedback_stats_list

if TYPE_CHECKING:
    from evalql.schema.example import Example
    from evalql.schema.session import Session


@strawberry.type
class Run:
    row: strawberry.Private[models.Run]
    # Handed down by the group query; None means "ask the loader".
    prefetched_feedbacks: strawberry.Private[list[models.Feedback] | None] = None
    # `preview: true` of the group query nulls the heavy fields (spec §5.6).
    preview: strawberry.Private[bool] = False

    @strawberry.field
    def id(self) -> uuid.UUID: return self.row.id

    @strawberry.field
    def name(self) -> str: return self.row.name

    @strawberry.field
    def run_type(self) -> RunType: return RunType(self.row.run_type)

    @strawberry.field
    def status(self) -> RunStatus: return RunStatus(self.row.status)

    @strawberry.field
    def start_time(self) -> dt.datetime: return self.row.start_time

    @strawberry.field
    def end_time(self) -> dt.datetime | None: return self.row.end_time

    @strawberry.field(description="Seconds from start to end; null while pending.")
    def latency(self) -> float | None: return self.row.latency

    @strawberry.field
    def first_token_time(self) -> dt.datetime | None: return self.row.first_token_time

    @strawberry.field
    def inputs(self) -> JSON | None: return None if self.preview else self.row.inputs

    @strawberry.field
    def outputs(self) -> JSON | None: return None if self.preview else self.row.outputs

    @strawberry.field
    def inputs_preview(self) -> str | None: return preview_text(self.row.inputs)

    @strawberry.field
    def outputs_preview(self) -> str | None: return preview_text(self.row.outputs)

    @strawberry.field
    def error(self) -> str | None: return self.row.error

    @strawberry.field
    def extra(self) -> JSON | None: return self.row.extra

    @strawberry.field
    def metadata(self) -> JSON | None: return JSON(metadata_of(self.row.extra))

    @strawberry.field
    def tags(self) -> list[str]: return list(self.row.tags or [])

    @strawberry.field
    def events(self) -> JSON | None: return None if self.preview else self.row.events

    @strawberry.field
    def serialized(self) -> JSON | None: return None if self.preview else self.row.serialized

    @strawberry.field
    def trace_id(self) -> uuid.UUID: return self.row.trace_id

    @strawberry.field
    def dotted_order(self) -> str: return self.row.dotted_order

    @strawberry.field
    def execution_order(self) -> int: return 1

    @strawberry.field
    def parent_run_id(self) -> uuid.UUID | None: return self.row.parent_run_id

    @strawberry.field
    def total_tokens(self) -> int: return self.row.total_tokens

    @strawberry.field
    def prompt_tokens(self) -> int: return self.row.prompt_tokens

    @strawberry.field
    def completion_tokens(self) -> int: return self.row.completion_tokens

    @strawberry.field
    def total_cost(self) -> Decimal | None: return self.row.total_cost

    @strawberry.field
    def prompt_cost(self) -> Decimal | None: return self.row.prompt_cost

    @strawberry.field
    def completion_cost(self) -> Decimal | None: return self.row.completion_cost

    @strawberry.field
    def app_path(self) -> str: return app_path(self.row)

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
    async def feedbacks(self, info: Info) -> list[Feedback]:
        return [Feedback(row=f) for f in await self._feedbacks(info)]

    @strawberry.field
    async def feedback_stats(self, info: Info) -> list[FeedbackStats]:
        return feedback_stats_list(fbs.finish(fbs.partials_from_rows(await self._feedbacks(info))))

    async def _feedbacks(self, info: Info) -> list[models.Feedback]:
        return await prefetched_or_load(self.prefetched_feedbacks, info.context.loaders.feedbacks, self.row.id)
