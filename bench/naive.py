"""The naive floor beside which `make bench` prints evalql's figures: the same aggregation as
group/runs (per group × session, with the intersection rule of spec §5.3: run counts, tokens,
costs, error rate, latency p50/p99, feedback n/avg/stdev per key), as a few hand-written
statements over the tables, with no scratch tables, no pages of examples or runs, no JSON.

It is what a straightforward implementation costs on the same machine and data; it is not a
reference for answers (tests/oracle.py is), so it skips what a page needs (examples, runs,
feedback rows) and the session-level feedback.

A first cut: each of its three statements recomputes the candidates, and the latencies are
sorted in Python. At W(10k) it takes ~1.1 s on SQLite and ~0.9–1.2 s on PostgreSQL, far above
the 0.11–0.16 s / 0.06 s that the engine issue reports for hand-written SQL: tune it (one pass
into a temporary table, percentiles in SQL on PostgreSQL) before quoting it as the floor.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from evalql.db.models import Example, ExampleMetadata, Feedback, Run, RunMetadata


def _candidates(workspace_id: uuid.UUID, dataset_id: uuid.UUID, session_ids: list[uuid.UUID], group_by: str,
                key: str) -> Any:
    """Root runs of the sessions on live examples of the dataset, with their group value."""
    entry = RunMetadata if group_by == "run_metadata" else ExampleMetadata
    stmt = (
        select(Run.id.label("run_id"), Run.session_id, Run.reference_example_id.label("example_id"),
               entry.value.label("value"), Run.latency, Run.total_tokens, Run.total_cost,
               case((Run.status == "error", 1.0), else_=0.0).label("is_error"))
        .join(Example, and_(Example.workspace_id == Run.workspace_id, Example.id == Run.reference_example_id,
                            Example.dataset_id == dataset_id, Example.deleted_at.is_(None)))
        .where(Run.workspace_id == workspace_id, Run.session_id.in_(session_ids), Run.is_root.is_(True))
    )
    if entry is RunMetadata:
        stmt = stmt.join(RunMetadata, and_(RunMetadata.workspace_id == Run.workspace_id,
                                           RunMetadata.run_id == Run.id, RunMetadata.key == key))
    else:
        stmt = stmt.join(ExampleMetadata, and_(ExampleMetadata.workspace_id == Example.workspace_id,
                                               ExampleMetadata.example_id == Run.reference_example_id,
                                               ExampleMetadata.key == key))
    # Materialized: read three times below, and neither database should recompute it each time.
    return stmt.where(entry.kind != "null").cte("cand").prefix_with("MATERIALIZED")


def _members(cand: Any) -> Any:
    """R(g): candidates whose example every session of the group ran."""
    per_group = (select(cand.c.value, func.count(cand.c.session_id.distinct()).label("n"))
                 .group_by(cand.c.value).cte("per_group").prefix_with("MATERIALIZED"))
    per_example = (select(cand.c.value, cand.c.example_id, func.count(cand.c.session_id.distinct()).label("n"))
                   .group_by(cand.c.value, cand.c.example_id).cte("per_example").prefix_with("MATERIALIZED"))
    # As an IN list: both databases then hash or index the (value, example) pairs; as a join,
    # SQLite compared every candidate with every pair.
    complete = (select(per_example.c.value, per_example.c.example_id)
                .join(per_group, and_(per_group.c.value == per_example.c.value, per_group.c.n == per_example.c.n)))
    return (
        select(cand).where(tuple_(cand.c.value, cand.c.example_id).in_(complete))
        .cte("members").prefix_with("MATERIALIZED")
    )


def _interpolated(values: list[float], p: float) -> float | None:
    if not values:
        return None
    rank = p * (len(values) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return values[lo] + (values[hi] - values[lo]) * (rank - lo)


async def naive_group_stats(conn: AsyncConnection, workspace_id: uuid.UUID, dataset_id: uuid.UUID,
                            session_ids: list[uuid.UUID], group_by: str, key: str) -> dict[tuple, dict[str, Any]]:
    """{(group value, session id): stats}, in three statements."""
    members = _members(_candidates(workspace_id, dataset_id, session_ids, group_by, key))
    out: dict[tuple, dict[str, Any]] = {}
    totals = select(members.c.value, members.c.session_id, func.count().label("runs"),
                    func.sum(members.c.total_tokens).label("tokens"), func.sum(members.c.total_cost).label("cost"),
                    func.avg(members.c.is_error).label("error_rate")).group_by(members.c.value, members.c.session_id)
    for row in await conn.execute(totals):
        out[(row.value, row.session_id)] = {"runs": row.runs, "tokens": row.tokens, "cost": row.cost,
                                            "error_rate": row.error_rate, "feedback": {}}
    # Percentiles the simple way: ordered latencies, interpolated here (SQLite has no percentile_cont).
    latencies: dict[tuple, list[float]] = defaultdict(list)
    ordered = (select(members.c.value, members.c.session_id, members.c.latency)
               .where(members.c.latency.is_not(None))
               .order_by(members.c.value, members.c.session_id, members.c.latency))
    for value, session_id, latency in await conn.execute(ordered):
        latencies[(value, session_id)].append(latency)
    for part, values in latencies.items():
        out[part]["latency_p50"] = _interpolated(values, 0.5)
        out[part]["latency_p99"] = _interpolated(values, 0.99)
    feedback = (
        select(members.c.value, members.c.session_id, Feedback.key, func.count(Feedback.score).label("n"),
               func.avg(Feedback.score).label("avg"),
               func.avg(Feedback.score * Feedback.score).label("avg_sq"))
        .join(Feedback, and_(Feedback.workspace_id == workspace_id, Feedback.run_id == members.c.run_id))
        .group_by(members.c.value, members.c.session_id, Feedback.key)
    )
    for row in await conn.execute(feedback):
        variance = (None if row.avg is None or row.n < 2
                    else max(row.avg_sq - row.avg * row.avg, 0.0) * row.n / (row.n - 1))
        out[(row.value, row.session_id)]["feedback"][row.key] = {
            "n": row.n, "avg": row.avg, "stdev": None if variance is None else math.sqrt(variance)}
    return out
