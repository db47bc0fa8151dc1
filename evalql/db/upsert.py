"""INSERT … ON CONFLICT DO UPDATE for both dialects.

SQLite (3.24+) and PostgreSQL spell upserts the same way, but SQLAlchemy exposes them
through each dialect's own `insert` construct; this picks the right one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import arrays, values_pages
from evalql.db.backend import is_postgresql
from evalql.db.tenant import Owner, owned_rows


async def upsert(db: AsyncSession, owner: Owner, model: Any, rows: list[dict[str, Any]], *,
                 key: Sequence[str]) -> None:
    """Insert the owner's `rows`; a row whose `key` columns exist already replaces the
    stored values of the columns it carries (the key columns excepted). The key starts
    with workspace_id, so a conflict can only be with a row of the same workspace.

    Rows carrying the same columns go as one statement (PostgreSQL: one array per column,
    evalql/db/arrays.py; SQLite: multi-row pages of up to 1000 rows), not one execution
    per row: PostgreSQL fires the change-log triggers (migration 0003) once per execution,
    and SQLite journals the index pages each execution of a statement with triggers touches.
    A statement cannot update one row twice on PostgreSQL, so of rows with the same key the
    last one is kept: applied one by one, it would have replaced every column the earlier
    ones set (they carry the same ones)."""
    if "workspace_id" not in key:
        raise ValueError("an upsert key of a tenant table includes workspace_id")
    if not rows:
        return
    rows = owned_rows(owner, rows)
    on_postgresql = is_postgresql(db)
    # One statement per distinct column set: each needs its own SET list.
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    for columns, batch in by_columns.items():
        last = list({tuple(row[k] for k in key): row for row in batch}.values())  # first-seen order, last wins
        if on_postgresql:
            names = tuple(_column_name(model, name) for name in columns)
            await db.execute(_statement(True, model, columns, tuple(key)),
                             arrays.parameters(arrays.source(model, names), last, columns))
            continue
        plain = _statement(False, model, columns, tuple(key), returning=False)
        pages = values_pages.shape(db.get_bind().dialect, plain, {name: _column_name(model, name) for name in columns},
                                   ("upsert", model, tuple(key)))
        if pages is not None:
            await values_pages.insert_pages(db, pages, last)
        else:
            await db.execute(_statement(False, model, columns, tuple(key)),
                             [_by_column_name(model, row) for row in last])


# Built statements, reused: building an upsert of twenty columns and computing its cache key
# cost a millisecond or more per call, once per ingest batch that carries feedback.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _statement(on_postgresql: bool, model: Any, columns: tuple[str, ...], key: tuple[str, ...], *,
               returning: bool = True) -> Any:
    cache_key = (on_postgresql, model, columns, key, returning)
    if cache_key not in _STATEMENTS:
        if len(_STATEMENTS) >= 256:
            _STATEMENTS.clear()
        names = tuple(_column_name(model, name) for name in columns)
        conflict = [_column_name(model, k) for k in key]
        if on_postgresql:  # the rows as one array per column (evalql/db/arrays.py)
            pg = postgresql.insert(model.__table__).from_select(list(names), arrays.source(model, names).select)
            _STATEMENTS[cache_key] = pg.on_conflict_do_update(
                index_elements=conflict,
                set_={name: pg.excluded[name] for name in names if name not in conflict})
        else:
            stmt = sqlite.insert(model.__table__)
            upserting = stmt.on_conflict_do_update(
                index_elements=conflict, set_={name: stmt.excluded[name] for name in names if name not in conflict})
            # Without RETURNING: the statement of multi-row pages (db/values_pages.py). With
            # it, for rows that page cannot take: RETURNING the key makes SQLAlchemy send the
            # rows as multi-row statements (its "insertmanyvalues"); without it, it sends an
            # upsert once per row whatever the engine's setting (SQLAlchemy issue #13130).
            # The returned keys are not read.
            _STATEMENTS[cache_key] = upserting.returning(*(model.__table__.c[k] for k in conflict)) if returning \
                else upserting
    return _STATEMENTS[cache_key]


def _column_name(model: Any, attribute: str) -> str:
    return model.__mapper__.attrs[attribute].columns[0].name


def _by_column_name(model: Any, row: dict[str, Any]) -> dict[str, Any]:
    return {_column_name(model, name): value for name, value in row.items()}
