"""Where ingest batches are parsed and applied: in worker processes, or in the server's own.

Parsing an ingest body (about ten JSON parts per run, each record validated by pydantic) and
building its rows is pure Python. Done in the server process, it held that process's
interpreter lock: ingest used one core however many the machine had, and while a batch was
parsed nothing else of that process ran (a group query waited behind it). Worker processes
each hold their own database engine; several batches are parsed at once, their transactions
take the ingest lock in turn (evalql/ingest/lock.py), so one batch's parse overlaps another's
write. The server process only authenticates, reads and decodes the body, and answers.

The SQL database stays the only shared state: a worker's commit bumps the change log, which
the comparison engine of every process reads (evalql/engine/sync.py), as for the CLI or
another server. A worker that dies (killed, out of memory) fails the requests it held with
`WorkerLost` (answered 503: each batch was committed whole or not at all, and applying one
again is harmless: posts merge, feedback is keyed by id) and the pool is started again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evalql.core.problems import InvalidInput, Problem
from evalql.db import rls
from evalql.db.engine import create_engine, session_factory
from evalql.ingest.lock import apply_and_commit
from evalql.ingest.wire import batch_of


def can_use_workers(database_url: str) -> bool:
    """An in-memory SQLite database exists in one process only."""
    url = make_url(database_url)
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


class WorkerLost(Exception):
    """The worker applying a batch stopped before it answered (answered 503)."""


class Ingest(Protocol):
    async def apply(self, workspace_id: uuid.UUID, route: str, body: bytes, content_type: str | None,
                    run_id: uuid.UUID | None = None) -> None:
        """Parse, validate and commit one request's decoded body; raises InvalidInput."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class InProcess:
    """Batches parsed and applied in the server process (tests, single-core machines)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def apply(self, workspace_id: uuid.UUID, route: str, body: bytes, content_type: str | None,
                    run_id: uuid.UUID | None = None) -> None:
        batch = batch_of(route, body, content_type, run_id)
        async with self.sessions() as db:
            rls.bind(db, workspace_id)  # PostgreSQL's row-level security: this workspace only
            await apply_and_commit(db, workspace_id, batch)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class Workers:
    """Batches parsed and applied in `count` worker processes."""

    def __init__(self, database_url: str, count: int, *, check_tenancy: bool = False,
                 statement_timeout: float | None = None, nice: int = 0) -> None:
        if count < 1:
            raise ValueError("Workers needs at least one worker process")
        if not 0 <= nice <= 19:  # raising a priority needs privileges: the workers would not start
            raise ValueError(f"ingest workers' niceness must be from 0 to 19, got {nice}")
        self.count, self._initargs = count, (database_url, check_tenancy, statement_timeout, nice)
        self._executor = self._new_executor()
        self._in_flight: set[Future[list[Problem] | None]] = set()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server process has threads (SQLite's connection threads, the
        # event loop's executor) whose locks a forked child would inherit held.
        return ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=self._initargs)

    async def start(self) -> None:
        """Start every worker now (each imports evalql and connects), not at the first batch."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, os.getpid) for _ in range(self.count)))

    async def apply(self, workspace_id: uuid.UUID, route: str, body: bytes, content_type: str | None,
                    run_id: uuid.UUID | None = None) -> None:
        executor = self._executor
        try:
            submitted = executor.submit(_apply_in_worker, workspace_id, route, body, content_type, run_id)
            self._in_flight.add(submitted)
            submitted.add_done_callback(self._in_flight.discard)
            problems = await asyncio.wrap_future(submitted)
        except BrokenProcessPool:
            if self._executor is executor:  # the first of its requests to notice replaces it
                self._executor = self._new_executor()
                executor.shutdown(wait=False, cancel_futures=True)
            raise WorkerLost("The ingest worker applying this batch stopped; retry it") from None
        if problems:
            raise InvalidInput(problems)

    async def close(self) -> None:
        """Idle workers finish at once. A batch still being applied belongs to a request the
        server gave up on (its graceful shutdown timed out): its worker is terminated, and
        the batch's transaction rolled back with its connection, so that the server's
        exit waits for nobody and leaves no process behind."""
        if any(not future.done() for future in self._in_flight):
            # The executor's own list of its processes: it offers no public way to stop them.
            processes = list(getattr(self._executor, "_processes", {}).values())
            self._executor.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                await asyncio.to_thread(process.join, WORKER_STOP_SECONDS)
        await asyncio.to_thread(self._executor.shutdown, True, cancel_futures=True)


def ingest_for(database_url: str, workers: int, sessions: async_sessionmaker[AsyncSession], *,
               check_tenancy: bool = False, statement_timeout: float | None = None, nice: int = 0) -> Ingest:
    """`sessions` are the server's (in-process ingest); worker processes open engines of
    their own, with the same `statement_timeout` as the server's pools, and run `nice`
    steps below the server (`Settings.ingest_nice`)."""
    if workers > 0 and can_use_workers(database_url):
        return Workers(database_url, workers, check_tenancy=check_tenancy, statement_timeout=statement_timeout,
                       nice=nice)
    return InProcess(sessions)


# --- inside a worker process -----------------------------------------------------------------------

@dataclass
class _Worker:
    loop: asyncio.AbstractEventLoop
    sessions: async_sessionmaker[AsyncSession]  # of the worker's own engine


_WORKER: _Worker | None = None


# SQLite's page cache of a worker's connection (the default is 2 MiB).
WRITER_CACHE_MIB = 64
# How long a terminated worker gets to end before the server stops waiting for it.
WORKER_STOP_SECONDS = 5.0
# How often a worker checks that the server that started it still runs.
PARENT_CHECK_SECONDS = 0.5


def _start_worker(database_url: str, check_tenancy: bool, statement_timeout: float | None, nice: int) -> None:
    global _WORKER
    # Ctrl-C reaches the whole process group; the server stops its workers itself, after
    # the batches they hold have answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Below the server: when the cores are busy, the OS runs the server's event loop (the
    # reads people wait for) before a batch's parse; idle cores still go to the workers.
    if nice:
        try:
            os.nice(nice)
        except OSError as exc:  # a sandbox that forbids it: ingest still works, at the same priority
            logging.getLogger("evalql.ingest").warning("ingest worker kept its priority: %s", exc)
    _collect_garbage_rarely()
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="evalql-parent-watch", daemon=True).start()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # One batch at a time per worker: one connection, and one spare for a retry's rollback.
    # On SQLite a larger page cache: a batch inserts into every index of `runs` at places
    # spread over it (random ids), while it holds the database's only writer lock.
    # The statement timeout is the server's: a batch is bounded in size, but a statement
    # that waits on a lock (PostgreSQL) would otherwise hold the worker, and the request,
    # without end; it is answered 504 as in the server process.
    engine = create_engine(database_url, pool_size=1, max_overflow=1, check_tenancy=check_tenancy,
                           sqlite_cache_mib=WRITER_CACHE_MIB, statement_timeout=statement_timeout)
    _WORKER = _Worker(loop, session_factory(engine))


# The cyclic garbage collector's thresholds in a worker: (allocations before a young
# collection, young collections before an older one, and so on).
GC_THRESHOLDS = (100_000, 50, 100)


def _collect_garbage_rarely() -> None:
    """Parsing a batch allocates hundreds of thousands of dicts, lists and strings, and the
    default thresholds (700 allocations) ran a collection every few hundred of them, each
    walking the batch parsed so far: a quarter of a batch's parse time, measured. A batch's
    objects hold no reference cycles, so reference counting frees them; the collector only
    has to run now and then. What was loaded at start (modules, the schema) is frozen out
    of its walks altogether."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _exit_with(parent: int) -> None:
    """A server killed outright (`kill -9`, out of memory) cannot stop its workers, and a
    worker waiting for its next batch would never notice: it holds both ends of the pipe it
    reads. So it watches for being handed to another parent, and exits; a batch it was
    applying is rolled back with its connection."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _apply_in_worker(workspace_id: uuid.UUID, route: str, body: bytes, content_type: str | None,
                     run_id: uuid.UUID | None) -> list[Problem] | None:
    """The problems of an invalid batch (as data: the server raises them), else None once
    committed. Anything else raised reaches the server as the same exception."""
    assert _WORKER is not None, "_start_worker runs first"
    try:
        _WORKER.loop.run_until_complete(InProcess(_WORKER.sessions).apply(workspace_id, route, body, content_type,
                                                                          run_id))
    except InvalidInput as exc:
        return exc.problems
    return None


__all__ = ["InProcess", "Ingest", "WorkerLost", "Workers", "can_use_workers", "ingest_for"]
