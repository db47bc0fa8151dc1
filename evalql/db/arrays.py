"""Rows sent to PostgreSQL as one array per column: `SELECT * FROM unnest(:c_0, :c_1, …)`.

Bulk writes (ingest's runs, their metadata entries, feedback) insert through this source.
It is one statement text whatever the row count, so it is prepared once; a multi-row
`VALUES` of thousands of parameters was parsed and planned anew for every batch and cost
twice as much, and asyncpg encodes an array of a column in one call. The change-log
triggers (migration 0003) fire once per statement, as for any other INSERT.
SQLite has no arrays: there the same rows go as multi-row VALUES (evalql/db/writes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Text, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import Select

from evalql.db.engine import json_text


@dataclass(frozen=True)
class Source:
    select: Select[Any]  # the rows, one column per name, named as the table's columns
    is_json: tuple[bool, ...]


_SOURCES: dict[tuple[Any, tuple[str, ...]], Source] = {}


def source(model: Any, columns: tuple[str, ...]) -> Source:
    """The unnest of one bound array per column (table column names, in this order). JSON
    values are bound as text and cast on the server: bound as an array of JSON, a value that
    is itself a list would be taken for one more dimension of the array."""
    found = _SOURCES.get((model, columns))
    if found is None:
        types = [model.__table__.c[name].type for name in columns]
        is_json = tuple(isinstance(type_, JSON) for type_ in types)
        bound = [cast(bindparam(f"c_{i}", type_=ARRAY(Text if json else type_)), ARRAY(type_))
                 for i, (type_, json) in enumerate(zip(types, is_json, strict=True))]
        unnest = func.unnest(*bound).table_valued(*columns).render_derived(name="given")
        found = _SOURCES[(model, columns)] = Source(select(*unnest.c), is_json)
    return found


def parameters(source: Source, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, list[Any]]:
    """The arrays of `rows` for `source`: `keys` name each column's value in a row (in the
    source's column order); a row without one gives NULL."""
    return {f"c_{i}": ([None if (value := row.get(key)) is None else json_text(value) for row in rows]
                       if json else [row.get(key) for row in rows])
            for i, (key, json) in enumerate(zip(keys, source.is_json, strict=True))}


__all__ = ["Source", "parameters", "source"]
