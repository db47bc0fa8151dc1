"""Issue 13, operations: a database outage answers 503 and heals by itself; `evalql serve`
stops gracefully and restarts at once; slow headers are cut; logs hold no keys or noise.

The outage is made by a TCP proxy between the app and the shared PostgreSQL server
(`tests/support/tcp_proxy.py`): the server itself is never stopped."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import writes
from evalql.engine.log_pruner import LogPruner
from tests.support.tcp_proxy import CuttableProxy

ROOT = Path(__file__).resolve().parents[1]


def run_post(session: str = "outage") -> dict:
    return {"post": [{"id": str(uuid.uuid4()), "name": "x", "run_type": "chain", "session_name": session,
                      "inputs": {}, "start_time": "2024-01-01T00:00:00Z"}]}


class Outage:
    """An app whose PostgreSQL sits behind a cuttable proxy, with the benchmark's W(20)."""

    def __init__(self, app, proxy: CuttableProxy, client: httpx.AsyncClient, key: str, workload) -> None:
        self.app, self.proxy, self.client, self.key, self.workload = app, proxy, client, key, workload

    def requests(self) -> dict[str, object]:
        """One of each kind the outage must answer 503: REST read, REST ingest, GraphQL,
        and the comparison engine's loads (the group query of a fresh engine)."""
        headers = {"X-API-Key": self.key}
        body = {"session_ids": [str(s) for s in self.workload.session_ids], "group_by": "run_metadata",
                "metadata_key": "model"}
        return {
            "rest read": self.client.get("/api/v1/sessions", headers=headers),
            "rest ingest": self.client.post("/api/v1/runs/batch", json=run_post(), headers=headers),
            "graphql": self.client.post("/graphql", json={"query": "{ datasets { edges { cursor } } }"},
                                        headers=headers),
            "group query": self.client.post(f"/api/v1/datasets/{self.workload.dataset_id}/group/runs", json=body,
                                            headers=headers),
        }

    async def answers(self) -> dict[str, httpx.Response]:
        requests = self.requests()
        return dict(zip(requests, await asyncio.gather(*requests.values()), strict=True))  # type: ignore[call-overload]


@pytest.fixture
async def outage(database_url) -> AsyncIterator[Outage]:
    url = make_url(database_url)
    proxy = await CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    app = create_app(Settings(database_url=proxy.url_for(database_url), pool_timeout=2))
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from workload import load_workload
    finally:
        sys.path.remove(str(ROOT / "bench"))
    try:
        async with app.router.lifespan_context(app):
            async with app.state.db_sessions() as db:
                workspace = await writes.create_workspace(db, "outage")
                key = await writes.create_api_key(db, workspace.id)
                workload = await load_workload(db, workspace.id, 20)
                await db.commit()
            app.state.workspace_id = workspace.id
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
                yield Outage(app, proxy, client, key, workload)
    finally:
        await proxy.close()


def assert_all_503(answers: dict[str, httpx.Response]) -> None:
    for name, response in answers.items():
        assert response.status_code == 503, (name, response.status_code, response.text)
        assert response.headers["content-type"] == "application/json", name
        assert response.headers["retry-after"] == "2", name
        assert "unavailable" in response.json().get("detail", ""), (name, response.text)


def assert_all_ok(answers: dict[str, httpx.Response]) -> None:
    for name, response in answers.items():
        assert response.status_code in (200, 202), (name, response.status_code, response.text)
    assert "errors" not in answers["graphql"].json()


async def waiting_for_locks(database_url: str, count: int) -> None:
    """Until `count` sessions of the test's database wait for a lock (bounded)."""
    conn = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    try:
        async with asyncio.timeout(10):
            while await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND wait_event_type = 'Lock'") < count:
                await asyncio.sleep(0.02)
    finally:
        await conn.close()


@pytest.mark.backends("postgresql")
async def test_an_outage_answers_503_and_heals_without_a_restart(outage, database_url, caplog):
    assert_all_ok(await outage.answers())

    outage.proxy.cut()  # between requests: pooled connections are dead, new ones refused
    assert_all_503(await outage.answers())
    assert_all_503(await outage.answers())  # and again: nothing stuck from the first round
    outage.proxy.restore()
    assert_all_ok(await outage.answers())


@pytest.mark.backends("postgresql")
async def test_connections_broken_mid_transaction_are_discarded(outage, database_url):
    """Every request is inside its transaction (blocked on a table lock the test holds on a
    direct connection) when the connection drops: each answers 503, and what was left
    behind is not handed to the next request."""
    engine = outage.app.state.engine
    holder = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE sessions, datasets, runs IN ACCESS EXCLUSIVE MODE")
        requests = outage.requests()
        tasks = {name: asyncio.ensure_future(request) for name, request in requests.items()}  # type: ignore[call-overload]
        await waiting_for_locks(database_url, len(tasks))
        outage.proxy.cut()
        answers = {name: await task for name, task in tasks.items()}
        await tx.rollback()
    finally:
        await holder.close()
    assert_all_503(answers)
    outage.proxy.restore()
    assert_all_ok(await outage.answers())
    assert_all_ok(await outage.answers())
    assert engine.pool.checkedout() == 0


@pytest.mark.backends("postgresql")
async def test_the_change_feed_listens_again_and_the_pruner_keeps_running(outage, caplog):
    """Subscriptions' LISTEN connection comes back after an outage (a write after it wakes
    a watcher), and the change-log pruner survives the passes that failed meanwhile."""
    feed = outage.app.state.changes
    pruner = LogPruner(outage.app.state.db_sessions, horizon=0, interval=0.05)
    pruning = asyncio.create_task(pruner.run())
    with feed.watch(outage.app.state.workspace_id) as watch:
        async with asyncio.timeout(10):
            await feed.listening.wait()
        await watch.wait(0)  # the wake-up every new listener sends
        outage.proxy.cut()
        async with asyncio.timeout(10):
            while feed.listening.is_set():
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # a few failed pruning passes
        assert not pruning.done()
        outage.proxy.restore()
        async with asyncio.timeout(10):
            await feed.listening.wait()
        while await watch.wait(0.2):  # the reconnected listener wakes everyone once
            pass
        response = await outage.client.post("/api/v1/runs/batch", json=run_post(), headers={"X-API-Key": outage.key})
        assert response.status_code == 202, response.text
        assert await watch.wait(10), "a write after the outage wakes the watcher"
    assert not pruning.done()
    pruning.cancel()
    assert await pruner.prune_once() is not None
    # An outage is one line per failure, without a traceback.
    failures = [r for r in caplog.records if r.name in ("evalql.changes", "evalql.engine") and r.levelno >= logging.WARNING]
    assert failures and all(r.exc_info is None for r in failures), [(r.name, r.getMessage()) for r in failures]
