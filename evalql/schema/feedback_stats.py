"""Typed feedback statistics (spec §3.1 as a list of entries)."""

from __future__ import annotations

from typing import ClassVar

import strawberry

from evalql.queries.results import FeedbackStats as StatsByKey


@strawberry.type
class ValueCount:
    value: str
    count: int


@strawberry.type
class FeedbackStats:
    __evalql_pure__: ClassVar[frozenset[str]] = frozenset({"values"})  # see schema.execution
    key: str
    n: int
    avg: float | None
    stdev: float | None
    min: float | None
    max: float | None
    errors: int
    values: list[ValueCount]
    comments: list[str]


def feedback_stats_list(stats: StatsByKey) -> list[FeedbackStats]:
    return [
        FeedbackStats(key=s.key, n=s.n, avg=s.avg, stdev=s.stdev, min=s.min, max=s.max, errors=s.errors,
                      values=[ValueCount(value=v, count=c) for v, c in s.values.items()], comments=s.comments)
        for s in stats.values()
    ]
