"""Typed results of the group query, shared by the REST shim and GraphQL.

Both interfaces serialise these same objects, so they cannot disagree on a value.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from evalql.core.values import GroupKey
from evalql.db.models import Example, Feedback, Run, TracerSession


@dataclass(slots=True)
class FeedbackStat:
    key: str
    n: int
    avg: float | None
    stdev: float | None
    min: float | None
    max: float | None
    errors: int
    values: dict[str, int] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


FeedbackStats = dict[str, FeedbackStat]  # keyed by feedback key, in key order


@dataclass(slots=True)
class RunSetStats:
    """The §3.2 stats block over a run set."""

    run_count: int = 0
    example_count: int = 0  # distinct reference examples of the run set
    latency_p50: float | None = None
    latency_p99: float | None = None
    first_token_p50: float | None = None
    first_token_p99: float | None = None
    total_tokens: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_cost: Decimal | None = None
    prompt_cost: Decimal | None = None
    completion_cost: Decimal | None = None
    min_start_time: dt.datetime | None = None
    max_start_time: dt.datetime | None = None
    error_count: int = 0
    streaming_count: int = 0
    feedback_stats: FeedbackStats = field(default_factory=dict)

    @property
    def error_rate(self) -> float | None:
        return self.error_count / self.run_count if self.run_count else None

    @property
    def streaming_rate(self) -> float | None:
        return self.streaming_count / self.run_count if self.run_count else None


@dataclass(frozen=True, slots=True)
class Delta:
    """A session against the baseline on one metric, paired by example (engine/deltas.py):
    each example's value is the mean over its runs in the group; `mean_delta` is the mean
    of session minus baseline over the examples both have a value for."""

    n_pairs: int
    baseline_mean: float
    session_mean: float
    mean_delta: float
    ci_low: float  # 95 % interval of mean_delta
    ci_high: float
    ci_method: str  # "bootstrap" (percentile, RESAMPLES resamples) or "normal" (its normal approximation)
    p_value: float  # two-sided sign test; pairs within the tolerance left out
    improved: int  # examples better than the baseline's by more than the tolerance
    regressed: int
    unchanged: int
    baseline_p50: float | None = None  # latency only: medians of the per-example values
    session_p50: float | None = None


@dataclass(frozen=True, slots=True)
class SessionDeltas:
    baseline_session_id: uuid.UUID
    tolerance: float
    feedback: dict[str, Delta]  # numeric feedback keys with at least one pair, in key order
    latency: Delta | None
    error_rate: Delta | None
    cost: Delta | None  # total cost per example, in dollars


@dataclass(slots=True)
class SessionInGroup:
    session: TracerSession
    stats: RunSetStats
    example_count: int
    filter: str
    session_feedback_stats: FeedbackStats
    test_run_number: int | None
    deltas: SessionDeltas | None = None  # with a baseline, for every session of the group but it


@dataclass(slots=True)
class RunWithFeedback:
    run: Run
    feedbacks: list[Feedback]
    feedback_stats: FeedbackStats
    trace_min_start_time: dt.datetime | None = None
    trace_max_start_time: dt.datetime | None = None


@dataclass(slots=True)
class ExampleWithRuns:
    example: Example
    runs: list[RunWithFeedback]


@dataclass(slots=True)
class Group:
    key: GroupKey
    filter: str
    example_count: int
    stats: RunSetStats
    sessions: list[SessionInGroup]
    examples: list[ExampleWithRuns]


@dataclass(frozen=True, slots=True)
class GroupIdentity:
    """How a group is told apart in SQL: numbers (0) before strings (1), then the text."""

    is_text: int
    value: str


SessionId = uuid.UUID
