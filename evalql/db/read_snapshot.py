"""A transaction that reads one snapshot of the database from its first statement to its
end, for a long read that must not see writes landing meanwhile (an export streamed for
minutes reads its rows a chunk at a time).

Different statements on each database, so the choice is made here through `is_postgresql`:
PostgreSQL takes the snapshot at the transaction's first statement under REPEATABLE READ
(its default, READ COMMITTED, takes one per statement); SQLite needs a BEGIN, since the
sqlite3 module opens a transaction only at the first INSERT/UPDATE/DELETE, and in WAL mode
a deferred transaction's first read fixes what it sees until it ends.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.backend import is_postgresql


async def begin_read_snapshot(db: AsyncSession) -> None:
    """End the session's transaction (it must not have written) and begin one whose reads
    all see the database as of its first statement. It ends with the session's rollback."""
    await db.rollback()
    if is_postgresql(db):
        await db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        await db.execute(text("BEGIN"))
