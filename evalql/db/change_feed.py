"""Waking long-lived readers (GraphQL subscriptions) when a workspace's data changed.

A write may be committed by any process (another server process, an ingest worker, the
CLI), so the signal comes from the database, never from this process's memory:
* PostgreSQL: migration 0005 makes every raise of a workspace's data version send
  `NOTIFY evalql_changes, '<workspace id>'` at commit. One connection per process (opened
  when the first watcher appears, reopened if lost) LISTENs and wakes that workspace's
  watchers.
* SQLite: no notifications exist; a task reads the version row of each watched workspace
  (one indexed read) every `poll_interval` seconds and wakes its watchers when it moved.

A wake-up is a hint, not a fact: the reader then reads the version itself
(`changes.current_version`) and decides whether anything it shows changed. Hints may be
spurious (a reconnected listener wakes everyone) but are never missing while the feed
runs; readers also wake at a timeout of their own choosing, which bounds the damage of a
lost connection. A watcher made before the reader's first read cannot miss a change
committed after that read: the listener or poller wakes every watcher once when it
starts or reconnects, and the poller wakes one when it first sees its workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from evalql.db.backend import is_postgresql
from evalql.db.changes import current_version
from evalql.db.outage import is_outage

log = logging.getLogger("evalql.changes")

CHANNEL = "evalql_changes"  # migration 0005
POLL_INTERVAL = 0.25  # seconds between SQLite polls
RECONNECT_DELAY = 1.0  # seconds before the PostgreSQL listener connects again


class Watch:
    """One reader's interest in one workspace: `wait` returns when a change may have
    happened since the last `wait` returned (or since the watch was made)."""

    def __init__(self, feed: ChangeFeed, workspace_id: uuid.UUID) -> None:
        self.feed, self.workspace_id = feed, workspace_id
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken (the wake-up is consumed), False after `timeout` seconds."""
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the
        # event is set, and the cancelled reader would wait again instead of ending.
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError:
            return False
        self._event.clear()
        return True

    def close(self) -> None:
        self.feed._remove(self)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ChangeFeed:
    """One per server process (`app.state.changes`)."""

    def __init__(self, engine: AsyncEngine, db_sessions: Callable[[], AsyncSession], *,
                 poll_interval: float = POLL_INTERVAL) -> None:
        self.engine, self.db_sessions, self.poll_interval = engine, db_sessions, poll_interval
        self._watches: dict[uuid.UUID, set[Watch]] = {}
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()  # PostgreSQL: the LISTEN connection is up

    def watch(self, workspace_id: uuid.UUID) -> Watch:
        watch = Watch(self, workspace_id)
        self._watches.setdefault(workspace_id, set()).add(watch)
        if self._task is None or self._task.done():
            run = self._listen if is_postgresql(self.engine) else self._poll
            self._task = asyncio.create_task(run(), name="evalql-change-feed")
        return watch

    def _remove(self, watch: Watch) -> None:
        found = self._watches.get(watch.workspace_id)
        if found is not None:
            found.discard(watch)
            if not found:
                del self._watches[watch.workspace_id]

    def _wake(self, workspace_id: uuid.UUID) -> None:
        for watch in self._watches.get(workspace_id, ()):
            watch.wake()

    def _wake_all(self) -> None:
        for workspace_id in list(self._watches):
            self._wake(workspace_id)

    # -- SQLite --------------------------------------------------------------------------

    async def _poll(self) -> None:
        """Ends when nobody watches (the next watch starts it again)."""
        seen: dict[uuid.UUID, int] = {}
        while self._watches:
            try:
                async with self.db_sessions() as db:
                    for workspace_id in list(self._watches):
                        version = (await current_version(db, workspace_id)).version
                        if seen.get(workspace_id) != version:
                            seen[workspace_id] = version
                            self._wake(workspace_id)
            except Exception as exc:  # an outage is one line per poll, without a traceback
                log.warning("reading data versions for subscriptions failed: %s", exc, exc_info=not is_outage(exc))
            for gone in seen.keys() - self._watches.keys():
                del seen[gone]
            await asyncio.sleep(self.poll_interval)

    # -- PostgreSQL ----------------------------------------------------------------------

    async def _listen(self) -> None:
        """LISTEN on a connection of its own (not one of the pool's), for the life of the feed."""
        engine = create_async_engine(self.engine.url, poolclass=NullPool)
        try:
            while True:
                try:
                    await self._listen_once(engine)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # An outage is expected while the database restarts: one line, no traceback.
                    log.warning("the change listener's connection failed; reconnecting: %s", exc,
                                exc_info=not is_outage(exc))
                self.listening.clear()
                self._wake_all()  # notifications may have been lost meanwhile
                await asyncio.sleep(RECONNECT_DELAY)
        finally:
            await engine.dispose()

    async def _listen_once(self, engine: AsyncEngine) -> None:
        lost = asyncio.Event()

        def notified(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                workspace_id = uuid.UUID(payload)
            except ValueError:
                return
            self._wake(workspace_id)

        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            raw.add_termination_listener(lambda _conn: lost.set())
            await raw.add_listener(CHANNEL, notified)
            self.listening.set()
            self._wake_all()  # changes committed before LISTEN took effect
            try:
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(30):
                            await lost.wait()
                    if not lost.is_set():
                        await raw.execute("SELECT 1")  # notice a dead connection (asyncpg sees it on use)
            finally:
                with contextlib.suppress(Exception):
                    await raw.remove_listener(CHANNEL, notified)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


__all__ = ["CHANNEL", "ChangeFeed", "Watch"]
