"""GraphQL subscriptions over graphql-transport-ws (evalql/graphql_ws.py, schema/subscription.py):
real WebSockets to a real uvicorn server, on both databases. Writes go through REST (and,
for changes made elsewhere, through another process or another server on the database).
Timeouts below only bound waiting; nothing asserts how fast an event comes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import textwrap
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from evalql import graphql_ws
from evalql.db.change_feed import ChangeFeed
from evalql.db.engine import create_engine, session_factory
from evalql.db.models import ApiKey
from evalql.db.types import utcnow
from evalql.db.writes import create_api_key, hash_api_key, insert_session
from evalql.schema import subscription
from tests.support.app import second_workspace
from tests.test_langsmith_sdk import ServerThread

WAIT = 30.0  # seconds: an upper bound for waiting, never an expectation
PROTOCOL = "graphql-transport-ws"
T0 = dt.datetime(2024, 9, 19, 17, 16, 48, tzinfo=dt.UTC)

PROGRESS = """subscription Progress($ids: [UUID!]!) {
  experimentProgress(sessionIds: $ids) {
    dataVersion
    sessions { session { id name } runCount errorCount pendingCount feedbackCount
               stats { runCount errorRate feedbackStats { key n avg } } }
  }
}"""
GROUP_CHANGED = """subscription Changed($dataset: UUID!, $input: GroupRunsInput!) {
  groupRunsChanged(datasetId: $dataset, input: $input) { dataVersion groups { groupKey count exampleCount } }
}"""
GROUP_RUNS = """query Groups($dataset: UUID!, $input: GroupRunsInput!) {
  groupRuns(datasetId: $dataset, input: $input) {
    groupKey count exampleCount
    sessions { session { id } runCount feedbackStats { key n avg } }
    examples { example { id } runs { id outputs } }
  }
}"""


def at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


# -- a small graphql-transport-ws client ------------------------------------------------------

class Live:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: dict[str | None, list[dict]] = defaultdict(list)

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def message(self, op_id: str | None) -> dict:
        """The next message for `op_id` (None: connection messages such as the ack)."""
        async with asyncio.timeout(WAIT):
            while not self.received[op_id]:
                message = json.loads(await self.ws.recv())
                assert isinstance(message, dict)
                if message["type"] == "ping":
                    await self.send({"type": "pong"})
                    continue
                self.received[message.get("id")].append(message)
        return self.received[op_id].pop(0)

    async def init(self, payload: dict | None) -> dict:
        await self.send({"type": "connection_init", **({} if payload is None else {"payload": payload})})
        ack = await self.message(None)
        assert ack["type"] == "connection_ack", ack
        return ack

    async def subscribe(self, op_id: str, query: str, variables: dict | None = None) -> None:
        await self.send({"type": "subscribe", "id": op_id, "payload": {"query": query, "variables": variables or {}}})

    async def data(self, op_id: str) -> dict:
        message = await self.message(op_id)
        assert message["type"] == "next" and "errors" not in message["payload"], message
        return message["payload"]["data"]

    async def until(self, op_id: str, done: Callable[[dict], bool]) -> dict:
        """Events of `op_id` until one satisfies `done`; returns it."""
        while True:
            data = await self.data(op_id)
            if done(data):
                return data

    async def closed(self) -> tuple[int, str]:
        """Waits for the server to close the connection: (code, reason)."""
        async with asyncio.timeout(WAIT):
            try:
                while True:
                    await self.ws.recv()
            except ConnectionClosed as exc:
                assert exc.rcvd is not None
                return exc.rcvd.code, exc.rcvd.reason


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/graphql"


@asynccontextmanager
async def live(base: str, key: str | None = None, *, headers: dict | None = None,
               subprotocols: tuple[str, ...] = (PROTOCOL,)) -> AsyncIterator[Live]:
    """A connection, acknowledged with `key` in connection_init's payload when given."""
    async with connect(ws_url(base), subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
                       additional_headers=headers or {}, open_timeout=WAIT) as ws:
        client = Live(ws)
        if key is not None:
            await client.init({"X-API-Key": key})
        yield client


# -- the world: REST writes and their plain-Python account -------------------------------------

class World:
    """Datasets, sessions, runs and feedback made over REST, with the counts they imply."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.runs: dict[str, dict[str, Any]] = {}  # id -> session, error, ended
        self.feedback: list[str] = []  # run ids

    async def ok(self, response: httpx.Response) -> Any:
        assert response.status_code in (200, 201, 202), response.text
        return response.json() if response.content else None

    async def dataset(self, topics: list[str]) -> tuple[str, list[str]]:
        dataset = await self.ok(await self.http.post("/datasets", json={"name": f"ds-{uuid.uuid4().hex[:8]}"}))
        examples = []
        for i, topic in enumerate(topics):
            example = await self.ok(await self.http.post("/examples", json={
                "dataset_id": dataset["id"], "inputs": {"q": i}, "outputs": {"a": i}, "metadata": {"topic": topic}}))
            examples.append(example["id"])
        return dataset["id"], examples

    async def session(self, name: str, dataset_id: str | None = None) -> str:
        body = {"name": f"{name}-{uuid.uuid4().hex[:8]}", "reference_dataset_id": dataset_id}
        return (await self.ok(await self.http.post("/sessions", json=body)))["id"]

    def record(self, session_id: str, *, example_id: str | None = None, ended: bool = True,
               error: bool = False) -> dict:
        run_id = str(uuid.uuid4())
        self.runs[run_id] = {"session": session_id, "error": error, "ended": ended}
        record = {"id": run_id, "name": "run", "run_type": "chain", "start_time": at(len(self.runs)),
                  "session_id": session_id, "inputs": {"q": 1}, "reference_example_id": example_id}
        if ended or error:
            record["end_time"] = at(len(self.runs) + 0.5)
            record["outputs"] = {"a": 1}
        if error:
            record["error"] = "boom"
        return record

    async def post_runs(self, records: list[dict]) -> list[str]:
        await self.ok(await self.http.post("/runs/batch", json={"post": records}))
        return [r["id"] for r in records]

    async def end(self, run_id: str, outputs: dict | None = None) -> None:
        await self.ok(await self.http.patch(f"/runs/{run_id}", json={"end_time": at(100), "outputs": outputs or {}}))
        self.runs[run_id]["ended"] = True

    async def score(self, run_id: str, key: str = "correct", score: float = 1.0) -> None:
        await self.ok(await self.http.post("/feedback", json={"run_id": run_id, "key": key, "score": score}))
        self.feedback.append(run_id)

    def counts(self, session_id: str) -> dict[str, int]:
        runs = [r for r in self.runs.values() if r["session"] == session_id]
        return {"runCount": len(runs), "errorCount": sum(r["error"] for r in runs),
                "pendingCount": sum(not r["ended"] and not r["error"] for r in runs),
                "feedbackCount": sum(self.runs[f]["session"] == session_id for f in self.feedback)}


def shown_counts(data: dict) -> dict[str, dict[str, int]]:
    return {s["session"]["id"]: {k: s[k] for k in ("runCount", "errorCount", "pendingCount", "feedbackCount")}
            for s in data["experimentProgress"]["sessions"]}


@pytest.fixture(autouse=True)
def only_change_hints(monkeypatch) -> None:
    """Streams look at the data only when the change feed wakes them (no periodic look), so
    these tests fail if a change does not reach them through the feed."""
    monkeypatch.setattr(subscription, "IDLE_CHECK", 3600.0)


@pytest.fixture
async def server(api, database_url) -> AsyncIterator[str]:
    with ServerThread(database_url) as base:
        yield base


@pytest.fixture
async def world(api, server) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=server, headers={"X-API-Key": api.key}, timeout=WAIT) as http:
        yield World(http)


# -- experimentProgress ------------------------------------------------------------------------

async def test_progress_follows_ingest(api, server, world):
    dataset_id, examples = await world.dataset(["a", "b", "c"])
    s1, s2, elsewhere = [await world.session(n, dataset_id) for n in ("s1", "s2", "other")]

    def expected() -> dict:
        return {s: world.counts(s) for s in (s1, s2)}

    async with live(server, api.key) as client:
        await client.subscribe("p", PROGRESS, {"ids": [s1, s2, s1]})  # duplicates dropped
        first = await client.data("p")
        assert [s["session"]["id"] for s in first["experimentProgress"]["sessions"]] == [s1, s2]
        assert shown_counts(first) == expected()

        ok, failed, running, _ = await world.post_runs([
            world.record(s1, example_id=examples[0]), world.record(s1, example_id=examples[1], error=True),
            world.record(s1, example_id=examples[2], ended=False), world.record(s2, example_id=examples[0])])
        data = await client.until("p", lambda d: shown_counts(d) == expected())
        by_session = {s["session"]["id"]: s for s in data["experimentProgress"]["sessions"]}
        assert by_session[s1]["stats"]["runCount"] == 3 and by_session[s1]["stats"]["errorRate"] == pytest.approx(1 / 3)
        assert int(data["experimentProgress"]["dataVersion"]) > int(first["experimentProgress"]["dataVersion"])

        await world.end(running)
        await client.until("p", lambda d: shown_counts(d) == expected())
        await world.score(ok, score=1.0)
        await world.score(failed, score=0.0)
        data = await client.until("p", lambda d: shown_counts(d) == expected())
        stats = {s["session"]["id"]: s["stats"] for s in data["experimentProgress"]["sessions"]}
        assert stats[s1]["feedbackStats"] == [{"key": "correct", "n": 2, "avg": 0.5}]
        assert stats[s2]["feedbackStats"] == []

        # Writes that change nothing shown (another session's runs and feedback) emit nothing:
        # the next event is the one of the write after them.
        [other_run] = await world.post_runs([world.record(elsewhere, example_id=examples[0])])
        await world.score(other_run)
        await world.score(running, score=1.0)
        assert shown_counts(await client.data("p")) == expected()


async def test_progress_of_a_write_made_by_another_process(api, server, world, database_url):
    """A change committed by another process (here: a script writing to the database, as
    `evalql seed` or an ingest worker does) reaches the subscriber."""
    session_id = await world.session("s")
    async with live(server, api.key) as client:
        await client.subscribe("p", PROGRESS, {"ids": [session_id]})
        assert shown_counts(await client.data("p"))[session_id]["runCount"] == 0
        script = textwrap.dedent(f"""
            import asyncio, datetime as dt, uuid
            from evalql.db.engine import create_engine, session_factory
            from evalql.db import writes

            async def main():
                engine = create_engine({database_url!r})
                async with session_factory(engine)() as db:
                    await writes.insert_runs(db, uuid.UUID({str(api.workspace_id)!r}), [
                        {{"id": uuid.uuid4(), "name": "r", "run_type": "chain", "session_id": uuid.UUID({session_id!r}),
                          "start_time": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}} for _ in range(2)])
                    await db.commit()
                await engine.dispose()

            asyncio.run(main())
        """)
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", script], cwd=Path(__file__).parents[1],
                                       capture_output=True, text=True, timeout=WAIT)
        assert done.returncode == 0, done.stderr
        data = await client.until("p", lambda d: shown_counts(d)[session_id]["runCount"] == 2)
        assert shown_counts(data)[session_id] == {"runCount": 2, "errorCount": 0, "pendingCount": 2, "feedbackCount": 0}


@pytest.mark.backends("postgresql")
async def test_a_write_through_another_server_reaches_a_subscriber(api, server, world, database_url):
    """Two server processes on one PostgreSQL database: a run ingested by the second wakes the
    first's subscriber through LISTEN/NOTIFY (the servers share no memory: separate apps)."""
    session_id = await world.session("s")
    with ServerThread(database_url) as second:
        async with live(server, api.key) as client, \
                httpx.AsyncClient(base_url=second, headers={"X-API-Key": api.key}, timeout=WAIT) as http:
            await client.subscribe("p", PROGRESS, {"ids": [session_id]})
            await client.data("p")
            other = World(http)
            await other.post_runs([other.record(session_id), other.record(session_id, error=True)])
            data = await client.until("p", lambda d: shown_counts(d)[session_id]["runCount"] == 2)
            assert shown_counts(data)[session_id] == other.counts(session_id)


# -- groupRunsChanged --------------------------------------------------------------------------

async def test_group_runs_changed_fires_when_the_answer_changes(api, server, world):
    dataset_id, examples = await world.dataset(["a", "a", "b"])
    s1, s2, elsewhere = [await world.session(n, dataset_id) for n in ("s1", "s2", "other")]
    runs = await world.post_runs([world.record(s, example_id=e) for s in (s1, s2) for e in examples])
    group_input = {"sessionIds": [s1, s2], "groupBy": "EXAMPLE_METADATA", "metadataKey": "topic"}
    variables = {"dataset": dataset_id, "input": group_input}

    async def answer() -> list[dict]:
        response = await api.graphql(GROUP_RUNS, variables)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        return response.json()["data"]["groupRuns"]

    def summary(groups: list[dict]) -> list[dict]:
        return [{k: g[k] for k in ("groupKey", "count", "exampleCount")} for g in groups]

    async with live(server, api.key) as client:
        await client.subscribe("g", GROUP_CHANGED, variables)
        first = (await client.data("g"))["groupRunsChanged"]
        before = await answer()
        assert first["groups"] == summary(before) == [
            {"groupKey": "a", "count": 4, "exampleCount": 2}, {"groupKey": "b", "count": 2, "exampleCount": 1}]

        # Not shown by this comparison: no event. Then feedback on a shown run: one.
        await world.post_runs([world.record(elsewhere, example_id=examples[0])])
        await world.score(runs[0], score=0.5)
        event = (await client.data("g"))["groupRunsChanged"]
        after = await answer()
        assert after != before and int(event["dataVersion"]) > int(first["dataVersion"])
        assert event["groups"] == summary(after)
        assert after[0]["sessions"][0]["feedbackStats"] == [{"key": "correct", "n": 1, "avg": 0.5}]

        # A shown run's outputs change: no statistic moves, but the answer does.
        await world.end(runs[1], outputs={"a": "new"})
        event = (await client.data("g"))["groupRunsChanged"]
        again = await answer()
        assert again != after and event["groups"] == summary(again)

        # A new run: the counts move.
        [extra] = await world.post_runs([world.record(s1, example_id=examples[2])])
        event = await client.until("g", lambda d: d["groupRunsChanged"]["groups"][1]["count"] == 3)
        assert event["groupRunsChanged"]["groups"] == summary(await answer())
        assert extra in world.runs


# -- tenancy, input and limits -----------------------------------------------------------------

async def test_another_workspaces_rows_are_not_found(api, server, world):
    _, other_key, _ = await second_workspace(api.db_sessions)
    async with httpx.AsyncClient(base_url=server, headers={"X-API-Key": other_key}, timeout=WAIT) as http:
        theirs = World(http)
        their_dataset, _ = await theirs.dataset(["a"])
        their_session = await theirs.session("theirs", their_dataset)
    mine = await world.session("mine")
    async with live(server, api.key) as client:
        await client.subscribe("1", PROGRESS, {"ids": [mine, their_session]})
        error = await client.message("1")
        assert error["type"] == "error"
        assert error["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        assert their_session in error["payload"][0]["message"]
        await client.subscribe("2", GROUP_CHANGED, {"dataset": their_dataset, "input": {
            "sessionIds": [their_session], "groupBy": "EXAMPLE_METADATA", "metadataKey": "topic"}})
        error = await client.message("2")
        assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        # Bad input as groupRuns words it.
        await client.subscribe("3", GROUP_CHANGED, {"dataset": their_dataset, "input": {
            "sessionIds": [mine], "groupBy": "EXAMPLE_METADATA", "metadataKey": "topic", "limit": 0}})
        error = await client.message("3")
        assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "limit" in error["payload"][0]["message"]
        await client.subscribe("4", PROGRESS, {"ids": []})
        error = await client.message("4")
        assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        # The connection still serves: a query over the socket answers once, then completes.
        await client.subscribe("5", "{ viewer { workspaceId readOnly } }")
        assert await client.data("5") == {"viewer": {"workspaceId": str(api.workspace_id), "readOnly": False}}
        assert (await client.message("5"))["type"] == "complete"


async def test_query_limits_apply(api, server):
    async with live(server, api.key) as client:
        inner = "name"
        for _ in range(3):
            inner = f"referenceDataset {{ sessions {{ edges {{ node {{ {inner} }} }} }} }}"
        deep = f"subscription {{ experimentProgress(sessionIds: []) {{ sessions {{ session {{ {inner} }} }} }} }}"
        await client.subscribe("deep", deep)
        error = await client.message("deep")
        assert error["type"] == "error" and "exceeds maximum operation depth" in error["payload"][0]["message"]
        assert error["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        await client.subscribe("long", "subscription { experimentProgress(sessionIds: []) { dataVersion } }"
                               + " " * graphql_ws.MAX_QUERY_CHARS)
        error = await client.message("long")
        assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        await client.send({"type": "ping"})
        assert (await client.message(None))["type"] == "pong"
        await client.ws.send("x" * (graphql_ws.MAX_MESSAGE_BYTES + 1))
        assert (await client.closed())[0] == 4400


async def test_subscriptions_per_connection_are_limited(api, server, world):
    session_id = await world.session("s")
    async with live(server, api.key) as client:
        for i in range(graphql_ws.MAX_OPERATIONS):
            await client.subscribe(str(i), PROGRESS, {"ids": [session_id]})
            await client.data(str(i))
        await client.subscribe("over", PROGRESS, {"ids": [session_id]})
        error = await client.message("over")
        assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "Subscription limit" in error["payload"][0]["message"]
        await client.send({"type": "complete", "id": "0"})
        await client.subscribe("0", PROGRESS, {"ids": [session_id]})  # the id is free again, and a place
        await client.data("0")
        await client.subscribe("1", PROGRESS, {"ids": [session_id]})  # an id in use closes the connection
        assert (await client.closed())[0] == 4409


async def test_connections_per_key_are_limited(api, server, monkeypatch):
    monkeypatch.setattr(graphql_ws, "MAX_CONNECTIONS_PER_KEY", 2)
    async with live(server, api.key), live(server, api.key):
        async with live(server) as third:
            await third.send({"type": "connection_init", "payload": {"X-API-Key": api.key}})
            code, reason = await third.closed()
            assert code == 1013 and "per API key" in reason
        async with live(server, api.read_key):  # another key has its own count
            pass
    # The closed ones no longer count (once the server has seen them close).
    async with asyncio.timeout(WAIT):
        while True:
            async with live(server) as again:
                await again.send({"type": "connection_init", "payload": {"X-API-Key": api.key}})
                if not await _closes(again):
                    break


# -- auth ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["payload", "payload-headers", "bearer", "upgrade-header"])
async def test_the_key_may_come_several_ways(api, server, how):
    payload = {"payload": {"X-API-Key": api.read_key}, "payload-headers": {"headers": {"x-api-key": api.read_key}},
               "bearer": {"Authorization": f"Bearer {api.read_key}"}, "upgrade-header": {}}[how]
    headers = {"X-API-Key": api.read_key} if how == "upgrade-header" else None
    async with live(server, headers=headers) as client:
        ack = await client.init(payload)
        assert ack["payload"] == {"workspaceId": str(api.workspace_id), "readOnly": True}


@pytest.mark.parametrize("refused", ["no payload", "no key", "invalid key", "another tenant", "a long tenant"])
async def test_refused_without_a_valid_key(api, server, refused):
    payload = {"no payload": None, "no key": {}, "invalid key": {"X-API-Key": "evq_nope"},
               "another tenant": {"X-API-Key": api.key, "X-Tenant-Id": str(uuid.uuid4())},
               "a long tenant": {"X-API-Key": api.key, "X-Tenant-Id": "x" * 500}}[refused]
    async with live(server) as client:
        await client.send({"type": "connection_init", **({} if payload is None else {"payload": payload})})
        code, reason = await client.closed()
        assert code == 4403 and reason.startswith("Forbidden")


async def test_protocol_errors(api, server):
    async with live(server) as client:  # subscribe before connection_init
        await client.subscribe("1", PROGRESS, {"ids": []})
        assert (await client.closed())[0] == 4401
    async with live(server, api.key) as client:
        await client.send({"type": "connection_init", "payload": {"X-API-Key": api.key}})
        assert (await client.closed())[0] == 4429
    async with live(server, api.key) as client:
        await client.send({"type": "nonsense"})
        assert (await client.closed())[0] == 4400
    async with live(server, subprotocols=()) as client:
        assert (await client.closed())[0] == 4406


async def test_connection_init_times_out(api, database_url, monkeypatch):
    monkeypatch.setattr(graphql_ws, "CONNECTION_INIT_TIMEOUT", 0.2)
    with ServerThread(database_url) as base:
        async with live(base) as client:
            assert (await client.closed())[0] == 4408


async def test_a_revoked_key_closes_the_connection(api, server, world, monkeypatch):
    monkeypatch.setattr(graphql_ws, "KEY_RECHECK_SECONDS", 0.2)
    async with api.db_sessions() as db:
        key = await create_api_key(db, api.workspace_id)
        await db.commit()
    session_id = await world.session("s")
    async with live(server, key) as client:
        await client.subscribe("p", PROGRESS, {"ids": [session_id]})
        await client.data("p")
        async with api.db_sessions() as db:
            await db.execute(update(ApiKey).where(ApiKey.key_hash == hash_api_key(key)).values(revoked_at=utcnow()))
            await db.commit()
        code, reason = await client.closed()
        assert code == 4403 and "revoked" in reason
    async with live(server) as client:  # and it cannot connect again
        await client.send({"type": "connection_init", "payload": {"X-API-Key": key}})
        assert (await client.closed())[0] == 4403


async def _closes(client: Live) -> bool:
    """After connection_init: False when acknowledged, True when closed."""
    try:
        message = json.loads(await asyncio.wait_for(client.ws.recv(), WAIT))
    except ConnectionClosed:
        return True
    assert message["type"] == "connection_ack"
    return False


# -- the change feed itself --------------------------------------------------------------------

async def test_the_change_feed_wakes_watchers_of_the_written_workspace(api, database_url):
    """A commit on another connection (another engine: as another process would) wakes the
    workspace's watchers: PostgreSQL's NOTIFY, SQLite's polling."""
    other_workspace, _, _ = await second_workspace(api.db_sessions)
    engine = create_engine(database_url)
    feed = ChangeFeed(engine, session_factory(engine))
    try:
        with feed.watch(api.workspace_id) as watch, feed.watch(other_workspace) as other:
            assert await watch.wait(WAIT)  # the feed's start wakes everyone once
            assert await other.wait(WAIT)
            async with api.db_sessions() as db:
                await insert_session(db, api.workspace_id, name="new")
                await db.commit()
            assert await watch.wait(WAIT)
            assert not other._event.is_set()
    finally:
        await feed.close()
        await engine.dispose()
