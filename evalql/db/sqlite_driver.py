"""aiosqlite as SQLAlchemy's SQLite driver, with one thread hop per statement.

aiosqlite runs each connection's calls on a thread of its own, one call at a time:
the event loop queues a function, the thread runs it and hands the result back through
the loop. SQLAlchemy's adapter (`sqlalchemy.dialects.sqlite.aiosqlite`) makes four such
calls per statement: open a cursor, execute, fetch all rows, close the cursor. Each is
a round trip between two threads that contend for the GIL, and under load one costs
milliseconds (measured with 32 clients at once: 2.7 ms at the median, 8 ms at p90),
so a single read of three statements spent most of its 60 ms in these hand-overs.

`OneHopCursor` runs the four steps as one call on the connection's thread: the
statement's rows, description, row count and last row id come back together. Nothing
else changes: the same sqlite3 connection, the same thread, the same errors (raised in
the thread, re-raised by the adapter), the same isolation. Server-side cursors (rows
fetched in pages as the caller iterates) keep the adapter's own class.

Two more hand-overs are skipped where they carry nothing:
- `rollback` and `commit` of a connection with no transaction open. The sqlite3 module
  opens one only before a write, so a request that only read ends without a round trip.
- a statement run with the execution option `INLINE` runs on the event loop's own thread.
  It is for the statements of hot reads only (evalql/db/tenant.py's built-once
  statements: the key lookup, a run, a session, a dataset by id), which are index probes of
  tens of microseconds: less than a hand-over costs even on an idle server, and under load
  a hand-over waits for the interpreter lock and for the loop (milliseconds each). A read
  in WAL mode does not wait for writers (checkpoints here are SQLite's automatic, passive
  ones; only the recovery of a crashed database, at start-up, holds readers back). Anything
  that may scan (a page, a count, a comparison's rows) keeps to the thread.
  The connections are opened with `check_same_thread=False` for this; a connection is
  still used by one thread at a time (the session's statements are serial, and nothing
  is queued on its thread while an inline statement runs).

It is installed as the engine's DBAPI module (`create_async_engine(..., module=...)`),
so URLs stay `sqlite+aiosqlite://`.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# Execution option: run the statement on the calling (event loop) thread; see the docstring.
INLINE = "evalql_sqlite_inline"
# Connect argument: seconds a statement run on the connection's thread may take (`_run`).
# Inline statements are index probes and are not watched.
STATEMENT_TIMEOUT = "evalql_statement_timeout"
# Execution option: no statement timeout for these statements (migrations: batch mode copies
# every row of a table, which may rightly take minutes on a large file).
UNBOUNDED = "evalql_sqlite_unbounded"

# What one statement leaves behind: description, rows, rowcount, lastrowid.
_Outcome = tuple[Any, Sequence[Any], int, int | None]


# VM instructions between two looks at the statement's deadline: a few milliseconds of work,
# so the look costs nothing measurable and a statement overruns by that much at most.
_PROGRESS_STEPS = 100_000


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool,
         timeout: float | None = None) -> _Outcome:
    """On the connection's thread: the whole statement, cursor opened and closed. Past
    `timeout` seconds SQLite stops it ("interrupted"), as PostgreSQL's `statement_timeout`
    would (evalql/db/outage.py::is_statement_timeout)."""
    cursor = connection.cursor()
    try:
        if timeout:
            deadline = time.monotonic() + timeout
            connection.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        # Read after fetching: for INSERT … RETURNING sqlite3 counts rows as they are fetched.
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()
        if timeout:
            connection.set_progress_handler(None, 0)


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor that holds no aiosqlite cursor: each statement is one call on
    the connection's thread (see the module's docstring)."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize", "inline", "unbounded")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # Not the base class's __init__: it opens an aiosqlite cursor, a round trip.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1
        self.inline = False  # set for its next statement by `_mark_cursor`
        self.unbounded = False  # likewise: its next statement has no statement timeout

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing is open on the thread: the rows are already here."""

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        """sqlite3 ignores input sizes."""

    def nextset(self) -> None:
        raise self._adapt_connection.dbapi.NotSupportedError("SQLite statements have one result set")

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if not self.inline:
            return super().execute(operation, parameters)
        self.inline = False
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            self._keep(_run(connection._conn, operation, parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def _keep(self, outcome: _Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._one_hop(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._one_hop(operation, seq_of_parameters, many=True)

    async def _one_hop(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapted: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        timeout = None if self.unbounded else adapted.statement_timeout
        self.unbounded = False
        async with adapted._execute_mutex:
            connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            # aiosqlite's own queue to its thread (`_execute`), as SQLAlchemy's adapter
            # uses it for what aiosqlite has no public call for.
            self._keep(await connection._execute(_run, connection._conn, operation, parameters, many, timeout))


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("statement_timeout",)
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any, statement_timeout: float | None = None) -> None:
        super().__init__(dbapi, connection)
        self.statement_timeout = statement_timeout  # seconds a statement on its thread may run

    def _idle(self) -> bool:
        """No transaction open: there is nothing to end. (`in_transaction` reads a flag of
        the connection, from any thread, while nothing runs on it.)"""
        connection = self._connection._connection
        return connection is None or not connection.in_transaction

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()

    def commit(self) -> None:
        if not self._idle():
            super().commit()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The dialect's DBAPI module, but connections make `OneHopCursor`s."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        statement_timeout = kw.pop(STATEMENT_TIMEOUT, None)  # ours, not sqlite3's
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's: a forgotten connection never blocks exit
        return OneHopConnection(self, await_(connection), statement_timeout)


def dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)


def install(engine: Any) -> None:
    """On an engine created with `dbapi()` as its module: statements run with `INLINE` run
    inline, and those run with `UNBOUNDED` without the statement timeout."""
    event.listen(getattr(engine, "sync_engine", engine), "before_cursor_execute", _mark_cursor)


def _mark_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    # The cursor does not see the execution options; this event does, just before it runs.
    if context is None:
        return
    if not executemany and context.execution_options.get(INLINE):
        cursor.inline = True
    if context.execution_options.get(UNBOUNDED):
        cursor.unbounded = True
