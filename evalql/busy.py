"""503 answers of both interfaces: the server is busy (no free database connection, or
SQLite's writer lock held by another process), or the database cannot be reached (a
PostgreSQL server down or restarting, a SQLite file that cannot be opened). The client
should come back rather than be queued forever, so every such answer says when
(`Retry-After`). REST (evalql/rest/errors.py) and GraphQL (evalql/graphql_app.py) both
answer an outage (`evalql.db.outage.is_outage`) with `outage_response`."""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import Response

from evalql.core.json import dumps
from evalql.db.outage import OUTAGE_TYPES, is_outage, is_statement_timeout

__all__ = ["OUTAGE_TYPES", "PoolTimeout", "busy_response", "is_outage", "is_statement_timeout", "outage_response",
           "pool_timeout_response", "statement_timeout_detail", "statement_timeout_response"]

RETRY_AFTER_SECONDS = 1
# A server restart takes seconds: asked back sooner, clients would only find it down again.
OUTAGE_RETRY_AFTER_SECONDS = 2


def busy_response(detail: str, retry_after: int = RETRY_AFTER_SECONDS) -> Response:
    return Response(dumps({"detail": detail}), 503, media_type="application/json",
                    headers={"Retry-After": str(retry_after)})


def pool_timeout_response() -> Response:
    """Every database connection of this process stayed busy past the pool timeout."""
    return busy_response("The server is busy: no database connection is free. Retry shortly.")


def statement_timeout_response(seconds: float) -> Response:
    """A statement ran past the service's statement timeout and the database cancelled it
    (`is_statement_timeout`). 504, not 503: asking again at once would time out again; a
    narrower request may not. (GraphQL answers it as its own deadline: code TIMEOUT.)"""
    return Response(dumps({"detail": statement_timeout_detail(seconds)}), 504, media_type="application/json")


def statement_timeout_detail(seconds: float) -> str:
    return (f"A database statement ran longer than {seconds:g} s and was cancelled: ask for less "
            "(a narrower filter, a smaller page or batch)")


def outage_response() -> Response:
    return busy_response("The database is unavailable (down or restarting). Retry shortly.",
                         OUTAGE_RETRY_AFTER_SECONDS)
