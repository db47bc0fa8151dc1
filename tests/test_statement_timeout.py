"""PostgreSQL cancels a statement of the service that runs past `Settings.statement_timeout`
(`EVALQL_STATEMENT_TIMEOUT`), and the request is answered 504 with JSON that says so: REST
(`rest/errors.py`) and GraphQL (`graphql_app.py`, the code TIMEOUT), from either pool (single
reads have their own, `db/engine.py::single_read_engine`). The connection is usable after it.

A statement is made to run long by a lock: the test's own connection (the superuser) holds
`sessions` in ACCESS EXCLUSIVE mode, so the service's read waits, and the wait is part of
the statement's time. SQLite has no statement timeout (its readers never wait on a lock in WAL
mode; a writer waits `busy_timeout`, answered 503: tests/test_hardening_ops.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from evalql.config import Settings
from tests.conftest import Api

pytestmark = [pytest.mark.backends("postgresql"), pytest.mark.settings(statement_timeout=0.5)]
DETAIL = "A database statement ran longer than 0.5 s and was cancelled: ask for less (a narrower filter, a smaller page)"


@asynccontextmanager
async def sessions_locked(database_url: str) -> AsyncIterator[None]:
    # A driver connection of its own: the test's engine checks that every statement on a
    # tenant table names a workspace (evalql/db/tenancy_check.py), which LOCK does not.
    connection = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await connection.close()


async def test_a_statement_past_the_timeout_is_answered_504_and_the_pools_recover(api: Api, database_url: str):
    created = await api.client.post("/api/v1/sessions", json={"name": "waits"}, headers=api.headers())
    assert created.status_code in (200, 201), created.text
    session_id = created.json()["id"]
    query = "query($id: UUID!) { session(id: $id) { id name } }"
    # Bounded: without the timeout each request would wait for the lock, which is never let go.
    async with asyncio.timeout(30), sessions_locked(database_url):
        single_read = await api.client.get(f"/api/v1/sessions/{session_id}", headers=api.headers(api.read_key))
        assert single_read.status_code == 504, single_read.text
        assert single_read.json() == {"detail": DETAIL}
        listed = await api.client.get("/api/v1/sessions", headers=api.headers(api.read_key))
        assert listed.status_code == 504 and listed.json() == {"detail": DETAIL}, listed.text
        graphql = await api.graphql(query, {"id": session_id}, key=api.read_key)
        assert graphql.status_code == 504, graphql.text
        answer = graphql.json()
        assert "data" not in answer or answer["data"] is None, answer
        assert [(e["message"], e["extensions"]["code"]) for e in answer["errors"]] == [(DETAIL, "TIMEOUT")]
    # The lock gone, the same connections serve the same requests.
    again = await api.client.get(f"/api/v1/sessions/{session_id}", headers=api.headers(api.read_key))
    assert again.status_code == 200 and again.json()["name"] == "waits", again.text
    graphql = await api.graphql(query, {"id": session_id}, key=api.read_key)
    assert "errors" not in graphql.json(), graphql.text
    assert graphql.json()["data"] == {"session": {"id": session_id, "name": "waits"}}


def test_the_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    assert Settings.from_env("sqlite+aiosqlite:///:memory:").statement_timeout == 120.0
    monkeypatch.setenv("EVALQL_STATEMENT_TIMEOUT", "7.5")
    assert Settings.from_env("sqlite+aiosqlite:///:memory:").statement_timeout == 7.5
