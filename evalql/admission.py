"""Admission of comparisons: a bounded number run at once, in all and per workspace.

A comparison (the group query, §6's examples with runs, an export) can take a core for a
second or more; cheap requests (`/info`, single reads, ingest) take milliseconds. Without
a bound, a few dozen comparisons at once queue the cheap requests behind them on the event
loop, the worker threads and the pool. So a comparison first takes a slot: at most
`running` at once in the process and `running_per_workspace` per workspace (one busy
workspace cannot take them all). Past that it waits in a first-come-first-served queue of
at most `waiting` requests (`waiting_per_workspace` of one workspace), each for at most
`wait` seconds; a request that finds the queue full, or waits too long, is refused with
`Overloaded`, which both interfaces answer as busy (503 and `Retry-After`; GraphQL's code
`BUSY`). Nothing else is limited here: cheap requests never take a slot, nor does a
comparison whose answer the engine already holds at the current data version (the
callers ask it first: `ComparisonEngine.cached_group_query`).

The defaults (evalql/config.py) let one comparison of a workspace run at a time, two in
all. Comparisons are CPU-bound Python and numpy under one GIL, beside the database on the
same cores: under `make bench-load` on two cores, two of one workspace at once finished no
more comparisons per second than one (37 against 36) and doubled the cheap requests'
latency (single reads p50 11 ms against 16, p99 50-68 against 73-82; bench/README.md,
"Load", session 12). Exports hold a slot until the last row is sent to a client that may
read slowly, so they have an `Admission` of their own (`kind="export"`); they take a
comparison slot too, only while their groups and run lists are computed: a workspace's
export being downloaded never holds up its comparisons.

**A slot rests before it is handed on** while other requests are being served
(`RequestsInFlight`, evalql/in_flight.py; requests of comparisons and of exports, running or
waiting, are not "other"): the next comparison in the queue starts up to `rest` times the
last one's run time after it ended (at most `MAX_REST` seconds), so that the cheap requests
run in the gap. Without a rest the queue handed the slot on at once, and under load a
comparison always ran, sharing the interpreter lock and the cores with every cheap request
(bench/README.md, session 13). The rest ends early, looked at every `REST_CHECK` seconds,
once no other request is in flight or no waiter could use the slot; with no other request
in flight (a page's two comparisons, nothing else), or no waiter this slot would let run, it
is handed on at once.

A request that must wait first gives its database connection back (`Tenant.db.commit()`
ends its read transaction; no object is expired), so the queue holds no connection that
cheap requests need.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from evalql.busy import RETRY_AFTER_SECONDS
from evalql.db.tenant import Tenant
from evalql.in_flight import RequestsInFlight

T = TypeVar("T")

MAX_REST = 1.0  # seconds
REST_CHECK = 0.02  # seconds between looks at whether a resting slot may go on early


@dataclass(frozen=True)
class Limits:
    running: int = 4
    running_per_workspace: int = 2
    waiting: int = 32
    waiting_per_workspace: int = 8
    wait: float = 30.0  # seconds in the queue before giving up
    rest: float = 0.0  # a slot's rest, times its last use, while other requests are in flight


class Overloaded(Exception):
    """Too many comparisons running and waiting: come back in `retry_after` seconds."""

    retry_after = RETRY_AFTER_SECONDS

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(eq=False)
class _Waiter:
    workspace_id: uuid.UUID
    granted: asyncio.Future[None]


class Admission:
    def __init__(self, limits: Limits, kind: str = "comparison", in_flight: RequestsInFlight | None = None,
                 alongside: tuple[Admission, ...] = ()) -> None:
        self.limits = limits
        self.kind = kind  # what a slot is for, in messages: "comparison" or "export"
        self.in_flight = in_flight  # without it (or without `limits.rest`), slots never rest
        # Admissions whose requests (running or waiting) are not "other" either: exports,
        # whose downloads are in flight for as long as a client takes to read them.
        self.alongside = alongside
        self._resting = 0  # slots held only for their rest
        self._running: Counter[uuid.UUID] = Counter()
        self._total = 0
        self._queue: deque[_Waiter] = deque()
        self._waiting: Counter[uuid.UUID] = Counter()

    @property
    def running(self) -> int:
        return self._total

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @asynccontextmanager
    async def admitted(self, tenant: Tenant, *, queue: bool = True) -> AsyncIterator[None]:
        """Holds a slot of the caller's workspace for the block; raises `Overloaded`.
        `queue=False`: only a slot free at once, for work that comes back by itself later (a
        subscription's next computation), which must not take the queue's places from
        requests. A slot is free only when no request that may run waits for it (`release`
        hands slots to the queue first)."""
        await self.acquire(tenant.workspace_id, tenant.db, queue=queue)
        started = time.monotonic()
        try:
            yield
        finally:
            self._hand_back(tenant.workspace_id, time.monotonic() - started)

    async def answered(self, tenant: Tenant, cached: Callable[[], Awaitable[T | None]],
                       compute: Callable[[], Awaitable[T]], *, queue: bool = True) -> T:
        """What `cached` holds (an answer the engine computed at this data version) at once,
        without a slot; else `compute` under a slot of the caller's workspace (`admitted`).
        Raises `Overloaded`."""
        answer = await cached()
        if answer is not None:
            return answer
        async with self.admitted(tenant, queue=queue):
            return await compute()

    async def acquire(self, workspace_id: uuid.UUID, db: AsyncSession | None = None, *, queue: bool = True) -> None:
        """A slot of the workspace, taken at once or (`queue`) after waiting; `db`, the
        caller's session, gives its connection back before waiting. Raises `Overloaded`."""
        if self._free(workspace_id):
            self._take(workspace_id)
            return
        if not queue:
            raise Overloaded(f"The server is busy: no {self.kind} slot is free. Retry shortly.")
        limits = self.limits
        if len(self._queue) >= limits.waiting or self._waiting[workspace_id] >= limits.waiting_per_workspace:
            running = f"1 {self.kind} is" if self._total == 1 else f"{self._total} {self.kind}s are"
            raise Overloaded(f"The server is busy: {running} running and {len(self._queue)} waiting. Retry shortly.")
        waiter = _Waiter(workspace_id, asyncio.get_running_loop().create_future())
        self._queue.append(waiter)
        self._waiting[workspace_id] += 1
        try:
            if db is not None:
                await db.commit()  # the connection goes back to the pool while this waits
            async with asyncio.timeout(limits.wait):
                await asyncio.shield(waiter.granted)
        except BaseException as exc:
            if waiter.granted.done():  # granted as the wait ended: hand the slot on
                self.release(workspace_id)
            else:
                waiter.granted.cancel()
                self._unqueue(waiter)
            if isinstance(exc, TimeoutError):
                raise Overloaded(f"The server is busy: no {self.kind} slot was free within {limits.wait:g} s. "
                                 "Retry shortly.") from None
            raise

    def rest_after(self, workspace_id: uuid.UUID, used: float) -> float:
        """Seconds at most that a slot of `workspace_id`, used for `used` seconds, rests
        before the queue gets it (0: none)."""
        if not self._rests(workspace_id):
            return 0.0
        return min(MAX_REST, self.limits.rest * used)

    def _rests(self, workspace_id: uuid.UUID) -> bool:
        """Whether handing on a slot of `workspace_id` waits: a waiter could use it, and other
        requests are in flight. Every comparison running (not resting) or waiting may be a
        request of its own, so "other" is what is in flight beyond them (a GraphQL request
        asking two comparisons counts once in flight: nothing other)."""
        if not (self.limits.rest and self.in_flight is not None):
            return False
        if not any(self._could_run(waiter.workspace_id, workspace_id) for waiter in self._queue):
            return False
        others = self.in_flight.count - (self._total - self._resting) - len(self._queue)
        others -= sum(admission.running + admission.waiting for admission in self.alongside)
        return others > 0

    def _could_run(self, waiting: uuid.UUID, releasing: uuid.UUID) -> bool:
        """Would the release of a slot of `releasing` let a waiter of `waiting` run?"""
        return self._running[waiting] - (waiting == releasing) < self.limits.running_per_workspace

    def _hand_back(self, workspace_id: uuid.UUID, used: float) -> None:
        rest = self.rest_after(workspace_id, used)
        if not rest:
            self.release(workspace_id)
            return
        # Still held (it counts as running) until then; the loop's timers release it even
        # if the request that used it is gone.
        self._resting += 1
        self._rest(workspace_id, asyncio.get_running_loop().time() + rest)

    def _rest(self, workspace_id: uuid.UUID, until: float) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now >= until or not self._rests(workspace_id):
            self._resting -= 1
            self.release(workspace_id)
        else:
            loop.call_later(min(REST_CHECK, until - now), self._rest, workspace_id, until)

    def release(self, workspace_id: uuid.UUID) -> None:
        self._running[workspace_id] -= 1
        if self._running[workspace_id] <= 0:
            del self._running[workspace_id]
        self._total -= 1
        self._dispatch()

    def _free(self, workspace_id: uuid.UUID) -> bool:
        return self._total < self.limits.running and self._running[workspace_id] < self.limits.running_per_workspace

    def _take(self, workspace_id: uuid.UUID) -> None:
        self._running[workspace_id] += 1
        self._total += 1

    def _unqueue(self, waiter: _Waiter) -> None:
        self._queue.remove(waiter)
        self._waiting[waiter.workspace_id] -= 1
        if self._waiting[waiter.workspace_id] <= 0:
            del self._waiting[waiter.workspace_id]

    def _dispatch(self) -> None:
        """Slots go to the first waiters that may run: in queue order, skipping those
        whose workspace is at its own limit (they keep their place)."""
        for waiter in list(self._queue):
            if self._total >= self.limits.running:
                return
            if self._free(waiter.workspace_id):
                self._unqueue(waiter)
                self._take(waiter.workspace_id)
                waiter.granted.set_result(None)
