"""Which database a session or engine talks to, for the few choices that are not SQL.

Differences inside a statement are constructs compiled per dialect (`evalql.db.dialect`).
A handful of choices happen outside any one statement: which statements to run at all
(ANALYZE, an advisory lock or BEGIN IMMEDIATE, a writer queue), which indexes a scratch
table gets, how a connection is set up. Those ask here, so the dialect name is read in
one place only.
"""

from __future__ import annotations

from typing import Any


def _dialect_name(bind: Any) -> str:
    """`bind` is a session (sync or async), an engine or a connection."""
    engine = getattr(bind, "bind", None) or bind
    return engine.dialect.name


def is_postgresql(bind: Any) -> bool:
    return _dialect_name(bind) == "postgresql"


def is_sqlite(bind: Any) -> bool:
    return _dialect_name(bind) == "sqlite"


__all__ = ["is_postgresql", "is_sqlite"]
