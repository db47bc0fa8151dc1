"""The same data and the same group/runs requests on SQLite and on PostgreSQL give the
same answers, field by field (floats to 1e-6, costs by decimal value)."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import httpx
import pytest

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import rls, writes
from tests import databases, oracle
from tests.test_group_runs_oracle import BODIES, DATASET
from tests.worlds import rich

# Requests whose answer is legitimately `{"groups": []}`.
EMPTY = {"rm-missing-key", "rm-model-offset-past-end", "rm-model-Z-only"}


@asynccontextmanager
async def loaded_backend(backend: str, tmp_path):
    url = await databases.new_database(backend, tmp_path)
    app = create_app(Settings(database_url=databases.app_url(url)))  # as the service's role
    try:
        async with app.router.lifespan_context(app):
            async with app.state.db_sessions() as db:
                workspace = await writes.create_workspace(db, "agree")
                rls.bind(db, workspace.id)
                key = await writes.create_api_key(db, workspace.id)
                await db.commit()
                await rich.load(db, workspace.id, rich.build())
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
                yield client, key, str(workspace.id)
    finally:
        await databases.drop_database(url)


async def answers(backend: str, tmp_path) -> dict[str, object]:
    out = {}
    async with loaded_backend(backend, tmp_path) as (client, key, workspace):
        for name, body in BODIES.items():
            response = await client.post(f"/api/v1/datasets/{DATASET}/group/runs", json=body,
                                         headers={"X-API-Key": key})
            assert response.status_code == 200, (backend, name, response.text)
            # The workspace id (tenant_id, app_path) is the one thing that differs by design.
            out[name] = json.loads(response.text.replace(workspace, "<workspace>"))
    return out


@pytest.mark.needs_all_backends  # deselected (not skipped) under --db sqlite|postgresql
async def test_sqlite_and_postgresql_answer_alike(tmp_path):
    on_sqlite = await answers("sqlite", tmp_path)
    on_postgres = await answers("postgresql", tmp_path)
    for name in BODIES:
        problems = oracle.compare(on_sqlite[name], on_postgres[name])
        assert not problems, f"{name}: " + "\n".join(problems[:20])
        assert bool(on_sqlite[name]["groups"]) == (name not in EMPTY), name
