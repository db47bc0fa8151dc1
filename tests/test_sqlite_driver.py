"""evalql/db/sqlite_driver.py: one call on aiosqlite's thread per statement, and nothing
else changed from SQLAlchemy's own aiosqlite adapter (rows, counts, ids, errors, streams)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from evalql.db.engine import create_engine, session_factory
from evalql.db.sqlite_driver import INLINE, OneHopDBAPI


@pytest.fixture
async def engine(tmp_path) -> AsyncIterator:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield engine
    await engine.dispose()


@contextmanager
def thread_calls(monkeypatch) -> Iterator[list[str]]:
    """Names of the functions queued to aiosqlite's connection threads."""
    calls: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # noqa: ANN001
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield calls


def test_the_engine_uses_the_one_hop_driver(engine):
    assert isinstance(engine.sync_engine.dialect.dbapi, OneHopDBAPI)
    assert engine.url.drivername == "sqlite+aiosqlite"  # users' URLs are unchanged


async def test_each_statement_is_one_call_on_the_connections_thread(engine, monkeypatch):
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection is drawn (and set up) before counting
        with thread_calls(monkeypatch) as calls:
            await conn.execute(text("SELECT name FROM t"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('a'), ('b') RETURNING id"))
            await conn.execute(text("UPDATE t SET name = name || '!'"))
            await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), [{"name": "c"}, {"name": "d"}])
        assert calls == ["_run"] * 4  # SQLAlchemy's adapter: cursor, execute, fetchall, close for each
        await conn.rollback()


async def test_rows_counts_and_ids_are_the_adapters(engine):
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a'), ('b') RETURNING id, name"))
        assert inserted.all() == [(1, "a"), (2, "b")]
        one = await conn.execute(text("INSERT INTO t (name) VALUES ('c')"))
        assert (one.rowcount, one.lastrowid) == (1, 3)
        many = await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), [{"name": "d"}, {"name": "e"}])
        assert many.rowcount == 2
        updated = await conn.execute(text("UPDATE t SET name = upper(name) WHERE id > 2"))
        assert updated.rowcount == 3
        assert updated.returns_rows is False
        selected = await conn.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert list(selected.keys()) == ["id", "name"]
        assert selected.all() == [(1, "a"), (2, "b"), (3, "C"), (4, "D"), (5, "E")]
        assert (await conn.execute(text("SELECT name FROM t WHERE id = 99"))).first() is None


async def test_errors_are_the_dialects_and_the_connection_goes_on(engine):
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
        await conn.commit()


async def test_streamed_results_still_come_in_pages(engine):
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), [{"name": f"n{i}"} for i in range(250)])
    async with engine.connect() as conn:
        result = await conn.stream(text("SELECT id FROM t ORDER BY id"))
        pages = [page async for page in result.partitions(100)]
    assert [len(page) for page in pages] == [100, 100, 50]
    assert [row.id for page in pages for row in page] == list(range(1, 251))


async def test_a_statement_marked_inline_runs_on_the_callers_thread(engine, monkeypatch):
    # Through a session, as every hot read runs (an AsyncConnection insists on an await).
    async with session_factory(engine)() as db:
        await db.execute(text("INSERT INTO t (name) VALUES ('a')"))
        await db.commit()
        with thread_calls(monkeypatch) as calls:
            inline = await db.execute(text("SELECT id, name FROM t WHERE name = :name")
                                      .execution_options(**{INLINE: True}), {"name": "a"})
            assert inline.all() == [(1, "a")]
            with pytest.raises(OperationalError, match="no such column"):  # errors as on the thread
                await db.execute(text("SELECT nope FROM t").execution_options(**{INLINE: True}))
            assert calls == []
            await db.execute(text("SELECT name FROM t"))  # unmarked: the thread, as before
            assert calls == ["_run"]


async def test_ending_a_transaction_that_only_read_is_no_hand_over(engine, monkeypatch):
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        with thread_calls(monkeypatch) as calls:
            await conn.execute(text("SELECT name FROM t"))  # sqlite3 opens no transaction to read
            await conn.rollback()
            await conn.execute(text("SELECT name FROM t"))
            await conn.commit()
        assert calls == ["_run", "_run"]
        with thread_calls(monkeypatch) as calls:
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))  # a write opens one: it is ended
            await conn.commit()
        assert calls == ["_run", "commit"]
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT name FROM t"))).scalars().all() == ["a"]
