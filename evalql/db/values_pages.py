"""Bulk INSERTs on SQLite: pages of multi-row VALUES with one flat tuple of parameters.

SQLAlchemy's executemany ("insertmanyvalues") builds a parameter dictionary for every row
and runs each column's bind processor through its generic per-row machinery. For ingest's
wide run rows that cost more Python than SQLite spent inserting them, all of it while the
batch held the database's writer lock. Here a page's statement text comes from SQLAlchemy's
own compiled INSERT (names, quoting and placeholders are the dialect's), each column's bind
processor is SQLAlchemy's, looked up once per statement shape, and a page's parameters are
one tuple handed to the driver.

The rows are the owner's (`tenant.owned_rows` put every row's workspace_id in place), as
for any plain INSERT: `db/tenancy_check.py` checks the structure of reads, updates and
deletes, and a plain INSERT has none to check.

PostgreSQL takes the same rows as one array per column instead (`db/arrays.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.engine import SerializedSession

# SQLite's default limit of parameters per statement (SQLITE_MAX_VARIABLE_NUMBER, 3.32+),
# and SQLAlchemy's page size for the same statements.
MAX_PARAMETERS = 32_766
MAX_PAGE_ROWS = 1000


@dataclass(frozen=True)
class Shape:
    head: str  # INSERT INTO t (a, b) VALUES
    row: str  # (?, ?)
    tail: str  # what follows the rows (an upsert's ON CONFLICT clause), or ""
    keys: tuple[str, ...]  # the row key of each placeholder, in order
    processors: tuple[Callable[[Any], Any] | None, ...]  # per placeholder; None: the value as is
    none_as_is: tuple[bool, ...]  # per placeholder: the processor maps None to None
    page_rows: int

    def sql(self, rows: int) -> str:
        return self.head + ", ".join([self.row] * rows) + self.tail


_SHAPES: dict[tuple[Any, ...], Shape | None] = {}


def shape(dialect: Dialect, statement: Any, columns: dict[str, str], cache_key: tuple[Any, ...]) -> Shape | None:
    """The page shape of `statement` (an INSERT, maybe with ON CONFLICT, of one row) for
    rows with these keys (row key -> column name), cached under `cache_key`; None when
    SQLAlchemy would bind more than those columns (Python-side defaults of columns the rows
    do not give): such rows take SQLAlchemy's executemany."""
    cache_key = (dialect.name, *cache_key, tuple(columns.items()))
    if cache_key in _SHAPES:
        return _SHAPES[cache_key]
    compiled = statement.compile(dialect=dialect, column_keys=list(columns.values()))
    by_column = {column: key for key, column in columns.items()}
    names = list(compiled.positiontup or ())
    head, values, rest = str(compiled).partition(" VALUES (")
    row, closed, tail = rest.partition(")")
    bound = [compiled._bind_processors.get(name) for name in names]
    processors = tuple(p for p in bound if p is None or callable(p))  # not a tuple type's sequence of them
    found = None
    if values and closed and sorted(names) == sorted(by_column) and row.count("?") == len(names) == len(processors) \
            and "?" not in tail:
        found = Shape(head + " VALUES ", f"({row})", tail, tuple(by_column[name] for name in names), processors,
                      tuple(p is None or p(None) is None for p in processors),
                      max(1, min(MAX_PAGE_ROWS, MAX_PARAMETERS // max(1, len(names)))))
    _SHAPES[cache_key] = found
    return found


def parameters(found: Shape, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """The flat parameters of `rows`: each row's values in placeholder order, processed."""
    columns = list(zip(found.keys, found.processors, found.none_as_is, strict=True))
    flat: list[Any] = []
    append = flat.append
    for row in rows:
        for key, process, none_as_is in columns:
            value = row.get(key)
            append(value if process is None or (value is None and none_as_is) else process(value))
    return flat


async def insert_pages(db: AsyncSession, found: Shape, rows: Sequence[dict[str, Any]]) -> None:
    if isinstance(db, SerializedSession):  # as the session's own execute would: this process's writer turn
        await db.claim_writer()
    connection = await db.connection()
    width = len(found.keys)
    for start in range(0, len(rows), found.page_rows):
        page = rows[start:start + found.page_rows]
        sql = found.sql(len(page))
        flat = parameters(found, page)
        assert len(flat) == width * len(page)
        await connection.exec_driver_sql(sql, tuple(flat))


__all__ = ["Shape", "insert_pages", "parameters", "shape"]
