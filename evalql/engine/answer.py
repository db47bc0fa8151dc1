"""The engine: the comparison queries answered from columnar state kept in memory.

`ComparisonEngine.group_query` (spec §5) is what REST group/runs and GraphQL `groupRuns`
call; `ComparisonEngine.dataset_runs` (spec §6) answers REST `POST /datasets/{id}/runs`.
Per request, both alike (`_answer`):
1. read the workspace's data version (one statement); an answer cached for this exact
   request at this version is returned as it is;
2. otherwise, under the workspace's lock: the state brought to the current version
   (`sync.py`), the checks of §5.2, filters compiled to SQL once and read as run ids;
3. the vectorised computation (`compute.py`, `dataset_runs.py`) in a worker thread, so
   the event loop keeps serving;
4. the page's examples and runs fetched by key (`page.py`), and the typed answer
   assembled as the SQL path assembles it (`queries/group_runs.assemble_groups`;
   `queries/dataset_runs` for §6, which tests hold the engine to).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine

from evalql.core.enums import GroupBy
from evalql.db.changes import ChangesPruned, changes_between, current_version
from evalql.db.chunks import id_chunks
from evalql.db.engine import session_factory
from evalql.db.models import Example, Run
from evalql.db.tenant import Tenant, readable
from evalql.db.types import units_to_cost
from evalql.engine import compute, dataset_runs, deltas, export, snapshot, sync
from evalql.engine.state import FILTERS_PER_SESSION, FilterMask, SessionState, WorkspaceState, group_column
from evalql.queries import feedback_stats as fbs
from evalql.queries.candidates import GroupQuery
from evalql.queries.dataset_runs import DatasetRunsQuery
from evalql.queries.group_runs import assemble_groups
from evalql.queries.results import (
    ExampleWithRuns,
    Group,
    GroupIdentity,
    RunSetStats,
    RunWithFeedback,
    SessionDeltas,
)
from evalql.queries.run_details import comparison_order

log = logging.getLogger("evalql.engine")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CACHED_ANSWERS = 256  # per process; an answer holds the runs of at most 200 examples (§5: 20 groups × 10; §6: 100)
SAVE_EVERY = 60.0  # seconds between snapshots of a state that only follows the change log
T = TypeVar("T")
# A comparison's work on the state, with the tenant whose session it reads by.
Work = Callable[[Tenant, "WorkspaceState", "Clock"], Awaitable[T]]


@dataclass
class Answer(Generic[T]):
    """A computed answer at one data version (the groups of §5, the examples of §6), with
    what interfaces rendered from it (a REST body per `preview`, say), so that a repeated
    request costs no rendering either."""

    result: T
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


def _filters_key(filter_strings: Mapping[uuid.UUID, Sequence[str]]) -> Hashable:
    return tuple(sorted((str(s), tuple(t)) for s, t in filter_strings.items()))


def request_key(query: GroupQuery) -> tuple:
    return ("group", query.dataset_id, tuple(query.session_ids), query.group_by, query.metadata_key, query.offset,
            query.limit, query.per_group_limit, _filters_key(query.filter_strings), query.baseline_session_id,
            query.delta_tolerance)


def dataset_runs_key(query: DatasetRunsQuery) -> tuple:
    """The answer depends on the set of `example_ids`, not on their order or repetitions."""
    example_ids = None if query.example_ids is None else tuple(sorted(set(query.example_ids)))
    return ("dataset_runs", query.dataset_id, tuple(query.session_ids), query.offset, query.limit, example_ids,
            query.sort, _filters_key(query.filter_strings))


class ComparisonEngine:
    def __init__(self, max_bytes: int = 2**30, snapshots: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self.snapshots = snapshots  # a directory for snapshots of the state, or None
        self._saving: dict[uuid.UUID, asyncio.Task] = {}
        self._saved_at: dict[uuid.UUID, float] = {}
        self.restored = 0  # states read back from snapshots (a restart's first answers)
        self._states: OrderedDict[uuid.UUID, WorkspaceState] = OrderedDict()
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        # (workspace, data version, request) -> answer
        self._answers: OrderedDict[tuple[uuid.UUID, int, tuple], Answer] = OrderedDict()
        self._running: dict[tuple[uuid.UUID, int, tuple], asyncio.Future] = {}  # detached computations

    async def group_query(self, tenant: Tenant, query: GroupQuery) -> Answer[list[Group]]:
        async def work(tenant: Tenant, state: WorkspaceState, clock: Clock) -> list[Group]:
            sessions = await state.page.checked_sessions(tenant, query.dataset_id, query.session_ids)
            clock.lap("checks")
            page, identities, run_ids, cells = await self._compute(tenant, state, query, clock)
            example_ids = [[state.examples.id_at(e) for e, _ in g.examples] for g in page]
            groups = await self._assemble(tenant, state, query, sessions, page, identities, run_ids, example_ids)
            clock.lap("page")
            if cells is not None:
                _attach_deltas(query, groups, await cells)
                clock.lap("deltas")
            return groups

        return await self._answer(tenant, request_key(query), work)

    async def dataset_runs(self, tenant: Tenant, query: DatasetRunsQuery) -> Answer[list[ExampleWithRuns]]:
        """Spec §6: the examples the sessions ran, each with its candidate runs, paged."""
        async def work(tenant: Tenant, state: WorkspaceState, clock: Clock) -> list[ExampleWithRuns]:
            await state.page.checked_sessions(tenant, query.dataset_id, query.session_ids)
            clock.lap("checks")
            page = await self._examples_page(tenant, state, query, clock)
            sessions = [state.sessions[s] for s in query.session_ids]
            example_ids = [state.examples.id_at(e) for e, _ in page]
            run_ids = [[sessions[i].runs.id_at(r) for i, r in runs] for _, runs in page]
            examples, runs = await _page_rows(tenant, state, example_ids, [r for ids in run_ids for r in ids])
            order = comparison_order(query.session_ids)
            # A row deleted since the computation (a concurrent write) is left out, not an error.
            out = [ExampleWithRuns(examples[e], _ordered(runs, ids, order))
                   for e, ids in zip(example_ids, run_ids, strict=True) if e in examples]
            clock.lap("page")
            return out

        return await self._answer(tenant, dataset_runs_key(query), work)

    async def cached_group_query(self, tenant: Tenant, query: GroupQuery) -> Answer[list[Group]] | None:
        """The answer of `group_query` if it is cached at the current data version: costs one
        statement, so callers that bound concurrent comparisons (evalql/admission.py) serve it
        without waiting for a turn."""
        return await self._cached(tenant, request_key(query))

    async def cached_dataset_runs(self, tenant: Tenant, query: DatasetRunsQuery
                                  ) -> Answer[list[ExampleWithRuns]] | None:
        """`dataset_runs`' answer if cached at the current data version (as `cached_group_query`)."""
        return await self._cached(tenant, dataset_runs_key(query))

    async def _cached(self, tenant: Tenant, request: tuple) -> Answer | None:
        return (await self._lookup(tenant, request))[1]

    async def _lookup(self, tenant: Tenant, request: tuple) -> tuple[tuple[uuid.UUID, int, tuple], Answer | None]:
        """The answer's key at the current data version, and the answer if it is cached."""
        version = await current_version(tenant.db, tenant.workspace_id)
        key = (tenant.workspace_id, version.version, request)
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
        return key, found

    async def export_plan(self, tenant: Tenant, query: GroupQuery) -> export.Plan:
        """Every group's runs R(g) in export order (`engine/export.py`), at the data version
        `tenant.db` reads; not cached (it is as long as the runs), and not paged."""
        async def work(tenant: Tenant, state: WorkspaceState, clock: Clock) -> export.Plan:
            sessions = await state.page.checked_sessions(tenant, query.dataset_id, query.session_ids)
            clock.lap("checks")
            inputs = await self._group_inputs(tenant, state, query, clock)
            grouping = state.grouping(query.group_by, query.metadata_key)
            found = await asyncio.to_thread(export.members, inputs, state.live_examples(query.dataset_id),
                                            grouping.rank(), state.example_order())
            clock.lap("compute")
            return export.Plan(state.version, sessions,
                               [GroupIdentity(*grouping.identity.values[g]) for g in found.groups.tolist()],
                               found, sorted(state.feedback_keys.values[k] for k in found.feedback_keys),
                               state, [i.state for i in inputs])

        # On the request's own session: the plan is read at its snapshot (db/read_snapshot.py).
        return (await self._answer(tenant, ("export", *request_key(query)), work, keep=False, detached=False)).result

    def held_version(self, workspace_id: uuid.UUID) -> int | None:
        """The data version of the workspace's state, if one is held: a reader whose
        snapshot is older would make it start over (`_current`)."""
        state = self._states.get(workspace_id)
        return None if state is None else state.version

    async def _answer(self, tenant: Tenant, request: tuple, work: Work[T], keep: bool = True,
                      detached: bool = True) -> Answer[T]:
        """The answer cached for `request` (a key whose first item names the query) at the
        current data version, else `work`'s on the state brought to that version, computed
        under the workspace's lock (and cached unless not `keep`).

        `detached`: computed by a task of its own, on a database session of its own, which
        the request awaits without owning it. A request cancelled on the way (the GraphQL
        execution deadline) so leaves the work to finish: the state it loads is never left
        half-built (a first comparison of a large workspace takes longer than a deadline
        once, not on every try), and the next request finds the answer ready. Identical
        requests at the same data version share one task."""
        clock = Clock()
        key, found = await self._lookup(tenant, request)
        if found is not None:
            return found
        clock.lap("version")
        version = key[1]
        if not detached or not isinstance(tenant.db.bind, AsyncEngine):  # a session on one connection
            return await self._computed(tenant, version, key, work, keep, clock)
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._detached(tenant, version, key, work, keep, clock))
            self._running[key] = task
            task.add_done_callback(functools.partial(self._finished, key))
        return await asyncio.shield(task)

    def _finished(self, key: tuple, task: asyncio.Future) -> None:
        self._running.pop(key, None)
        if not task.cancelled() and task.exception() is not None:  # retrieved: its requests may be gone
            log.debug("comparison %s failed", key[2][0], exc_info=task.exception())

    async def _detached(self, tenant: Tenant, version: int, key: tuple, work: Work[T], keep: bool,
                        clock: Clock) -> Answer[T]:
        assert isinstance(tenant.db.bind, AsyncEngine)
        async with session_factory(tenant.db.bind)() as db:
            own = Tenant(tenant.workspace_id, tenant.read_only, db)
            return await self._computed(own, version, key, work, keep, clock)

    async def _computed(self, tenant: Tenant, version: int, key: tuple, work: Work[T], keep: bool,
                        clock: Clock) -> Answer[T]:
        lock = self._locks.setdefault(tenant.workspace_id, asyncio.Lock())
        async with lock:
            clock.lap("queued")
            try:
                state = await self._current(tenant, version)
                clock.lap("sync")
                result = await work(tenant, state, clock)
            except asyncio.CancelledError:
                # Cancelled between two statements of a load or of a change set (the server
                # stopping, or a request that computes on its own session): the state could
                # hold half of one. It is dropped, to be rebuilt (or restored from its
                # snapshot) when next asked.
                self._states.pop(tenant.workspace_id, None)
                raise
            self._maybe_save(state)
        self._bound_memory(tenant.workspace_id)
        answer = Answer(result, timings=clock.laps)
        log.debug("%s %s", key[2][0], clock)
        if not keep:
            return answer
        # Answers of this workspace at older versions will not be asked for again (every
        # request reads the current version first): under steady ingest they would fill the
        # cache with dead answers and their renderings, a few hundred KiB each.
        for old in [k for k in self._answers if k[0] == tenant.workspace_id and k[1] < version]:
            del self._answers[old]
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
        """At shutdown: stop the comparisons no request waits for any more (their states are
        dropped, `_computed`), finish the snapshots being written, and write those that lag."""
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
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
                       ) -> tuple[list[compute.PageGroup], list[GroupIdentity], list[list[list[uuid.UUID]]],
                                  Awaitable[dict[tuple[int, int], deltas.CellDeltas]] | None]:
        """The page's groups, their identities and example runs, and the baseline deltas
        (None without a baseline) still being computed: in a worker thread of their own,
        while the caller reads the page's rows from the database (numpy and the database
        driver both leave the GIL)."""
        inputs = await self._group_inputs(tenant, state, query, clock)
        live = state.live_examples(query.dataset_id)
        grouping = state.grouping(query.group_by, query.metadata_key)
        identity_of = grouping.identity.values

        page, members = await asyncio.to_thread(
            compute.group_page, inputs, live, grouping.rank(), state.example_order(), state.feedback_keys.values,
            state.labels.values, query.offset, query.limit, query.per_group_limit)
        cells = None
        if query.baseline_session_id is not None and page:
            cells = asyncio.ensure_future(asyncio.to_thread(
                deltas.session_deltas, members, [s.state for s in inputs],
                list(query.session_ids).index(query.baseline_session_id), len(page), max(len(live), 1),
                state.feedback_keys.values, query.delta_tolerance,
                *_seeds(query, [identity_of[g.code] for g in page])))
        clock.lap("compute")
        identities = [GroupIdentity(*identity_of[g.code]) for g in page]
        run_ids = [[[state.sessions[query.session_ids[i]].runs.id_at(r) for i, r in runs] for _, runs in g.examples]
                   for g in page]
        return page, identities, run_ids, cells

    async def _group_inputs(self, tenant: Tenant, state: WorkspaceState, query: GroupQuery, clock: Clock
                            ) -> list[compute.SessionInput]:
        """Step 1's inputs: each session's run rows with their group codes and filter mask."""
        by_run = query.group_by is GroupBy.RUN_METADATA
        await self._load(tenant, state, query.dataset_id, query.session_ids,
                         run_key=query.metadata_key if by_run else None,
                         example_key=None if by_run else query.metadata_key)
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
            allowed = await self._allowed(tenant, session_id, session, query.run_conditions.get(session_id),
                                          query.filter_strings.get(session_id, ()))
            inputs.append(compute.SessionInput(session, group, allowed))
        clock.lap("filters")
        return inputs

    async def _examples_page(self, tenant: Tenant, state: WorkspaceState, query: DatasetRunsQuery, clock: Clock
                             ) -> list[tuple[int, list[tuple[int, int]]]]:
        """§6 over the state: the page's example rows, each with its candidate runs as
        (session index, run row)."""
        await self._load(tenant, state, query.dataset_id, query.session_ids)
        clock.lap("load")
        inputs = []
        for session_id in query.session_ids:
            session = state.sessions[session_id]
            allowed = await self._allowed(tenant, session_id, session, query.run_conditions.get(session_id),
                                          query.filter_strings.get(session_id, ()))
            inputs.append(dataset_runs.SessionRuns(session, allowed))
        clock.lap("filters")
        live = state.live_examples(query.dataset_id)
        if query.example_ids is not None:
            wanted = np.zeros(len(live), bool)
            wanted[state.examples.rows_of(query.example_ids)] = True
            live &= wanted
        sort = query.sort
        # A key no feedback of the workspace has: every mean is null, the order is (created_at, id).
        sort_key = None if sort is None else state.feedback_keys.code.get(sort.key, -1)
        page = await asyncio.to_thread(dataset_runs.examples_page, inputs, live, state.example_order(), sort_key,
                                       sort is not None and sort.descending, query.offset, query.limit)
        clock.lap("compute")
        return page

    @staticmethod
    async def _load(tenant: Tenant, state: WorkspaceState, dataset_id: uuid.UUID, session_ids: Sequence[uuid.UUID],
                    run_key: str | None = None, example_key: str | None = None) -> None:
        """The dataset's examples and the sessions' runs (with a metadata key's groups) in the state."""
        await sync.ensure_dataset(tenant, state, dataset_id)
        if example_key is not None:
            await sync.ensure_example_key(tenant, state, example_key)
        for session_id in session_ids:
            await sync.ensure_session(tenant, state, session_id)
            if run_key is not None:
                await sync.ensure_run_key(tenant, state, session_id, run_key)

    @staticmethod
    async def _allowed(tenant: Tenant, session_id: uuid.UUID, session: SessionState,
                       conditions: Sequence[Any] | None, strings: Sequence[str]) -> np.ndarray | None:
        """The session's filters (`conditions`, compiled from `strings`) as a mask over its run
        rows. The mask is kept with the session: a later request re-checks only the rows
        changed or added since (by id, in SQL), so a filter costs what the change costs, not
        what the session holds."""
        if not conditions:
            return None
        runs = readable(tenant, Run, Run.id).where(Run.session_id == session_id, Run.is_root.is_(True),
                                                   Run.reference_example_id.is_not(None), *conditions)
        key = tuple(strings)
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

        examples, runs = await _page_rows(tenant, state, [e for ids in example_ids for e in ids],
                                          [r for g in run_ids for runs in g for r in runs])
        order = comparison_order(query.session_ids)
        page_examples, page_runs = {}, {}
        for identity, ids, g_runs in zip(identities, example_ids, run_ids, strict=True):
            # A row deleted since the computation (a concurrent write) is left out, not an error.
            page_examples[identity] = [examples[e] for e in ids if e in examples]
            for e, r_ids in zip(ids, g_runs, strict=True):
                page_runs[(identity, e)] = _ordered(runs, r_ids, order)
        session_feedback = {(s,): fbs.partials_from_rows(state.sessions[s].session_feedback.values())
                            for s in query.session_ids}
        return assemble_groups(query, sessions, [(identity, g.example_count) for g, identity in zip(
            page, identities, strict=True)], per_session, group_pct, run_feedback, session_feedback,
            page_examples, page_runs)


def _seeds(query: GroupQuery, identities: list[tuple]) -> tuple[Callable[..., int], Hashable]:
    """The bootstrap seed of a (page slot, session index, metric) cell: a hash of what
    identifies the cell, not of the page or the other sessions, so the same data gives the
    same interval however the request pages or which sessions it adds; and a key of all
    the seeds together (what they are a function of)."""
    base = f"{query.dataset_id}|{query.group_by.value}|{query.metadata_key}|{query.baseline_session_id}|" \
           f"{query.delta_tolerance!r}|{_filters_key(query.filter_strings)}"

    def seed(slot: int, *, session: int, metric: str) -> int:
        text = f"{base}|{identities[slot]}|{query.session_ids[session]}|{metric}"
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")

    return seed, (base, tuple(identities), tuple(query.session_ids))


def _attach_deltas(query: GroupQuery, groups: list[Group], cells: dict[tuple[int, int], deltas.CellDeltas]) -> None:
    """Each session's deltas against the baseline, on the groups the baseline is in."""
    assert query.baseline_session_id is not None
    index = {s: i for i, s in enumerate(query.session_ids)}
    for slot, group in enumerate(groups):
        for item in group.sessions:
            cell = cells.get((slot, index[item.session.id]))
            if cell is not None:
                item.deltas = SessionDeltas(
                    baseline_session_id=query.baseline_session_id, tolerance=query.delta_tolerance,
                    feedback=cell.feedback, latency=cell.metrics["latency"], error_rate=cell.metrics["error_rate"],
                    cost=cell.metrics["cost"])


async def _page_rows(tenant: Tenant, state: WorkspaceState, example_ids: list[uuid.UUID], run_ids: list[uuid.UUID]
                     ) -> tuple[dict[uuid.UUID, Example], dict[uuid.UUID, RunWithFeedback]]:
    """The page's examples and runs (with their feedback and trace bounds) by id, kept
    between requests by `state.page`."""
    return await state.page.examples_by_id(tenant, example_ids), await state.page.runs_by_id(tenant, run_ids)


def _ordered(runs: dict[uuid.UUID, RunWithFeedback], run_ids: list[uuid.UUID],
             order: Callable[[Run], tuple]) -> list[RunWithFeedback]:
    """The runs of one example that are still there, in §5.3 step 7 order."""
    return sorted((runs[r] for r in run_ids if r in runs), key=lambda r: order(r.run))
