"""Feedback statistics (spec §3.1), aggregated in SQL per partition and key.

Partitions are whatever the caller groups by (group + session, or session). Group-level
stats are merged from the per-session partials with the parallel-variance formula, so
no statement has to be repeated per level and no Python work grows with the runs.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Select, case, func, select

from evalql.db.models import Feedback
from evalql.queries.results import FeedbackStat, FeedbackStats

FEEDBACK_COLUMNS = (Feedback.id, Feedback.key, Feedback.score, Feedback.error,
                    Feedback.value_label, Feedback.comment, Feedback.created_at)


class FeedbackRow(NamedTuple):
    """A feedback row as its run id and FEEDBACK_COLUMNS read it, where no ORM row carries it
    (a record in an array, evalql/queries/runs_query.py)."""

    run_id: uuid.UUID
    id: uuid.UUID
    key: str
    score: float | None
    error: bool
    value_label: str | None
    comment: str | None
    created_at: dt.datetime


@dataclass(slots=True)
class Partial:
    """Mergeable partial stats of one feedback key."""

    entries: int = 0
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    min: float | None = None
    max: float | None = None
    errors: int = 0
    values: Counter[str] = field(default_factory=Counter)
    comments: list[tuple[dt.datetime, uuid.UUID, str]] = field(default_factory=list)

    def merge(self, other: Partial) -> None:
        n = self.n + other.n
        if other.n:
            delta = other.mean - self.mean
            self.m2 += other.m2 + delta * delta * self.n * other.n / n
            self.mean += delta * other.n / n
            self.min = other.min if self.min is None or other.min is None else min(self.min, other.min)
            self.max = other.max if self.max is None or other.max is None else max(self.max, other.max)
        self.n = n
        self.entries += other.entries
        self.errors += other.errors
        self.values.update(other.values)
        self.comments.extend(other.comments)

    def finish(self, key: str) -> FeedbackStat:
        has = self.n > 0
        return FeedbackStat(
            key=key, n=self.n, avg=self.mean if has else None,
            stdev=math.sqrt(max(self.m2, 0.0) / self.n) if has else None,
            min=self.min, max=self.max, errors=self.errors, values=dict(sorted(self.values.items())),
            comments=[text for _, _, text in sorted(self.comments, key=lambda c: (c[0], c[1]))],
        )


Partials = dict[str, Partial]


def finish(partials: Partials) -> FeedbackStats:
    return {key: partials[key].finish(key) for key in sorted(partials)}


def merge_all(parts: Iterable[Partials]) -> Partials:
    merged: Partials = defaultdict(Partial)
    for partials in parts:
        for key, partial in partials.items():
            merged[key].merge(partial)
    return dict(merged)


def partials_from_rows(feedbacks: Iterable[Feedback | FeedbackRow]) -> Partials:
    """The same statistics from loaded rows, for the feedback a response already carries."""
    out: Partials = defaultdict(Partial)
    for fb in feedbacks:
        one = Partial(entries=1, errors=int(bool(fb.error)))
        if fb.score is not None:
            one.n, one.mean, one.min, one.max = 1, fb.score, fb.score, fb.score
        if fb.value_label is not None:
            one.values[fb.value_label] += 1
        if fb.comment:
            one.comments.append((fb.created_at, fb.id, fb.comment))
        out[fb.key].merge(one)
    return dict(out)


async def partials_by_partition(db: Any, base: Select, partition: Sequence[str]) -> dict[tuple, Partials]:
    """`base` selects the partition columns plus FEEDBACK_COLUMNS; three statements
    (numbers, value labels, comments) whatever the number of partitions."""
    fb = base.cte("fb")
    keys = [fb.c[name] for name in partition] + [fb.c.key]
    # Two-pass variance (stable for scores of any magnitude): the mean comes from a
    # window over the same partition, so no join back to a table of means is needed.
    with_mean = select(fb, func.avg(fb.c.score).over(partition_by=keys).label("mean")).subquery("fb_with_mean")
    mkeys = [with_mean.c[c.name] for c in keys]
    deviation = with_mean.c.score - with_mean.c.mean
    numbers = (
        select(*mkeys, func.count().label("entries"), func.count(with_mean.c.score).label("n"),
               func.max(with_mean.c.mean).label("mean"), func.sum(deviation * deviation).label("m2"),
               func.min(with_mean.c.score).label("min"), func.max(with_mean.c.score).label("max"),
               func.sum(case((with_mean.c.error.is_(True), 1), else_=0)).label("errors"))
        .group_by(*mkeys)
    )
    out: dict[tuple, Partials] = defaultdict(dict)
    for row in await db.execute(numbers):
        part = tuple(row[:len(partition)])
        out[part][row.key] = Partial(entries=row.entries, n=row.n, mean=row.mean or 0.0, m2=row.m2 or 0.0,
                                     min=row.min, max=row.max, errors=int(row.errors or 0))
    labels = (select(*keys, fb.c.value_label, func.count().label("count"))
              .where(fb.c.value_label.is_not(None)).group_by(*keys, fb.c.value_label))
    for row in await db.execute(labels):
        out[tuple(row[:len(partition)])][row.key].values[row.value_label] = row.count
    comments = (select(*keys, fb.c.comment, fb.c.created_at, fb.c.id)
                .where(fb.c.comment.is_not(None), fb.c.comment != ""))
    for row in await db.execute(comments):
        out[tuple(row[:len(partition)])][row.key].comments.append((row.created_at, row.id, row.comment))
    return dict(out)
