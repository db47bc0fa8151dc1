"""PostgreSQL: a pooled connection is pinged before use only if it has been idle.

A connection the server closed (a restart, an idle timeout, a network cut) must be replaced
before a request draws it, not fail the request: that is SQLAlchemy's `pool_pre_ping`. But
its ping costs three round trips on asyncpg (BEGIN, an empty statement, ROLLBACK: the
dialect wraps it in a transaction for pgbouncer), on every checkout: under load that was
half a millisecond of the event loop per request and three of a single read's eight round
trips, each waiting behind everything else the loop had to do.

A connection checked in less than `PING_AFTER_IDLE_SECONDS` ago has just answered a
statement, so it is handed out as it is; one idle for longer (or never checked in) is pinged
as before. A failed ping invalidates the whole pool, as `pool_pre_ping` does: after a restart
every older connection is dead too. What this gives up is the ping of a connection that died
within the last second, whose request then fails as one running at that moment would have
(503, evalql/db/outage.py), and whose error discards the pool's connections.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError

PING_AFTER_IDLE_SECONDS = 1.0
_LAST_USED = "evalql_last_used"  # in the pool record's info: time.monotonic() of the last check-in


def install(engine: Any) -> None:
    """On a PostgreSQL engine (created without `pool_pre_ping`, which would ping as well)."""
    sync_engine = getattr(engine, "sync_engine", engine)
    event.listen(sync_engine, "connect", _just_used)
    event.listen(sync_engine, "checkin", _checked_in)
    event.listen(sync_engine, "checkout", _checked_out)


def _just_used(dbapi_connection: Any, record: Any) -> None:
    record.info[_LAST_USED] = time.monotonic()  # a new connection: it has just answered


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    if dbapi_connection is not None:  # None: invalidated on the way back
        record.info[_LAST_USED] = time.monotonic()


def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    last_used = record.info.get(_LAST_USED)
    if last_used is not None and time.monotonic() - last_used < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as exc:
        # The pool discards this connection and every older one, and draws a new one.
        raise InvalidatePoolError(f"ping failed: {exc}") from exc
