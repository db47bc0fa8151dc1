"""Bounded work per request (issue 13, item 1), against a real uvicorn on 127.0.0.1, both
databases, with raw sockets where a client misbehaves:

- uploads that stall or trickle after their headers hold no database connection: more of
  them than the pool has connections leave `/info` and an authenticated read answering at
  once, and each is answered 408 (and closed) within its deadline (evalql/body_limits.py);
  a body that is slow but fast enough is read whole;
- comparisons past their limits (evalql/admission.py) are refused with 503 and
  `Retry-After` (REST) or the code BUSY (GraphQL) while cheap requests answer; one
  workspace at its limit does not hold up another's; a queued comparison runs when a
  slot frees, and one that waits too long is refused; exports have limits of their own.

Limits and timeouts are small, set through `Settings`, so each test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from evalql.admission import Limits
from evalql.app import create_app
from evalql.config import Settings
from evalql.db import rls, writes
from evalql.db.engine import create_engine, session_factory
from tests.support.app import app_client
from tests.support.world import World, build_world
from tests.test_langsmith_sdk import ServerThread
from tests.test_subscriptions import GROUP_CHANGED
from tests.test_subscriptions import live as ws_live

BODY_TIMEOUT = 4.0  # seconds: twice the longest a busy 2-core machine took to open 16 uploads and serve the cheap requests
MIN_RATE = 1000  # bytes per second
# More stalled uploads than any pool of these tests has connections (SQLite's default pool:
# 5 + 10; PostgreSQL's here: 2 + 1).
STALLED = 16
SETTINGS = Settings(pool_size=2, max_overflow=1, pool_timeout=5.0, body_timeout=BODY_TIMEOUT,
                    body_min_rate=MIN_RATE, comparisons=2, comparisons_per_workspace=1, comparison_queue=1,
                    comparison_workspace_queue=1, comparison_wait=10.0)
PROMPT = 3.0  # seconds a cheap request may take here, on a busy 2-core machine; it takes milliseconds
GRAPHQL_GROUP = ("query($ds: UUID!, $input: GroupRunsInput!) "
                 "{ groupRuns(datasetId: $ds, input: $input) { groupKey } }")
GRAPHQL_DATASET_RUNS = ("query($ds: UUID!, $input: DatasetRunsInput!) "
                        "{ datasetRuns(datasetId: $ds, input: $input) { example { id } } }")


class LoopOf:
    """The app, recording the event loop uvicorn runs it on (to take admission slots there)."""

    def __init__(self, app: Any) -> None:
        self.app, self.loop = app, None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:  # uvicorn reads the app's attributes
        return getattr(self.app, name)


@dataclass
class Tenant:
    workspace_id: uuid.UUID
    key: str
    read_key: str
    world: World


@dataclass
class Live:
    url: str
    port: int
    server: ServerThread
    app: LoopOf
    a: Tenant
    b: Tenant

    def group_body(self, tenant: Tenant) -> dict:
        return {"session_ids": [str(s) for s in tenant.world.session_ids], "group_by": "example_metadata",
                "metadata_key": "category"}

    def in_server(self, coroutine: Any, timeout: float = 5.0) -> Any:
        """Runs `coroutine` on the server's event loop, from the test's thread."""
        assert self.app.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.app.loop).result(timeout)


async def _tenant(db_sessions: Any, name: str) -> Tenant:
    async with db_sessions() as db:
        workspace = await writes.create_workspace(db, name)
        rls.bind(db, workspace.id)  # the app connects as the service's role (row-level security)
        key = await writes.create_api_key(db, workspace.id)
        read_key = await writes.create_api_key(db, workspace.id, read_only=True)
        world = await build_world(db, workspace.id, n_examples=12, n_sessions=2, name=name)
        await db.commit()
    return Tenant(workspace.id, key, read_key, world)


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[Live]:
    engine = create_engine(database_url)
    try:
        db_sessions = session_factory(engine)
        a, b = await _tenant(db_sessions, "a"), await _tenant(db_sessions, "b")
    finally:
        await engine.dispose()
    wrapped: list[LoopOf] = []

    def wrap(app: Any) -> LoopOf:
        wrapped.append(LoopOf(app))
        return wrapped[0]

    server = ServerThread(database_url, wrap=wrap, settings=SETTINGS)
    with server as url:
        async with httpx.AsyncClient(base_url=url, timeout=PROMPT) as client:
            assert (await client.get("/info")).status_code == 200  # the loop is recorded
        yield Live(url, server.port, server, wrapped[0], a, b)


async def _cheap_requests_answer(live: Live) -> None:
    """`/info` and an authenticated single read answer within PROMPT seconds."""
    async with httpx.AsyncClient(base_url=live.url, timeout=PROMPT) as client:
        info = await client.get("/info")
        assert info.status_code == 200, info.text
        dataset = await client.get(f"/api/v1/datasets/{live.a.world.dataset_id}",
                                   headers={"X-API-Key": live.a.read_key})
        assert dataset.status_code == 200, dataset.text
        assert dataset.json()["id"] == str(live.a.world.dataset_id)


# -- bodies ---------------------------------------------------------------------------------


def _head(live: Live, path: str, length: int, key: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


async def _answer_of(reader: asyncio.StreamReader, within: float) -> tuple[int, bytes]:
    """(status, body) of the one answer on a connection, which the server then closes."""
    raw = await asyncio.wait_for(reader.read(), within)  # until EOF: the server closed it
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def _trickle(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    """A byte every 50 ms (20 bytes/s, far below MIN_RATE) until told to stop or cut off."""
    try:
        while not stop.is_set():
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)
    except (ConnectionError, OSError):
        pass


async def test_stalled_and_trickling_uploads_hold_no_connection(live: Live):
    paths = [f"/api/v1/datasets/{live.a.world.dataset_id}/group/runs", "/graphql", "/api/v1/runs/batch",
             f"/api/v1/datasets/{live.a.world.dataset_id}/runs"]
    connections = []
    stop = asyncio.Event()
    tricklers = []
    # Before the first upload is opened: each one's deadline starts when the server has it,
    # after this, so a trickler stopped before `opened + BODY_TIMEOUT` is never cut off mid-send.
    opened = time.monotonic()
    for i in range(STALLED):
        reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
        # Read-only keys too (the case); ingest needs the write key to get past auth.
        key = live.a.key if i % 2 else live.a.read_key
        writer.write(_head(live, paths[i % len(paths)], 10_000, key) + b"{")
        await writer.drain()
        if i % 2:
            tricklers.append(asyncio.create_task(_trickle(writer, stop)))
        connections.append((reader, writer))
    try:
        # Every request has reached the app (uvicorn runs a task per request) before the
        # cheap requests are sent.
        deadline = time.monotonic() + 5
        while len(live.server.server.server_state.tasks) < STALLED:
            assert time.monotonic() < deadline, "the stalled requests did not reach the app"
            await asyncio.sleep(0.01)
        await _cheap_requests_answer(live)
        assert time.monotonic() - opened < BODY_TIMEOUT, "too slow to tell: the stalled uploads were cut off already"
        # The tricklers stop just before their deadline: a byte sent after the server's answer
        # and close would make the kernel reset the connection, discarding the unread answer.
        await asyncio.sleep(max(0.0, opened + BODY_TIMEOUT - 0.3 - time.monotonic()))
        stop.set()
        # Each is answered 408 and closed within its deadline: BODY_TIMEOUT plus a second per
        # MIN_RATE bytes received (at most a few dozen here), plus slack for a busy machine.
        for reader, _ in connections:
            status, body = await _answer_of(reader, BODY_TIMEOUT + 3.0 - (time.monotonic() - opened))
            assert status == 408, body
            assert "arrived too slowly" in orjson.loads(body)["detail"]
    finally:
        stop.set()
        await asyncio.gather(*tricklers)
        for _, writer in connections:
            writer.close()
    await _cheap_requests_answer(live)


async def test_a_slow_body_at_the_minimum_rate_is_read_whole(live: Live):
    """A body that takes longer than BODY_TIMEOUT, arriving faster than MIN_RATE, is served."""
    body = orjson.dumps(live.group_body(live.a))
    body += b" " * (15_000 - len(body))  # whitespace: still the same JSON
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    path = f"/api/v1/datasets/{live.a.world.dataset_id}/group/runs"
    writer.write(_head(live, path, len(body), live.a.read_key).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    started = time.monotonic()
    for start in range(0, len(body), 300):  # 3,000 bytes/s, for 5 s
        writer.write(body[start:start + 300])
        await writer.drain()
        await asyncio.sleep(0.1)
    assert time.monotonic() - started > BODY_TIMEOUT
    status, answer = await _answer_of(reader, 10)
    writer.close()
    assert status == 200, answer


async def test_a_body_over_the_size_limit_is_refused_before_it_is_read(live: Live):
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    writer.write(_head(live, "/graphql", 100 * 2**20, live.a.read_key) + b"{")
    status, body = await _answer_of(reader, PROMPT)
    writer.close()
    assert status == 413 and "Request body exceeds" in orjson.loads(body)["detail"]


# -- comparisons ----------------------------------------------------------------------------


async def _waiting(live: Live, count: int, admission: str = "admission") -> None:
    deadline = time.monotonic() + 5
    while getattr(live.app.app.state, admission).waiting != count:
        assert time.monotonic() < deadline, f"expected {count} waiting in app.state.{admission}"
        await asyncio.sleep(0.01)


def _busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"] == "1"
    assert "busy" in response.json()["detail"]


def _graphql_busy(response: httpx.Response, field: str) -> None:
    # As REST's: 503 with Retry-After (graphql_http.STATUS_BY_CODE), the error coded BUSY.
    assert response.status_code == 503 and response.headers["retry-after"] == "1", response.text
    answer = response.json()
    assert answer["data"] is None, answer
    error = answer["errors"][0]
    assert error["path"] == [field] and error["extensions"] == {"code": "BUSY", "retryAfter": 1}, error


async def test_comparisons_past_their_limits_are_refused_while_cheap_requests_answer(live: Live):
    admission = live.app.app.state.admission
    a, b = live.a, live.b
    ds = a.world.dataset_id
    rest_group = f"/api/v1/datasets/{ds}/group/runs"
    headers = {"X-API-Key": a.read_key}
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as client:
        # An answer computed now (and kept: no write follows) ...
        cached_body = {**live.group_body(a), "limit": 3}
        assert (await client.post(rest_group, json=cached_body, headers=headers)).status_code == 200
        # Workspace a at its limit (one comparison, as if a long one ran).
        live.in_server(admission.acquire(a.workspace_id))
        try:
            # Another workspace is not held up: the server runs two at once.
            other = await client.post(f"/api/v1/datasets/{b.world.dataset_id}/group/runs", json=live.group_body(b),
                                      headers={"X-API-Key": b.read_key})
            assert other.status_code == 200, other.text
            # a's next comparison waits (the queue holds one) ...
            queued = asyncio.create_task(client.post(rest_group, json=live.group_body(a), headers=headers))
            await _waiting(live, 1)
            # ... and, the queue being full, every further one of a is refused at once.
            _busy(await client.post(rest_group, json=live.group_body(a), headers=headers))
            _busy(await client.post(f"/api/v1/datasets/{ds}/runs", json={"session_ids": live.group_body(a)[
                "session_ids"]}, headers=headers))
            # An export computes under a comparison slot too (then streams under its own).
            _busy(await client.post(f"{rest_group}/export", json=live.group_body(a), headers=headers))
            gql_input = {"sessionIds": live.group_body(a)["session_ids"], "groupBy": "EXAMPLE_METADATA",
                         "metadataKey": "category"}
            _graphql_busy(await client.post("/graphql", headers=headers, json={
                "query": GRAPHQL_GROUP, "variables": {"ds": str(ds), "input": gql_input}}), "groupRuns")
            _graphql_busy(await client.post("/graphql", headers=headers, json={
                "query": GRAPHQL_DATASET_RUNS, "variables": {"ds": str(ds), "input": {
                    "sessionIds": gql_input["sessionIds"]}}}), "datasetRuns")
            # ... is served again at once, taking no slot: it costs nothing.
            cached = await client.post(rest_group, json=cached_body, headers=headers)
            assert cached.status_code == 200 and len(cached.json()["groups"]) == 3, cached.text[:300]
            # b is under its own limit and a global slot is free: it runs, queue or not.
            again = await client.post(f"/api/v1/datasets/{b.world.dataset_id}/runs",
                                      json={"session_ids": live.group_body(b)["session_ids"]},
                                      headers={"X-API-Key": b.read_key})
            assert again.status_code == 200, again.text
            # Cheap requests answer meanwhile, the waiting comparison holding no connection.
            await _cheap_requests_answer(live)
            assert not queued.done()
        finally:
            live.in_server(_release(admission, a.workspace_id))
        # The slot freed, the waiting comparison runs.
        answer = await queued
        assert answer.status_code == 200, answer.text
        assert answer.json()["groups"]
        assert admission.running == 0 and admission.waiting == 0


async def _release(admission: Any, workspace_id: uuid.UUID) -> None:
    admission.release(workspace_id)


async def test_exports_have_slots_of_their_own(live: Live):
    """An export holds its slot until its last row is sent, to a client that may read
    slowly: exports are admitted apart (`app.state.export_admission`, at most one of a
    workspace by default), so a workspace's export being downloaded never holds up its
    comparisons. (It takes a comparison slot only while it computes.)"""
    exports = live.app.app.state.export_admission
    a = live.a
    export_path = f"/api/v1/datasets/{a.world.dataset_id}/group/runs/export?format=json"
    headers = {"X-API-Key": a.read_key}
    live.in_server(exports.acquire(a.workspace_id))  # as if a's export were being downloaded
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=15) as client:
            group = await client.post(f"/api/v1/datasets/{a.world.dataset_id}/group/runs", json=live.group_body(a),
                                      headers=headers)
            assert group.status_code == 200 and group.json()["groups"], group.text[:300]
            queued = asyncio.create_task(client.post(export_path, json=live.group_body(a), headers=headers))
            await _waiting(live, 1, "export_admission")
            refused = await client.post(export_path, json=live.group_body(a), headers=headers)
            _busy(refused)
            assert refused.json()["detail"] == "The server is busy: 1 export is running and 1 waiting. Retry shortly."
            assert live.app.app.state.admission.running == 0  # no comparison slot was taken
            assert not queued.done()
            live.in_server(_release(exports, a.workspace_id))
            answer = await queued
        assert answer.status_code == 200 and answer.json(), answer.text[:300]
    finally:
        if exports.running:
            live.in_server(_release(exports, a.workspace_id))
    assert exports.running == 0 and exports.waiting == 0


async def test_a_subscriptions_comparison_waits_for_a_free_slot(live: Live):
    """`groupRunsChanged` computes its answer under a comparison slot, as a query does, but
    only one free at once: with the workspace's slot taken it emits and computes nothing,
    takes no place in the queue (a request still finds one), its stream stays open, and
    once the slot frees (and the request waiting for it is served) it emits the answer."""
    admission = live.app.app.state.admission
    a = live.a
    headers = {"X-API-Key": a.read_key}
    rest_group = f"/api/v1/datasets/{a.world.dataset_id}/group/runs"
    group_input = {"sessionIds": [str(s) for s in a.world.session_ids], "groupBy": "EXAMPLE_METADATA",
                   "metadataKey": "category", "limit": 2}
    live.in_server(admission.acquire(a.workspace_id))
    released = False
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=15) as client, ws_live(live.url, a.read_key) as stream:
            await stream.subscribe("g", GROUP_CHANGED, {"dataset": str(a.world.dataset_id), "input": group_input})
            with pytest.raises(TimeoutError):  # no slot free: it tries again each second
                async with asyncio.timeout(2.5):
                    await stream.message("g")
            assert admission.running == 1 and admission.waiting == 0
            # The queue's one place is still a request's.
            queued = asyncio.create_task(client.post(rest_group, json=live.group_body(a), headers=headers))
            await _waiting(live, 1)
            live.in_server(_release(admission, a.workspace_id))
            released = True
            event = (await stream.data("g"))["groupRunsChanged"]
            assert (await queued).status_code == 200
            expected = await client.post(rest_group, headers=headers, json={**live.group_body(a), "limit": 2})
        assert event["groups"] == [{"groupKey": g["group_key"], "count": g["count"], "exampleCount": g["example_count"]}
                                   for g in expected.json()["groups"]], (event, expected.text[:500])
    finally:
        if not released:
            live.in_server(_release(admission, a.workspace_id))
    assert admission.running == 0 and admission.waiting == 0


def test_admission_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"EVALQL_COMPARISONS": "3", "EVALQL_COMPARISONS_PER_WORKSPACE": "2", "EVALQL_EXPORTS": "5",
                        "EVALQL_EXPORTS_PER_WORKSPACE": "4", "EVALQL_COMPARISON_QUEUE": "7",
                        "EVALQL_COMPARISON_WORKSPACE_QUEUE": "6", "EVALQL_COMPARISON_WAIT": "9"}.items():
        monkeypatch.setenv(name, value)
    app = create_app(Settings.from_env("sqlite+aiosqlite:///:memory:"))
    queues = dict(waiting=7, waiting_per_workspace=6, wait=9.0)
    assert app.state.admission.limits == Limits(running=3, running_per_workspace=2, rest=1.0, **queues)
    assert app.state.export_admission.limits == Limits(running=5, running_per_workspace=4, **queues)
    assert (app.state.admission.kind, app.state.export_admission.kind) == ("comparison", "export")
    # Unset, one comparison and one export of a workspace run at once, two of each in all.
    for name in ("EVALQL_COMPARISONS", "EVALQL_COMPARISONS_PER_WORKSPACE", "EVALQL_EXPORTS",
                 "EVALQL_EXPORTS_PER_WORKSPACE"):
        monkeypatch.delenv(name)
    defaults = Settings.from_env("sqlite+aiosqlite:///:memory:")
    assert (defaults.comparisons, defaults.comparisons_per_workspace, defaults.exports,
            defaults.exports_per_workspace) == (2, 1, 2, 1)


async def test_a_comparison_that_waits_too_long_is_refused(live: Live):
    admission = live.app.app.state.admission
    admission.limits = dataclasses.replace(admission.limits, wait=0.5)
    a = live.a
    live.in_server(admission.acquire(a.workspace_id))
    try:
        async with httpx.AsyncClient(base_url=live.url, timeout=15) as client:
            response = await client.post(f"/api/v1/datasets/{a.world.dataset_id}/group/runs",
                                         json=live.group_body(a), headers={"X-API-Key": a.read_key})
        _busy(response)
        assert "within 0.5 s" in response.json()["detail"]
        assert admission.waiting == 0
    finally:
        live.in_server(_release(admission, a.workspace_id))
    assert admission.running == 0


# -- memory ---------------------------------------------------------------------------------


async def test_answers_of_older_data_versions_are_dropped(database_url: str):
    """Under steady ingest every comparison is at a new data version: the answers of older
    versions (never asked for again) are dropped as a newer one is kept, not left to fill
    the answer cache."""
    async with app_client(Settings(database_url=database_url)) as (client, app):
        tenant = await _tenant(app.state.db_sessions, "a")
        headers = {"X-API-Key": tenant.key}
        body = {"session_ids": [str(s) for s in tenant.world.session_ids], "group_by": "example_metadata",
                "metadata_key": "category"}
        engine = app.state.comparisons

        def kept() -> int:
            return sum(1 for key in engine._answers if key[0] == tenant.workspace_id)

        for i in range(3):
            response = await client.post(f"/api/v1/datasets/{tenant.world.dataset_id}/group/runs", json=body,
                                         headers=headers)
            assert response.status_code == 200, response.text[:300]
            assert kept() == 1
            written = await client.post("/api/v1/runs/batch", headers=headers, json={"post": [{
                "id": str(uuid.uuid4()), "name": f"write {i}", "run_type": "chain", "session_name": "writes",
                "start_time": "2026-11-30T12:00:00+00:00"}]})
            assert written.status_code == 202, written.text
