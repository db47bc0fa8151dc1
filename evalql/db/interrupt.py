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
async def interrupting(db: AsyncSession) -> AsyncIterator[None]:
    """Runs the block; if it ends by a timeout or a cancellation, the SQLite statement it was
    waiting for is interrupted (PostgreSQL's is cancelled by the cancellation itself)."""
    try:
        yield
    except (TimeoutError, asyncio.CancelledError):
        if is_sqlite(db):
            try:
                connection = _sqlite_connection(db)
                if connection is not None:
                    connection.interrupt()
            except Exception:  # never hide the timeout behind a failure to interrupt
                log.warning("interrupting a SQLite statement failed", exc_info=True)
        raise

__all__ = ["interrupting"]
