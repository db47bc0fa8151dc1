"""Fresh, migrated databases for tests, fast: each backend gets a template built once
per test session by the real migrations, and every test gets a copy of it (a file copy
for SQLite, `CREATE DATABASE … TEMPLATE` for PostgreSQL).

A PostgreSQL copy costs ~0.35 s to create and ~0.5 s to drop (the server writes and syncs
whole files), which over ~900 tests was most of the suite's time. So a test's database is
given back (`release_database`): emptied row by row, with its schema checked against the
template's, it serves the next test of the process; one whose schema changed, or that held
many rows (dead tuples would slow later tests; autovacuum may be off), is dropped instead.

All state here is per process: under pytest-xdist each worker builds its own templates (the
PostgreSQL names carry the worker's pid, the SQLite template lives in its own temp dir) and
drops what it made at the end; the controller, which runs no test, makes and drops nothing.

The tests (and the template's migrations) connect as the server's superuser; apps under test
connect as the service's role (`app_url`), which the template's migration makes and grants,
as `evalql migrate` does, so row-level security binds every app of the PostgreSQL suite.
Roles belong to the whole server: it is made once by whichever process comes first, and
never dropped (other processes, and other checkouts, use it)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import asyncpg

from evalql.db.engine import create_engine
from evalql.db.migrate import upgrade
from evalql.db.models import Base, DataChange, DataVersionCounter
from evalql.db.roles import DEFAULT_APP_ROLE, ensure_app_role

BACKENDS = ("sqlite", "postgresql")
# The server the PostgreSQL tests use (a maintenance database on it; tests create their own).
PG_ADMIN_DSN = os.environ.get("EVALQL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# The service's role apps under test connect as (no password: the test server trusts local users).
APP_ROLE = os.environ.get("EVALQL_TEST_APP_ROLE", DEFAULT_APP_ROLE)

_templates: dict[str, str] = {}
# PostgreSQL databases (the template and test copies) this process created and has not dropped
# yet: a test drops its own copy, and drop_templates drops the rest, so none outlive the process.
_made: set[str] = set()
# Emptied PostgreSQL test databases of this process, ready for the next test.
_free: list[str] = []
_template_schema: str | None = None
# A database that held more rows than this is dropped rather than emptied and reused.
REUSE_MAX_ROWS = 5000
# Tables the triggers write to (evalql/db/changes.py).
CHANGE_LOG = frozenset({DataChange.__tablename__, DataVersionCounter.__tablename__})


def _pg_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False)


async def _migrated(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await ensure_app_role(engine, APP_ROLE)  # nothing on SQLite
    finally:
        await engine.dispose()


def app_url(url: str) -> str:
    """The URL an app under test connects with: on PostgreSQL as the service's role."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    return parsed.set(username=APP_ROLE, password=None).render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def new_database(backend: str, directory: Path) -> str:
    """A new database holding the current schema; returns its URL."""
    if backend == "sqlite":
        if "sqlite" not in _templates:
            template = Path(tempfile.mkdtemp(prefix="evalql-template-")) / "template.db"
            await _migrated(f"sqlite+aiosqlite:///{template}")
            _templates["sqlite"] = str(template)
        path = directory / f"evalql-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(_templates["sqlite"], path)
        return f"sqlite+aiosqlite:///{path}"
    if "postgresql" not in _templates:
        template = f"evalql_template_{os.getpid()}"
        await _admin(f'DROP DATABASE IF EXISTS "{template}"')
        await _admin(f'CREATE DATABASE "{template}"')
        _made.add(template)  # before migrating, so that a failed migration does not leak it
        await _migrated(_pg_url(template))
        _templates["postgresql"] = template
    if _free:
        return _pg_url(_free.pop())
    name = _test_database_name()
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_templates["postgresql"]}"')
    _made.add(name)
    return _pg_url(name)


def _dsn(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_DSN).set(database=name).render_as_string(hide_password=False)


# Enough of the schema to tell a database a test migrated or altered from the template.
SCHEMA_QUERY = """
SELECT coalesce((SELECT string_agg(version_num, ',') FROM alembic_version), '') || '|' ||
       (SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name)
          FROM information_schema.columns WHERE table_schema = 'public') || '|' ||
       (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public') || '|' ||
       -- the change log's triggers and their functions (migration 0003)
       coalesce((SELECT string_agg(tgrelid::regclass::text || '.' || tgname, ',' ORDER BY tgrelid::regclass::text, tgname)
                   FROM pg_trigger WHERE NOT tgisinternal), '') || '|' ||
       coalesce((SELECT string_agg(proname || ':' || md5(prosrc), ',' ORDER BY proname)
                   FROM pg_proc WHERE pronamespace = 'public'::regnamespace), '')
"""


async def _schema_of(conn: asyncpg.Connection) -> str:
    return await conn.fetchval(SCHEMA_QUERY)


async def release_database(url: str) -> None:
    """A test is done with its database: empty it for the next test of this process, or drop
    it (see the module docstring). SQLite copies are files in the test's own tmp_path."""
    global _template_schema
    if not url.startswith("postgresql"):
        return
    name = url.rsplit("/", 1)[1]
    if name not in _made or _templates.get("postgresql") is None:
        return await drop_database(url)
    try:
        if _template_schema is None:
            template = await asyncpg.connect(_dsn(_templates["postgresql"]))
            try:
                _template_schema = await _schema_of(template)
            finally:
                await template.close()
        # A test that left a transaction open would block the DELETEs: give up and drop.
        conn = await asyncpg.connect(_dsn(name), server_settings={"statement_timeout": "5000"})
        try:
            if await _schema_of(conn) != _template_schema:
                raise LookupError("the test changed the schema")
            deleted = 0
            async with conn.transaction():
                # Children before parents (api_keys refers to workspaces); alembic_version stays.
                # The change log goes last: the triggers log the other tables' deletions in it.
                # Its rows are not counted: most were written by these DELETEs themselves.
                for table in sorted(reversed(Base.metadata.sorted_tables), key=lambda t: t.name in CHANGE_LOG):
                    status = await conn.execute(f'DELETE FROM "{table.name}"')
                    if table.name not in CHANGE_LOG:
                        deleted += int(status.rsplit(" ", 1)[1])
        finally:
            await conn.close()
    except (LookupError, asyncpg.PostgresError, OSError):
        return await drop_database(url)
    if deleted > REUSE_MAX_ROWS:
        return await drop_database(url)
    _free.append(name)


def _test_database_name() -> str:
    # The pid tells which process (xdist worker) made a database, should one ever be left over.
    return f"evalql_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"


async def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        name = url.rsplit("/", 1)[1]
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _made.discard(name)


def drop_templates() -> None:
    """Drop the templates (and any test database left over) that this process made; a process
    that made none (the xdist controller, a run without database tests) connects to nothing."""
    _templates.pop("postgresql", None)  # listed in _made too
    _free.clear()  # listed in _made too
    names = sorted(_made)
    _made.clear()
    if names:
        asyncio.run(_drop_all(names))
    sqlite = _templates.pop("sqlite", None)
    if sqlite is not None:
        shutil.rmtree(Path(sqlite).parent, ignore_errors=True)


async def _drop_all(names: list[str]) -> None:
    for name in names:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def new_empty_database(backend: str, directory: Path) -> str:
    """A new database without any schema (as a first install finds it)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / f'empty-{uuid.uuid4().hex[:8]}.db'}"
    name = _test_database_name()
    await _admin(f'CREATE DATABASE "{name}"')
    _made.add(name)
    return _pg_url(name)
