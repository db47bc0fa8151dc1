"""Ingest throughput through the LangSmith SDK's multipart path, on SQLite and PostgreSQL.

    .venv/bin/python bench/ingest.py [--runs 10000] [--repeat 3] [--databases sqlite,postgresql]
                                     [--modes sdk,replay] [--concurrency 2] [--compression zstd|none]
                                     [--batch-ops N] [--postgres-server URL] [--database-url URL]

Traces of four runs (a chain root with a retriever, a tool and an llm child) are produced with
`@traceable`, and each root gets one feedback through `create_feedback`, as `evaluate()` would.
Each repetition starts evalql under uvicorn (its own process, as deployed) on a free local port
with a fresh database: a temporary SQLite file, or a throwaway PostgreSQL database created on
`--postgres-server` for the repetition and dropped after it (fresh, so it has no planner
statistics, like a new install). `--database-url` instead names one throwaway database whose
tables are recreated for every repetition.

Two modes, each timed until the server has acknowledged (committed) everything, after which the
stored rows are counted to prove it:

* `sdk`: the official `langsmith` SDK points at evalql; the clock runs from the first traced call
  until `client.flush()` returns. This is the end-to-end figure, and the SDK's own cost is part of
  it (the SDK against a recorder that does nothing is printed as a rough ceiling).
* `replay`: the server alone. The SDK's multipart requests are captured once (by a stand-in
  server that only records them) and then POSTed to evalql as they were, compressed, with
  `--concurrency` requests in flight (the SDK sends from a pool of one thread per CPU).

Prints runs/s per repetition and the median per database and mode.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from postgres import POSTGRES_SERVER, admin  # noqa: E402

from evalql.db import writes  # noqa: E402
from evalql.db.engine import create_engine, session_factory  # noqa: E402
from evalql.db.migrate import upgrade  # noqa: E402
from evalql.db.models import Base, Feedback, Run  # noqa: E402
from evalql.db.tenancy_check import ALL_WORKSPACES  # noqa: E402
from evalql.rest.info import info_body  # noqa: E402

RUNS_PER_TRACE = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- databases -------------------------------------------------------------------------------------

@dataclass
class Target:
    """Where one repetition writes: its URL, and how to make and drop a fresh one."""

    backend: str  # sqlite | postgresql
    directory: str
    database_url: str | None = None  # a given throwaway database (tables recreated)
    server: str = POSTGRES_SERVER  # where fresh PostgreSQL databases are created

    @contextmanager
    def fresh(self, rep: int) -> Iterator[str]:
        if self.database_url is not None:
            yield self.database_url
        elif self.backend == "sqlite":
            yield f"sqlite+aiosqlite:///{self.directory}/ingest-{rep}-{uuid.uuid4().hex[:6]}.db"
        else:
            name = f"evalql_bench_ingest_{os.getpid()}_{rep}"
            asyncio.run(admin(self.server, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
            try:
                yield make_url(self.server).set(drivername="postgresql+asyncpg", database=name).render_as_string(
                    hide_password=False)
            finally:
                asyncio.run(admin(self.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def prepare_database(url: str, recreate: bool) -> str:
    """Migrate the database (after dropping every table when `recreate`); returns an API key
    of its one workspace."""
    engine = create_engine(url)
    try:
        if recreate:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.drop_all)
                await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        await upgrade(engine)
        async with session_factory(engine)() as db:
            workspace = await writes.create_workspace(db, "bench")
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
    finally:
        await engine.dispose()
    return key


async def stored_counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{ALL_WORKSPACES: True})
            return ((await conn.scalar(select(func.count()).select_from(Run))) or 0,
                    (await conn.scalar(select(func.count()).select_from(Feedback))) or 0)
    finally:
        await engine.dispose()


# --- the SDK ---------------------------------------------------------------------------------------

def produce(api_url: str, key: str, traces: int, project: str) -> float:
    """Trace `traces` four-run traces with feedback through the SDK; seconds until flushed."""
    import warnings

    import langsmith
    from langsmith import traceable, tracing_context

    warnings.filterwarnings("ignore", message="Creating feedback for a run without session_id")
    client = langsmith.Client(api_url=api_url, api_key=key)

    @traceable(run_type="llm", name="llm")
    def llm(question: str) -> dict:
        return {"answer": question[::-1], "usage_metadata": {"input_tokens": 12, "output_tokens": 30,
                                                              "total_tokens": 42}}

    @traceable(run_type="tool", name="search")
    def search(question: str) -> list[str]:
        return [question] * 3

    @traceable(run_type="retriever", name="retrieve")
    def retrieve(question: str) -> list[dict]:
        return [{"page_content": f"doc {i} about {question}", "type": "Document"} for i in range(3)]

    @traceable(run_type="chain", name="pipeline")
    def pipeline(question: str) -> dict:
        retrieve(question)
        search(question)
        return llm(question)

    started = time.perf_counter()
    with tracing_context(enabled=True, client=client, project_name=project):
        for i in range(traces):
            trace_id = uuid.uuid4()
            pipeline(f"question number {i}", langsmith_extra={"run_id": trace_id, "metadata": {"model": f"m{i % 2}"}})
            client.create_feedback(run_id=trace_id, trace_id=trace_id, key="correctness", score=i % 3 == 0)
            wait_for_queue(client)
    produced = time.perf_counter() - started
    client.flush()
    # The SDK's own cost: how long the traced calls took before the wait for the server.
    print(f"  SDK tracing calls returned after {produced:.2f} s", flush=True)
    return time.perf_counter() - started


QUEUE_HIGH, QUEUE_LOW = 6_000, 2_000


def wait_for_queue(client) -> None:  # noqa: ANN001
    """Back-pressure: the SDK drops trace data once its queue holds 10,000 items, and
    this loop produces far faster than any application would, so it waits for the queue
    to drain instead of measuring the drops. (The zstd path buffers without that queue.)"""
    queue = client.tracing_queue
    if queue is not None and queue.qsize() > QUEUE_HIGH:
        while queue.qsize() > QUEUE_LOW:
            time.sleep(0.01)


@dataclass
class Captured:
    content_type: str
    content_encoding: str | None
    body: bytes


class CaptureServer:
    """A stand-in for evalql that answers `/info` as evalql does and records every request body,
    in a thread of this process (its speed does not matter: nothing is timed against it)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Captured] = []
        self.lock = threading.Lock()

    async def app(self, scope, receive, send) -> None:  # noqa: ANN001  (a bare ASGI app)
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"].removeprefix("/api/v1")
        if path == "/info":
            payload, status = orjson_dumps(info_body()), 200
        else:
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            if path == "/runs/multipart":
                with self.lock:
                    self.requests.append(Captured(headers["content-type"], headers.get("content-encoding"), body))
            payload, status = b"{}", 202
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    @contextmanager
    def running(self) -> Iterator[str]:
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                               lifespan="off", interface="asgi3"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{self.port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def orjson_dumps(value: object) -> bytes:
    import orjson

    return orjson.dumps(value)


def capture(traces: int) -> list[Captured]:
    """The SDK's multipart requests for `traces` traces, as it sends them to evalql."""
    recorder = CaptureServer()
    with recorder.running() as url:
        seconds = produce(url, "capture-key", traces, project="bench-replay")
    runs = traces * RUNS_PER_TRACE
    # The recorder shares this process (and its interpreter lock) with the SDK, so this is a
    # lower bound of what the SDK alone can produce.
    print(f"captured {len(recorder.requests)} multipart requests (~{runs / max(1, len(recorder.requests)):.0f} runs "
          f"each); the SDK with a recorder that does nothing, in one process: {runs / seconds:,.0f} runs/s", flush=True)
    return recorder.requests


async def replay(api_url: str, key: str, requests: list[Captured], concurrency: int) -> float:
    """POST the captured requests, `concurrency` at a time; seconds until all were acknowledged."""
    queue: asyncio.Queue[Captured] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            request = queue.get_nowait()
            headers = {"x-api-key": key, "content-type": request.content_type}
            if request.content_encoding:
                headers["content-encoding"] = request.content_encoding
            response = await client.post("/runs/multipart", content=request.body, headers=headers)
            if response.status_code != 202:
                raise SystemExit(f"replay: HTTP {response.status_code}: {response.text[:2000]}")

    async with httpx.AsyncClient(base_url=api_url, timeout=600) as client:
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        return time.perf_counter() - started


# --- the server ------------------------------------------------------------------------------------

class Server:
    """evalql under uvicorn in its own process, as deployed: the SDK's threads and the
    server would otherwise share one interpreter lock and slow each other down."""

    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.env = {**os.environ, "EVALQL_DATABASE_URL": url}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "evalql.app:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", os.environ.get("EVQ_LOG", "warning")], env=self.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return f"http://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.05)
        raise SystemExit("evalql did not start")

    def __exit__(self, *_exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=30)


def one_repetition(target: Target, rep: int, mode: str, traces: int, captured: list[Captured],
                   concurrency: int) -> float:
    with target.fresh(rep) as url:
        key = asyncio.run(prepare_database(url, recreate=target.database_url is not None))
        with Server(url) as api_url:
            if mode == "sdk":
                seconds = produce(api_url, key, traces, project=f"bench-{rep}")
            else:
                seconds = asyncio.run(replay(api_url, key, captured, concurrency))
        runs, feedback = asyncio.run(stored_counts(url))
    if (runs, feedback) != (traces * RUNS_PER_TRACE, traces):
        raise SystemExit(f"only {runs} runs and {feedback} feedback landed of {traces * RUNS_PER_TRACE} and {traces}")
    print(f"{target.backend} {mode} rep {rep + 1}: {runs} runs + {feedback} feedback in {seconds:.2f} s "
          f"= {runs / seconds:,.0f} runs/s", flush=True)
    return runs / seconds


def main(argv: list[str] | None = None) -> dict[tuple[str, str], float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--modes", default="sdk,replay", help="comma-separated: sdk, replay (default both)")
    parser.add_argument("--concurrency", type=int, default=2, help="replay: requests in flight (default 2)")
    parser.add_argument("--compression", choices=("zstd", "none"), default="zstd")
    parser.add_argument("--batch-ops", type=int, default=None,
                        help="operations (posts, patches, feedback) per SDK request, as the SDK's "
                             "LANGSMITH_BATCH_INGEST_SIZE_LIMIT sets it; default: what evalql's /info "
                             "advertises (100, about 45 runs). 1125 gives about 500 runs per request")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER,
                        help="where a fresh database is created (and dropped) per PostgreSQL repetition")
    parser.add_argument("--database-url", default=None,
                        help="instead, one throwaway database (its tables are dropped) for every repetition")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    backends = [b.strip() for b in args.databases.split(",") if b.strip()]
    if args.database_url:
        backends = ["postgresql" if args.database_url.startswith("postgresql") else "sqlite"]
    if not set(modes) <= {"sdk", "replay"} or not set(backends) <= {"sqlite", "postgresql"} or args.repeat < 1:
        parser.error("--modes takes sdk and replay, --databases sqlite and postgresql, --repeat is positive")
    if args.compression == "none":
        os.environ["LANGSMITH_DISABLE_RUN_COMPRESSION"] = "true"
    if args.batch_ops is not None:
        os.environ["LANGSMITH_BATCH_INGEST_SIZE_LIMIT"] = str(args.batch_ops)
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
        os.environ.pop(name, None)
    traces = max(1, args.runs // RUNS_PER_TRACE)
    medians: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="evalql-bench-ingest-") as directory:
        captured = capture(traces) if "replay" in modes else []
        for backend in backends:
            target = Target(backend, directory, args.database_url, args.postgres_server)
            for mode in modes:
                rates = [one_repetition(target, rep, mode, traces, captured, args.concurrency)
                         for rep in range(args.repeat)]
                medians[(backend, mode)] = statistics.median(rates)
    per_request = f", {args.batch_ops} operations per request" if args.batch_ops else ""
    print(f"\ningest runs/s, median of {args.repeat} ({traces * RUNS_PER_TRACE} runs, compression={args.compression}"
          f"{per_request}; sdk: end to end through the SDK; replay: the server alone, {args.concurrency} requests "
          "in flight)")
    for (backend, mode), rate in medians.items():
        print(f"  {backend:<10} {mode:<6} {rate:>8,.0f}")
    return medians


if __name__ == "__main__":
    main()
