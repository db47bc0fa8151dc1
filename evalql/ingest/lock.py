"""One ingest transaction at a time per workspace.

Applying a batch reads before it writes (is the post stored? is the parent? which
patches wait?). Two concurrent batches about the same run could each miss the other's
half and leave a patch waiting forever, so each ingest transaction holds a lock from
its first read to its commit: on PostgreSQL a transaction-scoped advisory lock keyed by
the workspace; on SQLite the database's single writer lock, taken up front
(`BEGIN IMMEDIATE`, after the session's turn on the process's writer queue, see
`SerializedSession`) instead of at the first write, when the reads may be stale.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.backend import is_postgresql
from evalql.db.engine import SerializedSession
from evalql.db.lookups import CUSTOM_PLANS, custom_plans_set
from evalql.ingest.apply import Batch, apply_batch, prepare

LOCK_NAMESPACE = 0x65766C71  # "evlq": keeps evalql's advisory locks apart from other users'


def advisory_key(workspace_id: uuid.UUID) -> int:
    return int.from_bytes(workspace_id.bytes[:4], "big", signed=True)


@asynccontextmanager
async def ingest_transaction(db: AsyncSession, workspace_id: uuid.UUID) -> AsyncIterator[None]:
    """Holds the ingest lock for the body of the `async with`, which starts the
    transaction (no write before it) and commits it or leaves it to be rolled back."""
    # Different statements on each database (not one statement spelled differently),
    # so the choice is made here through `is_postgresql`.
    if is_postgresql(db):
        # The same round trip sets the transaction's plans to be made per execution, which
        # the batch's lookups want (evalql/db/lookups.py).
        await db.execute(text(f"SELECT pg_advisory_xact_lock(:ns, :key), {CUSTOM_PLANS}"),
                         {"ns": LOCK_NAMESPACE, "key": advisory_key(workspace_id)})
        await custom_plans_set(db)
        yield
        return
    if isinstance(db, SerializedSession):  # the app's sessions: queue behind this process's writers
        await db.claim_writer()
    raw = await (await db.connection()).get_raw_connection()
    # The sqlite3 module opens a transaction only at the first INSERT/UPDATE/DELETE,
    # so after the request's reads (authentication) none is open yet.
    if raw.driver_connection is None or not raw.driver_connection.in_transaction:
        await db.execute(text("BEGIN IMMEDIATE"))
    yield


async def apply_and_commit(db: AsyncSession, workspace_id: uuid.UUID, batch: Batch) -> None:
    """Apply the batch in its own transaction under the ingest lock, and commit it. What
    needs no stored row is prepared before the lock is taken (`apply.prepare`)."""
    for attempt in (1, 2):
        prepared = prepare(workspace_id, batch)  # again for a retry: the first attempt filled its rows in
        try:
            async with ingest_transaction(db, workspace_id):
                await apply_batch(db, workspace_id, batch, prepared)
                await db.commit()
            return
        except IntegrityError:
            # Another request created a session of the same name between this batch's
            # lookup and its insert (session creation is not under the ingest lock).
            # The batch was rolled back whole (apply_batch never mutates it); applying
            # it again finds that session.
            await db.rollback()
            if attempt == 2:
                raise
