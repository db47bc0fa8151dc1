"""The rows an answer shows (its page of examples and runs, the sessions it names), by id,
kept between requests for as long as the change log says they did not change.

Right after a write (say, a new feedback) the next answer differs in one run at most; its
other runs, their feedback and the examples are the same ORM rows as before, so only
what the log names is read again. Trace bounds (min/max start time over a trace's runs)
are read every time: child runs are not in the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evalql.db.models import Example, Feedback, Run
from evalql.db.tenant import Tenant, readable
from evalql.queries import feedback_stats as fbs
from evalql.queries.results import FeedbackStats, RunWithFeedback
from evalql.queries.run_details import feedbacks_by_run, require_dataset_and_sessions, trace_bounds
from evalql.queries.sessions import SessionRow

MAX_ROWS = 20_000  # per workspace; past it the cache starts over


@dataclass(slots=True)
class CachedRun:
    run: Run
    feedbacks: list[Feedback]
    feedback_stats: FeedbackStats


class PageRows:
    def __init__(self) -> None:
        self.runs: dict[uuid.UUID, CachedRun] = {}
        self.examples: dict[uuid.UUID, Example] = {}
        self.sessions: dict[uuid.UUID, SessionRow] = {}
        self.live_datasets: set[uuid.UUID] = set()

    def forget(self, run_ids: Iterable[uuid.UUID], example_ids: Iterable[uuid.UUID], sessions_changed: bool) -> None:
        for run_id in run_ids:
            self.runs.pop(run_id, None)
        for example_id in example_ids:
            self.examples.pop(example_id, None)
        if sessions_changed:
            # A session's test_run_number depends on its siblings' start times: forget them all.
            self.sessions.clear()
            self.live_datasets.clear()

    async def checked_sessions(self, tenant: Tenant, dataset_id: uuid.UUID, session_ids: Sequence[uuid.UUID]
                               ) -> dict[uuid.UUID, SessionRow]:
        """`require_dataset_and_sessions` (spec §5.2), answered from memory when it can be."""
        if dataset_id not in self.live_datasets or any(s not in self.sessions for s in session_ids):
            self.sessions.update(await require_dataset_and_sessions(tenant, dataset_id, session_ids))
            self.live_datasets.add(dataset_id)
        return {s: self.sessions[s] for s in session_ids}

    async def examples_by_id(self, tenant: Tenant, example_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Example]:
        missing = [e for e in example_ids if e not in self.examples]
        if missing:
            self._bound()
            for example in await tenant.db.scalars(readable(tenant, Example).where(Example.id.in_(missing))):
                self.examples[example.id] = example
        return {e: self.examples[e] for e in example_ids if e in self.examples}

    async def runs_by_id(self, tenant: Tenant, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RunWithFeedback]:
        missing = [r for r in run_ids if r not in self.runs]
        if missing:
            self._bound()
            runs = list(await tenant.db.scalars(readable(tenant, Run).where(Run.id.in_(missing))))
            feedbacks = await feedbacks_by_run(tenant, [run.id for run in runs])
            for run in runs:
                found = feedbacks.get(run.id, [])
                self.runs[run.id] = CachedRun(run, found, fbs.finish(fbs.partials_from_rows(found)))
        cached = [self.runs[r] for r in run_ids if r in self.runs]
        bounds = await trace_bounds(tenant, list({c.run.trace_id for c in cached}))
        return {c.run.id: RunWithFeedback(c.run, c.feedbacks, c.feedback_stats,
                                          *bounds.get(c.run.trace_id, (None, None))) for c in cached}

    def _bound(self) -> None:
        if len(self.runs) + len(self.examples) > MAX_ROWS:
            self.runs.clear()
            self.examples.clear()
