"""ExampleGroupWithSessions and ExampleWithRuns: the group query's answer (graphql.md §1)."""

from __future__ import annotations

from typing import ClassVar

import strawberry

from evalql.queries import results
from evalql.queries.sessions import SessionRow
from evalql.schema.computed import Values, attributes, computed
from evalql.schema.example import Example
from evalql.schema.run import Run
from evalql.schema.scalars import GroupKey
from evalql.schema.session import Session, SessionStats
from evalql.schema.stats_block import RunSetStatsFields


@strawberry.type
class ExampleWithRuns:
    example: Example
    runs: list[Run]


@strawberry.type
class ExampleGroupWithSessions(RunSetStatsFields):
    group: strawberry.Private[results.Group]
    preview: strawberry.Private[bool] = False

    @classmethod
    def of(cls, group: results.Group, preview: bool) -> ExampleGroupWithSessions:
        return cls(stats=group.stats, group=group, preview=preview)

    group_key: GroupKey = computed()
    filter: str = computed()
    count: int = computed()
    example_count: int = computed()
    _values: ClassVar[Values] = {
        **attributes("group", "filter", "example_count"),
        "group_key": lambda self: GroupKey(self.group.key),
        "count": lambda self: self.stats.run_count,
    }

    @strawberry.field
    def sessions(self) -> list[SessionStats]:
        return [
            SessionStats(stats=item.stats, session_=Session.of(SessionRow(item.session, item.test_run_number)),
                         session_feedback=item.session_feedback_stats, filter=item.filter)
            for item in self.group.sessions
        ]

    @strawberry.field
    def examples(self) -> list[ExampleWithRuns]:
        return [
            ExampleWithRuns(example=Example(row=item.example),
                            runs=[Run(row=r.run, prefetched_feedbacks=r.feedbacks, prefetched_stats=r.feedback_stats,
                                      preview=self.preview)
                                  for r in item.runs])
            for item in self.group.examples
        ]
