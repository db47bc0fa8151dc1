"""Counting the SQL statements a request sends (graphql.md §2: the count must not grow with the data)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


def engine_of(owner: Any) -> Any:
    """The sync engine behind an app (`app.state.engine`) or an `Api` fixture (its session factory)."""
    state = getattr(owner, "state", None)
    engine = state.engine if state is not None else owner.app_engine or owner.db_sessions.kw["bind"]
    return engine.sync_engine


def engines_of(owner: Any) -> list[Any]:
    """`engine_of`, and the app's engine of single reads where it has one of its own
    (PostgreSQL: evalql/db/engine.py `single_read_engine`)."""
    state = getattr(owner, "state", None)
    reads = state.single_read_engine if state is not None else getattr(owner, "app_read_engine", None)
    engines = [engine_of(owner)]
    if reads is not None and reads.sync_engine is not engines[0]:
        engines.append(reads.sync_engine)
    return engines


@contextmanager
def listening(owner: Any, name: str, listener: Callable[..., Any]) -> Iterator[None]:
    """`listener` on the event `name` of every engine of the app, while open."""
    engines = engines_of(owner)
    for engine in engines:
        event.listen(engine, name, listener)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, name, listener)


@contextmanager
def counting(owner: Any) -> Iterator[list[str]]:
    """Collects every statement sent to the database while open."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if context is not None and context.execution_options.get("evalql_background"):
            return  # the server's background work (pruning the change log), not a request's
        statements.append(statement)

    with listening(owner, "before_cursor_execute", before):
        yield statements


@contextmanager
def capturing(owner: Any) -> Iterator[list[tuple[str, Any]]]:
    """Collects every statement sent to the database while open, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if context is not None and context.execution_options.get("evalql_background"):
            return  # the server's background work (pruning the change log), not a request's
        sent.append((statement, parameters))

    with listening(owner, "before_cursor_execute", before):
        yield sent
