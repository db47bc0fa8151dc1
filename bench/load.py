"""`make bench-load`: many clients at once against a real server, for a fixed time.

`--clients` (default 32) closed-loop clients (httpx, async, one process) each send request
after request, drawn at random by weight from three classes:

- comparisons: REST group/runs (grouped by run metadata `model` or example metadata
  `difficulty`, a random page), REST `POST /datasets/{id}/runs` (§6, a random page) and
  GraphQL `groupRuns` (the fields of a comparison page);
- single reads: `GET /info`, and `GET` a run, a session, a dataset;
- ingest: `POST /runs/batch` of 20 new root runs (a new experiment on the dataset, so every
  batch changes the workspace's data version and the next comparison recomputes).

A 503 (the server is busy, evalql/admission.py) is counted apart, as deliberate, and its
client waits `Retry-After` as a well-behaved client does; any other status that is not 2xx,
and any transport error, is an error. Prints throughput, p50/p99 per class (nearest rank,
milliseconds, measured around the whole request), errors by status, and the server's RSS at
the start, middle and end of the run.

The server is started by the script (uvicorn in a subprocess, settings from the environment
as `evalql serve` reads them) over W(`--examples`) (bench/workload.py) loaded into a
temporary SQLite file, or into `--database-url` (a new workspace; nothing is dropped, but
the database must be one the script may write to). `--url` and `--key` use a running
server instead, whose first dataset with sessions is compared (its RSS with `--server-pid`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import build_workload, load_records  # noqa: E402

from evalql import gc_tuning  # noqa: E402
from evalql.db import writes  # noqa: E402
from evalql.db.engine import create_engine, session_factory  # noqa: E402
from evalql.db.migrate import upgrade  # noqa: E402

RUN_FIELDS = "id name runType status startTime endTime latency totalTokens totalCost error"
FEEDBACK_STATS = "feedbackStats { key n avg stdev }"
GROUP_RUNS = f"""query($ds: UUID!, $input: GroupRunsInput!) {{ groupRuns(datasetId: $ds, input: $input) {{
  groupKey filter count exampleCount totalTokens totalCost latencyP50 latencyP99 errorRate {FEEDBACK_STATS}
  sessions {{ session {{ id name }} runCount exampleCount latencyP50 latencyP99 totalTokens totalCost errorRate
    {FEEDBACK_STATS} }}
  examples {{ example {{ id inputs outputs metadata }} runs {{ {RUN_FIELDS} {FEEDBACK_STATS} }} }} }} }}"""
# (kind, class, weight): a client's next request is drawn by weight.
MIX = (
    ("group/runs", "comparison", 10), ("graphql groupRuns", "comparison", 8), ("dataset runs", "comparison", 6),
    ("info", "info", 15), ("run", "single read", 15), ("session", "single read", 10),
    ("dataset", "single read", 10), ("runs/batch", "ingest", 12),
)
CLASSES = ("comparison", "info", "single read", "ingest")
BATCH_RUNS = 20


@dataclass
class Target:
    url: str
    key: str
    dataset_id: str
    session_ids: list[str]
    run_ids: list[str]
    example_ids: list[str]
    server_pid: int | None = None


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # by kind, 2xx only
    busy: Counter[str] = field(default_factory=Counter)  # 503s by kind
    errors: Counter[str] = field(default_factory=Counter)  # by "kind status"
    statuses: Counter[str] = field(default_factory=Counter)  # errors by status alone


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else math.nan


def rss_mb(pid: int | None) -> tuple[float, float] | None:
    """(the server process, its children: the ingest workers, or with --server-workers the
    server processes and theirs) in MB, from /proc."""
    if pid is None:
        return None

    def one(p: int) -> float:
        try:
            with open(f"/proc/{p}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            return 0.0

    def children(p: int) -> list[int]:
        found: list[int] = []
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    found += [int(c) for c in f.read().split()]
        except OSError:
            pass
        return found + [d for c in found for d in children(c)]

    return one(pid), sum(one(c) for c in children(pid))


def parse_mix(text: str | None) -> dict[str, float]:
    """`kind=weight,...` over MIX's defaults (0 leaves a kind out)."""
    weights = {kind: float(weight) for kind, _, weight in MIX}
    for part in (text or "").split(","):
        if part.strip():
            kind, _, weight = part.partition("=")
            if kind.strip() not in weights:
                raise SystemExit(f"--mix: unknown kind {kind.strip()!r}; kinds: {', '.join(weights)}")
            weights[kind.strip()] = float(weight)
    return weights


class Client:
    def __init__(self, http: httpx.AsyncClient, target: Target, tally: Tally, rng: random.Random,
                 mix: dict[str, float] | None = None, think: float = 0.0) -> None:
        self.http, self.target, self.tally, self.rng, self.think = http, target, tally, rng, think
        self.headers = {"X-API-Key": target.key}
        mix = mix or parse_mix(None)
        self.kinds = [k for k, w in mix.items() if w > 0]
        self.weights = [mix[k] for k in self.kinds]
        self.requests: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
            "group/runs": self.group_runs, "graphql groupRuns": self.graphql_group_runs,
            "dataset runs": self.dataset_runs, "info": lambda: self.http.get("/info"),
            "run": lambda: self.get("runs", self.target.run_ids),
            "session": lambda: self.get("sessions", self.target.session_ids),
            "dataset": lambda: self.get("datasets", [self.target.dataset_id]), "runs/batch": self.batch,
        }

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            if self.think:  # a pause before each request, drawn around the mean (clients out of step)
                await asyncio.sleep(self.rng.uniform(0, 2 * self.think))
            kind = self.rng.choices(self.kinds, self.weights)[0]
            started = time.perf_counter()
            try:
                response = await self.requests[kind]()
            except httpx.HTTPError as exc:
                self.tally.errors[f"{kind} {type(exc).__name__}"] += 1
                self.tally.statuses[type(exc).__name__] += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 503:
                self.tally.busy[kind] += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            elif response.status_code >= 300 or (kind == "graphql groupRuns" and response.json().get("errors")):
                code = str(response.status_code)
                if kind == "graphql groupRuns" and response.status_code < 300:
                    code = response.json()["errors"][0].get("extensions", {}).get("code", "GraphQL error")
                    if code == "BUSY":  # the same as a 503 of REST
                        self.tally.busy[kind] += 1
                        await asyncio.sleep(1)
                        continue
                self.tally.errors[f"{kind} {code}"] += 1
                self.tally.statuses[code] += 1
                if len(self.tally.errors) <= 3 and sum(self.tally.errors.values()) <= 3:
                    print(f"  error: {kind} {code}: {response.text[:300]}", file=sys.stderr)
            else:
                self.tally.latencies[kind].append(elapsed)

    def get(self, what: str, ids: list[str]) -> Awaitable[httpx.Response]:
        return self.http.get(f"/api/v1/{what}/{self.rng.choice(ids)}", headers=self.headers)

    def group_body(self) -> dict:
        by_model = self.rng.random() < 0.5
        return {"session_ids": self.target.session_ids, "group_by": "run_metadata" if by_model else "example_metadata",
                "metadata_key": "model" if by_model else "difficulty", "limit": 10,
                "per_group_limit": self.rng.choice((5, 10)), "offset": 0}

    def group_runs(self) -> Awaitable[httpx.Response]:
        return self.http.post(f"/api/v1/datasets/{self.target.dataset_id}/group/runs", json=self.group_body(),
                              headers=self.headers)

    def graphql_group_runs(self) -> Awaitable[httpx.Response]:
        body = self.group_body()
        variables = {"ds": self.target.dataset_id, "input": {
            "sessionIds": body["session_ids"], "groupBy": body["group_by"].upper(), "metadataKey": body["metadata_key"],
            "limit": body["limit"], "perGroupLimit": body["per_group_limit"]}}
        return self.http.post("/graphql", json={"query": GROUP_RUNS, "variables": variables}, headers=self.headers)

    def dataset_runs(self) -> Awaitable[httpx.Response]:
        body = {"session_ids": self.target.session_ids, "offset": self.rng.randrange(0, 500), "limit": 20}
        return self.http.post(f"/api/v1/datasets/{self.target.dataset_id}/runs", json=body, headers=self.headers)

    def batch(self) -> Awaitable[httpx.Response]:
        now = dt.datetime.now(dt.UTC)
        runs = []
        for _ in range(BATCH_RUNS):
            run_id = str(uuid.uuid4())
            runs.append({
                "id": run_id, "name": "load", "run_type": "chain", "session_name": "bench-load-ingest",
                "start_time": now.isoformat(), "end_time": (now + dt.timedelta(seconds=1)).isoformat(),
                "inputs": {"question": "load?"}, "outputs": {"answer": "yes"},
                "reference_example_id": self.rng.choice(self.target.example_ids),
                "extra": {"metadata": {"model": "load"}},
            })
        return self.http.post("/api/v1/runs/batch", json={"post": runs, "patch": []}, headers=self.headers)


def report(tally: Tally, seconds: float, rss: list[tuple[str, tuple[float, float] | None]]) -> None:
    by_class: dict[str, list[float]] = defaultdict(list)
    busy_by_class: Counter[str] = Counter()
    errors_by_class: Counter[str] = Counter()
    for kind, klass, _ in MIX:
        by_class[klass] += tally.latencies[kind]
        busy_by_class[klass] += tally.busy[kind]
        errors_by_class[klass] += sum(n for k, n in tally.errors.items() if k.startswith(kind + " "))
    rows = [(kind, tally.latencies[kind], tally.busy[kind],
             sum(n for k, n in tally.errors.items() if k.startswith(kind + " "))) for kind, _, _ in MIX]
    rows += [(f"[{klass}]", by_class[klass], busy_by_class[klass], errors_by_class[klass]) for klass in CLASSES]
    everything = [v for values in tally.latencies.values() for v in values]
    rows.append(("[all]", everything, sum(tally.busy.values()), sum(tally.errors.values())))
    print(f"{'':20} {'ok':>7} {'ok/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'503':>6} {'errors':>6}")
    for name, values, busy, errors in rows:
        print(f"{name:20} {len(values):7} {len(values) / seconds:7.1f} {nearest_rank(values, 0.5):8.1f} "
              f"{nearest_rank(values, 0.99):8.1f} {max(values, default=math.nan):8.1f} {busy:6} {errors:6}")
    print(f"errors by status: {dict(tally.statuses) or 'none'}; deliberate 503s (busy): {sum(tally.busy.values())}")
    parts = []
    for label, value in rss:
        parts.append(f"{label} {value[0]:.0f} MB (+ child processes {value[1]:.0f} MB)" if value else f"{label} ?")
    print("server RSS: " + ", ".join(parts))


async def drive(target: Target, clients: int, seconds: float, seed: int, mix: dict[str, float],
                think: float) -> None:
    # Idle connections are dropped before the server would close them (uvicorn: 5 s, httpx's
    # default expiry too): at equal timeouts a request can go out on a connection the server
    # is closing, which fails as a ReadError that is the race's, not the server's.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=target.url, timeout=60, limits=limits) as http:
        warm = Client(http, target, Tally(), random.Random(seed))
        for kind in ("group/runs", "graphql groupRuns", "dataset runs"):  # the engine builds its state
            for _ in range(30 if mix[kind] else 0):
                response = await warm.requests[kind]()
                if response.status_code != 503:  # busy: another run's clients are at it
                    break
                await asyncio.sleep(1)
            else:
                continue
            if response.status_code != 200:
                raise SystemExit(f"warm-up failed: HTTP {response.status_code}: {response.text[:500]}")
        # A full collection of this process (100-170 ms with what loading the workload left)
        # would be counted in the latency of every request in flight: its collector is tuned
        # as the server's is (evalql/gc_tuning.py).
        gc_tuning.tune()
        tally = Tally()
        rss = [("start", rss_mb(target.server_pid))]
        until = time.monotonic() + seconds
        tasks = [asyncio.create_task(Client(http, target, tally, random.Random(seed + i), mix, think).run(until))
                 for i in range(clients)]
        lag = asyncio.create_task(loop_lag(until))
        await asyncio.sleep(seconds / 2)
        rss.append(("middle", rss_mb(target.server_pid)))
        await asyncio.gather(*tasks)
        rss.append(("end", rss_mb(target.server_pid)))
    report(tally, seconds, rss)
    lags = await lag
    print(f"client loop lag: p50 {nearest_rank(lags, 0.5):.1f}, p99 {nearest_rank(lags, 0.99):.1f}, "
          f"max {max(lags, default=math.nan):.1f} ms (this script's own event loop, behind the server on the "
          "same machine: a response waits that long to be read, and its latency above includes it)")


async def loop_lag(until: float, every: float = 0.01) -> list[float]:
    """How late this process's event loop wakes a 10 ms sleep, in ms, sampled until `until`."""
    lags = []
    while time.monotonic() < until:
        started = time.perf_counter()
        await asyncio.sleep(every)
        lags.append(max(0.0, (time.perf_counter() - started - every) * 1000))
    return lags


async def prepare(database_url: str, n: int) -> tuple[str, str, list[str], list[str], list[str]]:
    """W(n) in a new workspace of the database (migrated first); (key, dataset id, session
    ids, root run ids, example ids)."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        records = build_workload(n)
        async with session_factory(engine)() as db:
            workspace = await writes.create_workspace(db, f"bench-load-{uuid.uuid4().hex[:8]}")
            key = await writes.create_api_key(db, workspace.id)
            workload = await load_records(db, workspace.id, records)
            await db.commit()
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:  # fresh statistics, as autovacuum would take them
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    roots = [str(r["id"]) for r in records.runs if r.get("parent_run_id") is None]
    return (key, str(workload.dataset_id), [str(s) for s in workload.session_ids], roots,
            [str(e["id"]) for e in records.examples])


async def discover(url: str, key: str) -> Target:
    """A running server's first dataset that has sessions, those sessions (up to 4) and some runs."""
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
        for dataset in (await http.get("/api/v1/datasets", params={"limit": 100})).json():
            sessions = (await http.get("/api/v1/sessions", params={"reference_dataset": dataset["id"]})).json()
            if sessions:
                break
        else:
            raise SystemExit("no dataset with sessions on that server")
        session_ids = [s["id"] for s in sessions[:4]]
        runs = (await http.post("/api/v1/runs/query", json={"session": session_ids, "is_root": True,
                                                              "limit": 100})).json()["runs"]
        examples = (await http.get("/api/v1/examples", params={"dataset": dataset["id"], "limit": 100})).json()
    return Target(url, key, dataset["id"], session_ids, [r["id"] for r in runs], [e["id"] for e in examples])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, port: int, tmp: str, workers: int) -> subprocess.Popen[bytes]:
    # Engine snapshots in the run's temporary directory (not the user's cache), unless set.
    env = {"EVALQL_ENGINE_SNAPSHOTS": f"{tmp}/engine", **os.environ, "EVALQL_DATABASE_URL": database_url}
    if workers > 1:  # as README's production setup advises: one ingest worker per server process
        env.setdefault("EVALQL_INGEST_WORKERS", "1")
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "evalql.app:create_app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
                             "--workers", str(workers)], env=env)


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode})")
        try:
            if httpx.get(f"{url}/info", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--examples", type=int, default=1000, help="N of W(N) (default 1000)")
    parser.add_argument("--database-url", default=None,
                        help="load W(N) into a new workspace of this database (default: a temporary SQLite file)")
    parser.add_argument("--server-database-url", default=None,
                        help="the URL the server connects with, if not --database-url's (PostgreSQL: the service "
                             "role `evalql migrate` made, e.g. postgresql+asyncpg://evalql_app@127.0.0.1/DB, so that "
                             "row-level security binds it as in production)")
    parser.add_argument("--url", default=None, help="a running server instead (with --key)")
    parser.add_argument("--key", default=None)
    parser.add_argument("--server-pid", type=int, default=None, help="with --url: the server's pid, for its RSS")
    parser.add_argument("--server-workers", type=int, default=1,
                        help="uvicorn --workers of the server the script starts (default 1, as `evalql serve`)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a client pauses before each request (default 0: back to back)")
    parser.add_argument("--mix", default=None, help="weights by kind over the defaults, e.g. 'runs/batch=0,info=30'")
    args = parser.parse_args()
    mix = parse_mix(args.mix)
    if args.url:
        if not args.key:
            parser.error("--url needs --key")
        target = asyncio.run(discover(args.url.rstrip("/"), args.key))
        target.server_pid = args.server_pid
        print(f"evalql load: {args.clients} clients, {args.seconds:g} s, against {target.url}")
        asyncio.run(drive(target, args.clients, args.seconds, args.seed, mix, args.think))
        return
    with tempfile.TemporaryDirectory(prefix="evalql-load-") as tmp:
        database_url = args.database_url or f"sqlite+aiosqlite:///{tmp}/load.db"
        started = time.perf_counter()
        key, dataset_id, session_ids, run_ids, example_ids = asyncio.run(prepare(database_url, args.examples))
        backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        print(f"evalql load: W({args.examples}) loaded into {backend} in {time.perf_counter() - started:.1f} s; "
              f"{args.clients} clients for {args.seconds:g} s")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(args.server_database_url or database_url, port, tmp, args.server_workers)
        try:
            wait_until_up(url, server)
            print(f"evalql load: server pid {server.pid} at {url}", file=sys.stderr)
            target = Target(url, key, dataset_id, session_ids, run_ids, example_ids, server.pid)
            asyncio.run(drive(target, args.clients, args.seconds, args.seed, mix, args.think))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
