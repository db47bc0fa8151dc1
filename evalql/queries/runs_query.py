"""Pages of runs in (start_time, id) order with keyset cursors, and what their JSON
needs from other rows (spec §2.4, §7.5.5), loaded in batches.

A request costs the same number of statements whatever the page size: one for the
page, then one per kind of related value the selected fields need (feedback statistics
take one, or three past FEW_FEEDBACK rows: `feedback_stats_by_run`), each over the whole page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, bindparam, func, literal, select, tuple_, type_coerce
from sqlalchemy.orm import aliased, defer
from sqlalchemy.sql.sqltypes import NullType

from evalql.db import derive
from evalql.db.backend import is_postgresql
from evalql.db.models import Example, Feedback, Run, RunAttachment
from evalql.db.tenant import EACH_EXECUTION, Tenant, bound, execute, probe, readable
from evalql.queries import feedback_stats as fbs
from evalql.queries.results import FeedbackStats
from evalql.queries.run_details import trace_bounds

ORDERS = ("desc", "asc")
FEW_FEEDBACK = 1000  # feedback rows of a page of runs aggregated in Python, from one statement


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after the last run of a page. Keyset, not offset: runs inserted
    between two requests can neither shift a run onto two pages nor push one off."""

    start_time: dt.datetime
    id: uuid.UUID
    order: str

    def encode(self) -> str:
        raw = orjson.dumps({"s": self.start_time.isoformat(), "i": str(self.id), "o": self.order})
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """ValueError for anything this server did not issue in this form."""
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            start = derive.parse_timestamp(raw["s"]) if isinstance(raw["s"], str) else None
            run_id, order = uuid.UUID(raw["i"]), raw["o"]
        except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
            raise ValueError("Invalid cursor: not a cursor from a previous page") from None
        if start is None or order not in ORDERS:
            raise ValueError("Invalid cursor: not a cursor from a previous page")
        return cls(start, run_id, order)


@dataclass(slots=True)
class RunQuery:
    conditions: list[ColumnElement[bool]]
    order: str = "desc"
    after: Cursor | None = None
    limit: int = 100
    skip_columns: Sequence[str] = ()  # wide columns the response does not read


async def page_of_runs(tenant: Tenant, query: RunQuery) -> tuple[list[Run], Cursor | None]:
    """Up to `limit` runs after the cursor, and the cursor of the next page (None on the
    last). (start_time, id) is the tail of the index (workspace_id, session_id,
    start_time, id), so a session's page is an index range scan in either direction."""
    key = tuple_(Run.start_time, Run.id)
    stmt = readable(tenant, Run).where(*query.conditions)
    if query.after is not None:
        # Typed binds: the column types turn the values into each database's stored form.
        position = tuple_(literal(query.after.start_time, Run.start_time.type), literal(query.after.id, Run.id.type))
        stmt = stmt.where(key < position if query.order == "desc" else key > position)
    columns = (Run.start_time, Run.id) if query.order == "asc" else (Run.start_time.desc(), Run.id.desc())
    # ingest_state only serves the merge rules of ingest; never part of a response.
    skipped = [getattr(Run, name) for name in (*query.skip_columns, "ingest_state")]
    stmt = stmt.order_by(*columns).limit(query.limit + 1).options(*[defer(c, raiseload=True) for c in skipped])
    runs = list((await tenant.db.scalars(stmt)).all())
    if len(runs) <= query.limit:
        return runs, None
    last = runs[query.limit - 1]
    return runs[:query.limit], Cursor(last.start_time, last.id, query.order)


@dataclass(slots=True)
class RelatedRows:
    """Per run (or per trace, per example) values from other tables; only those the
    selected fields need are loaded, the others stay empty."""

    feedback_stats: dict[uuid.UUID, FeedbackStats] = field(default_factory=dict)
    in_dataset: set[uuid.UUID] = field(default_factory=set)
    attachments: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    trace_bounds: dict[uuid.UUID, tuple] = field(default_factory=dict)
    reference_datasets: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Needs:
    """What of RelatedRows the selected fields need (a page's and one run's reads alike)."""

    in_dataset: bool
    attachments: bool
    trace_bounds: bool
    reference_datasets: bool
    feedback_stats: bool

    @classmethod
    def of(cls, fields: Collection[str]) -> Needs:
        return cls("in_dataset" in fields, "s3_urls" in fields,
                   "trace_min_start_time" in fields or "trace_max_start_time" in fields,
                   "reference_dataset_id" in fields, "feedback_stats" in fields)


async def related_rows(tenant: Tenant, runs: Sequence[Run], fields: Collection[str]) -> RelatedRows:
    found, needs = RelatedRows(), Needs.of(fields)
    if not runs:
        return found
    ids = [run.id for run in runs]
    if needs.feedback_stats:
        found.feedback_stats = await feedback_stats_by_run(tenant, ids)
    if needs.in_dataset:
        found.in_dataset = await runs_in_datasets(tenant, ids)
    if needs.attachments:
        found.attachments = await attachment_names(tenant, ids)
    if needs.trace_bounds:
        found.trace_bounds = await trace_bounds(tenant, list({run.trace_id for run in runs}))
    if needs.reference_datasets:
        examples = list({run.reference_example_id for run in runs if run.reference_example_id is not None})
        found.reference_datasets = await datasets_of_examples(tenant, examples)
    return found


# Built once (evalql/db/tenant.py): the runs' feedback rows; by index, up to FEW_FEEDBACK + 1 of them.
_FEEDBACK_ROWS = readable(EACH_EXECUTION, Feedback, Feedback.run_id, *fbs.FEEDBACK_COLUMNS)
_FEEDBACK_OF_RUNS = _FEEDBACK_ROWS.where(Feedback.run_id.in_(bindparam("run_ids", expanding=True)))
_FEW_FEEDBACK_ROWS = probe(_FEEDBACK_OF_RUNS.limit(FEW_FEEDBACK + 1))


async def feedback_stats_by_run(tenant: Tenant, run_ids: list[uuid.UUID],
                                read: Sequence[Any] | None = None) -> dict[uuid.UUID, FeedbackStats]:
    """§3.1 over each run's run-level feedback. Runs mostly carry a few feedback rows: up
    to FEW_FEEDBACK of them are read by one statement and aggregated here, as GraphQL's
    `Run.feedbackStats` aggregates the rows it loads (`partials_from_rows`); past that,
    SQL aggregates them (three statements), so neither memory nor time grows with them.
    `read`: up to FEW_FEEDBACK + 1 of those rows (run_id first, then FEEDBACK_COLUMNS),
    when the caller read them already (`one_run`, in the run's own statement)."""
    rows = read if read is not None else (await execute(tenant, _FEW_FEEDBACK_ROWS, run_ids=run_ids)).all()
    if len(rows) <= FEW_FEEDBACK:
        by_run: dict[uuid.UUID, list] = defaultdict(list)
        for row in rows:
            by_run[row.run_id].append(row)
        return {run_id: fbs.finish(fbs.partials_from_rows(found)) for run_id, found in by_run.items()}
    partials = await fbs.partials_by_partition(tenant.db, bound(tenant, _FEEDBACK_OF_RUNS, run_ids=run_ids),
                                               ("run_id",))
    return {run_id: fbs.finish(by_key) for (run_id,), by_key in partials.items()}


async def runs_in_datasets(tenant: Tenant, run_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Runs that some live example was made from (`in_dataset`)."""
    stmt = (readable(tenant, Example, Example.source_run_id)
            .where(Example.source_run_id.in_(run_ids), Example.deleted_at.is_(None)).distinct())
    return set((await tenant.db.scalars(stmt)).all())


async def attachment_names(tenant: Tenant, run_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Names only: the bytes are served by their own route."""
    stmt = (readable(tenant, RunAttachment, RunAttachment.run_id, RunAttachment.name)
            .where(RunAttachment.run_id.in_(run_ids)).order_by(RunAttachment.run_id, RunAttachment.name))
    out: dict[uuid.UUID, list[str]] = defaultdict(list)
    for run_id, name in await tenant.db.execute(stmt):
        out[run_id].append(name)
    return dict(out)


async def datasets_of_examples(tenant: Tenant, example_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Dataset of each live reference example (a deleted example links to nothing, §7.5.1)."""
    if not example_ids:
        return {}
    stmt = (readable(tenant, Example, Example.id, Example.dataset_id)
            .where(Example.id.in_(example_ids), Example.deleted_at.is_(None)))
    return dict((await tenant.db.execute(stmt)).all())


async def one_run(tenant: Tenant, run_id: uuid.UUID, fields: Collection[str]) -> tuple[Run, RelatedRows] | None:
    """A run and what its selected fields need from other tables. For one run, each of
    those is an index probe, asked in the run's own statement (a correlated subquery per
    value), so a read costs one to three statements whatever it selects: the run, its
    feedback statistics (on PostgreSQL in the run's statement too, unless the run has
    more than FEW_FEEDBACK feedback rows), and its attachments' names only if it has any."""
    needs = Needs.of(fields)
    # SQLite reads a probe on the loop's own thread, which costs no round trip: only
    # PostgreSQL gains from one statement fewer (and its driver decodes the records typed).
    feedback_rows = needs.feedback_stats and is_postgresql(tenant.db)
    stmt = _one_run_statement(needs.in_dataset, needs.attachments, needs.trace_bounds, needs.reference_datasets,
                              feedback_rows)
    row = (await execute(tenant, stmt, run_id=run_id)).first()
    if row is None:
        return None
    run, found, values = row[0], RelatedRows(), row._mapping
    if values.get("in_dataset"):
        found.in_dataset = {run.id}
    if values.get("attached"):
        found.attachments = await attachment_names(tenant, [run.id])
    if "trace_min" in values:
        # SQLite hands an aggregate of a timestamp column back as text.
        found.trace_bounds = {run.trace_id: (derive.parse_timestamp(row.trace_min),
                                             derive.parse_timestamp(row.trace_max))}
    if values.get("reference_dataset") is not None:
        found.reference_datasets = {run.reference_example_id: row.reference_dataset}
    if needs.feedback_stats:
        read = [fbs.FeedbackRow(*record) for record in row.feedback_rows or ()] if feedback_rows else None
        found.feedback_stats = await feedback_stats_by_run(tenant, [run.id], read)
    return run, found


@functools.cache
def _one_run_statement(in_dataset: bool, attached: bool, trace: bool, reference: bool,
                       feedback_rows: bool) -> Select[Any]:
    """`one_run`'s statement for what the fields need, built once (evalql/db/tenant.py)."""
    values: dict[str, ColumnElement] = {}
    if feedback_rows:
        # PostgreSQL: up to FEW_FEEDBACK + 1 of the run's feedback rows, as `_FEW_FEEDBACK_ROWS`
        # reads them, in one array of records (asyncpg decodes each typed: uuid, float,
        # timestamptz), by index.
        few = (_FEEDBACK_ROWS.where(Feedback.run_id == Run.id).limit(FEW_FEEDBACK + 1).correlate(Run)
               .subquery("few_feedback"))
        values["feedback_rows"] = type_coerce(select(func.array_agg(func.row(*few.c))).scalar_subquery(),
                                              NullType())
    if in_dataset:
        values["in_dataset"] = (readable(EACH_EXECUTION, Example, Example.id)
                                .where(Example.source_run_id == Run.id, Example.deleted_at.is_(None)).exists())
    if attached:
        values["attached"] = readable(EACH_EXECUTION, RunAttachment, RunAttachment.run_id).where(
            RunAttachment.run_id == Run.id).exists()
    if trace:
        alias = aliased(Run)
        for name, bound in (("trace_min", func.min), ("trace_max", func.max)):
            # Grouped by the trace, so that SQLite reads the trace's runs on its index
            # rather than walking the workspace's runs in start order for the first match.
            values[name] = readable(EACH_EXECUTION, alias, bound(alias.start_time)).where(
                alias.trace_id == Run.trace_id).group_by(alias.trace_id).scalar_subquery()
    if reference:
        values["reference_dataset"] = readable(EACH_EXECUTION, Example, Example.dataset_id).where(
            Example.id == Run.reference_example_id, Example.deleted_at.is_(None)).scalar_subquery()
    return probe(readable(EACH_EXECUTION, Run).add_columns(*(v.label(k) for k, v in values.items()))
                 .where(Run.id == bindparam("run_id")).options(defer(Run.ingest_state, raiseload=True)))


async def attachment(tenant: Tenant, run_id: uuid.UUID, name: str) -> RunAttachment | None:
    """The attachment of a visible run: a run held back by ingest (§7.7) shows nothing."""
    visible = readable(tenant, Run, Run.id).where(Run.id == run_id).exists()
    stmt = readable(tenant, RunAttachment).where(RunAttachment.run_id == run_id, RunAttachment.name == name, visible)
    return await tenant.db.scalar(stmt)
