"""503 answers of both interfaces: the server is busy (no free database connection, or
SQLite's writer lock held by another process). The client should come back rather than
be queued forever, so every such answer says when (`Retry-After`)."""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import Response

from evalql.core.json import dumps

__all__ = ["PoolTimeout", "busy_response", "pool_timeout_response"]

RETRY_AFTER_SECONDS = 1


def busy_response(detail: str) -> Response:
    return Response(dumps({"detail": detail}), 503, media_type="application/json",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def pool_timeout_response() -> Response:
    """Every database connection of this process stayed busy past the pool timeout."""
    return busy_response("The server is busy: no database connection is free. Retry shortly.")
