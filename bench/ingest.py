"""Ingest throughput through the LangSmith SDK's multipart path.

    .venv/bin/python bench/ingest.py [--runs 10000] [--repeat 3] [--compression zstd|none] [--database-url URL]

Each repetition starts evalql under uvicorn (its own process) on a free local port with a fresh temporary
SQLite database (or, with --database-url, a throwaway database whose tables are
recreated), and points the official `langsmith` SDK at it. Traces of four runs (a chain
root with an llm, a tool and a retriever child) are produced with `@traceable`, and each
root gets one feedback through `create_feedback`, as `evaluate()` would. The clock runs
from the first traced call until `client.flush()` returns, i.e. until the server has
acknowledged (committed) everything; then the stored rows are counted to prove it.

Prints runs/s per repetition and the median.
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
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evalql.db import writes  # noqa: E402
from evalql.db.engine import create_engine, session_factory  # noqa: E402
from evalql.db.migrate import upgrade  # noqa: E402
from evalql.db.models import Base, Feedback, Run  # noqa: E402

RUNS_PER_TRACE = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def fresh_database(url: str | None, directory: str, rep: int) -> tuple[str, str]:
    """(database URL, API key) of an empty, migrated database with one workspace."""
    url = url or f"sqlite+aiosqlite:///{directory}/ingest-{rep}.db"
    engine = create_engine(url)
    if url.startswith("postgresql"):
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await upgrade(engine)
    async with session_factory(engine)() as db:
        workspace = await writes.create_workspace(db, "bench")
        key = await writes.create_api_key(db, workspace.id)
        await db.commit()
    await engine.dispose()
    return url, key


async def stored_counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    async with session_factory(engine)() as db:
        found = (await db.scalar(select(func.count()).select_from(Run)),
                 await db.scalar(select(func.count()).select_from(Feedback)))
    await engine.dispose()
    return found


def produce(api_url: str, key: str, traces: int, project: str) -> float:
    """Trace `traces` four-run traces with feedback through the SDK; seconds until flushed."""
    import langsmith
    from langsmith import traceable, tracing_context

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compression", choices=("zstd", "none"), default="zstd")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.compression == "none":
        os.environ["LANGSMITH_DISABLE_RUN_COMPRESSION"] = "true"
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
        os.environ.pop(name, None)
    traces = max(1, args.runs // RUNS_PER_TRACE)
    rates = []
    with tempfile.TemporaryDirectory(prefix="evalql-bench-ingest-") as directory:
        for rep in range(args.repeat):
            url, key = asyncio.run(fresh_database(args.database_url, directory, rep))
            with Server(url) as api_url:
                seconds = produce(api_url, key, traces, project=f"bench-{rep}")
            runs, feedback = asyncio.run(stored_counts(url))
            if (runs, feedback) != (traces * RUNS_PER_TRACE, traces):
                raise SystemExit(f"only {runs} runs and {feedback} feedback landed of "
                                 f"{traces * RUNS_PER_TRACE} and {traces}")
            rates.append(runs / seconds)
            print(f"rep {rep + 1}: {runs} runs + {feedback} feedback in {seconds:.2f} s = {runs / seconds:,.0f} runs/s",
                  flush=True)
    backend = "PostgreSQL" if (args.database_url or "").startswith("postgresql") else "SQLite"
    print(f"median over {len(rates)}: {statistics.median(rates):,.0f} runs/s "
          f"({backend}, SDK multipart, compression={args.compression})")


if __name__ == "__main__":
    main()
