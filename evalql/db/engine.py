"""Engine and session factory. SQLite gets WAL, a busy timeout and foreign keys on."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import weakref
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from evalql.db import liveness, rls, sqlite_driver, tenancy_check
from evalql.db.backend import is_sqlite
from evalql.db.outage import is_outage

SQLITE_BUSY_TIMEOUT_MS = 5000
# WAL pages a commit may leave before it copies them back into the database file (SQLite's
# default is 1,000, about 4 MB). An ingest batch of fifty runs dirties some 300 pages over
# seven indexes, so the default checkpointed every few commits, each time writing pages and
# syncing both files; that was most of a commit's time. A checkpoint writes each page once
# however often it changed since the last, so rarer ones write far less in all. (Durability
# is the same: a committed transaction is in the WAL either way.)
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000


class DatabaseUrlError(ValueError):
    """A database URL evalql cannot use; the message says why."""


def check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"Invalid database URL {url!r}: {exc}") from None
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise DatabaseUrlError(
            f"Unsupported database URL {url!r}: use sqlite+aiosqlite:///path/to/evalql.db "
            "or postgresql+asyncpg://user@host/db"
        )
    if parsed.drivername == "sqlite+aiosqlite" and parsed.database not in (None, "", ":memory:"):
        parent = Path(parsed.database).expanduser().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUrlError(f"Cannot create the directory {parent} for {url!r}: {exc.strerror}") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, cache_mib: int | None = None) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while a writer commits; the busy timeout makes a second
    # writer wait instead of failing at once with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # NORMAL in WAL mode: a commit survives a crash of the process (the OS has the WAL), not
    # necessarily a power loss; the WAL is synced at each checkpoint.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    if cache_mib:
        cursor.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")  # negative: KiB, not pages
    cursor.close()


def json_text(value: Any) -> str:
    """JSON columns' text: orjson, several times faster than the stdlib encoder, which ingest
    spent a tenth of its time in. Compact, UTF-8 as is; integers beyond 64 bits (valid JSON,
    which orjson refuses) go through the stdlib in the same form, and are read back by the
    stdlib too (`_json_loads`), which keeps them exact."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 10.0,
                  check_tenancy: bool = False, sqlite_cache_mib: int | None = None,
                  statement_timeout: float | None = None, **kwargs: Any) -> AsyncEngine:
    """`sqlite_cache_mib`: SQLite's page cache per connection (its default is 2 MiB).
    `statement_timeout` (seconds): a statement that runs longer is stopped, so that no
    request holds a connection (and a PostgreSQL backend) without bound: PostgreSQL's own
    `statement_timeout` cancels it (SQLSTATE 57014), SQLite's progress handler interrupts it
    (db/sqlite_driver.py); both are `outage.is_statement_timeout`. The service's engines set
    it (`Settings.statement_timeout`), migrations and the CLI do not."""
    check_database_url(url)
    parsed = make_url(url)
    postgresql = parsed.drivername.startswith("postgresql")  # else sqlite+aiosqlite (check_database_url)
    if postgresql:
        # connect timeout: asyncpg waits 60 s by default for a server that does not answer (a
        # network partition); a request should not wait longer for a new connection than for
        # a pooled one (the answer is a 503 either way, evalql/db/outage.py).
        connect_args = {"timeout": pool_timeout, **kwargs.get("connect_args", {})}
        if statement_timeout:
            connect_args["server_settings"] = {**connect_args.get("server_settings", {}),
                                               "statement_timeout": str(max(1, round(statement_timeout * 1000)))}
        kwargs = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout,
                  **kwargs, "connect_args": connect_args}
    else:
        # One thread hand-over per statement, none for hot reads (db/sqlite_driver.py), which
        # also stops a statement past `statement_timeout`.
        connect_args = {"check_same_thread": False, **kwargs.get("connect_args", {})}
        if statement_timeout:
            connect_args[sqlite_driver.STATEMENT_TIMEOUT] = statement_timeout
        kwargs = {"module": sqlite_driver.dbapi(), **kwargs, "connect_args": connect_args}
        if parsed.database not in (None, "", ":memory:"):
            # A SQLite connection costs a thread (aiosqlite's) and a few PRAGMAs to open, and
            # nothing to keep: every connection opened is kept (SQLAlchemy's default pool keeps
            # five and closes the overflow on return, so under load connections were opened
            # and closed for most requests), and a request waits `pool_timeout` for one, as on
            # PostgreSQL (the default pool waited 30 s).
            kwargs = {"pool_size": pool_size + max_overflow, "max_overflow": 0, "pool_timeout": pool_timeout,
                      **kwargs}
    engine = create_async_engine(url, **{"json_serializer": json_text, "json_deserializer": _json_loads, **kwargs})
    if postgresql:
        # A connection the server closed (restart, idle timeout) is replaced instead of
        # failing the request that draws it: pinged first if it has been idle.
        liveness.install(engine)
    else:
        event.listen(engine.sync_engine, "connect", functools.partial(_sqlite_pragmas, cache_mib=sqlite_cache_mib))
        sqlite_driver.install(engine)
    # Bulk INSERTs (`insert(Model), rows`) as multi-row INSERT … VALUES statements, pages
    # of up to 1000 rows (fewer when 32,700 parameters come first), instead of one
    # execution per row. The change-log triggers (migration 0003) are why, on both:
    # - PostgreSQL's are statement-level, so they fire once per page, not once per row,
    #   and the server starts one statement instead of hundreds (asyncpg's executemany).
    #   psycopg2's dialect does this by default.
    # - SQLite's are row-level, and a statement with a trigger runs in a statement
    #   journal, which copies each page the statement first changes. Executed once per
    #   row, every row's insert journals the leaf pages of all seven indexes of `runs`
    #   again: that cost more than the insert itself (40 µs more per run, measured).
    #   Once per page of rows, a leaf page is journaled once for all of them.
    # Upserts (INSERT … ON CONFLICT) too, through a RETURNING clause: see evalql/db/upsert.py.
    engine.sync_engine.dialect.use_insertmanyvalues_wo_returning = True
    if check_tenancy:
        tenancy_check.install(engine)
    return engine


# 19 digits in a row may be an integer beyond 64 bits, which orjson would turn into a float.
_LONG_NUMBER = re.compile(r"\d{19}")


def _json_loads(text: str | bytes) -> Any:
    """Stored JSON documents decoded by orjson (several times faster than the standard
    library on the runs a page returns), except where the standard library is exact and
    orjson is not: a text with a long run of digits (orjson reads integers beyond 64 bits as
    floats), and what orjson refuses (NaN, 1e400)."""
    if isinstance(text, str) and _LONG_NUMBER.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


_sqlite_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _writer_queue(engine: Any) -> asyncio.Lock:
    if engine not in _sqlite_writers:
        _sqlite_writers[engine] = asyncio.Lock()
    return _sqlite_writers[engine]


def _writes_database(statement: Any) -> bool:
    """INSERT/UPDATE/DELETE on a table of the database. Temporary (scratch) tables live
    in the connection's own temp database and take no lock that other writers wait for."""
    if not getattr(statement, "is_dml", False):
        return False
    return "TEMPORARY" not in getattr(getattr(statement, "table", None), "_prefixes", ())


class SerializedSession(AsyncSession):
    """An AsyncSession whose statements never overlap, and whose SQLite writes queue.

    GraphQL resolves sibling fields concurrently, and each request has one session (one
    connection). aiosqlite queues overlapping calls, but asyncpg refuses them ("another
    operation is in progress"), so every call that reaches the connection takes a lock.
    `scalars` goes through `execute`, so it is covered too.

    SQLite has one writer at a time, and waiting writers poll for the lock (busy
    timeout): under a burst of concurrent writes some lose every round and fail with
    "database is locked". So a session's first write on SQLite first takes its turn on
    a first-come-first-served queue of this process, held until the transaction ends.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._serial = asyncio.Lock()
        self._claiming = asyncio.Lock()
        self._writer: asyncio.Lock | None = None

    async def claim_writer(self) -> None:
        """Take this process's SQLite writer turn (no-op on PostgreSQL or if held). Every
        write claims it first, so a single-read session refuses writes here."""
        if rls.each_statement(self):  # no transaction would make its writes one
            raise RuntimeError("a single-read session (each statement its own transaction) may not write")
        if self._writer is not None or not is_sqlite(self):
            return
        # Sibling resolvers of one request may write at once: one of them queues for the
        # session, the others wait for it (queuing twice would wait for ourselves).
        async with self._claiming:
            if self._writer is None:
                queue = _writer_queue(self.bind)
                await queue.acquire()
                self._writer = queue

    def _release_writer(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    async def _set_workspace(self) -> None:
        """A session bound to a workspace in the middle of its transaction (after
        authentication) tells the transaction before its next statement (evalql/db/rls.py)."""
        params = rls.pending(self)
        if params is not None:
            # Before anything pending is flushed: that is what the setting must cover.
            with self.no_autoflush:
                await super().execute(rls.set_workspace(self), params)

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if _writes_database(statement):
            await self.claim_writer()
        rls.check_bound(self, statement)
        async with self._serial:
            await self._set_workspace()
            return await super().execute(statement, *args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        rls.check_bound(self, args[0] if args else kwargs.get("statement"))
        async with self._serial:
            await self._set_workspace()
            return await super().scalar(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        rls.check_bound(self, None)
        async with self._serial:
            await self._set_workspace()
            return await super().get(*args, **kwargs)

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        async with self._serial:
            await self._set_workspace()
            return await super().run_sync(*args, **kwargs)

    async def connection(self, *args: Any, **kwargs: Any) -> Any:
        # The connection first: execution options (an isolation level) apply only to the
        # statement that begins the transaction.
        connection = await super().connection(*args, **kwargs)
        async with self._serial:
            await self._set_workspace()
        return connection

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        if self.new or self.dirty or self.deleted:
            await self.claim_writer()
        async with self._serial:
            await self._set_workspace()
            await super().flush(*args, **kwargs)

    async def commit(self) -> None:
        if self.new or self.dirty or self.deleted:  # commit flushes them first
            await self.claim_writer()
        try:
            async with self._serial:
                await self._set_workspace()
                await super().commit()
        finally:
            self._release_writer()

    async def rollback(self) -> None:
        try:
            async with self._serial:
                await super().rollback()
        finally:
            self._release_writer()

    async def close(self) -> None:
        # A GraphQL error can end execution while sibling resolvers still run a
        # statement; closing waits for it instead of pulling the connection away.
        try:
            async with self._serial:
                await super().close()
        except DBAPIError as exc:
            # The connection died under the session (the database restarted): its transaction
            # ended with it, and the pool has discarded it. Nothing is left to roll back, and
            # the request may have been answered already: not an error of the request.
            if not is_outage(exc):
                raise
        finally:
            self._release_writer()


def single_read_engine(engine: AsyncEngine, *, pool_size: int, max_overflow: int, pool_timeout: float,
                       check_tenancy: bool = False, statement_timeout: float | None = None) -> AsyncEngine:
    """The engine of single reads (`session_factory(…, single_reads=True)`): on PostgreSQL a
    pool of its own, of autocommit connections, half the size of the main one; SQLite's
    reads need no transaction of their own (sqlite3 begins one only before a write), so
    there it is `engine` itself."""
    if is_sqlite(engine):
        return engine
    return create_engine(engine.url.render_as_string(hide_password=False), pool_size=max(1, pool_size // 2),
                         max_overflow=max_overflow // 2, pool_timeout=pool_timeout, check_tenancy=check_tenancy,
                         statement_timeout=statement_timeout, isolation_level="AUTOCOMMIT")


def session_factory(engine: AsyncEngine, *, single_reads: bool = False) -> async_sessionmaker[AsyncSession]:
    """`single_reads`: sessions over `single_read_engine` for reads that need no transaction
    (a row by id and what hangs off it: its statements may each see the latest commit, as
    they would in a READ COMMITTED transaction). On PostgreSQL each statement is then its
    own transaction (autocommit), which saves a read BEGIN and ROLLBACK, two of its five
    round trips, each of which waits its turn on a busy event loop. Such a session may not
    write (`claim_writer`), and row-level security binds its connection rather than a
    transaction, before anything else runs on it (evalql/db/rls.py)."""
    info = {rls.EACH_STATEMENT: True} if single_reads and not is_sqlite(engine) else {}
    return async_sessionmaker(engine, expire_on_commit=False, class_=SerializedSession, info=info)

