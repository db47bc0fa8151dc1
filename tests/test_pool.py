"""A request that cannot get a database connection in time gets 503 with Retry-After, on
both databases (SQLite's pool ignored the settings once); SQLite keeps what it opens."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx
import pytest
from sqlalchemy import event

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import rls, writes
from tests import databases


async def test_pool_exhausted_gives_503(database_url):
    app = create_app(Settings(database_url=databases.app_url(database_url), pool_size=1, max_overflow=0, pool_timeout=0.2))
    async with app.router.lifespan_context(app):
        async with app.state.db_sessions() as db:
            workspace = await writes.create_workspace(db, "pool")
            rls.bind(db, workspace.id)
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
            async with app.state.engine.connect() as held:  # the only connection of the pool
                await held.exec_driver_sql("SELECT 1")
                rest = await client.post("/api/v1/datasets/00000000-0000-0000-0000-000000000000/group/runs",
                                         json={}, headers={"X-API-Key": key})
                gql = await client.post("/graphql", json={"query": "{ datasets { edges { cursor } } }"},
                                        headers={"X-API-Key": key})
            after = await client.post("/graphql", json={"query": "{ datasets { edges { cursor } } }"},
                                      headers={"X-API-Key": key})
    for response in (rest, gql):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert "busy" in response.text
    assert after.status_code == 200 and after.json()["data"] == {"datasets": {"edges": []}}


@pytest.mark.backends("sqlite")
async def test_sqlite_keeps_every_connection_it_opens(database_url):
    """Opening a SQLite connection starts a thread and runs the PRAGMAs; SQLAlchemy's default
    pool kept five and closed the rest on return, so a server under load opened and closed
    connections for most requests. Now eight at once a second time open none."""
    app = create_app(Settings(database_url=database_url, pool_size=2, max_overflow=6))
    async with app.router.lifespan_context(app):
        engine = app.state.engine
        opened: list[int] = []
        event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
        rounds = []
        for _ in range(2):
            async with AsyncExitStack() as stack:
                held = [await stack.enter_async_context(engine.connect()) for _ in range(8)]
                await asyncio.gather(*(c.exec_driver_sql("SELECT 1") for c in held))
            rounds.append(len(opened))
        assert rounds[0] > 0 and rounds[1] == rounds[0]
        assert engine.sync_engine.pool.checkedin() == 8
