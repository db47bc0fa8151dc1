"""The engine: the group query (spec §5) answered from columnar state kept in memory.

`Engine.group_query` is what REST group/runs and GraphQL `groupRuns` call. Per request:
1. read the workspace's data version (one statement); an answer cached for this exact
   request at this version is returned as it is;
2. otherwise, under the workspace's lock: the checks of §5.2, the state brought to the
   current version (`sync.py`), filters compiled to SQL once and read as run ids;
3. the vectorised computation (`compute.py`) in a worker thread, so the event loop
   keeps serving;
4. the page's examples and runs fetched by key, and the typed answer assembled by the
   same code as the SQL path (`queries/group_runs.assemble_groups`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalql.core.enums import GroupBy
from evalql.db.changes import ChangesPruned, changes_between, current_version
from evalql.db.chunks import id_chunks
from evalql.db.models import Run
from evalql.db.tenant import Tenant, readable
from evalql.db.types import units_to_cost
from evalql.engine import compute, snapshot, sync
from evalql.engine.state import FILTERS_PER_SESSION, FilterMask, SessionState, WorkspaceState, group_column
from evalql.queries import feedback_stats as fbs
from evalql.queries.candidates import GroupQuery
from evalql.queries.group_runs import assemble_groups
from evalql.queries.results import Group, GroupIdentity, RunSetStats
from evalql.queries.run_details import comparison_order

log = logging.getLogger("evalql.engine")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CACHED_ANSWERS = 256  # per process; an answer holds at most 20 groups × 10 examples × 10 sessions of runs
SAVE_EVERY = 60.0  # seconds between snapshots of a state that only follows the change log


@dataclass
class Answer:
    """A computed answer at one data version, with what interfaces rendered from it (a
    REST body per `preview`, say), so that a repeated request costs no rendering either."""

    groups: list[Group]
    timings: dict[str, float] = field(default_factory=dict)  # ms per phase of the computation
    renderings: dict[Hashable, Any] = field(default_factory=dict)


class Clock:
    """Milliseconds spent per phase of one computation (logged at DEBUG, printed by the bench)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + (now - self._last) * 1000
        self._last = now

    def __str__(self) -> str:
        return " ".join(f"{name} {ms:.1f} ms" for name, ms in self.laps.items())


def _micros(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def request_key(query: GroupQuery) -> Hashable:
    return (query.dataset_id, tuple(query.session_ids), query.group_by, query.metadata_key, query.offset,
            query.limit, query.per_group_limit,
            tuple(sorted((str(s), tuple(t)) for s, t in query.filter_strings.items())))


class ComparisonEngine:
    def __init__(self, max_bytes: int = 2**30, snapshots: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self.snapshots = snapshots  # a directory for snapshots of the state, or None
        self._saving: dict[uuid.UUID, asyncio.Task] = {}
        self._saved_at: dict[uuid.UUID, float] = {}
        self.restored = 0  # states read back from snapshots (a restart's first answers)
        self._states: OrderedDict[uuid.UUID, WorkspaceState] = OrderedDict()
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()

    async def group_query(self, tenant: Tenant, query: GroupQuery) -> Answer:
        clock = Clock()
        version = await current_version(tenant.db, tenant.workspace_id)
        key = (tenant.workspace_id, version.version, request_key(query))
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
            return found
        clock.lap("version")
        lock = self._locks.setdefault(tenant.workspace_id, asyncio.Lock())
        async with lock:
            clock.lap("queued")
            state = await self._current(tenant, version.version)
            clock.lap("sync")
            sessions = await state.page.checked_sessions(tenant, query.dataset_id, query.session_ids)
            clock.lap("checks")
            page, identities, run_ids = await self._compute(tenant, state, query, clock)
            example_ids = [[state.examples.id_at(e) for e, _ in g.examples] for g in page]
            groups = await self._assemble(tenant, state, query, sessions, page, identities, run_ids, example_ids)
            clock.lap("page")
            self._maybe_save(state)
        self._bound_memory(tenant.workspace_id)
        answer = Answer(groups, timings=clock.laps)
        log.debug("group query %s", clock)
        self._answers[key] = answer
        while len(self._answers) > CACHED_ANSWERS:
            self._answers.popitem(last=False)
        return answer

    def _bound_memory(self, current: uuid.UUID) -> None:
        """Least recently compared workspaces go first; the current one always stays."""
        self._states.move_to_end(current)
        while len(self._states) > 1 and sum(s.nbytes() for s in self._states.values()) > self.max_bytes:
            dropped, _ = self._states.popitem(last=False)
            self._locks.pop(dropped, None)
            log.info("engine state of workspace %s dropped to stay within %d MB", dropped, self.max_bytes >> 20)

    def _maybe_save(self, state: WorkspaceState) -> None:
        """Snapshot a state that gained loaded data at once, and one that only followed the
        log at most every SAVE_EVERY seconds; written by a worker thread from a copy, so
        neither this request nor the next waits for the disk."""
        if self.snapshots is None or state.generation == state.saved_generation:
            return
        workspace_id = state.workspace_id
        running = self._saving.get(workspace_id)
        if running is not None and not running.done():
            return
        if state.builds == state.saved_builds and time.monotonic() - self._saved_at.get(workspace_id, 0.0) < SAVE_EVERY:
            return
        frozen = snapshot.freeze(state)
        state.saved_generation, state.saved_builds = state.generation, state.builds
        self._saved_at[workspace_id] = time.monotonic()
        self._saving[workspace_id] = asyncio.create_task(asyncio.to_thread(snapshot.save, self.snapshots, frozen))

    async def close(self) -> None:
        """At shutdown: finish the snapshots being written, and write those that lag."""
        for task in list(self._saving.values()):
            try:
                await task
            except Exception:
                log.warning("writing an engine snapshot failed", exc_info=True)
        if self.snapshots is None:
            return
        for state in self._states.values():
            if state.generation != state.saved_generation:
                try:
                    await asyncio.to_thread(snapshot.save, self.snapshots, snapshot.freeze(state))
                except Exception:
                    log.warning("writing an engine snapshot failed", exc_info=True)

    async def _current(self, tenant: Tenant, version: int) -> WorkspaceState:
        state = self._states.get(tenant.workspace_id)
        if state is None and self.snapshots is not None:
            state = await asyncio.to_thread(snapshot.load, self.snapshots, tenant.workspace_id)
            if state is not None:
                self._states[tenant.workspace_id] = state
                self.restored += 1
        if state is not None and state.version < version:
            try:
                changes = await changes_between(tenant.db, tenant.workspace_id, state.version, version)
            except ChangesPruned:
                state = None  # the log no longer says what changed since: rebuild from the tables
            else:
                await sync.apply_changes(tenant, state, changes)
                state.version = version
        if state is None or state.version > version:  # newer than the database: it was rebuilt or restored
            state = self._states[tenant.workspace_id] = WorkspaceState(tenant.workspace_id, version)
        return state

    async def _compute(self, tenant: Tenant, state: WorkspaceState, query: GroupQuery, clock: Clock
                       ) -> tuple[list[compute.PageGroup], list[GroupIdentity], list[list[list[uuid.UUID]]]]:
        await sync.ensure_dataset(tenant, state, query.dataset_id)
        by_run = query.group_by is GroupBy.RUN_METADATA
        if not by_run:
            await sync.ensure_example_key(tenant, state, query.metadata_key)
        for session_id in query.session_ids:
            await sync.ensure_session(tenant, state, session_id)
            if by_run:
                await sync.ensure_run_key(tenant, state, session_id, query.metadata_key)
        # Taken after every load: loading a session can add (placeholder) example rows.
        example_groups = state.examples.column(group_column(query.metadata_key)) if not by_run else None
        clock.lap("load")
        inputs = []
        for session_id in query.session_ids:
            session = state.sessions[session_id]
            if example_groups is None:
                group = session.runs.column(group_column(query.metadata_key))
            else:
                group = example_groups[session.runs.column("example")]
            allowed = await self._allowed(tenant, session_id, session, query)
            inputs.append(compute.SessionInput(session, group, allowed))
        clock.lap("filters")
        examples = state.examples
        dataset = state.dataset_code(query.dataset_id)
        live = examples.alive & examples.column("live") & (examples.column("dataset") == dataset)
        grouping = state.grouping(query.group_by, query.metadata_key)
        page = await asyncio.to_thread(
            compute.group_page, inputs, live, grouping.rank(), state.example_order(),
            state.feedback_keys.values, state.labels.values, query.offset, query.limit, query.per_group_limit)
        clock.lap("compute")
        identities = [GroupIdentity(*grouping.identity.values[g.code]) for g in page]
        run_ids = [[[state.sessions[query.session_ids[i]].runs.id_at(r) for i, r in runs] for _, runs in g.examples]
                   for g in page]
        return page, identities, run_ids

    @staticmethod
    async def _allowed(tenant: Tenant, session_id: uuid.UUID, session: SessionState, query: GroupQuery
                       ) -> np.ndarray | None:
        """The session's filters, compiled to SQL once, as a mask over its run rows. The mask
        is kept with the session: a later request re-checks only the rows changed or added
        since (by id, in SQL), so a filter costs what the change costs, not what the session
        holds."""
        conditions = query.run_conditions.get(session_id)
        if not conditions:
            return None
        runs = readable(tenant, Run, Run.id).where(Run.session_id == session_id, Run.is_root.is_(True),
                                                   Run.reference_example_id.is_not(None), *conditions)
        key = tuple(query.filter_strings.get(session_id, ()))
        size = len(session.runs)
        mask = session.filters.get(key)
        if mask is None:
            allowed = np.zeros(size, bool)
            allowed[session.runs.rows_of(await tenant.db.scalars(runs))] = True
            mask = session.filters[key] = FilterMask(allowed)
            while len(session.filters) > FILTERS_PER_SESSION:
                session.filters.popitem(last=False)
        else:
            session.filters.move_to_end(key)
            held = len(mask.allowed)
            if held < size:
                mask.allowed = np.concatenate([mask.allowed, np.zeros(size - held, bool)])
                mask.stale.update(range(held, size))
            if mask.stale:
                stale = sorted(mask.stale)
                passing: list[int] = []
                for chunk in id_chunks([session.runs.id_at(r) for r in stale]):
                    passing += session.runs.rows_of(await tenant.db.scalars(runs.where(Run.id.in_(chunk))))
                mask.allowed[stale] = False
                mask.allowed[passing] = True
                mask.stale.clear()
        return mask.allowed

    @staticmethod
    async def _assemble(tenant: Tenant, state: WorkspaceState, query: GroupQuery, sessions: dict,
                        page: list[compute.PageGroup],
                        identities: list[GroupIdentity], run_ids: list[list[list[uuid.UUID]]],
                        example_ids: list[list[uuid.UUID]]) -> list[Group]:
        per_session: dict[tuple, RunSetStats] = {}
        run_feedback: dict[tuple, Any] = {}
        group_pct: dict[tuple, dict[str, float]] = {}
        for g, identity in zip(page, identities, strict=True):
            group = (identity.is_text, identity.value)
            group_pct[group] = {"latency_p50": g.latency[0], "latency_p99": g.latency[1]}  # type: ignore[dict-item]
            for i, s in g.sessions.items():
                session_id = query.session_ids[i]
                per_session[(*group, session_id)] = RunSetStats(
                    run_count=s.run_count, example_count=g.example_count,
                    latency_p50=s.latency[0], latency_p99=s.latency[1],
                    first_token_p50=s.first_token[0], first_token_p99=s.first_token[1],
                    total_tokens=s.tokens["total_tokens"], prompt_tokens=s.tokens["prompt_tokens"],
                    completion_tokens=s.tokens["completion_tokens"],
                    total_cost=units_to_cost(s.costs["total_cost"]), prompt_cost=units_to_cost(s.costs["prompt_cost"]),
                    completion_cost=units_to_cost(s.costs["completion_cost"]),
                    min_start_time=_micros(s.min_start_us), max_start_time=_micros(s.max_start_us),
                    error_count=s.error_count, streaming_count=s.streaming_count,
                )
            for i, partials in g.feedback.items():
                run_feedback[(*group, query.session_ids[i])] = partials

        examples = await state.page.examples_by_id(tenant, [e for ids in example_ids for e in ids])
        runs = await state.page.runs_by_id(tenant, [r for g in run_ids for runs in g for r in runs])
        order = comparison_order(query.session_ids)
        page_examples, page_runs = {}, {}
        for identity, ids, g_runs in zip(identities, example_ids, run_ids, strict=True):
            # A row deleted since the computation (a concurrent write) is left out, not an error.
            page_examples[identity] = [examples[e] for e in ids if e in examples]
            for e, r_ids in zip(ids, g_runs, strict=True):
                found = sorted((runs[r] for r in r_ids if r in runs), key=lambda r: order(r.run))
                page_runs[(identity, e)] = found
        session_feedback = {(s,): fbs.partials_from_rows(state.sessions[s].session_feedback.values())
                            for s in query.session_ids}
        return assemble_groups(query, sessions, [(identity, g.example_count) for g, identity in zip(
            page, identities, strict=True)], per_session, group_pct, run_feedback, session_feedback,
            page_examples, page_runs)
