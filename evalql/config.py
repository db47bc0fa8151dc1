"""Runtime configuration, read from the environment (and overridden by CLI flags)."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from platformdirs import user_cache_dir, user_data_dir
from sqlalchemy.engine import make_url

T = TypeVar("T")


def default_database_url() -> str:
    path = Path(user_data_dir("evalql", appauthor=False)) / "evalql.db"
    return f"sqlite+aiosqlite:///{path}"


# Past this many, more ingest workers only wait for the ingest lock (one transaction at a
# time per workspace) while holding memory and database connections.
MAX_INGEST_WORKERS = 4


def default_ingest_workers() -> int:
    """One ingest worker per core, none on a single core (they would only add a hand-over)."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, MAX_INGEST_WORKERS)


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: os._Environ[str], name: str, default: int) -> int:
    return _parsed(env, name, default, int, "an integer")


def _float(env: os._Environ[str], name: str, default: float) -> float:
    return _parsed(env, name, default, float, "a number")


def _niceness(env: os._Environ[str], name: str, default: int) -> int:
    # Only lower: raising a process's priority above the server's needs privileges.
    value = _int(env, name, default)
    if not 0 <= value <= 19:
        raise ValueError(f"{name} must be from 0 to 19, got {value}")
    return value


def _non_negative(env: os._Environ[str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not 0 <= value < math.inf:  # NaN too
        raise ValueError(f"{name} must be a finite number, 0 or more, got {value}")
    return value


def _parsed(env: os._Environ[str], name: str, default: T, parse: Callable[[str], T], what: str) -> T:
    """`name`'s value read by `parse`; `default` when unset or blank."""
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return parse(value)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    graphiql: bool = True
    introspection: bool = True
    # Connection pool (PostgreSQL): per process; several workers multiply it.
    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout: float = 10.0  # seconds a request waits for a connection before a 503
    # Check every statement for its workspace condition (evalql/db/tenancy_check.py).
    # A debugging aid, off by default: the test suite runs every statement under the
    # check already, and in production it would add a walk of each statement's tree
    # to every execution and turn any false positive into a 500.
    check_tenancy: bool = False
    # The comparison engine's state (evalql/engine), per process: past this estimate the
    # least recently compared workspaces are dropped (and rebuilt when compared again).
    engine_memory_mb: int = 1024
    # Change-log entries older than this are deleted; a process idle for longer rebuilds.
    change_log_horizon: int = 600  # seconds
    # Where the engine keeps snapshots of its state for a fast restart: a directory, "off",
    # or None for the default (next to a SQLite file; the user's cache dir for PostgreSQL).
    engine_snapshots: str | None = None
    # Processes that parse and apply ingest batches (evalql/ingest/workers.py); 0: in the
    # server process. From the environment the default is one per core (up to 4).
    ingest_workers: int = 0
    # How much lower the OS schedules ingest workers than the server (their niceness, 0-19;
    # 0: the same). Ingest is throughput work that a client retries; the server process
    # answers reads, whose latency someone waits for. With equal shares on a busy machine the
    # workers' parsing took CPU from the server's event loop (bench/README.md, session 13).
    ingest_nice: int = 10
    # `evalql serve`: how long a SIGTERM/SIGINT waits for requests in flight before it cuts
    # them (their transactions roll back), and how long a connection may take to send a
    # request's headers (evalql/header_timeout.py).
    graceful_timeout: float = 30.0
    header_timeout: float = 10.0
    # GraphQL over HTTP: an operation whose estimated answer (objects, evalql/schema/cost.py)
    # is over this is refused before it runs; one that runs longer than this many seconds is
    # cancelled, its SQL with it, and answered 504 (evalql/graphql_app.py).
    graphql_max_cost: int = 25_000
    graphql_timeout: float = 30.0
    # A statement of the service that runs longer than this many seconds is stopped (0:
    # never), PostgreSQL's by its `statement_timeout`, SQLite's by the driver's progress
    # handler, and the request is answered 504 (evalql/db/outage.py::is_statement_timeout):
    # a safety net for what no other limit bounds (a filter that scans every run's JSON). Far
    # above any statement of a comparison at W(100k), so it only cuts what is runaway.
    statement_timeout: float = 120.0
    # A request body must arrive within `body_timeout` seconds plus one second per
    # `body_min_rate` bytes received, else 408 (evalql/body_limits.py): it is read whole
    # before any database connection is drawn, so a slow or stalled upload costs a socket.
    body_timeout: float = 10.0
    body_min_rate: int = 8192  # bytes per second
    # Comparisons (group queries, §6 dataset runs; evalql/admission.py) running at once, in
    # all and per workspace; past them up to `comparison_queue` wait (at most
    # `comparison_workspace_queue` of one workspace), each at most `comparison_wait` seconds;
    # beyond, 503 with Retry-After. Cheap requests never wait for them. Exports have slots
    # of their own (`exports`, `exports_per_workspace`) and queues of the same sizes.
    comparisons: int = 2
    comparisons_per_workspace: int = 1
    exports: int = 2
    exports_per_workspace: int = 1
    comparison_queue: int = 32
    comparison_workspace_queue: int = 8
    comparison_wait: float = 30.0
    # While comparisons are queued and other HTTP requests are in flight, a comparison's slot
    # rests up to this many times its run time (at most 1 s) before the next one starts, so
    # that those requests run in the gap (evalql/admission.py); 0: never rests.
    comparison_rest: float = 1.0
    # PostgreSQL: `evalql migrate` (and `keys list|revoke`) connect with the admin URL, the
    # tables' owner, when it is set; `serve` connects with `database_url` as the service's
    # role, which migrate makes and row-level security binds (evalql/db/roles.py). An empty
    # role name leaves roles alone (a DBA manages them).
    admin_database_url: str | None = None
    app_role: str = "evalql_app"
    app_password: str | None = None
    gc_tuning: bool = True  # freeze start-up's objects and collect less often (evalql/gc_tuning.py)

    def snapshot_directory(self) -> Path | None:
        if self.engine_snapshots == "off":
            return None
        if self.engine_snapshots:
            return Path(self.engine_snapshots)
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            return Path(f"{url.database}.engine") if url.database and url.database != ":memory:" else None
        # One directory per database: a hash of its URL (password left out).
        name = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
        return Path(user_cache_dir("evalql", appauthor=False)) / "engine" / name

    @classmethod
    def from_env(cls, database_url: str | None = None) -> Settings:
        env = os.environ
        return cls(
            database_url=database_url or env.get("EVALQL_DATABASE_URL") or default_database_url(),
            cors_origins=_csv(env.get("EVALQL_CORS_ORIGINS")),
            graphiql=_flag(env.get("EVALQL_GRAPHIQL"), True),
            introspection=_flag(env.get("EVALQL_INTROSPECTION"), True),
            pool_size=_int(env, "EVALQL_POOL_SIZE", 10),
            max_overflow=_int(env, "EVALQL_POOL_MAX_OVERFLOW", 10),
            pool_timeout=float(_int(env, "EVALQL_POOL_TIMEOUT", 10)),
            check_tenancy=_flag(env.get("EVALQL_CHECK_TENANCY"), False),
            engine_memory_mb=_int(env, "EVALQL_ENGINE_MEMORY_MB", 1024),
            change_log_horizon=_int(env, "EVALQL_CHANGE_LOG_HORIZON", 600),
            engine_snapshots=env.get("EVALQL_ENGINE_SNAPSHOTS") or None,
            ingest_workers=_int(env, "EVALQL_INGEST_WORKERS", default_ingest_workers()),
            ingest_nice=_niceness(env, "EVALQL_INGEST_NICE", 10),
            graceful_timeout=_float(env, "EVALQL_GRACEFUL_TIMEOUT", 30.0),
            header_timeout=_float(env, "EVALQL_HEADER_TIMEOUT", 10.0),
            graphql_max_cost=_int(env, "EVALQL_GRAPHQL_MAX_COST", 25_000),
            graphql_timeout=_float(env, "EVALQL_GRAPHQL_TIMEOUT", 30.0),
            statement_timeout=_float(env, "EVALQL_STATEMENT_TIMEOUT", 120.0),
            body_timeout=_float(env, "EVALQL_BODY_TIMEOUT", 10.0),
            body_min_rate=_int(env, "EVALQL_BODY_MIN_RATE", 8192),
            comparisons=_int(env, "EVALQL_COMPARISONS", 2),
            comparisons_per_workspace=_int(env, "EVALQL_COMPARISONS_PER_WORKSPACE", 1),
            exports=_int(env, "EVALQL_EXPORTS", 2),
            exports_per_workspace=_int(env, "EVALQL_EXPORTS_PER_WORKSPACE", 1),
            comparison_queue=_int(env, "EVALQL_COMPARISON_QUEUE", 32),
            comparison_workspace_queue=_int(env, "EVALQL_COMPARISON_WORKSPACE_QUEUE", 8),
            comparison_wait=_float(env, "EVALQL_COMPARISON_WAIT", 30.0),
            comparison_rest=_non_negative(env, "EVALQL_COMPARISON_REST", 1.0),
            admin_database_url=env.get("EVALQL_ADMIN_DATABASE_URL") or None,
            app_role=env.get("EVALQL_APP_ROLE", "evalql_app").strip(),
            app_password=env.get("EVALQL_APP_PASSWORD") or None,
            gc_tuning=_flag(env.get("EVALQL_GC_TUNING"), True),
        )
