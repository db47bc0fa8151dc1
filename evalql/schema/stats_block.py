"""The statistics every run set carries (spec §3.2, §5.4), as GraphQL fields written once:
a group (`ExampleGroupWithSessions`) and a session's block (`SessionStats`) inherit them and
add their own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from evalql.queries.results import RunSetStats
from evalql.schema.feedback_stats import FeedbackStats, feedback_stats_list


@strawberry.type
class RunSetStatsFields:
    stats: strawberry.Private[RunSetStats]

    @strawberry.field
    def total_tokens(self) -> int: return self.stats.total_tokens

    @strawberry.field
    def prompt_tokens(self) -> int: return self.stats.prompt_tokens

    @strawberry.field
    def completion_tokens(self) -> int: return self.stats.completion_tokens

    @strawberry.field
    def total_cost(self) -> Decimal | None: return self.stats.total_cost

    @strawberry.field
    def prompt_cost(self) -> Decimal | None: return self.stats.prompt_cost

    @strawberry.field
    def completion_cost(self) -> Decimal | None: return self.stats.completion_cost

    @strawberry.field
    def min_start_time(self) -> dt.datetime | None: return self.stats.min_start_time

    @strawberry.field
    def max_start_time(self) -> dt.datetime | None: return self.stats.max_start_time

    @strawberry.field
    def latency_p50(self) -> float | None: return self.stats.latency_p50

    @strawberry.field
    def latency_p99(self) -> float | None: return self.stats.latency_p99

    @strawberry.field
    def error_rate(self) -> float | None: return self.stats.error_rate

    @strawberry.field
    def feedback_stats(self) -> list[FeedbackStats]: return feedback_stats_list(self.stats.feedback_stats)
