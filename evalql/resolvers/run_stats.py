"""Run aggregates of the §3.2 stats block, per partition, in SQL; merged across
sessions in Python (sums, counts and extrema combine exactly)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.sql import FromClause

from evalql.db.models import Run
from evalql.db.percentile import percentiles
from evalql.db.scope import Scope, readable
from evalql.resolvers.results import RunSetStats

TOKENS = ("total_tokens", "prompt_tokens", "completion_tokens")
COSTS = ("total_cost", "prompt_cost", "completion_cost")


async def stats_by_partition(scope: Scope, source: FromClause, partition: Sequence[str]) -> dict[tuple, RunSetStats]:
    """`source` has a `run_id` column and the partition columns."""
    keys = [source.c[name] for name in partition]
    stmt = (
        readable(scope, Run, *keys, func.count().label("run_count"),
                 func.count(Run.reference_example_id.distinct()).label("example_count"),
                 *[func.coalesce(func.sum(getattr(Run, t)), 0).label(t) for t in TOKENS],
                 *[func.sum(getattr(Run, c)).label(c) for c in COSTS],
                 func.min(Run.start_time).label("min_start_time"), func.max(Run.start_time).label("max_start_time"),
                 func.sum(case((Run.status == "error", 1), else_=0)).label("error_count"),
                 func.sum(case((Run.first_token_time.is_not(None), 1), else_=0)).label("streaming_count"))
        .join(source, source.c.run_id == Run.id)
        .group_by(*keys)
    )
    out: dict[tuple, RunSetStats] = {}
    for row in await scope.db.execute(stmt):
        out[tuple(row[:len(keys)])] = RunSetStats(
            run_count=row.run_count, example_count=row.example_count, **{t: int(getattr(row, t)) for t in TOKENS},
            **{c: getattr(row, c) for c in COSTS},
            min_start_time=row.min_start_time, max_start_time=row.max_start_time,
            error_count=int(row.error_count), streaming_count=int(row.streaming_count),
        )
    return out


def latency_source(scope: Scope, source: FromClause, partition: Sequence[str]) -> FromClause:
    keys = [source.c[name] for name in partition]
    return (readable(scope, Run, *keys, Run.latency.label("latency"), Run.first_token_latency.label("first_token"))
            .join(source, source.c.run_id == Run.id).subquery("latencies"))


async def latency_percentiles(scope: Scope, source: FromClause, partition: Sequence[str], *, first_token: bool
                              ) -> dict[tuple, dict[str, float]]:
    """p50/p99 of latency (and of first-token latency) per partition."""
    dialect = scope.db.bind.dialect.name
    values = latency_source(scope, source, partition)
    out: dict[tuple, dict[str, float]] = {}
    measures = [("latency", "latency")] + ([("first_token", "first_token")] if first_token else [])
    for column, name in measures:
        for row in await scope.db.execute(percentiles(values, partition, column, (0.5, 0.99), dialect)):
            found = out.setdefault(tuple(row[:len(partition)]), {})
            found[f"{name}_p50"], found[f"{name}_p99"] = row.p0, row.p1
    return out


def apply_percentiles(stats: RunSetStats, found: dict[str, float] | None) -> None:
    found = found or {}
    stats.latency_p50, stats.latency_p99 = found.get("latency_p50"), found.get("latency_p99")
    stats.first_token_p50, stats.first_token_p99 = found.get("first_token_p50"), found.get("first_token_p99")


def merge_stats(parts: Iterable[RunSetStats]) -> RunSetStats:
    """Counts, sums and extrema of several disjoint run sets (not percentiles)."""
    total = RunSetStats()
    for part in parts:
        total.run_count += part.run_count
        total.error_count += part.error_count
        total.streaming_count += part.streaming_count
        for t in TOKENS:
            setattr(total, t, getattr(total, t) + getattr(part, t))
        for c in COSTS:
            setattr(total, c, _add_costs(getattr(total, c), getattr(part, c)))
        total.min_start_time = _extreme(min, total.min_start_time, part.min_start_time)
        total.max_start_time = _extreme(max, total.max_start_time, part.max_start_time)
    return total


def _add_costs(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return b if a is None else a if b is None else a + b


def _extreme(pick: Any, a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else pick(a, b)
