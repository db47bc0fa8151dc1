"""Latency of `POST /api/v1/datasets/{id}/group/runs` over the workload W(N).

    .venv/bin/python bench/group_runs.py [--database-url URL] [--sizes 1000,10000] [--requests 20] [--load-only]

For each N: load W(N) (bench/workload.py) into a fresh database, create a workspace and an
API key, start the ASGI app in-process (its lifespan, then httpx's ASGITransport: no
network, no server), and time the grouped endpoint grouped by run metadata `model` and by
example metadata `difficulty`: one warm-up request, then `--requests` timed ones.

With --load-only it only loads W(N) per size and prints the load rate (runs/s), which must not
fall as N grows. Without --database-url each N gets a new temporary SQLite file. With one, every table is
dropped and recreated before each N, so point it at a throwaway database.

p90 is the nearest-rank percentile: the ceil(0.9 * n)-th smallest time.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from naive import naive_group_stats  # noqa: E402
from workload import load_workload  # noqa: E402

from evalql.app import create_app  # noqa: E402
from evalql.config import Settings  # noqa: E402
from evalql.db import writes  # noqa: E402
from evalql.db.engine import create_engine, session_factory  # noqa: E402
from evalql.db.migrate import upgrade  # noqa: E402
from evalql.db.models import Base  # noqa: E402

GROUPINGS = (("run_metadata", "model", 2), ("example_metadata", "difficulty", 3))  # (group_by, key, groups in W(N))


@dataclass
class Row:
    n: int
    grouping: str
    median_ms: float
    p90_ms: float
    load_s: float
    groups: int
    naive_median_ms: float = math.nan


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


async def prepare(url: str, n: int) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], str, float]:
    """A fresh schema holding W(n); returns workspace id, dataset id, session ids, API key and
    load seconds."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        await upgrade(engine)  # the schema as `evalql migrate` makes it
        async with session_factory(engine)() as db:
            workspace = await writes.create_workspace(db, f"bench-{n}")
            key = await writes.create_api_key(db, workspace.id)
            started = time.perf_counter()
            workload = await load_workload(db, workspace.id, n)
            await db.commit()
            load_s = time.perf_counter() - started
        if engine.dialect.name == "postgresql":
            # What autovacuum would do a minute after a bulk load: fresh planner statistics.
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return workspace.id, workload.dataset_id, workload.session_ids, key, load_s


def fail(message: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


async def measure(url: str, n: int, requests: int) -> list[Row]:
    workspace_id, dataset_id, session_ids, key, load_s = await prepare(url, n)
    print(f"W({n}): loaded {8 * n} runs and {8 * n} feedback in {load_s:.1f} s", flush=True)
    app = create_app(Settings(database_url=url))
    rows = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            for group_by, metadata_key, expected_groups in GROUPINGS:
                body = {"session_ids": [str(s) for s in session_ids], "group_by": group_by,
                        "metadata_key": metadata_key, "limit": 10, "per_group_limit": 5}
                path = f"/api/v1/datasets/{dataset_id}/group/runs"
                times, groups = [], 0
                for i in range(requests + 1):
                    started = time.perf_counter()
                    response = await client.post(path, json=body, headers={"X-API-Key": key})
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        fail(f"W({n}) {group_by}/{metadata_key}: HTTP {response.status_code}: {response.text[:2000]}")
                    groups = len(response.json().get("groups") or [])
                    if groups != expected_groups:
                        fail(f"W({n}) {group_by}/{metadata_key}: {groups} groups, expected {expected_groups}: "
                             f"{response.text[:2000]}")
                    if i > 0:  # the first request is the warm-up
                        times.append(elapsed * 1000)
                naive = await time_naive(url, requests, workspace_id, dataset_id, session_ids, group_by,
                                         metadata_key, expected_groups)
                rows.append(Row(n, f"{group_by}:{metadata_key}", statistics.median(times),
                                nearest_rank(times, 0.9), load_s, groups, statistics.median(naive)))
                print(f"W({n}) {rows[-1].grouping}: median {rows[-1].median_ms:.1f} ms, "
                      f"p90 {rows[-1].p90_ms:.1f} ms, naive SQL {rows[-1].naive_median_ms:.1f} ms", flush=True)
    return rows


async def time_naive(url: str, requests: int, workspace_id: uuid.UUID, dataset_id: uuid.UUID,
                     session_ids: list[uuid.UUID], group_by: str, key: str, expected_groups: int) -> list[float]:
    """The naive floor (bench/naive.py) on the same data: one warm-up, then timed runs."""
    engine = create_engine(url)
    times = []
    try:
        async with engine.connect() as conn:
            for i in range(requests + 1):
                started = time.perf_counter()
                found = await naive_group_stats(conn, workspace_id, dataset_id, session_ids, group_by, key)
                elapsed = time.perf_counter() - started
                if len({value for value, _ in found}) != expected_groups:
                    fail(f"naive {group_by}/{key}: {len(found)} parts, expected {expected_groups} groups")
                if i > 0:
                    times.append(elapsed * 1000)
    finally:
        await engine.dispose()
    return times


def print_table(rows: list[Row], requests: int) -> None:
    print(f"\ngroup/runs latency, {requests} timed requests after 1 warm-up (p90 = nearest rank)")
    print("naive ms: the same statistics by hand-written SQL (bench/naive.py), no page of examples")
    header = (f"{'N':>7}  {'grouping':<28} {'groups':>6} {'median ms':>10} {'p90 ms':>8} {'naive ms':>9} "
              f"{'load s':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.n:>7}  {r.grouping:<28} {r.groups:>6} {r.median_ms:>10.1f} {r.p90_ms:>8.1f} "
              f"{r.naive_median_ms:>9.1f} {r.load_s:>7.1f}")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url",
                        help="a throwaway database (its tables are dropped); default: temp SQLite per size")
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N values (default 1000,10000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per grouping (default 20)")
    parser.add_argument("--load-only", action="store_true",
                        help="only load W(N) into a fresh schema per size (one transaction) and print the rate")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.requests < 1 or not sizes or min(sizes) < 1:
        parser.error("--requests and every size must be positive")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="evalql-bench-") as tmp:
        for n in sizes:
            url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / f'bench-{n}.db'}"
            if args.load_only:
                # The write path's cost per run must not grow with the table (nor depend on the
                # planner's statistics, which a fresh schema loaded in one transaction lacks).
                *_, load_s = await prepare(url, n)
                print(f"W({n}): {8 * n} runs and {8 * n} feedback loaded in {load_s:.1f} s "
                      f"= {8 * n / load_s:,.0f} runs/s", flush=True)
                continue
            rows += await measure(url, n, args.requests)
    if args.load_only:
        return
    print_table(rows, args.requests)


if __name__ == "__main__":
    asyncio.run(main())
