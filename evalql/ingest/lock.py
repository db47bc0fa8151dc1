"""One ingest transaction at a time per workspace.

Applying a batch reads before it writes (is the post stored? is the parent? which
patches wait?). Two concurrent batches about the same run could each miss the other's
half and leave a patch waiting forever, so each ingest transaction first takes a lock:
PostgreSQL a transaction-scoped advisory lock keyed by the workspace, SQLite its single
writer lock up front (`BEGIN IMMEDIATE`) instead of at the first write, when the reads
it made may already be stale.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

LOCK_NAMESPACE = 0x65766C71  # "evlq": keeps evalql's advisory locks apart from other users'


def advisory_key(workspace_id: uuid.UUID) -> int:
    return int.from_bytes(workspace_id.bytes[:4], "big", signed=True)


async def lock_for_ingest(db: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Must run before the transaction's first write."""
    if db.bind.dialect.name == "postgresql":
        await db.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                         {"ns": LOCK_NAMESPACE, "key": advisory_key(workspace_id)})
        return
    raw = await (await db.connection()).get_raw_connection()
    # The sqlite3 module opens a transaction only at the first INSERT/UPDATE/DELETE,
    # so after the request's reads (authentication) none is open yet.
    if not raw.driver_connection.in_transaction:
        await db.execute(text("BEGIN IMMEDIATE"))
