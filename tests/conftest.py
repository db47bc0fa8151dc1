"""Shared fixtures: a real SQLite database per test, the real ASGI app, real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import writes


@dataclass
class Api:
    """The app under test plus a workspace with a write key and a read-only key."""

    client: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    workspace_id: uuid.UUID
    key: str
    read_key: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.key}

    async def group_runs(self, dataset_id: object, body: dict, key: str | None = None) -> httpx.Response:
        return await self.client.post(f"/api/v1/datasets/{dataset_id}/group/runs", json=body,
                                      headers=self.headers(key))

    async def graphql(self, query: str, variables: dict | None = None, key: str | None = None) -> httpx.Response:
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                      headers=self.headers(key))


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'evalql.db'}"


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    app = create_app(Settings(database_url=database_url))
    async with app.router.lifespan_context(app):
        sessions = app.state.sessions
        async with sessions() as db:
            workspace = await writes.create_workspace(db, "tests")
            key = await writes.create_api_key(db, workspace.id)
            read_key = await writes.create_api_key(db, workspace.id, read_only=True)
            await db.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
            yield Api(client, sessions, workspace.id, key, read_key)
