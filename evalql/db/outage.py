"""Is the database unreachable? One test for every caller that must tell an outage (a
PostgreSQL server down or restarting, a SQLite file that cannot be opened) from a statement
the database refused: the interfaces answer it 503 (evalql/busy.py), background loops
(the change feed, the log pruner) log it as one line and retry."""

from __future__ import annotations

import errno
import socket
import sqlite3
from collections.abc import Callable
from types import TracebackType

import asyncpg
from sqlalchemy.exc import DBAPIError

__all__ = ["OUTAGE_TYPES", "is_outage", "is_statement_timeout"]

# What an outage is raised as: SQLAlchemy's wrapping of a driver error, or (when a new
# connection is opened: the pool's pre-ping found the old one dead) the driver's or the
# socket's own error, unwrapped. `is_outage` decides; these only route the exception to it.
OUTAGE_TYPES: tuple[type[Exception], ...] = (
    DBAPIError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)

# SQLSTATE class 08 (connection exception) and the server's own shutdown and start-up:
# 57P01 admin shutdown (a fast stop terminates sessions), 57P02 crash shutdown, 57P03
# cannot connect now (starting up or shutting down).
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03")
_NETWORK_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE,
                             errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.ENOTCONN})
# SQLite: the file (or its directory, its WAL) cannot be opened or read: a disk or mount
# problem an operator fixes while the server runs, not a fault of the request.
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error")


def is_outage(exc: BaseException | None) -> bool:
    """Whether `exc` (or what it wraps) says the database could not be reached or dropped
    the connection, as opposed to refusing a statement."""
    return _any_in_chain(exc, _one_is_outage)


# SQLSTATE 57014, query_canceled: PostgreSQL cancelled the statement, past the service's
# `statement_timeout` (evalql/db/engine.py::create_engine) or on an operator's request.
# SQLite says "interrupted".
_QUERY_CANCELED = "57014"


def is_statement_timeout(exc: BaseException | None) -> bool:
    """Whether `exc` (or what it wraps) is a statement the database cancelled: the request
    asked for more work than the service allows one statement (a 504, not a fault). On
    SQLite, a statement interrupted (db/sqlite_driver.py's deadline, or db/interrupt.py's)."""
    return _any_in_chain(exc, lambda one: getattr(one, "sqlstate", None) == _QUERY_CANCELED or (
        isinstance(one, sqlite3.OperationalError) and str(one) == "interrupted"))


def _any_in_chain(exc: BaseException | None, test: Callable[[BaseException], bool]) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if test(exc):
            return True
        orig = getattr(exc, "orig", None)
        exc = orig if isinstance(orig, BaseException) else (exc.__cause__ or exc.__context__)
    return False


def _one_is_outage(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # asyncpg's errors carry their SQLSTATE, and so do SQLAlchemy's adaptations of them (which
    # is all that is left of the chain once an ingest worker's error is pickled to the server).
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate.startswith(_OUTAGE_SQLSTATES)
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc) or "connection was closed" in str(exc)
    if isinstance(exc, asyncpg.InternalClientError):
        # A connection that broke in the middle of an operation is left in that state:
        # the next use says "cannot switch to state …; another operation is in progress".
        return "another operation is in progress" in str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower().startswith(_SQLITE_UNAVAILABLE)
    if isinstance(exc, TimeoutError):  # a connection attempt that timed out, not any timeout
        return _raised_in_driver(exc.__traceback__)
    if isinstance(exc, (ConnectionError, socket.gaierror)):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def _raised_in_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        if "/asyncpg/" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False
