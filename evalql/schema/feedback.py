"""Feedback and its source (spec §2.5)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry
from strawberry.scalars import JSON

from evalql.core.feedback import source_of
from evalql.db import models
from evalql.schema.computed import Computed, Values, attributes, computed
from evalql.schema.context import Info

if TYPE_CHECKING:
    from evalql.schema.run import Run
    from evalql.schema.session import Session


@strawberry.type
class FeedbackSource:
    type: str
    metadata: JSON | None
    user_id: uuid.UUID | None
    ls_user_id: uuid.UUID | None
    user_name: str | None


@strawberry.type
class Feedback(Computed):
    row: strawberry.Private[models.Feedback]
    __evalql_pure__: ClassVar[frozenset[str]] = frozenset({"feedback_source"})  # see schema.execution

    id: uuid.UUID = computed()
    key: str = computed()
    score: float | None = computed()
    value: JSON | None = computed()
    comment: str | None = computed()
    correction: JSON | None = computed()

    @strawberry.field
    def feedback_source(self) -> FeedbackSource | None:
        source = source_of(self.row.feedback_source)
        return FeedbackSource(type=source["type"], metadata=JSON(source["metadata"]), user_id=_uuid(source["user_id"]),
                              ls_user_id=_uuid((self.row.feedback_source or {}).get("ls_user_id")),
                              user_name=source["user_name"])

    feedback_group_id: uuid.UUID | None = computed()
    comparative_experiment_id: uuid.UUID | None = computed()
    start_time: dt.datetime | None = computed()
    created_at: dt.datetime = computed()
    modified_at: dt.datetime = computed()
    trace_id: uuid.UUID | None = computed()
    _values: ClassVar[Values] = {
        **attributes("row", "id", "key", "score", "value", "comment", "correction", "feedback_group_id",
                     "comparative_experiment_id", "start_time", "created_at", "modified_at", "trace_id"),
    }

    @strawberry.field
    async def is_root(self, info: Info) -> bool | None:
        run = await self._run(info)
        return None if run is None else run.is_root

    @strawberry.field
    async def run(self, info: Info) -> Annotated[Run, strawberry.lazy("evalql.schema.run")] | None:
        from evalql.schema.run import Run

        run = await self._run(info)
        return None if run is None else Run(row=run)

    @strawberry.field
    async def session(self, info: Info) -> Annotated[Session, strawberry.lazy("evalql.schema.session")] | None:
        from evalql.schema.session import Session

        session_id = self.row.session_id
        if session_id is None:
            run = await self._run(info)
            session_id = run.session_id if run is not None else None
        found = await info.context.loaders.session.load(session_id) if session_id else None
        return None if found is None else Session.of(found)

    async def _run(self, info: Info) -> models.Run | None:
        return await info.context.loaders.run.load(self.row.run_id) if self.row.run_id else None


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
