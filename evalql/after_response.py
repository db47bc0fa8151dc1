"""Closing a request's database session after its response is sent, not before.

Closing a session ends what is left of its transaction: on PostgreSQL a ROLLBACK, a
round trip to the database, which under load waits its turn on the event loop behind
every other ready request. The response does not depend on it, so the client need not
wait for it: a route hands its session to `close_later`, and `AfterResponse`, around the
whole app, closes it once the app has sent the response (or failed). Writes are
committed by the routes themselves, before they answer; nothing a client was told
is left to this.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

_SESSIONS = "evalql.close_after_response"  # scope: the sessions AfterResponse closes

log = logging.getLogger("evalql.http")


class AfterResponse:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sessions: list[AsyncSession] = []
        scope[_SESSIONS] = sessions  # inner middleware copy the scope: the list is shared
        try:
            await self.app(scope, receive, send)
        finally:
            for session in sessions:
                await _close(session)


async def close_later(scope: Scope, session: AsyncSession) -> None:
    """`session` closed after the response when `AfterResponse` serves the request, else now."""
    sessions = scope.get(_SESSIONS)
    if sessions is None:
        await _close(session)
    else:
        sessions.append(session)


async def _close(session: AsyncSession) -> None:
    # Shielded, as AsyncSession's own `async with` does: a cancelled request (a client gone,
    # a timeout) still returns its connection clean instead of leaving it mid-statement.
    try:
        await asyncio.shield(asyncio.ensure_future(session.close()))
    except Exception:  # the response is out: the failure is the server's to log
        log.exception("closing a request's database session failed")
