"""Issue 13, operations: a database outage answers 503 and heals by itself; `evalql serve`
stops gracefully and restarts at once; slow headers are cut; logs hold no keys or noise.

The outage is made by a TCP proxy between the app and the shared PostgreSQL server
(`tests/support/tcp_proxy.py`): the server itself is never stopped."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import writes
from evalql.db.engine import create_engine, session_factory
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
        and the group query (whose first call loads the comparison engine's state)."""
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
async def outage(database_url, request) -> AsyncIterator[Outage]:
    """`ingest_workers` from the test's indirect parameter (default: ingest in the app's process)."""
    url = make_url(database_url)
    proxy = await CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    app = create_app(Settings(database_url=proxy.url_for(database_url), pool_timeout=2,
                              ingest_workers=getattr(request, "param", 0)))
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
async def test_a_database_that_does_not_answer_is_an_outage_too(outage):
    """New connections are accepted and never answered: each request gives up after the
    pool timeout (2 s here), not asyncpg's default of 60 s."""
    outage.proxy.stall()
    started = asyncio.get_running_loop().time()
    answers = await outage.answers()
    assert_all_503(answers)
    assert asyncio.get_running_loop().time() - started < 20  # not asyncpg's 60 s
    outage.proxy.restore()
    assert_all_ok(await outage.answers())


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("outage", [1], indirect=True, ids=["one ingest worker"])
async def test_connections_broken_mid_transaction_are_discarded(outage, database_url):
    """Every request is inside its transaction (blocked on a table lock the test holds on a
    direct connection) when the connection drops: each answers 503, and what was left
    behind is not handed to the next request. Ingest runs in a worker process here, whose
    error reaches the server pickled."""
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
async def test_sessions_terminated_under_load_answer_503_never_500(outage, database_url):
    """What a fast shutdown or restart of PostgreSQL does to every session (FATAL 57P01,
    then the connection closes), done to this test's database only, under 12 concurrent
    clients: any request answers 2xx or a JSON 503, none raises (a connection that dies
    after the answer was sent, while the session closes, is no error either), and the
    next requests are served."""
    answered: collections.Counter[object] = collections.Counter()
    stop = asyncio.Event()

    async def client() -> None:
        while not stop.is_set():
            for name, response in (await outage.answers()).items():
                answered[response.status_code] += 1
                assert response.status_code in (200, 202, 503), (name, response.status_code, response.text)
                if response.status_code == 503:  # the outage, or comparisons past their limits (admission.py)
                    detail = response.json()["detail"]
                    assert (response.headers["retry-after"], "unavailable" in detail) in (("2", True), ("1", False)), \
                        (response.headers, detail)

    admin = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
    try:
        clients = [asyncio.create_task(client()) for _ in range(12)]
        for _ in range(8):
            await asyncio.sleep(0.25)
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        stop.set()
        await asyncio.gather(*clients)
    finally:
        await admin.close()
    assert answered[503] and answered[200], answered
    assert_all_ok(await outage.answers())


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


# -- `evalql serve`: stop, cut, restart -------------------------------------------------------

class Served:
    """`evalql serve` in a process of its own; its output goes to files (stdout: the key,
    then uvicorn's access lines; stderr: everything else)."""

    def __init__(self, url: str, port: int, directory: Path, *flags: str, workers: int = 0) -> None:
        self.port, self.base = port, f"http://127.0.0.1:{port}"
        self.out, self.err = directory / f"out-{uuid.uuid4().hex[:6]}", directory / f"err-{uuid.uuid4().hex[:6]}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "EVALQL_INGEST_WORKERS": str(workers)}
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "evalql.cli", "serve", "--database-url", url,
                                          "--port", str(port), *flags], env=env, stdout=out, stderr=err)

    async def started(self) -> Served:
        deadline = asyncio.get_running_loop().time() + 60  # imports take seconds on a busy machine
        async with httpx.AsyncClient(base_url=self.base) as client:
            while asyncio.get_running_loop().time() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"server exited {self.proc.returncode}: {self.log()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/api/v1/info")).status_code == 200:
                        return self
                await asyncio.sleep(0.05)
        raise AssertionError("server did not start")

    def key(self) -> str:
        return self.out.read_text().splitlines()[0].strip()

    def log(self) -> str:
        return self.out.read_text() + self.err.read_text()

    async def exit_code(self, within: float) -> int:
        async with asyncio.timeout(within):
            while self.proc.poll() is None:
                await asyncio.sleep(0.02)
        return self.proc.returncode

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def served(tmp_path) -> Iterator[Callable[..., Served]]:
    made: list[Served] = []

    def start(url: str, *flags: str, port: int | None = None, workers: int = 0) -> Served:
        made.append(Served(url, port or free_port(), tmp_path, *flags, workers=workers))
        return made[-1]

    yield start
    for each in made:
        each.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raw_request(port: int, target: str = "/api/v1/info") -> socket.socket:
    """A keep-alive connection that has had one answer and stays open."""
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    return conn


async def test_an_immediate_restart_after_kill_9_and_sigint_exits_0(served, tmp_path):
    """Killed with connections open, the server's side of them lingers (FIN_WAIT/TIME_WAIT)
    for a minute: the next start on the same port must not wait for that."""
    url = f"sqlite+aiosqlite:///{tmp_path}/restart.db"
    first = await served(url).started()
    conns = [raw_request(first.port) for _ in range(3)]
    first.proc.kill()
    await first.exit_code(within=10)
    for conn in conns:
        conn.close()
    again = await served(url, port=first.port).started()
    async with httpx.AsyncClient(base_url=again.base) as client:
        assert (await client.get("/api/v1/info")).status_code == 200
    refused = served(url, port=again.port)  # a server still listening holds its port, as before
    assert await refused.exit_code(within=30) == 2 and "already in use" in refused.log()
    again.proc.send_signal(signal.SIGINT)
    assert await again.exit_code(within=10) == 0, again.log()


class Held:
    """A lock the test holds on the served database, so that a write blocks in the middle
    of its transaction: PostgreSQL, an EXCLUSIVE lock on `table` (reads pass, inserts wait;
    `runs`: an ingest batch's); SQLite, the writer lock (BEGIN IMMEDIATE)."""

    def __init__(self, url: str, table: str = "runs") -> None:
        self.url, self.table = url, table

    async def __aenter__(self) -> Held:
        if self.url.startswith("postgresql"):
            self.pg = await asyncpg.connect(make_url(self.url).set(drivername="postgresql").render_as_string(False))
            self.tx = self.pg.transaction()
            await self.tx.start()
            await self.pg.execute(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")
        else:
            self.lite = sqlite3.connect(make_url(self.url).database, isolation_level=None)
            self.lite.execute("BEGIN IMMEDIATE")
        return self

    async def release(self) -> None:
        if self.url.startswith("postgresql"):
            if not self.pg.is_closed():
                await self.tx.rollback()
                await self.pg.close()
        elif self.lite is not None:
            self.lite.rollback()
            self.lite.close()
            self.lite = None

    async def __aexit__(self, *_exc: object) -> None:
        await self.release()


async def default_key(url: str) -> str:
    """A key of the default workspace, made before `serve` starts (which then prints none)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            workspace, _ = await writes.get_or_create_workspace(db, writes.DEFAULT_WORKSPACE)
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
    finally:
        await engine.dispose()
    return key


async def counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            runs = (await conn.exec_driver_sql("SELECT count(*) FROM runs")).scalar_one()
            sessions = (await conn.exec_driver_sql("SELECT count(*) FROM sessions")).scalar_one()
    finally:
        await engine.dispose()
    return runs, sessions


async def blocked_ingest(server: Served, database_url: str) -> asyncio.Task[httpx.Response]:
    """An ingest request under way (its body sent, the server inside the transaction)."""
    client = httpx.AsyncClient(base_url=server.base, timeout=30)

    async def post() -> httpx.Response:
        async with client:
            return await client.post("/api/v1/runs/batch", json=run_post("cut"), headers={"X-API-Key": server.key()})

    task = asyncio.create_task(post())
    if database_url.startswith("postgresql"):
        await waiting_for_locks(database_url, 1)  # the batch's insert waits for `Held`'s lock
    else:
        # SQLite shows no waiter: long enough for the request to reach the server on a busy
        # machine, and well inside the 5 s busy timeout the server then waits for the lock.
        await asyncio.sleep(1.5)
    assert not task.done()
    return task


@pytest.mark.backends("sqlite")  # uvicorn's drain, the same on both (the cut, below, is tested on both)
async def test_sigterm_lets_a_slow_request_finish(served, database_url):
    server = await served(database_url, "--graceful-timeout", "20").started()
    async with Held(database_url) as held:
        request = await blocked_ingest(server, database_url)
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert server.proc.poll() is None, "waits for the request"
        await held.release()
        response = await request
    assert response.status_code == 202, response.text
    assert await server.exit_code(within=15) == 0, server.log()
    assert (await counts(database_url))[0] == 1


async def test_a_request_over_the_grace_period_is_cut_and_rolled_back(served, database_url):
    """With ingest workers (the default of `serve`): the worker applying the cut batch is
    stopped too, and nothing of the batch is stored."""
    key = await default_key(database_url)
    server = await served(database_url, "--graceful-timeout", "1", workers=1).started()
    server.key = lambda: key  # type: ignore[method-assign]
    before = await counts(database_url)
    async with Held(database_url):
        request = await blocked_ingest(server, database_url)
        workers = children(server.proc.pid)
        assert workers
        server.proc.send_signal(signal.SIGTERM)
        assert await server.exit_code(within=15) == 0, server.log()
        with contextlib.suppress(httpx.TransportError):
            response = await request
            assert response.status_code >= 500
    assert await counts(database_url) == before
    # The worker (and multiprocessing's resource tracker) end with the server: bounded wait.
    async with asyncio.timeout(10):
        while alive := [pid for pid in workers if running(pid)]:
            await asyncio.sleep(0.05)
    assert not alive
    assert "timeout graceful shutdown exceeded" in server.log()


def running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


# -- slow headers, logs -----------------------------------------------------------------------

async def test_slow_headers_are_cut_and_keys_never_reach_the_logs(served, tmp_path):
    """One server: (1) 32 connections that send nothing or trickle their headers are closed
    within the header timeout while a normal request is answered; heads too large are
    refused. (2) The access log shows the request line: a key-looking query value is
    redacted, and a client hanging up mid-body is one INFO line, not an exception. (3)
    SIGTERM on an idle server exits 0. (4) A WebSocket outlives the header timeout."""
    server = await served(f"sqlite+aiosqlite:///{tmp_path}/ops.db", "--header-timeout", "1").started()
    loop = asyncio.get_running_loop()
    slow = []
    for i in range(32):
        conn = socket.create_connection(("127.0.0.1", server.port))
        conn.setblocking(False)
        if i % 2:  # half send nothing; half start a request and trickle its headers
            conn.sendall(b"GET /api/v1/info HTTP/1.1\r\nHost: t\r\n")
        slow.append(conn)
    opened = loop.time()

    async def trickle() -> None:
        for _ in range(20):
            await asyncio.sleep(0.2)
            for conn in slow[1::2]:
                with contextlib.suppress(OSError):
                    conn.sendall(b"X-Slow: 1\r\n")

    trickling = asyncio.create_task(trickle())
    async with httpx.AsyncClient(base_url=server.base) as client:
        answered = await client.get("/api/v1/info")
    assert answered.status_code == 200
    for conn in slow:  # each is closed by the server (EOF) within the timeout and a margin
        async with asyncio.timeout(15):
            while True:
                try:
                    data = await loop.sock_recv(conn, 1024)
                except ConnectionResetError:
                    break
                if data == b"":
                    break
        conn.close()
    # Far under the default header timeout (10 s): the 1 s one cut them, with room for a
    # busy machine.
    assert loop.time() - opened < 8
    trickling.cancel()
    # Heads too large or with too many headers are refused, even when they arrive in one read.
    for head in (b"X-Big: " + b"a" * 20_000 + b"\r\n", b"".join(b"X-%d: 1\r\n" % i for i in range(150))):
        with socket.create_connection(("127.0.0.1", server.port)) as conn:
            conn.sendall(b"GET /api/v1/info HTTP/1.1\r\nHost: t\r\n" + head + b"\r\n")
            assert conn.recv(1024).startswith(b"HTTP/1.1 431"), head[:20]
    with socket.create_connection(("127.0.0.1", server.port)) as conn:  # and 90 are fine
        conn.sendall(b"GET /api/v1/info HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(90))
                     + b"\r\n")
        assert conn.recv(1024).startswith(b"HTTP/1.1 200")
    key = server.key()
    # A WebSocket (a subscription) is not a request waiting for its headers: it outlives the timeout.
    async with connect(server.base.replace("http://", "ws://") + "/graphql",
                       subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": key}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await asyncio.sleep(1.5)
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"
    async with httpx.AsyncClient(base_url=server.base) as client:
        for target in (f"/api/v1/sessions?api_key={key}", f"/api/v1/sessions?X-API-Key={key}&limit=1",
                       f"/api/v1/sessions?token={key}", f"/api/v1/sessions?q={key}"):
            assert (await client.get(target, headers={"X-API-Key": key})).status_code == 200
    with socket.create_connection(("127.0.0.1", server.port)) as conn:  # hangs up mid-body
        conn.sendall(f"POST /api/v1/runs/batch HTTP/1.1\r\nHost: t\r\nX-API-Key: {key}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"post\": [".encode())
        await asyncio.sleep(0.3)
    await asyncio.sleep(0.3)
    idle = raw_request(server.port)  # an idle keep-alive connection does not hold the stop
    server.proc.send_signal(signal.SIGTERM)
    assert await server.exit_code(within=15) == 0
    idle.close()
    out, err = server.out.read_text(), server.err.read_text()
    # Printed once, at the first start, by design: the first line of stdout, and in the
    # lines of stderr that say how to use it, before uvicorn starts.
    assert out.splitlines()[0] == key
    err = err[err.index("Started server process"):]
    assert key not in "\n".join(out.splitlines()[1:]) + err
    assert "api_key=[redacted]" in out and "X-API-Key=[redacted]&limit=1" in out and "token=[redacted]" in out
    assert "client disconnected before sending its whole body: POST /runs/batch" in err
    assert "Exception in ASGI application" not in err and "Traceback" not in err


async def test_a_client_hanging_up_mid_body_is_an_info_line(api, caplog):
    """Through the ASGI app: the body's second part never comes."""
    chunks = [{"type": "http.request", "body": b'{"post": [', "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict:
        return chunks.pop(0)

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    app = api.client._transport.app  # type: ignore[attr-defined]
    scope = {"type": "http", "method": "POST", "path": "/api/v1/runs/batch", "raw_path": b"/api/v1/runs/batch",
             "query_string": b"", "headers": [(b"x-api-key", api.key.encode()), (b"content-type", b"application/json")],
             "http_version": "1.1", "scheme": "http", "server": ("t", 80), "client": ("c", 1), "root_path": "",
             "asgi": {"version": "3.0"}}
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    disconnects = [r for r in caplog.records if "client disconnected" in r.getMessage()]
    assert disconnects and disconnects[0].levelno == logging.INFO and disconnects[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.backends("sqlite")
async def test_a_sqlite_file_that_cannot_be_opened_answers_503(tmp_path):
    directory = tmp_path / "data"
    directory.mkdir()
    url = f"sqlite+aiosqlite:///{directory}/evalql.db"
    app = create_app(Settings(database_url=url))
    async with app.router.lifespan_context(app):
        async with app.state.db_sessions() as db:
            workspace = await writes.create_workspace(db, "gone")
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            await app.state.engine.dispose()  # no open connection keeps the file
            directory.rename(tmp_path / "moved")  # a mount gone, say
            gone = await client.get("/api/v1/sessions", headers={"X-API-Key": key})
            (tmp_path / "moved").rename(directory)
            back = await client.get("/api/v1/sessions", headers={"X-API-Key": key})
    assert gone.status_code == 503 and gone.headers["retry-after"] == "2", gone.text
    assert back.status_code == 200


async def test_rest_user_errors_log_nothing_above_info(api, caplog):
    """A caller's mistake is not the server's: no WARNING or ERROR, no traceback."""
    ingest = "/api/v1/runs/batch"
    with caplog.at_level(logging.DEBUG):
        answers = [
            await api.client.get("/api/v1/sessions"),  # 401
            await api.client.get("/api/v1/sessions", headers={"X-API-Key": "evq_wrong"}),  # 401
            await api.client.post(ingest, json=run_post(), headers=api.headers(api.read_key)),  # 403
            await api.client.get(f"/api/v1/sessions/{uuid.uuid4()}", headers=api.headers()),  # 404
            await api.client.delete("/api/v1/info", headers=api.headers()),  # 405
            await api.client.post(ingest, content=b"{", headers=api.headers()),  # 422
            await api.client.post(ingest, json={"post": [{"id": "x"}]}, headers=api.headers()),  # 422
        ]
    assert [a.status_code for a in answers] == [401, 401, 403, 404, 405, 422, 422], [a.text for a in answers]
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [(r.name, r.getMessage()) for r in loud]


@pytest.mark.backends("postgresql")
async def test_a_subscription_connection_during_an_outage_is_told_to_retry(database_url):
    """GraphQL over WebSocket: `connection_init` while the database is down closes with
    1013 (try again later) and says why; after the outage the same client is acknowledged."""
    from tests.test_langsmith_sdk import ServerThread

    key = await default_key(database_url)
    url = make_url(database_url)
    proxy = await CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    server = ServerThread(proxy.url_for(database_url))
    try:
        base = await asyncio.to_thread(server.__enter__)  # its lifespan connects through the proxy
        ws_url = base.replace("http://", "ws://") + "/graphql"

        async def init() -> tuple[str, int | None, str]:
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"type": "connection_init", "payload": {"X-API-Key": key}}))
                try:
                    return json.loads(await ws.recv())["type"], None, ""
                except ConnectionClosed as closed:
                    return "closed", closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""

        proxy.cut()
        kind, code, reason = await init()
        assert (kind, code) == ("closed", 1013) and "unavailable" in reason, (kind, code, reason)
        proxy.restore()
        assert (await init())[0] == "connection_ack"
    finally:
        await asyncio.to_thread(server.__exit__)
        await proxy.close()
