"""ExampleGroupWithSessions and ExampleWithRuns: the group query's answer (graphql.md §1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from evalql.queries import results
from evalql.queries.sessions import SessionRow
from evalql.schema.example import Example
from evalql.schema.feedback_stats import FeedbackStats, feedback_stats_list
from evalql.schema.run import Run
from evalql.schema.scalars import GroupKey
from evalql.schema.session import Session, SessionStats


@strawberry.type
class ExampleWithRuns:
    example: Example
    runs: list[Run]


@strawberry.type
class ExampleGroupWithSessions:
    group: strawberry.Private[results.Group]
    preview: strawberry.Private[bool] = False

    @strawberry.field
    def group_key(self) -> GroupKey: return self.group.key  # type: ignore[return-value]

    @strawberry.field
    def filter(self) -> str: return self.group.filter

    @strawberry.field
    def count(self) -> int: return self.group.stats.run_count

    @strawberry.field
    def example_count(self) -> int: return self.group.example_count

    @strawberry.field
    def total_tokens(self) -> int: return self.group.stats.total_tokens

    @strawberry.field
    def prompt_tokens(self) -> int: return self.group.stats.prompt_tokens

    @strawberry.field
    def completion_tokens(self) -> int: return self.group.stats.completion_tokens

    @strawberry.field
    def total_cost(self) -> Decimal | None: return self.group.stats.total_cost

    @strawberry.field
    def prompt_cost(self) -> Decimal | None: return self.group.stats.prompt_cost

    @strawberry.field
    def completion_cost(self) -> Decimal | None: return self.group.stats.completion_cost

    @strawberry.field
    def min_start_time(self) -> dt.datetime | None: return self.group.stats.min_start_time

    @strawberry.field
    def max_start_time(self) -> dt.datetime | None: return self.group.stats.max_start_time

    @strawberry.field
    def latency_p50(self) -> float | None: return self.group.stats.latency_p50

    @strawberry.field
    def latency_p99(self) -> float | None: return self.group.stats.latency_p99

    @strawberry.field
    def error_rate(self) -> float | None: return self.group.stats.error_rate

    @strawberry.field
    def feedback_stats(self) -> list[FeedbackStats]: return feedback_stats_list(self.group.stats.feedback_stats)

    @strawberry.field
    def sessions(self) -> list[SessionStats]:
        return [
            SessionStats(session_=Session.of(SessionRow(item.session, item.test_run_number)), block=item.stats,
                         session_feedback=item.session_feedback_stats, filter=item.filter)
            for item in self.group.sessions
        ]

    @strawberry.field
    def examples(self) -> list[ExampleWithRuns]:
        return [
            ExampleWithRuns(example=Example(row=item.example),
                            runs=[Run(row=r.run, prefetched_feedbacks=r.feedbacks, preview=self.preview)
                                  for r in item.runs])
            for item in self.group.examples
        ]
