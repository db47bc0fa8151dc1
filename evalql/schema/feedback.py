"""Feedback and its source (spec §2.5)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from evalql.core.feedback import source_of
from evalql.db import models
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
class Feedback:
    row: strawberry.Private[models.Feedback]

    @strawberry.field
    def id(self) -> uuid.UUID: return self.row.id

    @strawberry.field
    def key(self) -> str: return self.row.key

    @strawberry.field
    def score(self) -> float | None: return self.row.score

    @strawberry.field
    def value(self) -> JSON | None: return self.row.value

    @strawberry.field
    def comment(self) -> str | None: return self.row.comment

    @strawberry.field
    def correction(self) -> JSON | None: return self.row.correction

    @strawberry.field
    def feedback_source(self) -> FeedbackSource | None:
        source = source_of(self.row.feedback_source)
        return FeedbackSource(type=source["type"], metadata=JSON(source["metadata"]), user_id=_uuid(source["user_id"]),
                              ls_user_id=_uuid((self.row.feedback_source or {}).get("ls_user_id")),
                              user_name=source["user_name"])

    @strawberry.field
    def feedback_group_id(self) -> uuid.UUID | None: return self.row.feedback_group_id

    @strawberry.field
    def comparative_experiment_id(self) -> uuid.UUID | None: return self.row.comparative_experiment_id

    @strawberry.field
    def start_time(self) -> dt.datetime | None: return self.row.start_time

    @strawberry.field
    def created_at(self) -> dt.datetime: return self.row.created_at

    @strawberry.field
    def modified_at(self) -> dt.datetime: return self.row.modified_at

    @strawberry.field
    def trace_id(self) -> uuid.UUID | None: return self.row.trace_id

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
