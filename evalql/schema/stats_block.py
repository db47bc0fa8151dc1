"""The statistics every run set carries (spec §3.2, §5.4), as GraphQL fields written once:
a group (`ExampleGroupWithSessions`) and a session's block (`SessionStats`) inherit them and
add their own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

import strawberry

from evalql.queries.results import RunSetStats
from evalql.schema.computed import Computed, Values, attributes, computed
from evalql.schema.feedback_stats import FeedbackStats, feedback_stats_list


@strawberry.type
class RunSetStatsFields(Computed):
    stats: strawberry.Private[RunSetStats]

    total_tokens: int = computed()
    prompt_tokens: int = computed()
    completion_tokens: int = computed()
    total_cost: Decimal | None = computed()
    prompt_cost: Decimal | None = computed()
    completion_cost: Decimal | None = computed()
    min_start_time: dt.datetime | None = computed()
    max_start_time: dt.datetime | None = computed()
    latency_p50: float | None = computed()
    latency_p99: float | None = computed()
    error_rate: float | None = computed()
    feedback_stats: list[FeedbackStats] = computed()
    _values: ClassVar[Values] = {
        **attributes("stats", "total_tokens", "prompt_tokens", "completion_tokens", "total_cost", "prompt_cost",
                     "completion_cost", "min_start_time", "max_start_time", "latency_p50", "latency_p99",
                     "error_rate"),
        "feedback_stats": lambda self: feedback_stats_list(self.stats.feedback_stats),
    }
