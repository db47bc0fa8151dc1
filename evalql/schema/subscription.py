"""The Subscription root: live progress of experiments and of a comparison (issue 10).

Served over the WebSocket at `/graphql` (protocol `graphql-transport-ws`,
evalql/graphql_ws.py), with the caller, tenancy and limits of queries. Each stream:
1. at subscribe, checks its arguments and what they name (a session or dataset of another
   workspace is NOT_FOUND, as in queries) and emits the current state;
2. then waits for a hint that the workspace's data changed (evalql/db/change_feed.py:
   PostgreSQL's NOTIFY, SQLite's polling of the version row; writes of any process are
   seen), reads the data version, and if it moved computes its answer again, emitting it
   only when what it shows changed. A comparison is computed under a comparison slot, as a
   query's is (evalql/admission.py), but only one free at once (it never queues); with none,
   it is tried again a second later;
3. emits at most one event per `MIN_INTERVAL` seconds: a burst of writes (a batch of runs
   being ingested) arrives as one event with the counts at its end.
Before each computation the connection's API key is checked again; a revoked key closes the
connection (4403).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from evalql.admission import Overloaded
from evalql.core import group_request
from evalql.db.changes import ChangesPruned, changes_between, current_version
from evalql.queries import results
from evalql.queries.candidates import GroupQuery
from evalql.queries.progress import session_counts
from evalql.queries.run_details import require_dataset_and_sessions
from evalql.queries.session_stats import stats_for_sessions
from evalql.queries.sessions import SessionRow, sessions_by_id
from evalql.schema.errors import BadUserInput, NotFound, not_found_as_graphql
from evalql.schema.inputs import GroupRunsInput
from evalql.schema.live import LiveContext, Scope
from evalql.schema.scalars import GroupKey
from evalql.schema.session import Session, SessionStats

MIN_INTERVAL = 0.3  # seconds: at most one event per subscription this often
IDLE_CHECK = 30.0  # seconds: look at the data version at least this often, hint or not
MAX_PROGRESS_SESSIONS = 10

LiveInfo = strawberry.Info[LiveContext, None]


@strawberry.type(description="How far one session (experiment) has come.")
class SessionProgress:
    session: Session
    run_count: int = strawberry.field(description="Root runs (as `stats.runCount`).")
    error_count: int = strawberry.field(description="Root runs that ended in an error.")
    pending_count: int = strawberry.field(description="Root runs started and not ended yet.")
    feedback_count: int = strawberry.field(
        description="Feedback on the session's root runs (what `stats.feedbackStats` summarises).")
    stats: SessionStats = strawberry.field(
        description="The session's stats over its root runs: `Session.stats` without a filter.")


@strawberry.type(description="An event of `experimentProgress`.")
class ExperimentProgress:
    data_version: str = strawberry.field(description=(
        "The workspace's data version the counts were read at (a decimal integer; it only grows)."))
    sessions: list[SessionProgress] = strawberry.field(description="In the order of `sessionIds`.")


@strawberry.type(description="A group of the answer, in brief.")
class GroupSummary:
    group_key: GroupKey
    count: int = strawberry.field(description="Runs of the group, as `ExampleGroupWithSessions.count`.")
    example_count: int


@strawberry.type(description="An event of `groupRunsChanged`: query `groupRuns` again for the new answer.")
class GroupRunsChange:
    data_version: str = strawberry.field(description=(
        "The workspace's data version of the new answer (a decimal integer; it only grows)."))
    groups: list[GroupSummary] = strawberry.field(description="The page's groups, in the answer's order.")


@strawberry.type(description=(
    "Live updates over the WebSocket at /graphql (protocol graphql-transport-ws): send the API key in "
    "connection_init's payload ({\"X-API-Key\": key}). Each subscription emits once at subscribe, then "
    "when what it shows changed, at most one event per 0.3 s."))
class Subscription:
    @strawberry.subscription(description=(
        "Progress of experiments while their runs and feedback are ingested: per session, counts of root "
        "runs (all, errors, pending), of feedback, and the session's stats. 1..10 sessions; duplicates "
        "dropped. Emits at subscribe, then whenever one of these changed."))
    async def experiment_progress(self, info: LiveInfo, session_ids: list[uuid.UUID]
                                  ) -> AsyncGenerator[ExperimentProgress, None]:
        live = _live(info)
        ids = list(dict.fromkeys(session_ids))
        if not 1 <= len(ids) <= MAX_PROGRESS_SESSIONS:
            raise BadUserInput(f"sessionIds: give 1 to {MAX_PROGRESS_SESSIONS} sessions")
        async with live.scope() as scope:
            await _existing_sessions(scope, ids)  # NOT_FOUND before the stream starts
        return _events(live, lambda scope, version, _before: _progress(scope, ids, version))

    @strawberry.subscription(description=(
        "Tells a client that the answer of `groupRuns(datasetId, input)` changed (runs, feedback, "
        "examples or sessions it shows or counts): emits at subscribe, then after each such change; "
        "query groupRuns again on each event. Same input rules and errors as groupRuns."))
    async def group_runs_changed(self, info: LiveInfo, dataset_id: uuid.UUID, input: GroupRunsInput
                                 ) -> AsyncGenerator[GroupRunsChange, None]:
        live = _live(info)
        query = group_request.to_query(dataset_id, input.request())
        async with live.scope() as scope:  # NOT_FOUND before the stream starts (no comparison slot needed)
            with not_found_as_graphql():
                await require_dataset_and_sessions(scope.tenant, query.dataset_id, query.session_ids)
        answers = _GroupAnswers(live, query)
        return _events(live, answers.event)


def _live(info: LiveInfo) -> LiveContext:
    if not isinstance(info.context, LiveContext):
        raise BadUserInput("Subscriptions are served over the WebSocket at /graphql (graphql-transport-ws)")
    return info.context


E = TypeVar("E")
# An event and what it shows (an equal fingerprint: nothing new to emit).
Computed = tuple[E, Any]


async def _events(live: LiveContext, compute: Callable[[Scope, int, int], Awaitable[Computed[E]]]
                  ) -> AsyncGenerator[E, None]:
    """The loop of the module docstring, for one subscription. `compute(scope, version, before)`:
    the event at data version `version`; `before` is the version of the previous computation
    (0 at first)."""
    assert live.caller is not None
    workspace_id = live.caller.workspace_id
    watch = live.changes.watch(workspace_id)  # before the first read: no change is missed
    try:
        seen_version, shown, emitted_at = -1, None, float("-inf")
        while True:
            async with live.scope() as scope:
                db = scope.tenant.db
                if not await live.key_is_valid(db):
                    await live.revoked()
                    return
                version = (await current_version(db, workspace_id)).version
                busy_for = 0.0
                if version != seen_version:
                    try:
                        event, fingerprint = await compute(scope, version, max(seen_version, 0))
                    except Overloaded as exc:
                        # No comparison slot: the stream stays open and this version is
                        # computed again shortly, as a REST client retries after a 503.
                        busy_for = exc.retry_after
                    else:
                        seen_version = version
                        if fingerprint != shown:
                            shown = fingerprint
                            # The event's selection is completed here, inside the scope.
                            yield event
                            emitted_at = time.monotonic()
            if busy_for:
                await asyncio.sleep(busy_for)
                continue
            await watch.wait(IDLE_CHECK)
            pause = emitted_at + MIN_INTERVAL - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
    finally:
        watch.close()


# -- experimentProgress --------------------------------------------------------------------

async def _existing_sessions(scope: Scope, ids: list[uuid.UUID]) -> dict[uuid.UUID, SessionRow]:
    """The caller's sessions by id; NOT_FOUND for one that is not (another workspace's, or deleted)."""
    sessions = await sessions_by_id(scope.tenant, ids)
    for session_id in ids:
        if session_id not in sessions:
            raise NotFound(f"Session {session_id} not found")
    return sessions


async def _progress(scope: Scope, ids: list[uuid.UUID], version: int) -> Computed[ExperimentProgress]:
    tenant = scope.tenant
    sessions = await _existing_sessions(scope, ids)
    counts = await session_counts(tenant, ids)
    stats = await stats_for_sessions(tenant, ids)
    progress = [
        SessionProgress(session=Session.of(sessions[s]), run_count=counts[s].run_count,
                        error_count=counts[s].error_count, pending_count=counts[s].pending_count,
                        feedback_count=counts[s].feedback_count,
                        stats=SessionStats(stats=stats[s].stats, session_=Session.of(sessions[s]),
                                           session_feedback=stats[s].session_feedback_stats,
                                           filter="eq(is_root, true)"))
        for s in ids]
    fingerprint = [(counts[s], stats[s].stats, stats[s].session_feedback_stats) for s in ids]
    return ExperimentProgress(data_version=str(version), sessions=progress), fingerprint


# -- groupRunsChanged ----------------------------------------------------------------------

async def _group_answer(live: LiveContext, scope: Scope, query: GroupQuery) -> list[results.Group]:
    """The answer at the current data version: at once if the engine holds it, else computed
    under a comparison slot (evalql/admission.py), as over HTTP: a change lands on every
    subscription of the workspace at once, and without slots a few connections of
    subscriptions (MAX_OPERATIONS each) would compute as many comparisons at once. Only a
    slot free now: waiting subscriptions would fill the queue that requests wait in, and
    turn the workspace's own comparisons away. Raises `Overloaded` when none is free
    (`_events` tries again a second later)."""
    tenant, comparisons = scope.tenant, live.comparisons
    with not_found_as_graphql():
        answer = await live.request.app.state.admission.answered(
            tenant, lambda: comparisons.cached_group_query(tenant, query),
            lambda: comparisons.group_query(tenant, query), queue=False)
    return answer.result


class _GroupAnswers:
    """The answer changed when its shape (groups, their statistics, which examples, runs and
    feedback it shows) differs, or when the change log names a row it shows (an example's
    outputs edited, a run patched, a feedback corrected) since the previous answer."""

    def __init__(self, live: LiveContext, query: GroupQuery) -> None:
        self.live, self.query = live, query
        self.shown: dict[str, set[uuid.UUID]] = {}
        self.touches = 0  # answers that showed a row the log named since the one before

    async def event(self, scope: Scope, version: int, before: int) -> Computed[GroupRunsChange]:
        groups = await _group_answer(self.live, scope, self.query)
        rows = _rows(groups)
        touched = False
        if self.shown and before < version:
            try:
                changes = await changes_between(scope.tenant.db, scope.tenant.workspace_id, before, version)
            except ChangesPruned:
                touched = True
            else:
                touched = bool(self.shown["runs"] & changes.runs or self.shown["examples"] & changes.examples
                               or self.shown["feedback"] & changes.feedback
                               or self.shown["sessions"] & changes.sessions)
        self.shown = rows
        self.touches += touched
        event = GroupRunsChange(data_version=str(version), groups=[
            GroupSummary(group_key=GroupKey(g.key), count=g.stats.run_count, example_count=g.example_count)
            for g in groups])
        return event, (_shape(groups), self.touches)


def _shape(groups: list[results.Group]) -> list:
    return [(g.key, g.filter, g.example_count, g.stats,
             [(s.session.id, s.stats, s.example_count, s.filter, s.session_feedback_stats, s.test_run_number)
              for s in g.sessions],
             [(e.example.id, [(r.run.id, [f.id for f in r.feedbacks], r.feedback_stats) for r in e.runs])
              for e in g.examples])
            for g in groups]


def _rows(groups: list[results.Group]) -> dict[str, set[uuid.UUID]]:
    rows: dict[str, set[uuid.UUID]] = {"runs": set(), "examples": set(), "feedback": set(), "sessions": set()}
    for g in groups:
        rows["sessions"].update(s.session.id for s in g.sessions)
        for e in g.examples:
            rows["examples"].add(e.example.id)
            for r in e.runs:
                rows["runs"].add(r.run.id)
                rows["feedback"].update(f.id for f in r.feedbacks)
    return rows


__all__ = ["ExperimentProgress", "GroupRunsChange", "Subscription"]
