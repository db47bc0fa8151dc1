"""Per-request scratch tables: a derived set computed once and read by several statements.

The group query reads the membership R(g) from about ten statements. As a CTE it would
be recomputed by each of them (a scan of every candidate root run plus window sorts);
a temporary table computes it once. Temporary tables are private to the connection on
both SQLite and PostgreSQL, and the name is unique, so concurrent requests never meet.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

from sqlalchemy import Column, Index, MetaData, Select, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.backend import is_postgresql


@asynccontextmanager
async def scratch_table(
    db: AsyncSession, prefix: str, columns: Sequence[Column], source: Select, indexes: Sequence[Sequence[str]] = (),
) -> AsyncIterator[Table]:
    table = Table(f"{prefix}_{uuid.uuid4().hex[:12]}", MetaData(), *columns, prefixes=["TEMPORARY"])
    for i, names in enumerate(indexes):
        Index(f"{table.name}_ix{i}", *[table.c[n] for n in names])
    drop = lambda session: table.drop(session.connection())  # noqa: E731
    await db.run_sync(lambda session: table.create(session.connection()))
    try:
        await db.execute(insert(table).from_select([c.name for c in columns], source))
        if is_postgresql(db):
            # Autovacuum never sees temporary tables: without statistics the planner
            # assumes a handful of rows and picks nested loops over thousands.
            await db.execute(text(f'ANALYZE "{table.name}"'))
        yield table
    except BaseException:
        # On PostgreSQL the failed statement aborted the transaction, and its rollback
        # removes the table; a DROP now would only replace the real error with another.
        if not is_postgresql(db):
            with suppress(Exception):
                await db.run_sync(drop)
        raise
    await db.run_sync(drop)
