"""Run aggregates of the §3.2 stats block, per partition, in SQL; merged across
sessions in Python (sums, counts and extrema combine exactly)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.sql import FromClause

from evalql.db.models import Run
from evalql.db.percentile import Percentiles
from evalql.db.tenant import Tenant
from evalql.queries.results import RunSetStats

TOKENS = ("total_tokens", "prompt_tokens", "completion_tokens")
COSTS = ("total_cost", "prompt_cost", "completion_cost")


def metric_columns() -> list[ColumnElement[Any]]:
    """The per-run values the stats block aggregates, selected with the run set itself so
    that aggregating needs no second lookup of every run (a run set carries these next to
    `run_id`, `session_id` and `example_id`)."""
    return [
        Run.latency.label("latency"), Run.first_token_latency.label("first_token"),
        *[getattr(Run, t).label(t) for t in TOKENS], *[getattr(Run, c).label(c) for c in COSTS],
        Run.start_time.label("start_time"),
        case((Run.status == "error", 1), else_=0).label("is_error"),
        case((Run.first_token_time.is_not(None), 1), else_=0).label("is_streaming"),
    ]


async def stats_by_partition(tenant: Tenant, source: FromClause, partition: Sequence[str]) -> dict[tuple, RunSetStats]:
    """`source` is a run set: the partition columns, `example_id` and `metric_columns()`."""
    keys = [source.c[name] for name in partition]
    c = source.c
    stmt = (
        select(*keys, func.count().label("run_count"), func.count(c.example_id.distinct()).label("example_count"),
               *[func.coalesce(func.sum(c[t]), 0).label(t) for t in TOKENS],
               *[func.sum(c[name]).label(name) for name in COSTS],
               func.min(c.start_time).label("min_start_time"), func.max(c.start_time).label("max_start_time"),
               func.sum(c.is_error).label("error_count"), func.sum(c.is_streaming).label("streaming_count"))
        .group_by(*keys)
    )
    out: dict[tuple, RunSetStats] = {}
    for row in await tenant.db.execute(stmt):
        out[tuple(row[:len(keys)])] = RunSetStats(
            run_count=row.run_count, example_count=row.example_count,
            prompt_tokens=int(row.prompt_tokens), completion_tokens=int(row.completion_tokens),
            total_tokens=int(row.total_tokens), total_cost=row.total_cost, prompt_cost=row.prompt_cost,
            completion_cost=row.completion_cost,
            min_start_time=row.min_start_time, max_start_time=row.max_start_time,
            error_count=int(row.error_count), streaming_count=int(row.streaming_count),
        )
    return out


async def latency_percentiles(tenant: Tenant, source: FromClause, partition: Sequence[str], *, first_token: bool
                              ) -> dict[tuple, dict[str, float]]:
    """p50/p99 of latency (and of first-token latency) per partition of a run set."""
    out: dict[tuple, dict[str, float]] = {}
    for name in ["latency"] + (["first_token"] if first_token else []):
        for row in await tenant.db.execute(Percentiles(source, partition, name, (0.5, 0.99))):
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
