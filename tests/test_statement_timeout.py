"""PostgreSQL cancels a statement of the service that runs past `Settings.statement_timeout`
(`EVALQL_STATEMENT_TIMEOUT`), and the request is answered 504 with JSON that says so: REST
(`rest/errors.py`) and GraphQL (`graphql_app.py`, the code TIMEOUT), from either pool (single
reads have their own, `db/engine.py::single_read_engine`). The connection is usable after it.

A statement is made to run long by a lock: the test's own connection (the superuser) holds
`sessions` in ACCESS EXCLUSIVE mode, so the service's read waits, and the wait is part of
the statement's time. On SQLite, whose readers never wait for a lock in WAL mode, the
statement is one that computes long (a recursive CTE), run through the service's driver
(db/sqlite_driver.py), whose progress handler interrupts it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from evalql.config import Settings
from evalql.db.engine import create_engine
from evalql.db.outage import is_statement_timeout
from evalql.db.sqlite_driver import UNBOUNDED
from tests.conftest import Api

pytestmark = pytest.mark.settings(statement_timeout=0.5)
DETAIL = "A database statement ran longer than 0.5 s and was cancelled: ask for less (a narrower filter, a smaller page or batch)"


@asynccontextmanager
async def table_locked(database_url: str, table: str = "sessions") -> AsyncIterator[None]:
    # A driver connection of its own: the test's engine checks that every statement on a
    # tenant table names a workspace (evalql/db/tenancy_check.py), which LOCK does not.
    connection = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    try:
        async with connection.transaction():
            await connection.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await connection.close()


@pytest.mark.backends("postgresql")
async def test_a_statement_past_the_timeout_is_answered_504_and_the_pools_recover(api: Api, database_url: str):
    created = await api.client.post("/api/v1/sessions", json={"name": "waits"}, headers=api.headers())
    assert created.status_code in (200, 201), created.text
    session_id = created.json()["id"]
    query = "query($id: UUID!) { session(id: $id) { id name } }"
    # Bounded: without the timeout each request would wait for the lock, which is never let go.
    async with asyncio.timeout(30), table_locked(database_url):
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


def count_to(n: int) -> TextClause:
    return text(f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT count(*) FROM c")


# Counting to 300,000 in a recursive CTE takes SQLite about a twentieth of a second here, to
# 3,000,000 about half a second, and to ENDLESS half a minute or more (finite: were the
# interruption broken, the test fails instead of hanging). The margins are wide (twenty and
# fifty times), so that a machine busy with other tests cannot turn a pass into a failure;
# each count is far more VM instructions than one look at the deadline is apart
# (db/sqlite_driver.py).
SHORT, LONG, ENDLESS = 300_000, 3_000_000, 300_000_000


async def test_sqlite_interrupts_a_statement_past_the_timeout(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path}/timeout.db"
    engine = create_engine(database, statement_timeout=1.0)
    tight = create_engine(database, statement_timeout=0.01)
    unbounded = create_engine(database)
    try:
        async with engine.connect() as connection:
            with pytest.raises(OperationalError) as caught:
                await connection.execute(count_to(ENDLESS))
            assert is_statement_timeout(caught.value), caught.value
            # The connection goes on: each statement has a deadline of its own (a handler left
            # from the one interrupted would stop this one at its first look).
            assert (await connection.execute(count_to(SHORT))).scalar_one() == SHORT
        async with tight.connect() as connection:
            with pytest.raises(OperationalError) as caught:
                await connection.execute(count_to(LONG))
            assert is_statement_timeout(caught.value), caught.value
            # Statements asked to run unbounded (migrations) are not stopped.
            await connection.execution_options(**{UNBOUNDED: True})
            assert (await connection.execute(count_to(LONG))).scalar_one() == LONG
        async with unbounded.connect() as connection:
            assert (await connection.execute(count_to(LONG))).scalar_one() == LONG
    finally:
        for one in (engine, tight, unbounded):
            await one.dispose()


def test_what_is_a_statement_timeout():
    assert is_statement_timeout(sqlite3.OperationalError("interrupted"))
    assert not is_statement_timeout(sqlite3.OperationalError("database is locked"))
    assert is_statement_timeout(asyncpg.QueryCanceledError("canceling statement due to statement timeout"))
    assert not is_statement_timeout(asyncpg.UniqueViolationError("duplicate key"))
