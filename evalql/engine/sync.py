"""Loading the engine's state lazily and keeping it current from the change log.

The database is the only source of truth. The state records the data version it
reflects; before answering, the engine reads the workspace's current version (one
indexed row) and, if it moved, the ids the change log names since then, and re-reads
exactly those rows. A state older than the log's pruning horizon is dropped and rebuilt.
See `evalql/db/changes.py` for why a reader that sees version V has every change <= V.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np

from evalql.db.changes import ChangeSet
from evalql.db.tenant import Tenant
from evalql.engine import load
from evalql.engine.state import SessionState, WorkspaceState, group_column


async def ensure_dataset(tenant: Tenant, state: WorkspaceState, dataset_id: uuid.UUID) -> None:
    if dataset_id in state.loaded_datasets:
        return
    rows = await load.dataset_examples(tenant, dataset_id)
    state.put_examples(rows)
    for key in state.example_keys:
        state.put_example_groups(key, await load.dataset_example_metadata(tenant, dataset_id, key))
    state.loaded_datasets.add(dataset_id)
    state.generation += 1
    state.builds += 1


async def ensure_example_key(tenant: Tenant, state: WorkspaceState, key: str) -> None:
    if key in state.example_keys:
        return
    state.examples.add_column(group_column(key), np.int32)
    for dataset_id in state.loaded_datasets:
        state.put_example_groups(key, await load.dataset_example_metadata(tenant, dataset_id, key))
    state.example_keys.add(key)
    state.generation += 1
    state.builds += 1


async def ensure_session(tenant: Tenant, state: WorkspaceState, session_id: uuid.UUID) -> SessionState:
    found = state.sessions.get(session_id)
    if found is not None:
        return found
    session = SessionState()
    state.put_runs(session, await load.session_runs(tenant, session_id))
    state.put_feedback(session, await load.session_feedback(tenant, session_id))
    session.session_feedback = {row.id: row for row in map(
        load.FeedbackRow.of, await load.session_level_feedback(tenant, session_id))}
    state.sessions[session_id] = session
    state.generation += 1
    state.builds += 1
    return session


async def ensure_run_key(tenant: Tenant, state: WorkspaceState, session_id: uuid.UUID, key: str) -> None:
    session = state.sessions[session_id]
    if key in session.run_keys:
        return
    session.runs.add_column(group_column(key), np.int32)
    state.put_run_groups(session, key, await load.session_run_metadata(tenant, session_id, key))
    session.run_keys.add(key)
    state.generation += 1
    state.builds += 1


async def apply_changes(tenant: Tenant, state: WorkspaceState, changes: ChangeSet) -> None:
    """Re-read what the change log names; rows that are gone (or no longer qualify) die.
    Cached page rows of changed runs (their feedback included), examples and sessions are
    forgotten."""
    if changes.examples:
        await _examples(tenant, state, changes.examples)
    if changes.runs:
        await _runs(tenant, state, changes.runs)
    feedback_runs = await _feedback(tenant, state, changes.feedback) if changes.feedback else set()
    _touch_filters(state, [*changes.runs, *feedback_runs], changes.examples)
    state.generation += 1
    state.page.forget([*changes.runs, *feedback_runs], changes.examples,
                      sessions_changed=bool(changes.sessions or changes.datasets))


def _uuids(keys: Iterable[bytes]) -> list[uuid.UUID]:
    return [uuid.UUID(bytes=k) for k in keys]


def _touch_filters(state: WorkspaceState, run_ids: list[uuid.UUID], example_ids: Iterable[uuid.UUID]) -> None:
    """What a run filter reads is the run, its metadata and feedback (all logged as the run,
    or as feedback on it) and its example's metadata (logged as the example): those rows'
    cached filter results are re-checked on their next use."""
    filtered = [session for session in state.sessions.values() if session.filters]
    if not filtered:
        return
    example_rows = state.examples.rows_of(example_ids)
    for session in filtered:
        rows = set(session.runs.rows_of(run_ids))
        if example_rows:
            rows.update(np.flatnonzero(np.isin(session.runs.column("example"), example_rows)).tolist())
        session.touch(rows)


async def _examples(tenant: Tenant, state: WorkspaceState, example_ids: Iterable[uuid.UUID]) -> None:
    example_ids = list(example_ids)
    # An example that left every loaded dataset (or is gone) is no longer a candidate anywhere.
    state.examples.kill(example_ids)
    loaded = {d.bytes for d in state.loaded_datasets}
    rows = [r for r in await load.examples_by_id(tenant, example_ids) if r.dataset_id in loaded]
    state.put_examples(rows)
    if rows and state.example_keys:
        metadata = await load.example_metadata_by_example(tenant, _uuids(r.id for r in rows),
                                                          sorted(state.example_keys))
        for key in state.example_keys:
            state.put_example_groups(key, [m for m in metadata if m.key == key])


async def _runs(tenant: Tenant, state: WorkspaceState, run_ids: Iterable[uuid.UUID]) -> None:
    run_ids = list(run_ids)
    for session in state.sessions.values():
        session.runs.kill(run_ids)  # re-read below; whatever still qualifies comes back to life
    rows = await load.runs_by_id(tenant, run_ids)
    held = {session_id.bytes: session_id for session_id in state.sessions}
    by_session: dict[uuid.UUID, list[Any]] = {}
    for r in rows:
        if r.session_id in held and r.is_root and r.reference_example_id is not None:
            by_session.setdefault(held[r.session_id], []).append(r)
    for session_id, found in by_session.items():
        session = state.sessions[session_id]
        state.put_runs(session, found)
        ids = _uuids(r.id for r in found)
        if session.run_keys:
            metadata = await load.run_metadata_by_run(tenant, ids, sorted(session.run_keys))
            for key in session.run_keys:
                state.put_run_groups(session, key, [m for m in metadata if m.key == key])
        # Feedback may have arrived before its run did: attach whatever the run already has.
        state.put_feedback(session, await load.feedback_of_runs(tenant, ids))


async def _feedback(tenant: Tenant, state: WorkspaceState, feedback_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Returns the runs whose feedback changed (the run it was on, and the run it is on)."""
    feedback_ids = list(feedback_ids)
    runs: set[uuid.UUID] = set()
    for session in state.sessions.values():
        on_run = session.feedback.column("run")
        runs.update(session.runs.id_at(on_run[at]) for at in session.feedback.rows_of(feedback_ids) if on_run[at] >= 0)
        session.feedback.kill(feedback_ids)
        for feedback_id in feedback_ids:
            session.session_feedback.pop(feedback_id, None)
    for r in await load.feedback_by_id(tenant, feedback_ids):
        if r.run_id is None:
            row = load.FeedbackRow.of(r)
            if row.session_id in state.sessions:
                state.sessions[row.session_id].session_feedback[row.id] = row
            continue
        runs.add(uuid.UUID(bytes=r.run_id))
        for session in state.sessions.values():
            at = session.runs.position.get(r.run_id)
            if at is not None and session.runs.alive[at]:
                state.put_feedback(session, [r])
                break
    return runs

