"""An extra app instance (other settings) and a second workspace, for tests that need them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import writes


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
            yield client, app


async def second_workspace(db_sessions, name: str = "other") -> tuple[uuid.UUID, str, str]:
    """(workspace id, write key, read key) of a fresh workspace."""
    async with db_sessions() as db:
        workspace = await writes.create_workspace(db, name)
        key = await writes.create_api_key(db, workspace.id)
        read_key = await writes.create_api_key(db, workspace.id, read_only=True)
        await db.commit()
    return workspace.id, key, read_key
