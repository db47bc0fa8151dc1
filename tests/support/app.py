"""An extra app instance (other settings) and a second workspace, for tests that need them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import writes
from tests import databases


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    """The app connects as the service's role on PostgreSQL (`databases.app_url`): a test
    that writes through `app.state.db_sessions` binds them to its workspace (`rls.bind`)."""
    app = create_app(replace(settings, database_url=databases.app_url(settings.database_url)))
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
