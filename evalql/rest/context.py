"""Per-request database session and authenticated tenant for REST routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request

from evalql.auth import authenticate, require_write
from evalql.db.tenant import Tenant


@asynccontextmanager
async def request_tenant(request: Request, *, write: bool = False) -> AsyncIterator[Tenant]:
    async with request.app.state.db_sessions() as db:
        principal = await authenticate(db, request.headers)
        if write:
            require_write(principal)
        yield Tenant(principal.workspace_id, principal.read_only, db)
