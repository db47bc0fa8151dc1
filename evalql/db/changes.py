"""What changed in a workspace since a data version: the reading side of the change log.

Triggers (migration 0003) raise a workspace's counter in `data_versions` on every write
to the tables a comparison reads and log each affected row in `data_changes` under the
new version, in the writing transaction. Versions follow commit order (on PostgreSQL the
counter row's lock is held from a transaction's first bump to its commit; SQLite has one
writer at a time), so a reader keeping derived state does:

    seen = await current_version(db, ws)          # 1. on start: build from the tables,
    ...                                           #    remembering seen.version
    now = await current_version(db, ws)           # 2. later, one indexed read:
    if now.version != seen.version:               #    changed? then exactly what:
        changes = await changes_between(db, ws, after=seen.version, upto=now.version)

Every change with a version <= `now.version` is committed when `now` is read, so nothing
is missed and nothing uncommitted is seen. A transaction takes one or more consecutive
versions (one per logging statement on PostgreSQL, one per logged row on SQLite), and a
row may be named under several of them; readers only take the union. A change is named, not described: the reader
re-reads the named rows (a deleted row is named too, and is then not found).

The log is pruned (`prune_changes`) through a version; `pruned_through` says how far.
A reader whose last seen version is older than that cannot learn what changed in
between: `changes_between` raises `ChangesPruned`, and the reader rebuilds from the
tables. What is logged, exactly, is in the migration's docstring
(evalql/db/migrations/versions/0003_data_changes.py).

Like the rest of evalql/db, this module neither commits nor knows about requests:
callers own the transaction (`prune_changes` writes; commit after it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Uuid, case, cast, literal, null, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.models import DataChange, DataVersionCounter
from evalql.db.tenant import deletable, readable, updatable


class ChangeKind(StrEnum):
    """`data_changes.kind`: which table family a logged id belongs to."""

    RUN = "run"
    FEEDBACK = "feedback"
    EXAMPLE = "example"
    SESSION = "session"
    DATASET = "dataset"


@dataclass(frozen=True)
class DataVersion:
    """A workspace's data version, and the version through which its log is pruned."""

    version: int = 0
    pruned_through: int = 0


@dataclass(frozen=True)
class ChangeSet:
    """The ids of the rows changed (inserted, updated or deleted) in a range of versions."""

    runs: frozenset[uuid.UUID] = field(default_factory=frozenset)  # root runs only
    feedback: frozenset[uuid.UUID] = field(default_factory=frozenset)
    examples: frozenset[uuid.UUID] = field(default_factory=frozenset)
    sessions: frozenset[uuid.UUID] = field(default_factory=frozenset)
    datasets: frozenset[uuid.UUID] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.runs or self.feedback or self.examples or self.sessions or self.datasets)


FIELD_OF_KIND = {ChangeKind.RUN: "runs", ChangeKind.FEEDBACK: "feedback", ChangeKind.EXAMPLE: "examples",
                 ChangeKind.SESSION: "sessions", ChangeKind.DATASET: "datasets"}


class ChangesPruned(Exception):
    """The log no longer holds every change after the reader's version: rebuild."""

    def __init__(self, after: int) -> None:
        super().__init__(f"the change log is pruned past version {after}: rebuild from the tables")
        self.after = after


async def current_version(db: AsyncSession, workspace_id: uuid.UUID) -> DataVersion:
    """The workspace's committed data version (0 when nothing was ever logged)."""
    row = (await db.execute(readable(workspace_id, DataVersionCounter, DataVersionCounter.version,
                                     DataVersionCounter.pruned_through))).first()
    return DataVersion() if row is None else DataVersion(row.version, row.pruned_through)


# Names the pruning marker row of `changes_between`; not a kind, never logged.
_PRUNED = "pruned"


async def changes_between(db: AsyncSession, workspace_id: uuid.UUID, after: int, upto: int) -> ChangeSet:
    """The rows changed by versions `after < version <= upto`, in one statement.

    `upto` should be a version read with `current_version` (committed, so complete).
    Raises `ChangesPruned` when the log was pruned past `after`: the same statement reads
    the pruning mark, so it is seen together with the deletion it records."""
    if upto <= after:
        return ChangeSet()
    logged = readable(workspace_id, DataChange, DataChange.kind, DataChange.row_id).where(
        DataChange.version > after, DataChange.version <= upto)
    pruned = readable(workspace_id, DataVersionCounter, literal(_PRUNED), cast(null(), Uuid)).where(
        DataVersionCounter.pruned_through > after)
    ids: dict[str, set[uuid.UUID]] = {name: set() for name in FIELD_OF_KIND.values()}
    for kind, row_id in (await db.execute(union_all(logged, pruned))).all():
        if kind == _PRUNED:
            raise ChangesPruned(after)
        ids[FIELD_OF_KIND[ChangeKind(kind)]].add(row_id)
    return ChangeSet(**{name: frozenset(found) for name, found in ids.items()})


async def prune_changes(db: AsyncSession, workspace_id: uuid.UUID, through: int) -> int:
    """Delete the log rows with version <= `through` (never past the current version)
    and raise `pruned_through` to match; returns the new `pruned_through`. The caller
    commits. A reader whose version is older must rebuild (see `ChangesPruned`).

    The counter row is updated first: on PostgreSQL that takes its lock, so writers of
    the workspace wait for the pruning to commit, as for any write."""
    counter = DataVersionCounter
    raised = case((counter.pruned_through >= through, counter.pruned_through),
                  (counter.version < through, counter.version), else_=through)
    pruned = (await db.execute(updatable(workspace_id, counter).values(pruned_through=raised)
                               .returning(counter.pruned_through))).scalar()
    if pruned is None:  # no counter: nothing was ever logged
        return 0
    await db.execute(deletable(workspace_id, DataChange).where(DataChange.version <= pruned))
    return int(pruned)


__all__ = ["ChangeKind", "ChangeSet", "ChangesPruned", "DataVersion", "changes_between", "current_version",
           "prune_changes"]
