"""The engine's reads of the tables: narrow rows in bulk (a session, a dataset, one
metadata key), or by id (what the change log names). Every statement starts from the
tenant-scoped builders; values come back raw (ids as their 16 bytes, costs as integer
units, times as epoch microseconds) so that no UUID, Decimal or datetime object is made
per row, and rows are read as plain Core rows: at W(100k) building those objects cost
several times what the database spent reading.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Select, and_, case, type_coerce

from evalql.db.chunks import id_chunks
from evalql.db.dialect import EpochMicros
from evalql.db.models import Example, ExampleMetadata, Feedback, Run, RunMetadata
from evalql.db.tenant import Tenant, readable
from evalql.db.types import UuidKey

COSTS = ("total_cost", "prompt_cost", "completion_cost")
TOKENS = ("total_tokens", "prompt_tokens", "completion_tokens")



def id_key(column: Any, name: str | None = None) -> Any:
    """A UUID column read as its 16 bytes (the state's row keys)."""
    return type_coerce(column, UuidKey()).label(name or column.key)


RUN_COLUMNS = (
    id_key(Run.id), id_key(Run.session_id), Run.is_root, id_key(Run.reference_example_id), Run.latency,
    Run.first_token_latency,
    *[getattr(Run, t) for t in TOKENS],
    *[type_coerce(getattr(Run, c), BigInteger).label(c) for c in COSTS],
    EpochMicros(Run.start_time).label("start_us"),
    case((Run.status == "error", True), else_=False).label("is_error"),
    case((Run.first_token_time.is_not(None), True), else_=False).label("is_streaming"),
)
FEEDBACK_COLUMNS = (
    id_key(Feedback.id), id_key(Feedback.run_id), Feedback.key, Feedback.score, Feedback.error, Feedback.value_label,
    # The time is only needed to order comments; most feedback has none.
    case((and_(Feedback.comment.is_not(None), Feedback.comment != ""), Feedback.comment)).label("comment"),
    case((and_(Feedback.comment.is_not(None), Feedback.comment != ""), Feedback.created_at)).label("created_at"),
)
# Rows read by id may be session-level feedback (no run), kept by their session.
FEEDBACK_BY_ID_COLUMNS = (*FEEDBACK_COLUMNS, id_key(Feedback.session_id))


class FeedbackRow(NamedTuple):
    """A session-level feedback row, kept whole (with UUIDs): plain, so it pickles."""

    id: uuid.UUID
    run_id: uuid.UUID | None
    session_id: uuid.UUID | None
    key: str
    score: float | None
    error: bool
    value_label: str | None
    comment: str | None
    created_at: dt.datetime | None

    @classmethod
    def of(cls, row: Any) -> FeedbackRow:
        """From a row of FEEDBACK_BY_ID_COLUMNS (ids as bytes)."""
        return cls(uuid.UUID(bytes=row.id), None if row.run_id is None else uuid.UUID(bytes=row.run_id),
                   None if row.session_id is None else uuid.UUID(bytes=row.session_id), row.key, row.score,
                   row.error, row.value_label, row.comment, row.created_at)


EXAMPLE_COLUMNS = (id_key(Example.id), id_key(Example.dataset_id), EpochMicros(Example.created_at).label("created_us"),
                   Example.deleted_at.is_(None).label("is_live"))


async def _rows(tenant: Tenant, stmt: Select) -> list[Any]:
    # On the session's connection (its transaction), without the ORM's result machinery.
    connection = await tenant.db.connection()
    return list((await connection.execute(stmt)).all())


async def _rows_by_ids(tenant: Tenant, stmt: Select, column: Any, ids: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for chunk in id_chunks(ids):
        out += await _rows(tenant, stmt.where(column.in_(chunk)))
    return out


def _runs(tenant: Tenant) -> Select:
    return readable(tenant, Run, *RUN_COLUMNS)


async def session_runs(tenant: Tenant, session_id: uuid.UUID) -> list[Any]:
    """The session's root runs that reference an example: the only runs the group query reads."""
    return await _rows(tenant, _runs(tenant).where(Run.session_id == session_id, Run.is_root.is_(True),
                                                   Run.reference_example_id.is_not(None)))


async def runs_by_id(tenant: Tenant, run_ids: Iterable[uuid.UUID]) -> list[Any]:
    return await _rows_by_ids(tenant, _runs(tenant), Run.id, run_ids)


async def session_feedback(tenant: Tenant, session_id: uuid.UUID) -> list[Any]:
    """Run-level feedback of the session's root runs (the runs of `session_runs`)."""
    # IN (the session's runs), not a join: both databases then probe feedback by run id
    # (ix_feedback_ws_run) for each of the session's runs. As a join, SQLite without table
    # statistics walked every feedback row of the workspace and looked its run up (4× slower
    # at W(100k)).
    roots = readable(tenant, Run, Run.id).where(Run.session_id == session_id, Run.is_root.is_(True),
                                                Run.reference_example_id.is_not(None))
    return await _rows(tenant, readable(tenant, Feedback, *FEEDBACK_COLUMNS).where(Feedback.run_id.in_(roots)))


async def session_level_feedback(tenant: Tenant, session_id: uuid.UUID) -> list[Any]:
    """Feedback on the session itself (no run): its `session_feedback_stats` (spec §3.2)."""
    return await _rows(tenant, readable(tenant, Feedback, *FEEDBACK_BY_ID_COLUMNS).where(
        Feedback.session_id == session_id, Feedback.run_id.is_(None)))


async def feedback_by_id(tenant: Tenant, feedback_ids: Iterable[uuid.UUID]) -> list[Any]:
    return await _rows_by_ids(tenant, readable(tenant, Feedback, *FEEDBACK_BY_ID_COLUMNS), Feedback.id,
                              feedback_ids)


async def feedback_of_runs(tenant: Tenant, run_ids: Iterable[uuid.UUID]) -> list[Any]:
    return await _rows_by_ids(tenant, readable(tenant, Feedback, *FEEDBACK_COLUMNS), Feedback.run_id, run_ids)


def _run_metadata(tenant: Tenant, keys: Sequence[str]) -> Select:
    return readable(tenant, RunMetadata, id_key(RunMetadata.run_id), RunMetadata.key, RunMetadata.kind,
                    RunMetadata.value, RunMetadata.num).where(RunMetadata.key.in_(keys))


async def session_run_metadata(tenant: Tenant, session_id: uuid.UUID, key: str) -> list[Any]:
    return await _rows(tenant, _run_metadata(tenant, [key]).where(RunMetadata.session_id == session_id))


async def run_metadata_by_run(tenant: Tenant, run_ids: Iterable[uuid.UUID], keys: Sequence[str]) -> list[Any]:
    return await _rows_by_ids(tenant, _run_metadata(tenant, keys), RunMetadata.run_id, run_ids)


def _examples(tenant: Tenant) -> Select:
    return readable(tenant, Example, *EXAMPLE_COLUMNS)


async def dataset_examples(tenant: Tenant, dataset_id: uuid.UUID) -> list[Any]:
    return await _rows(tenant, _examples(tenant).where(Example.dataset_id == dataset_id))


async def examples_by_id(tenant: Tenant, example_ids: Iterable[uuid.UUID]) -> list[Any]:
    return await _rows_by_ids(tenant, _examples(tenant), Example.id, example_ids)


def _example_metadata(tenant: Tenant, keys: Sequence[str]) -> Select:
    return readable(tenant, ExampleMetadata, id_key(ExampleMetadata.example_id), ExampleMetadata.key,
                    ExampleMetadata.kind, ExampleMetadata.value, ExampleMetadata.num,
                    ).where(ExampleMetadata.key.in_(keys))


async def dataset_example_metadata(tenant: Tenant, dataset_id: uuid.UUID, key: str) -> list[Any]:
    return await _rows(tenant, _example_metadata(tenant, [key]).where(ExampleMetadata.dataset_id == dataset_id))


async def example_metadata_by_example(tenant: Tenant, example_ids: Iterable[uuid.UUID], keys: Sequence[str]
                                      ) -> list[Any]:
    return await _rows_by_ids(tenant, _example_metadata(tenant, keys), ExampleMetadata.example_id, example_ids)
