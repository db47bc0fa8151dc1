"""Per-request database session and authenticated scope for REST routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request

from evalql.auth import authenticate, require_write
from evalql.db.scope import Scope


@asynccontextmanager
async def request_scope(request: Request, *, write: bool = False) -> AsyncIterator[Scope]:
    async with request.app.state.sessions() as db:
        principal = await authenticate(db, request.headers)
        if write:
            require_write(principal)
        yield Scope(principal.workspace_id, principal.read_only, db)
