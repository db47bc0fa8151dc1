"""The naive floor beside which `make bench` prints evalql's figures: the statistics of
group/runs, per group value × session (run count, tokens, cost, error rate, latency p50/p99,
feedback n/avg/stdev per key), under the intersection rule of spec §5.3, by hand-written SQL
over the tables: no engine, no state kept between calls, no page of examples or runs, no JSON.
It is what a straightforward implementation costs on the same machine and data. It is not a
reference for answers (tests/oracle.py is; tests/test_bench.py checks this file against it on
both databases). It leaves out the session-level feedback, and it groups by the metadata
entry's text, so the values `1` and `"1"` would share a group (W(N) holds strings only).

One pass over the runs fills a temporary table with R(g); two statements aggregate it:

1. C: the root runs of the sessions on live examples of the dataset, joined with their metadata
   entry (§5.3 steps 1-2). R(g): on PostgreSQL in the same statement, each session a bit, and
   a run kept when the OR of its (value, example)'s bits equals its value's (two window
   aggregates over one sort); on SQLite, which has no bit_or, C goes to a first table and the
   (value, example) pairs with as many distinct sessions as their value are picked by IN
   (subquery) (SQLite indexes the subquery's rows), then copied sorted by (value, session,
   latency).
2. Per (value, session): count, sums, error rate and the percentiles of §3.3: `percentile_cont`
   on PostgreSQL; on SQLite x[lo] and x[hi] are read by position in the sorted table.
3. Per (value, session, feedback key): n, mean and population stdev (§3.1) of the runs' scores,
   looked up by the feedback's (workspace, run) index (SQLite: from the mean of squares).

The plans do not depend on PostgreSQL's statistics: nested loops are off for the call (every
statement reads whole sets, and without statistics PostgreSQL estimates a row or two per table
and may loop over an index scan that ignores the join key), and nothing else in the statements
leans on an estimate. A bulk load that no ANALYZE followed, or an ANALYZE taken while the
database held another size of W(N), changes costs, not complexity. (The first cut of this file
joined materialized CTEs that PostgreSQL estimated at one row and nested-looped: 3.0 s per call
on W(1k) once W(10k) was in the same database, 19 s on a W(1k) loaded without ANALYZE.) On
SQLite each join step is an index lookup (SQLite builds one for each IN subquery), whichever
order its planner picks.

Medians in ms (`naive_group_stats` alone, one connection, 7-9 calls after a warm-up; old = the
first cut) on the 2-core bench machine, shared, load 1.2-1.8:

| W(N), grouping | SQLite old → now | PostgreSQL old → now |
|---|---|---|
| W(1k), run metadata `model` | 80 → 44 | 3,011 → 44 |
| W(1k), example metadata `difficulty` | 88 → 46 | 1,900 → 34 |
| W(10k), `model` | 1,095 → 478 | 800 → 227 |
| W(10k), `difficulty` | 1,186 → 538 | 764 → 219 |

PostgreSQL's W(1k) and W(10k) share one database (as `--reuse` with `--database-url` leaves
them), ANALYZEd after each load. More in bench/README.md, "The naive floor".
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from evalql.db.models import Example, ExampleMetadata, Feedback, Run, RunMetadata

P50, P99 = 0.5, 0.99
CANDIDATE_COLUMNS = ("value", "session_id", "example_id", "run_id", "latency", "total_tokens", "total_cost", "is_error")
MEMBER_COLUMNS = ("value", "session_id", "run_id", "latency", "total_tokens", "total_cost", "is_error")
_TYPES = {"value": RunMetadata.__table__.c.value.type, "session_id": Run.__table__.c.session_id.type,
          "example_id": Run.__table__.c.id.type, "run_id": Run.__table__.c.id.type, "latency": Float(),
          "total_tokens": Integer(), "total_cost": Run.__table__.c.total_cost.type, "is_error": Integer()}


def _candidates(workspace_id: uuid.UUID, dataset_id: uuid.UUID, session_ids: Sequence[uuid.UUID], group_by: str,
                key: str) -> Select:
    """C with v(r) (§5.3 steps 1-2): root runs of the sessions on live examples of the dataset,
    with their group value when it is present and not null. Each joined table is reached by
    its primary key (or a unique index), whatever the planner estimates."""
    entry = RunMetadata if group_by == "run_metadata" else ExampleMetadata
    if entry is RunMetadata:
        on = and_(RunMetadata.workspace_id == workspace_id, RunMetadata.run_id == Run.id)
    else:
        on = and_(ExampleMetadata.workspace_id == workspace_id, ExampleMetadata.example_id == Run.reference_example_id)
    return (
        select(entry.value.label("value"), Run.session_id, Run.reference_example_id.label("example_id"),
               Run.id.label("run_id"), Run.latency, Run.total_tokens, Run.total_cost,
               case((Run.status == "error", 1), else_=0).label("is_error"))
        .join(Example, and_(Example.workspace_id == workspace_id, Example.id == Run.reference_example_id,
                            Example.dataset_id == dataset_id, Example.deleted_at.is_(None)))
        .join(entry, and_(on, entry.key == key, entry.kind != "null"))
        .where(Run.workspace_id == workspace_id, Run.session_id.in_(session_ids), Run.is_root.is_(True))
    )


def _members_postgresql(candidates: Select, session_ids: Sequence[uuid.UUID]) -> Select:
    """R(g) (§5.3 step 4) in the same pass as C: each session is a bit (spec: at most 10
    sessions), and an example is in E(g) when the OR of its runs' bits in the group equals the
    OR over the whole group. Two window aggregates over one sort, no join."""
    bit = case(*[(Run.session_id == session_id, 1 << i) for i, session_id in enumerate(dict.fromkeys(session_ids))])
    c = candidates.add_columns(bit.label("bit")).subquery("cand")
    masked = select(*c.c, func.bit_or(c.c.bit).over(partition_by=(c.c.value, c.c.example_id)).label("example_mask"),
                    func.bit_or(c.c.bit).over(partition_by=c.c.value).label("group_mask")).subquery("masked")
    return (select(*[masked.c[name] for name in MEMBER_COLUMNS])
            .where(masked.c.example_mask == masked.c.group_mask))


def _members_sqlite(cand: Table) -> Select:
    """R(g) (§5.3 step 4) from the table of C: the candidates of the (value, example) pairs with
    as many distinct sessions as their value has. Both tests are IN (subquery), which SQLite
    answers from an index it builds on the subquery's rows: no step depends on a join order.
    Sorted by (value, session, latency with the nulls last): the percentiles read by position."""
    c, e, g = cand.c, cand.alias("e").c, cand.alias("g").c
    per_group = select(g.value, func.count(g.session_id.distinct())).group_by(g.value)
    complete = (select(e.value, e.example_id).group_by(e.value, e.example_id)
                .having(tuple_(e.value, func.count(e.session_id.distinct())).in_(per_group)))
    return (select(*[c[name] for name in MEMBER_COLUMNS]).where(tuple_(c.value, c.example_id).in_(complete))
            .order_by(c.value, c.session_id, c.latency.nulls_last()))


def _run_stats(members: Table, sqlite: bool) -> Select:
    """Per (value, session): runs, tokens, cost, error rate (§3.2), latency p50 and p99 (§3.3)."""
    m = members.c
    sums = (func.count().label("runs"), func.sum(m.total_tokens).label("tokens"), func.sum(m.total_cost).label("cost"),
            func.avg(cast(m.is_error, Float)).label("error_rate"))
    if not sqlite:
        return (select(m.value, m.session_id, *sums, func.percentile_cont(P50).within_group(m.latency).label("p50"),
                       func.percentile_cont(P99).within_group(m.latency).label("p99"))
                .group_by(m.value, m.session_id))
    # SQLite has no percentile aggregate. Each part's rows sit at consecutive positions, sorted
    # by latency with the nulls last: x[i] is the row at the part's first position + i.
    part = (select(m.value, m.session_id, *sums, func.min(m.pos).label("first"), func.count(m.latency).label("n"))
            .group_by(m.value, m.session_id).subquery("part"))

    def at(offset: Any) -> Any:
        return select(m.latency).where(m.pos == part.c.first + offset).scalar_subquery()

    def percentile(p: float) -> Any:
        h = p * (part.c.n - 1)
        lo = cast(h, Integer)  # h >= 0 when there is a latency, so truncation is floor; else x[0] is null
        hi = lo + case((h > lo, 1), else_=0)
        return at(lo) + (at(hi) - at(lo)) * (h - lo)

    return select(part.c.value, part.c.session_id, part.c.runs, part.c.tokens, part.c.cost, part.c.error_rate,
                  percentile(P50).label("p50"), percentile(P99).label("p99"))


def _feedback_stats(members: Table, workspace_id: uuid.UUID, sqlite: bool) -> Select:
    """Per (value, session, key): scored feedback n, mean, and population stdev (§3.1) on
    PostgreSQL, the mean of squares on SQLite (which has no stdev).

    A LEFT JOIN, so that SQLite loops over the members and looks their feedback up by its
    (workspace, run) index: as an inner join it may loop over the workspace's feedback instead,
    fetching each row at random and probing a members table that has no index. Runs without
    feedback come back with a null key, which the caller skips."""
    m, score = members.c, Feedback.score
    return (
        select(m.value, m.session_id, Feedback.key, func.count(score).label("n"), func.avg(score).label("avg"),
               (func.avg(score * score) if sqlite else func.stddev_pop(score)).label("spread"))
        .select_from(members)
        .outerjoin(Feedback, and_(Feedback.workspace_id == workspace_id, Feedback.run_id == m.run_id))
        .group_by(m.value, m.session_id, Feedback.key)
    )


def _scratch(prefix: str, names: Sequence[str], sqlite: bool) -> Table:
    """A temporary table (private to the connection), named uniquely."""
    columns = [Column(name, _TYPES[name]) for name in names]
    if sqlite and prefix == "members":
        columns.insert(0, Column("pos", Integer, primary_key=True))  # the rowid: insertion order
    return Table(f"naive_{prefix}_{uuid.uuid4().hex[:12]}", MetaData(), *columns, prefixes=["TEMPORARY"])


async def naive_group_stats(conn: AsyncConnection, workspace_id: uuid.UUID, dataset_id: uuid.UUID,
                            session_ids: list[uuid.UUID], group_by: str, key: str) -> dict[tuple, dict[str, Any]]:
    """{(group value, session id): {"runs", "tokens", "cost" (Decimal | None), "error_rate",
    "latency_p50", "latency_p99" (None without a latency), "feedback": {key: {"n", "avg", "stdev"}}}}
    over R(g) ∩ runs(session), for each group with a non-empty E(g)."""
    sqlite = conn.dialect.name == "sqlite"
    candidates = _candidates(workspace_id, dataset_id, session_ids, group_by, key)
    members = _scratch("members", MEMBER_COLUMNS, sqlite)
    cand = _scratch("cand", CANDIDATE_COLUMNS, sqlite)
    if not sqlite:
        # Every statement here reads whole sets, for which hash joins are right at any size. Without
        # statistics (a bulk load that no ANALYZE followed) PostgreSQL estimates a few rows per
        # table and may loop over an index scan that ignores the join key: quadratic. Only for this
        # transaction, and put back as it was at the end.
        nestloop = await conn.scalar(text("SELECT current_setting('enable_nestloop')"))
        await conn.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    await conn.run_sync(members.create)
    try:
        if sqlite:
            await conn.run_sync(cand.create)
            await conn.execute(insert(cand).from_select(list(CANDIDATE_COLUMNS), candidates))
            await conn.execute(insert(members).from_select(list(MEMBER_COLUMNS), _members_sqlite(cand)))
            await conn.run_sync(cand.drop)
        else:
            await conn.execute(insert(members).from_select(list(MEMBER_COLUMNS),
                                                           _members_postgresql(candidates, session_ids)))
        out: dict[tuple, dict[str, Any]] = {}
        for row in await conn.execute(_run_stats(members, sqlite)):
            out[(row.value, row.session_id)] = {
                "runs": row.runs, "tokens": row.tokens, "cost": row.cost, "error_rate": row.error_rate,
                "latency_p50": row.p50, "latency_p99": row.p99, "feedback": {}}
        for row in await conn.execute(_feedback_stats(members, workspace_id, sqlite)):
            if row.key is None:  # runs without feedback
                continue
            if row.avg is None:
                stdev = None
            elif sqlite:
                stdev = math.sqrt(max(row.spread - row.avg * row.avg, 0.0))
            else:
                stdev = row.spread
            out[(row.value, row.session_id)]["feedback"][row.key] = {"n": row.n, "avg": row.avg, "stdev": stdev}
    except BaseException:
        # On PostgreSQL a failed statement aborted the transaction: its rollback (the caller's)
        # drops the table and the setting, and a statement now would only hide the error.
        if sqlite:
            with suppress(Exception):
                await conn.run_sync(lambda sync: Table.drop(members, sync, checkfirst=True))
                await conn.run_sync(lambda sync: Table.drop(cand, sync, checkfirst=True))
        raise
    await conn.run_sync(members.drop)
    if not sqlite:
        await conn.execute(text("SELECT set_config('enable_nestloop', :value, true)"), {"value": nestloop})
    return out
