"""Apply one validated ingest batch in the caller's transaction (spec §7.5–§7.7).

Everything is read and checked before the first write, so a 4xx leaves nothing behind
(the caller rolls back; the sessions a batch would create by name go with it).

A post is stored when its parent is stored (or it has none); otherwise it waits in
`pending_runs`, invisible, until the parent arrives. A patch is applied when its post
is stored; before that it waits too. Storing a run releases what waited for it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from evalql.core.problems import InvalidInput, Problem
from evalql.db import writes
from evalql.db.lookups import delete_by_keys, rows_by_keys
from evalql.db.models import PendingRun, Run, RunAttachment, RunMetadata, TracerSession
from evalql.db.types import utcnow
from evalql.db.upsert import upsert
from evalql.ingest.merge import STORED, MergedRun, merge_posts
from evalql.ingest.trace import derived_trace_problem, trace_problems

# What applying a waiting record needs of it.
PENDING = (PendingRun.id, PendingRun.run_id, PendingRun.kind, PendingRun.waits_for, PendingRun.record,
           PendingRun.received_at, PendingRun.position)


@dataclass
class Located:
    """A record's given fields and where it was in the request (for 422 locations)."""

    given: dict[str, Any]
    loc: list[Any]
    run_id: uuid.UUID = field(init=False)  # read several times per record while a batch is applied

    def __post_init__(self) -> None:
        self.run_id = uuid.UUID(self.given["id"])


@dataclass
class Attachment:
    run_id: uuid.UUID
    name: str
    content_type: str
    data: bytes


@dataclass
class Batch:
    posts: list[Located] = field(default_factory=list)
    patches: list[Located] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)  # create records for writes.insert_feedback
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class Candidate:
    """A run whose post is known (from this batch or waiting) but which is not stored yet."""

    post: dict[str, Any]
    patches: list[dict[str, Any]]
    loc: list[Any] | None  # set when this batch posted it
    row: dict[str, Any] | None = None  # its row from `prepare`, when nothing of it waited


class _Unresolved(dict[str, uuid.UUID]):
    """The session of a post that names its session, resolved under the lock
    (`_resolve_sessions`): a placeholder for every name, and no name kept. (A defaultdict
    kept each session name ever posted, for the life of the process: one more per
    experiment, without bound.)"""

    def __missing__(self, name: str) -> uuid.UUID:
        return _PLACEHOLDER


_PLACEHOLDER = uuid.UUID(int=0)
_UNRESOLVED = _Unresolved()


@dataclass
class Prepared:
    """What a batch needs that no stored row decides, computed before the ingest lock is
    taken, where it does not hold up the other batches (it was most of the Python work done
    under the lock): the problems of its records on their own, and the row of each posted
    run as it is stored when nothing of the run was stored or waiting, its post merged with
    its patch of the same batch. The session of a post that names it is set under the lock."""

    problems: list[Problem]
    rows: dict[uuid.UUID, dict[str, Any]]


def prepare(workspace_id: uuid.UUID, batch: Batch) -> Prepared:
    problems = _record_problems(batch)
    if problems:
        return Prepared(problems, {})
    patches = {patch.run_id: patch.given for patch in batch.patches}
    rows = {}
    for post in batch.posts:
        merged = MergedRun(dict(post.given))
        if post.run_id in patches:
            merged.apply_patch(patches[post.run_id])
        rows[post.run_id] = writes.run_row(workspace_id, merged.record, _UNRESOLVED, merged.ingest_state())
    return Prepared([], rows)


def _problem(loc: list[Any], name: str, msg: str, type_: str = "value_error") -> Problem:
    return {"loc": [*loc, name], "msg": msg, "type": type_}


def _duplicates(records: list[Located], kind: str) -> list[Problem]:
    seen: set[str] = set()
    found = []
    for record in records:
        if record.given["id"] in seen:
            found.append(_problem(record.loc, "id", f"Run {record.given['id']} has more than one {kind} in this batch"))
        seen.add(record.given["id"])
    return found


def _record_problems(batch: Batch) -> list[Problem]:
    """The problems of the batch's records on their own (no stored row decides them)."""
    problems = _duplicates(batch.posts, "post") + _duplicates(batch.patches, "patch")
    for post in batch.posts:
        problems += [_problem(post.loc, name, f"Run {post.given['id']}: {name} {msg}")
                     for name, msg in trace_problems(post.given)]
        if post.given.get("parent_run_id") == post.given["id"]:  # it would wait for itself forever
            problems.append(_problem(post.loc, "parent_run_id", f"Run {post.given['id']} cannot be its own parent"))
    return problems


async def _check(db: AsyncSession, workspace_id: uuid.UUID, batch: Batch, problems: list[Problem]) -> None:
    problems = list(problems)
    wanted = {uuid.UUID(post.given["session_id"]) for post in batch.posts if "session_id" in post.given}
    found = {str(row.id) for row in await rows_by_keys(db, workspace_id, TracerSession, TracerSession.id, wanted,
                                                       TracerSession.id)}
    problems += [_problem(post.loc, "session_id",
                          f"Run {post.given['id']}: session {post.given['session_id']} not found")
                 for post in batch.posts if post.given.get("session_id", None) not in (None, *found)]
    if problems:
        raise InvalidInput(problems)


async def _resolve_sessions(db: AsyncSession, workspace_id: uuid.UUID, posts: list[Located]) -> list[Located]:
    """Copies of the posts where `session_name` (else "default") became the session id,
    creating the session on first use. The batch itself is left as it was, so that it
    can be applied again after a rollback."""
    names = {post.given.get("session_name") or "default" for post in posts if "session_id" not in post.given}
    if not names:
        return posts
    by_name = await writes.session_ids_by_name(db, workspace_id, names)
    return [post if "session_id" in post.given else Located(
        {**post.given, "session_id": str(by_name[post.given.get("session_name") or "default"])}, post.loc)
        for post in posts]


class Ingest:
    """The state of one batch while it is applied."""

    def __init__(self, db: AsyncSession, workspace_id: uuid.UUID) -> None:
        self.db, self.workspace_id = db, workspace_id
        self.consumed: list[uuid.UUID] = []  # pending rows applied by this batch
        self.new_pending: list[dict[str, Any]] = []
        self.released_for: set[uuid.UUID] = set()  # runs whose waiting children were looked up

    async def stored_runs(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The stored runs among `ids`: what merging a record into them needs (rows, not ORM
        objects: they are only read)."""
        rows = await rows_by_keys(self.db, self.workspace_id, Run, Run.id, ids, Run.id, Run.ingest_state,
                                  *(getattr(Run, name) for name in STORED if name != "id"))
        return {run.id: run for run in rows}

    async def pending(self, column: Any, ids: Iterable[uuid.UUID], kind: str | None = None) -> list[Any]:
        found = [row for row in await rows_by_keys(self.db, self.workspace_id, PendingRun, column, ids, *PENDING)
                 if kind is None or row.kind == kind]
        found.sort(key=lambda p: (p.received_at, p.position))
        self.consumed.extend(p.id for p in found)
        return found

    def hold(self, kind: str, run_id: uuid.UUID, waits_for: uuid.UUID, record: dict[str, Any]) -> None:
        self.new_pending.append({
            "id": uuid.uuid4(), "run_id": run_id, "kind": kind,
            "waits_for": waits_for, "record": record, "received_at": utcnow(), "position": len(self.new_pending),
            "session_id": uuid.UUID(record["session_id"]) if kind == "post" else None,
        })

    async def stored_parents(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
        rows = await rows_by_keys(self.db, self.workspace_id, Run, Run.id, ids, Run.id, Run.trace_id, Run.dotted_order)
        return {run.id: (run.trace_id, run.dotted_order) for run in rows}


async def apply_batch(db: AsyncSession, workspace_id: uuid.UUID, batch: Batch,
                      prepared: Prepared | None = None) -> None:
    """Run inside `ingest_transaction` (evalql/ingest/lock.py), with `prepare(workspace_id,
    batch)` done before it (or here, when not given)."""
    prepared = prepared or prepare(workspace_id, batch)
    await _check(db, workspace_id, batch, prepared.problems)
    state = Ingest(db, workspace_id)
    posts = {post.run_id: post for post in await _resolve_sessions(db, workspace_id, batch.posts)}
    patches = {patch.run_id: patch for patch in batch.patches}
    stored = await state.stored_runs(set(posts) | set(patches))

    waiting: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in await state.pending(PendingRun.run_id, (set(posts) | set(patches)) - set(stored)):
        waiting[row.run_id].append(row)

    updates: list[MergedRun] = []
    for run_id, run in stored.items():
        merged = MergedRun.from_row(run)
        if run_id in posts:
            merged.apply_post(posts[run_id].given)
        if run_id in patches:
            merged.apply_patch(patches[run_id].given)
        updates.append(merged)

    candidates: dict[uuid.UUID, Candidate] = {}
    for run_id in (set(posts) | set(patches)) - set(stored):
        held = [row.record for row in waiting[run_id] if row.kind == "post"]
        later = [row.record for row in waiting[run_id] if row.kind == "patch"]
        if run_id in patches:
            later.append(patches[run_id].given)
        if run_id not in posts and not held:
            for record in later:  # still no post: the patches wait for it
                state.hold("patch", run_id, run_id, record)
            continue
        post = merge_posts(held + ([posts[run_id].given] if run_id in posts else []))
        fresh = run_id in posts and not waiting[run_id]  # stored as `prepare` made it
        candidates[run_id] = Candidate(post, later, posts[run_id].loc if run_id in posts else None,
                                       prepared.rows.get(run_id) if fresh else None)

    storable, parents = await _release(state, candidates)
    placed = set(storable)  # a set: `in` on the list was quadratic in the batch's runs
    for run_id, candidate in candidates.items():
        if run_id not in placed:  # its parent is not stored: the merged post and patches wait
            parent = uuid.UUID(candidate.post["parent_run_id"])
            state.hold("post", run_id, parent, candidate.post)
            for record in candidate.patches:
                state.hold("patch", run_id, run_id, record)

    new_rows = _new_rows(workspace_id, [candidates[i] for i in storable], parents)
    update_rows = [writes.run_row(workspace_id, m.record, {}, m.ingest_state()) for m in updates]
    await _write(state, new_rows, update_rows, batch)


async def _release(state: Ingest, candidates: dict[uuid.UUID, Candidate]
                   ) -> tuple[list[uuid.UUID], dict[uuid.UUID, tuple[uuid.UUID, str]]]:
    """The candidates that can be stored now (parent stored or storable), in an order
    where parents come first, adding the waiting posts each stored run releases."""
    parents = await state.stored_parents({
        uuid.UUID(c.post["parent_run_id"]) for c in candidates.values() if "parent_run_id" in c.post
    } - set(candidates))
    order: list[uuid.UUID] = []
    placed: set[uuid.UUID] = set()
    while True:
        progress = True
        while progress:
            progress = False
            for run_id, candidate in candidates.items():
                parent = candidate.post.get("parent_run_id")
                if run_id not in placed and (parent is None or uuid.UUID(parent) in placed
                                             or uuid.UUID(parent) in parents):
                    order.append(run_id)
                    placed.add(run_id)
                    progress = True
        # Posts that waited for a run placed just now can be stored too.
        fresh = placed - state.released_for
        state.released_for |= fresh
        released = [row for row in await state.pending(PendingRun.waits_for, fresh, kind="post")
                    if row.run_id not in candidates]
        if not released:
            return order, parents
        patches = defaultdict(list)
        for row in await state.pending(PendingRun.run_id, {r.run_id for r in released}, kind="patch"):
            patches[row.run_id].append(row.record)
        for row in released:
            candidates[row.run_id] = Candidate(row.record, patches[row.run_id], None)


def _new_rows(workspace_id: uuid.UUID, candidates: list[Candidate],
              parents: dict[uuid.UUID, tuple[uuid.UUID, str]]) -> list[dict[str, Any]]:
    rows, problems = [], []
    for candidate in candidates:
        if candidate.row is not None:
            candidate.row["session_id"] = uuid.UUID(str(candidate.post["session_id"]))  # resolved by now
            rows.append(candidate.row)
            continue
        merged = MergedRun(dict(candidate.post))
        for patch in candidate.patches:
            merged.apply_patch(patch)
        rows.append(writes.run_row(workspace_id, merged.record, {}, merged.ingest_state()))
    by_id = {row["id"]: row for row in rows}
    for row, candidate in zip(rows, candidates, strict=True):
        writes.fill_trace_fields(row, by_id, parents)
        found = derived_trace_problem(candidate.post, row["trace_id"])
        if found is not None and candidate.loc is not None:
            problems.append(_problem(candidate.loc, found[0], f"Run {row['id']}: {found[0]} {found[1]}"))
    if problems:
        raise InvalidInput(problems)
    return rows


async def _write(state: Ingest, new_rows: list[dict[str, Any]], update_rows: list[dict[str, Any]],
                 batch: Batch) -> None:
    db, workspace_id = state.db, state.workspace_id
    # Reported usage is set on the rows before they are written, so that a trace whose runs
    # all arrive in this batch is written once, with no roll-up UPDATE after the INSERT.
    await writes.roll_up_usage(db, workspace_id, new_rows + update_rows, {row["id"] for row in update_rows})
    # New runs' metadata entries before the runs: see writes.insert_runs.
    await writes.bulk_insert(db, workspace_id, RunMetadata, writes.run_metadata_rows(new_rows))
    await writes.bulk_insert(db, workspace_id, Run, new_rows)
    if update_rows:
        for row in update_rows:
            row.pop("created_at")
        await writes.bulk_update(db, workspace_id, Run, update_rows)
        await delete_by_keys(db, workspace_id, RunMetadata, RunMetadata.run_id, [row["id"] for row in update_rows])
        await writes.bulk_insert(db, workspace_id, RunMetadata, writes.run_metadata_rows(update_rows))
    await delete_by_keys(db, workspace_id, PendingRun, PendingRun.id, state.consumed)
    await writes.bulk_insert(db, workspace_id, PendingRun, state.new_pending)
    if batch.attachments:
        await upsert(db, workspace_id, RunAttachment, [
            {"run_id": a.run_id, "name": a.name, "content_type": a.content_type,
             "size": len(a.data), "data": a.data, "created_at": utcnow()} for a in batch.attachments
        ], key=("workspace_id", "run_id", "name"))
    if batch.feedback:
        await writes.insert_feedback(db, workspace_id, batch.feedback)


__all__ = ["Attachment", "Batch", "Located", "Prepared", "apply_batch", "prepare"]
