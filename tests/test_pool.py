"""A request that cannot get a database connection in time gets 503 with Retry-After."""

from __future__ import annotations

import httpx
import pytest

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import rls, writes
from tests import databases


@pytest.mark.backends("postgresql")
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
