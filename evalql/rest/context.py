"""Per-request database session and authenticated tenant for REST routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request

from evalql.after_response import close_later
from evalql.auth import authenticate, require_write
from evalql.db.tenant import Tenant


@asynccontextmanager
async def request_tenant(request: Request, *, write: bool = False, single_read: bool = False,
                         close_at_exit: bool = False) -> AsyncIterator[Tenant]:
    """`single_read`: the route only reads, and needs no transaction (one row by id and
    what hangs off it): its session runs each statement on its own (evalql/db/engine.py).
    The session is closed after the response is sent (evalql/after_response.py), unless
    `close_at_exit`: a route that goes on working after the block (ingest, which hands the
    body to workers that draw connections of their own) gives its connection back first."""
    state = request.app.state
    db = (state.single_read_sessions if single_read else state.db_sessions)()
    try:
        principal = await authenticate(db, request.headers)
        if write:
            require_write(principal)
        yield Tenant(principal.workspace_id, principal.read_only, db)
    finally:
        if close_at_exit:
            await db.close()
        else:
            await close_later(request.scope, db)
