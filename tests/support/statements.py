"""Counting the SQL statements a request sends (graphql.md §2: the count must not grow with the data)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


def engine_of(owner: Any) -> Any:
    """The sync engine behind an app (`app.state.engine`) or an `Api` fixture (its session factory)."""
    state = getattr(owner, "state", None)
    engine = state.engine if state is not None else owner.app_engine or owner.db_sessions.kw["bind"]
    return engine.sync_engine


@contextmanager
def counting(owner: Any) -> Iterator[list[str]]:
    """Collects every statement sent to the database while open."""
    statements: list[str] = []
    engine = engine_of(owner)

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if context is not None and context.execution_options.get("evalql_background"):
            return  # the server's background work (pruning the change log), not a request's
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@contextmanager
def capturing(owner: Any) -> Iterator[list[tuple[str, Any]]]:
    """Collects every statement sent to the database while open, with its parameters."""
    sent: list[tuple[str, Any]] = []
    engine = engine_of(owner)

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if context is not None and context.execution_options.get("evalql_background"):
            return  # the server's background work (pruning the change log), not a request's
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)
