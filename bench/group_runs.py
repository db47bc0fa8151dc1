"""Latency of `POST /api/v1/datasets/{id}/group/runs` over the workload W(N).

    .venv/bin/python bench/group_runs.py [--databases sqlite,postgresql] [--sizes 1000,10000,100000]
                                         [--requests 20] [--reuse DIR] [--load-only] [--database-url URL]

For each database and N: load W(N) (bench/workload.py) into a fresh database, create a
workspace and an API key, start the ASGI app in-process (its lifespan, then httpx's
ASGITransport: no network, no server), and time the grouped endpoint grouped by run metadata
`model` and by example metadata `difficulty`: one warm-up request, then `--requests` timed ones.

SQLite gets a new temporary file per N; PostgreSQL a database made for the run on
`--postgres-server` (dropped afterwards), whose tables are recreated per N. With
--database-url, that database is used instead and its tables are dropped, so point it at a
throwaway one. With --load-only it only loads W(N) per size and prints the load rate (runs/s),
which must not fall as N grows.

p90 is the nearest-rank percentile: the ceil(0.9 * n)-th smallest time.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from naive import naive_group_stats  # noqa: E402
from postgres import POSTGRES_SERVER, postgres_database  # noqa: E402
from workload import load_workload, workload_dataset_name  # noqa: E402

from evalql.app import create_app  # noqa: E402
from evalql.config import Settings  # noqa: E402
from evalql.db import writes  # noqa: E402
from evalql.db.engine import create_engine, session_factory  # noqa: E402
from evalql.db.migrate import upgrade  # noqa: E402
from evalql.db.models import Base, Dataset, Run, TracerSession, Workspace  # noqa: E402
from evalql.db.tenant import readable  # noqa: E402

DEFAULT_SIZES = "1000,10000,100000"
GROUPINGS = (("run_metadata", "model", 2), ("example_metadata", "difficulty", 3))  # (group_by, key, groups in W(N))


@dataclass
class Row:
    backend: str
    n: int
    grouping: str
    groups: int
    build_ms: float  # first request of the first server: the engine builds its state from the tables
    cold_ms: float  # first request after a restart (state restored from its snapshot), median of RESTARTS
    write_p50_ms: float  # right after a new feedback on a compared session
    write_p90_ms: float
    repeat_p50_ms: float  # the same request again, data unchanged
    repeat_p90_ms: float
    graphql_write_p50_ms: float  # groupRuns with the REST answer's fields, right after a write
    filtered_write_p50_ms: float  # one per-session filter, right after a write
    deltas_write_p50_ms: float  # with baseline deltas (the first session), right after a write
    deltas_plain_p50_ms: float  # the same request without, timed in turn with it
    naive_median_ms: float
    load_s: float
    rss_mb: float  # this process (the server) after the requests: engine state included


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


async def reuse(url: str, n: int) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], str, float] | None:
    """W(n) as an earlier `--reuse` run left it in this database (workspace `bench-{n}`), with a
    new API key; None when it is not there. Load seconds are NaN: nothing was loaded."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            try:
                workspace = await db.scalar(select(Workspace).where(Workspace.name == f"bench-{n}"))
            except DBAPIError:  # no schema yet
                return None
            if workspace is None:
                return None
            dataset_id = await db.scalar(readable(workspace.id, Dataset, Dataset.id)
                                         .where(Dataset.name == workload_dataset_name(n)))
            sessions = (await db.execute(readable(workspace.id, TracerSession, TracerSession.id)
                                         .where(TracerSession.reference_dataset_id == dataset_id)
                                         .order_by(TracerSession.start_time))).scalars().all()
            if dataset_id is None or len(sessions) != 4:
                return None
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
            return workspace.id, dataset_id, list(sessions), key, math.nan
    finally:
        await engine.dispose()


async def prepare(url: str, n: int, keep: bool = False) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], str, float]:
    """A fresh schema holding W(n); returns workspace id, dataset id, session ids, API key and
    load seconds. With `keep`, W(n) loaded into this database by an earlier run is used as it is."""
    if keep and (found := await reuse(url, n)) is not None:
        return found
    engine = create_engine(url)
    try:
        if not keep:  # kept workloads of other sizes stay; each has its own workspace
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


RESTARTS = 3
FILTER = "gt(latency, 1)"
RUN_FIELDS = ("id name runType status startTime endTime latency firstTokenTime inputs outputs error extra tags "
              "events traceId dottedOrder parentRunId totalTokens promptTokens completionTokens totalCost "
              "promptCost completionCost appPath")
FEEDBACK_STATS = "feedbackStats { key n avg stdev min max errors values { value count } comments }"
GRAPHQL = f"""query($ds: UUID!, $input: GroupRunsInput!) {{ groupRuns(datasetId: $ds, input: $input) {{
  groupKey filter count exampleCount totalTokens promptTokens completionTokens totalCost promptCost completionCost
  minStartTime maxStartTime latencyP50 latencyP99 errorRate {FEEDBACK_STATS}
  sessions {{ session {{ id name description startTime endTime extra }} filter runCount exampleCount latencyP50
    latencyP99 firstTokenP50 firstTokenP99 totalTokens promptTokens completionTokens totalCost promptCost
    completionCost errorRate streamingRate minStartTime maxStartTime {FEEDBACK_STATS}
    sessionFeedbackStats {{ key n avg }} testRunNumber }}
  examples {{ example {{ id name inputs outputs metadata createdAt modifiedAt }}
    runs {{ {RUN_FIELDS} {FEEDBACK_STATS} feedbacks {{ id key score value comment }} }} }} }} }}"""


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Bench:
    """One W(N) database, a server app over it, and the requests of the benchmark."""

    def __init__(self, client: httpx.AsyncClient | None, key: str, dataset_id: uuid.UUID, session_ids: list[uuid.UUID],
                 root_run_ids: list[uuid.UUID]) -> None:
        self.client, self.key, self.dataset_id = client, key, dataset_id
        self.session_ids, self.root_run_ids = session_ids, root_run_ids
        self.writes = 0

    def body(self, group_by: str, key: str, filtered: bool = False, deltas: bool = False) -> dict:
        body: dict = {"session_ids": [str(s) for s in self.session_ids], "group_by": group_by, "metadata_key": key,
                      "limit": 10, "per_group_limit": 5}
        if filtered:
            body["filters"] = {str(self.session_ids[0]): [FILTER]}
        if deltas:
            body["baseline_session_id"] = str(self.session_ids[0])
        return body

    async def rest(self, body: dict, expected_groups: int) -> float:
        started = time.perf_counter()
        assert self.client is not None
        response = await self.client.post(f"/api/v1/datasets/{self.dataset_id}/group/runs", json=body,
                                          headers={"X-API-Key": self.key})
        elapsed = (time.perf_counter() - started) * 1000
        groups = len((response.json() if response.status_code == 200 else {}).get("groups") or [])
        if response.status_code != 200 or groups != expected_groups:
            fail(f"{body['group_by']}/{body['metadata_key']}: HTTP {response.status_code}, {groups} groups "
                 f"(expected {expected_groups}): {response.text[:2000]}")
        return elapsed

    async def graphql(self, body: dict, expected_groups: int) -> float:
        variables = {"ds": str(self.dataset_id), "input": {
            "sessionIds": body["session_ids"], "groupBy": body["group_by"].upper(), "metadataKey": body["metadata_key"],
            "limit": body["limit"], "perGroupLimit": body["per_group_limit"]}}
        started = time.perf_counter()
        assert self.client is not None
        response = await self.client.post("/graphql", json={"query": GRAPHQL, "variables": variables},
                                          headers={"X-API-Key": self.key})
        elapsed = (time.perf_counter() - started) * 1000
        payload = response.json()
        if payload.get("errors") or len(payload["data"]["groupRuns"]) != expected_groups:
            fail(f"GraphQL groupRuns: {response.text[:2000]}")
        return elapsed

    async def write(self) -> None:
        """A new feedback on a root run of the first compared session: the data changed."""
        self.writes += 1
        assert self.client is not None
        run_id = self.root_run_ids[(self.writes * 7919) % len(self.root_run_ids)]
        response = await self.client.post("/api/v1/feedback", headers={"X-API-Key": self.key}, json={
            "run_id": str(run_id), "key": "bench_note", "score": self.writes % 2})
        if response.status_code != 200:
            fail(f"POST /feedback: HTTP {response.status_code}: {response.text[:500]}")


async def timed(requests: int, call, before=None) -> list[float]:
    """`requests` timings of `call`, after one untimed warm-up; `before` runs untimed each time."""
    times = []
    for i in range(requests + 1):
        if before is not None:
            await before()
        elapsed = await call()
        if i:
            times.append(elapsed)
    return times


async def timed_pair(requests: int, first, second, before) -> tuple[list[float], list[float]]:
    """`timed` of two calls in turn, `before` (untimed) ahead of each. Which goes first
    alternates: consecutive writes differ (they land on runs of alternating groups, whose
    recomputation costs differ at W(100k)), so a fixed order would hand one call every
    costlier case."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(requests + 1):
        order = ((first, times[0]), (second, times[1]))
        for call, found in (order if i % 2 == 0 else order[::-1]):
            await before()
            elapsed = await call()
            if i:
                found.append(elapsed)
    return times


async def measure(url: str, backend: str, n: int, requests: int, keep: bool = False) -> list[Row]:
    workspace_id, dataset_id, session_ids, key, load_s = await prepare(url, n, keep)
    if math.isnan(load_s):
        print(f"{backend} W({n}): reusing the workload loaded by an earlier run", flush=True)
    else:
        print(f"{backend} W({n}): loaded {8 * n} runs and {8 * n} feedback in {load_s:.1f} s", flush=True)
    root_run_ids = await first_session_roots(url, workspace_id, session_ids[0])
    rows = []
    for group_by, metadata_key, expected_groups in GROUPINGS:
        row = await measure_grouping(url, backend, n, requests, Bench(None, key, dataset_id, session_ids, root_run_ids),
                                     workspace_id, load_s, group_by, metadata_key, expected_groups)
        rows.append(row)
        print(f"{backend} W({n}) {row.grouping}: first build {row.build_ms:.0f} ms; restart {row.cold_ms:.0f} ms; "
              f"after a write p50 {row.write_p50_ms:.1f} ms "
              f"p90 {row.write_p90_ms:.1f} ms; repeated p50 {row.repeat_p50_ms:.1f} ms; GraphQL "
              f"{row.graphql_write_p50_ms:.1f} ms; filtered {row.filtered_write_p50_ms:.1f} ms; with deltas "
              f"{row.deltas_write_p50_ms:.1f} ms (without {row.deltas_plain_p50_ms:.1f}); naive SQL "
              f"{row.naive_median_ms:.1f} ms; RSS {row.rss_mb:.0f} MB", flush=True)
    return rows


async def measure_grouping(url: str, backend: str, n: int, requests: int, bench: Bench, workspace_id: uuid.UUID,
                           load_s: float, group_by: str, metadata_key: str, expected_groups: int) -> Row:
    plain = bench.body(group_by, metadata_key)
    filtered = bench.body(group_by, metadata_key, filtered=True)
    with_deltas = bench.body(group_by, metadata_key, deltas=True)
    cold = []
    for _ in range(RESTARTS + 1):  # a new app each time; the first builds its state, later ones restore it
        async with serving(url) as bench.client:
            cold.append(await bench.rest(plain, expected_groups))
    build, cold = cold[0], cold[1:]
    async with serving(url) as bench.client:
        # REST and GraphQL after a write alternate, so that both see the same state of the
        # server (its data grows by a feedback per write) and the same noise of the machine.
        after_write, graphql = await timed_pair(requests, lambda: bench.rest(plain, expected_groups),
                                                lambda: bench.graphql(plain, expected_groups), bench.write)
        repeated = await timed(requests, lambda: bench.rest(plain, expected_groups))
        with_filter = await timed(requests, lambda: bench.rest(filtered, expected_groups), bench.write)
        deltas_plain, deltas = await timed_pair(requests, lambda: bench.rest(plain, expected_groups),
                                                lambda: bench.rest(with_deltas, expected_groups), bench.write)
        rss = rss_mb()
    naive = await time_naive(url, requests, workspace_id, bench.dataset_id, bench.session_ids, group_by,
                             metadata_key, expected_groups)
    return Row(backend, n, f"{group_by}:{metadata_key}", expected_groups, build, statistics.median(cold),
               statistics.median(after_write), nearest_rank(after_write, 0.9), statistics.median(repeated),
               nearest_rank(repeated, 0.9), statistics.median(graphql), statistics.median(with_filter),
               statistics.median(deltas), statistics.median(deltas_plain), statistics.median(naive), load_s, rss)


@asynccontextmanager
async def serving(url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            yield client


async def first_session_roots(url: str, workspace_id: uuid.UUID, session_id: uuid.UUID) -> list[uuid.UUID]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            stmt = readable(workspace_id, Run, Run.id).where(Run.session_id == session_id, Run.is_root.is_(True))
            return list((await conn.execute(stmt)).scalars())
    finally:
        await engine.dispose()


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


def added(row: Row) -> float:
    """What baseline deltas add to the request, in % of the same request without."""
    return 100 * (row.deltas_write_p50_ms / row.deltas_plain_p50_ms - 1)


def print_table(rows: list[Row], requests: int) -> None:
    print(f"\ngroup/runs latency in ms: {requests} timed requests after 1 warm-up (p90 = nearest rank)")
    print("build: first request of the first server (state built from the tables); restart: first request of a "
          "restarted server (median of 3);")
    print("write: right after a new feedback; repeat: same request, data unchanged;")
    print("graphql: groupRuns with the REST answer's fields, after a write; filtered: one per-session filter, "
          "after a write;")
    print("deltas: with baseline_session_id (the first session), after a write, timed in turn with the same request "
          "without (+%: what deltas add)")
    print("naive: the same statistics by hand-written SQL (bench/naive.py), no page; rss: server process, MB")
    header = (f"{'db':<10} {'N':>7}  {'grouping':<28} {'groups':>6} {'build':>8} {'restart':>7} "
              f"{'write p50':>9} {'p90':>7} "
              f"{'repeat p50':>10} {'p90':>6} {'graphql':>8} {'filtered':>8} {'deltas':>7} {'+%':>7} {'naive':>7} "
              f"{'load s':>7} {'rss':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.backend:<10} {r.n:>7}  {r.grouping:<28} {r.groups:>6} {r.build_ms:>8.1f} {r.cold_ms:>7.1f} "
              f"{r.write_p50_ms:>9.1f} "
              f"{r.write_p90_ms:>7.1f} {r.repeat_p50_ms:>10.1f} {r.repeat_p90_ms:>6.1f} "
              f"{r.graphql_write_p50_ms:>8.1f} {r.filtered_write_p50_ms:>8.1f} {r.deltas_write_p50_ms:>7.1f} "
              f"{added(r):>+6.0f}% {r.naive_median_ms:>7.1f} {r.load_s:>7.1f} {r.rss_mb:>6.0f}")


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both); PostgreSQL gets a database made "
                             "for the run on --postgres-server, dropped afterwards")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER,
                        help=f"where the PostgreSQL database is made (default {POSTGRES_SERVER})")
    parser.add_argument("--database-url",
                        help="instead of --databases: this throwaway database (its tables are dropped)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated N values (default {DEFAULT_SIZES})")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per grouping (default 20)")
    parser.add_argument("--reuse", metavar="DIR",
                        help="keep each W(N) (SQLite: DIR/bench-N.db; PostgreSQL: database evalql_bench_kept, or "
                             "the --database-url one) and reuse it on the next run instead of loading it again")
    parser.add_argument("--load-only", action="store_true",
                        help="only load W(N) into a fresh schema per size (one transaction) and print the rate")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    backends = [b.strip() for b in args.databases.split(",") if b.strip()]
    if args.database_url:
        backends = ["postgresql" if args.database_url.startswith("postgresql") else "sqlite"]
    if args.requests < 1 or not sizes or min(sizes) < 1:
        parser.error("--requests and every size must be positive")
    if not backends or not set(backends) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite and postgresql")

    rows: list[Row] = []
    keep = args.reuse is not None
    with tempfile.TemporaryDirectory(prefix="evalql-bench-") as tmp:
        directory = Path(args.reuse) if keep else Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            async with database_of(backend, args, directory, keep) as url:
                for n in sizes:
                    size_url = url or f"sqlite+aiosqlite:///{directory / f'bench-{n}.db'}"
                    if args.load_only:
                        # The write path's cost per run must not grow with the table (nor depend on the
                        # planner's statistics, which a fresh schema loaded in one transaction lacks).
                        *_, load_s = await prepare(size_url, n, keep=keep)
                        print(f"{backend} W({n}): {8 * n} runs and {8 * n} feedback loaded in {load_s:.1f} s "
                              f"= {8 * n / load_s:,.0f} runs/s", flush=True)
                        continue
                    rows += await measure(size_url, backend, n, args.requests, keep=keep)
    if not args.load_only:
        print_table(rows, args.requests)


@asynccontextmanager
async def database_of(backend: str, args: argparse.Namespace, directory: Path, keep: bool
                      ) -> AsyncIterator[str | None]:
    """The backend's URL for this run (None for SQLite: one file per size in `directory`)."""
    if args.database_url:
        yield args.database_url
    elif backend == "sqlite":
        yield None
    else:
        name = "evalql_bench_kept" if keep else f"evalql_bench_{os.getpid()}"
        async with postgres_database(args.postgres_server, name, keep=keep) as url:
            yield url


if __name__ == "__main__":
    asyncio.run(main())
