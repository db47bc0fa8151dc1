"""evalql/db/liveness.py: PostgreSQL's pooled connections are pinged only after being idle,
and a dead idle connection is replaced before a statement runs on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from evalql.db import liveness
from evalql.db.engine import create_engine

pytestmark = pytest.mark.backends("postgresql")


@pytest.fixture
async def engine(database_url) -> AsyncIterator:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


@pytest.fixture
def pings(monkeypatch) -> list[int]:
    seen: list[int] = []
    original = AsyncAdapt_asyncpg_connection.ping

    def counted(self) -> None:  # noqa: ANN001
        seen.append(1)
        original(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    return seen


async def backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def test_a_connection_just_used_is_not_pinged(engine, pings):
    first = await backend_pid(engine)
    for _ in range(5):
        assert await backend_pid(engine) == first  # the same connection, reused at once
    assert pings == []


async def test_an_idle_connection_is_pinged(engine, pings, monkeypatch):
    first = await backend_pid(engine)
    monkeypatch.setattr(liveness, "PING_AFTER_IDLE_SECONDS", 0.0)  # every connection counts as idle
    assert await backend_pid(engine) == first
    assert len(pings) == 1


async def test_a_dead_idle_connection_is_replaced_without_failing_the_request(engine, database_url, pings,
                                                                           monkeypatch):
    first = await backend_pid(engine)
    killer = create_engine(database_url)
    try:
        async with killer.connect() as conn:  # the server ends that session, as a restart would
            assert (await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})).scalar_one()
    finally:
        await killer.dispose()
    monkeypatch.setattr(liveness, "PING_AFTER_IDLE_SECONDS", 0.0)
    second = await backend_pid(engine)  # answered, on a new connection
    assert second != first
    # Every checkout counts as idle here: the dead connection's ping failed, the new one's passed.
    assert len(pings) == 2
