"""ExampleGroupWithSessions and ExampleWithRuns: the group query's answer (graphql.md §1);
ExampleWithRuns is also the answer of `datasetRuns` (spec §6)."""

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

    @classmethod
    def of(cls, item: results.ExampleWithRuns, preview: bool) -> ExampleWithRuns:
        """An example of a group (§5.4) or of a §6 page, its runs handed down prefetched
        with their feedback, `preview` applied (§5.6)."""
        return cls(example=Example(row=item.example),
                   runs=[Run(row=r.run, prefetched_feedbacks=r.feedbacks, prefetched_stats=r.feedback_stats,
                             preview=preview)
                         for r in item.runs])


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
                         session_feedback=item.session_feedback_stats, filter=item.filter, deltas_=item.deltas)
            for item in self.group.sessions
        ]

    @strawberry.field
    def examples(self) -> list[ExampleWithRuns]:
        return [ExampleWithRuns.of(item, self.preview) for item in self.group.examples]
