"""Stopping the statement a cancelled request was waiting for, so that a deadline (the GraphQL
execution timeout) frees the database as well as the request.

On PostgreSQL, cancelling the task that awaits asyncpg cancels the query: asyncpg sends the
server a cancel request and waits for it before the connection is used again, and the session's
rollback then returns the connection to the pool clean. On SQLite, aiosqlite runs each statement
in its connection's thread, which a cancelled task does not stop: the statement would run to its
end, holding the connection (and the session's rollback behind it). `sqlite3.Connection.interrupt`
is the one call SQLite allows from another thread; it makes the running statement fail at once
("interrupted"), and is a no-op when none runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.backend import is_sqlite

log = logging.getLogger("evalql.db")


def _sqlite_connection(db: AsyncSession) -> Any:
    """The sqlite3 connection the session's transaction holds now (None without one). Read
    without I/O: the session's task is stuck in the statement, and this runs beside it."""
    session = db.sync_session
    if not session.in_transaction():
        return None
    connection = session.connection()  # the transaction's own: no new connection is taken
    driver = connection.connection.driver_connection  # aiosqlite.Connection
    return getattr(driver, "_conn", None)


@asynccontextmanager
async def deadline(db: AsyncSession, seconds: float) -> AsyncIterator[None]:
    """`asyncio.timeout(seconds)` for a block that runs statements on `db`: at the deadline,
    the SQLite statement running is interrupted in the same turn of the event loop as the
    block is cancelled, before the cancelled task resumes. (Interrupting later would be too
    late: as the cancellation unwinds, SQLAlchemy rolls back or closes the connection, which
    on SQLite waits for the statement's thread to be free.)"""
    loop = asyncio.get_running_loop()
    when = loop.time() + seconds
    interrupt = loop.call_at(when, _interrupt, db) if is_sqlite(db) else None
    try:
        async with asyncio.timeout_at(when):
            yield
    finally:
        if interrupt is not None:
            interrupt.cancel()


def _interrupt(db: AsyncSession) -> None:
    try:
        connection = _sqlite_connection(db)
        if connection is not None:
            connection.interrupt()
    except Exception:  # never hide the timeout behind a failure to interrupt
        log.warning("interrupting a SQLite statement failed", exc_info=True)


__all__ = ["deadline"]
