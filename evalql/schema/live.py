"""The GraphQL context of a WebSocket connection (subscriptions, evalql/graphql_ws.py).

A connection lives for hours; a database session must not. So the context holds the
connection's caller (workspace, key scope, and the key itself, re-checked while the
connection lives) and opens a database session per *scope*: one per event a subscription
emits, one per query or mutation sent over the socket. Resolvers read `info.context.tenant`
and `info.context.loaders` as over HTTP; both belong to the scope the running operation's
task has entered (a context variable: each operation runs in a task of its own, so two
operations of one connection never share a scope).

A subscription's stream enters a scope around each `yield`: graphql-core completes the
event's selection before it asks the stream for the next one, so the event's nested fields
(`session { name }`, `stats { feedbackStats { … } }`) read the same session the event was
computed in, and it is closed before the stream waits again.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers

from evalql.auth import AuthError, authenticate
from evalql.db.change_feed import ChangeFeed
from evalql.db.tenant import Tenant
from evalql.engine.answer import ComparisonEngine
from evalql.loaders import Loaders


@dataclass(frozen=True)
class Caller:
    """Who opened the connection: what `authenticate` found, and the headers it was given
    (the key), to ask again later."""

    workspace_id: uuid.UUID
    read_only: bool
    headers: Headers


class Scope:
    """A database session (opened on first use) and the loaders over it."""

    def __init__(self, caller: Caller, db_sessions: Callable[[], AsyncSession]) -> None:
        self.caller, self._db_sessions = caller, db_sessions
        self._tenant: Tenant | None = None
        self._loaders: Loaders | None = None

    @property
    def tenant(self) -> Tenant:
        if self._tenant is None:
            self._tenant = Tenant(self.caller.workspace_id, self.caller.read_only, self._db_sessions())
        return self._tenant

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.tenant)
        return self._loaders

    async def close(self) -> None:
        if self._tenant is not None:
            await self._tenant.db.close()
            self._tenant = self._loaders = None


_current: ContextVar[Scope | None] = ContextVar("evalql_live_scope", default=None)


class LiveContext:
    """What `info.context` is for operations sent over the WebSocket."""

    def __init__(self, *, db_sessions: Callable[[], AsyncSession], comparisons: ComparisonEngine,
                 changes: ChangeFeed, request: Any,
                 close: Callable[[int, str], Awaitable[None]] | None = None) -> None:
        self.db_sessions, self.comparisons, self.changes = db_sessions, comparisons, changes
        self.request, self.response = request, None
        self.connection_params: dict[str, Any] = {}  # the connection_init payload (set by Strawberry)
        self.caller: Caller | None = None  # set once the connection is acknowledged
        self.close = close  # closes the connection with a code and reason

    # -- what resolvers read, as over HTTP ----------------------------------------------

    def _scope(self) -> Scope:
        scope = _current.get()
        if scope is None:
            raise RuntimeError("no database scope entered for this operation")
        return scope

    @property
    def tenant(self) -> Tenant:
        return self._scope().tenant

    @property
    def loaders(self) -> Loaders:
        return self._scope().loaders

    # -- scopes ---------------------------------------------------------------------------

    @asynccontextmanager
    async def scope(self) -> AsyncIterator[Scope]:
        """Enter a fresh scope for the code (and the task) inside; the previous one after."""
        assert self.caller is not None
        scope = Scope(self.caller, self.db_sessions)
        previous = _current.get()
        _current.set(scope)
        try:
            yield scope
        finally:
            # `set`, not `reset`: a stream closed from elsewhere runs this in another context.
            _current.set(previous)
            await scope.close()

    async def key_is_valid(self, db: AsyncSession) -> bool:
        """The connection's key still authenticates to its workspace (not revoked)."""
        assert self.caller is not None
        try:
            principal = await authenticate(db, self.caller.headers)
        except AuthError:
            return False
        return principal.workspace_id == self.caller.workspace_id

    async def revoked(self) -> None:
        """Close the connection: its key no longer authenticates."""
        if self.close is not None:
            await self.close(4403, "Forbidden: the API key was revoked")


__all__ = ["Caller", "LiveContext", "Scope"]
