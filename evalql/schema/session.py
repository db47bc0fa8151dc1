"""Session (a tracer session, project or experiment; spec §2.3)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry
from strawberry.scalars import JSON

from evalql.core.formats import metadata_of, session_extra
from evalql.db import models
from evalql.db.tenant import readable
from evalql.filters.errors import FilterError
from evalql.filters.runs import run_condition
from evalql.queries.results import FeedbackStats as StatsByKey
from evalql.queries.results import SessionDeltas as SessionDeltasRow
from evalql.queries.session_stats import stats_for_sessions
from evalql.queries.sessions import SessionRow
from evalql.schema.computed import Computed, Values, attributes, computed, described
from evalql.schema.connection import Connection, keyset_page
from evalql.schema.context import Info
from evalql.schema.deltas import SessionDeltas
from evalql.schema.errors import BadUserInput
from evalql.schema.feedback_stats import FeedbackStats, feedback_stats_list
from evalql.schema.run import Run
from evalql.schema.stats_block import RunSetStatsFields

if TYPE_CHECKING:
    from evalql.schema.dataset import Dataset


def compiled_filter(text: str):
    """A run filter argument as SQL, or BAD_USER_INPUT with the words of spec §4.7."""
    try:
        return run_condition(text)
    except FilterError as exc:
        raise BadUserInput(f"filter: {exc.message}") from None


@strawberry.type
class Session(Computed):
    row: strawberry.Private[models.TracerSession]
    test_run_number_: strawberry.Private[int | None] = None

    @classmethod
    def of(cls, found: SessionRow) -> Session:
        return cls(row=found.session, test_run_number_=found.test_run_number)

    id: uuid.UUID = computed()
    name: str = computed()
    description: str | None = computed()
    start_time: dt.datetime = computed()
    end_time: dt.datetime | None = computed()
    metadata: JSON | None = computed()
    extra: JSON | None = computed()
    _values: ClassVar[Values] = {
        **attributes("row", "id", "name", "description", "start_time", "end_time"),
        "metadata": lambda self: JSON(metadata_of(self.row.extra)),
        "extra": lambda self: JSON(session_extra(self.row)),
    }

    @strawberry.field
    async def reference_dataset(
        self, info: Info,
    ) -> Annotated[Dataset, strawberry.lazy("evalql.schema.dataset")] | None:
        from evalql.schema.dataset import Dataset

        if self.row.reference_dataset_id is None:
            return None
        found = await info.context.loaders.dataset.load(self.row.reference_dataset_id)
        return None if found is None else Dataset(row=found)

    @strawberry.field(description="Stats over the session's root runs (spec §3.2).")
    async def stats(self, info: Info, filter: str | None = None) -> SessionStats:
        if filter:
            tenant = info.context.tenant
            condition = compiled_filter(filter)
            found = (await stats_for_sessions(tenant, [self.row.id], [condition]))[self.row.id]
            shown = f"and(eq(is_root, true), {filter})"
        else:
            found = await info.context.loaders.session_stats.load(self.row.id)
            shown = "eq(is_root, true)"
        return SessionStats(stats=found.stats, session_=self, session_feedback=found.session_feedback_stats,
                            filter=shown)

    @strawberry.field
    async def runs(self, info: Info, first: int = 20, after: str | None = None, filter: str | None = None,
                   is_root: bool | None = None) -> Connection[Run]:
        stmt = readable(info.context.tenant, models.Run).where(models.Run.session_id == self.row.id)
        if filter:
            stmt = stmt.where(compiled_filter(filter))
        if is_root is not None:
            stmt = stmt.where(models.Run.is_root.is_(is_root))
        return await keyset_page(info.context.tenant, stmt, models.Run.start_time, models.Run.id,
                                 first=first, after=after, descending=True, node=lambda r: Run(row=r))


@described
@strawberry.type
class SessionStats(RunSetStatsFields):
    """A session's stats over a run set: one group's runs, or all its root runs."""

    session_: strawberry.Private[Session]
    session_feedback: strawberry.Private[StatsByKey]
    filter: str
    deltas_: strawberry.Private[SessionDeltasRow | None] = None

    example_count: int = computed()
    session: Session = computed()
    run_count: int = computed()
    first_token_p50: float | None = computed()
    first_token_p99: float | None = computed()
    streaming_rate: float | None = computed()
    last_run_start_time: dt.datetime | None = computed()
    session_feedback_stats: list[FeedbackStats] = computed()
    test_run_number: int | None = computed()
    deltas: SessionDeltas | None = computed(
        "Against the baseline session of groupRuns(baselineSessionId:), paired by example; null for the "
        "baseline itself, in a group without it, and when no baseline was asked for.")
    _values: ClassVar[Values] = {
        **attributes("stats", "example_count", "run_count", "first_token_p50", "first_token_p99", "streaming_rate"),
        "session": lambda self: self.session_,
        "last_run_start_time": lambda self: self.stats.max_start_time,
        "session_feedback_stats": lambda self: feedback_stats_list(self.session_feedback),
        "test_run_number": lambda self: self.session_.test_run_number_,
        "deltas": lambda self: SessionDeltas.of(self.deltas_),
    }
