"""The SQLite writer queue of `SerializedSession` (evalql/db/engine.py): writers of one
process take turns first come first served; sibling statements of one session never
queue twice (that would wait for itself); scratch-table writes of readers never queue."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from evalql.db.engine import create_engine, session_factory
from evalql.db.scratch import scratch_table

pytestmark = pytest.mark.backends("sqlite")

T = Table("writer_probe", MetaData(), Column("x", Integer))


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(T.create)
    yield session_factory(engine)
    await engine.dispose()


async def test_sibling_writes_of_one_session_do_not_deadlock(sessions):
    async with sessions() as db:
        await asyncio.wait_for(asyncio.gather(*(db.execute(insert(T).values(x=i)) for i in range(8))), 10)
        await db.commit()
    async with sessions() as db:
        assert await db.scalar(select(func.count()).select_from(T)) == 8


async def test_writers_take_turns_and_readers_scratch_freely(sessions):
    order: list[str] = []
    first = sessions()
    await first.execute(insert(T).values(x=1))  # holds the turn until it commits

    async def second_writer() -> None:
        async with sessions() as db:
            await db.execute(insert(T).values(x=2))
            order.append("second wrote")
            await db.commit()

    waiting = asyncio.create_task(second_writer())
    await asyncio.sleep(0.2)
    assert order == []  # queued behind the first writer, not failing with "database is locked"

    async def read_with_scratch() -> int:  # a scratch table is private: no turn needed
        async with sessions() as reader:
            async with scratch_table(reader, "probe", [Column("x", Integer)], select(T.c.x)) as table:
                return await reader.scalar(select(func.count()).select_from(table))

    assert await asyncio.wait_for(read_with_scratch(), 5) == 0
    order.append("first commits")
    await first.commit()
    await first.close()
    await asyncio.wait_for(waiting, 10)
    assert order == ["first commits", "second wrote"]
