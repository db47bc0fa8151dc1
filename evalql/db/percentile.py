"""Exact percentiles by linear interpolation (spec §3.3), per partition, in SQL.

`Percentiles(source, partition, value, ps)` is one statement,
`SELECT <partition>, p0, p1, ... FROM source GROUP BY <partition>` over the non-null
`value`s, with one rendering per database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, case, cast, column, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.sql.visitors import InternalTraversal

from evalql.db.dialect import sqlite_and_postgresql_only


@sqlite_and_postgresql_only
class Percentiles(Executable, ClauseElement):
    """The statement: per partition of `source`, the percentiles `ps` of its non-null
    `value`s, labelled `p0`, `p1`, ... in the order of `ps`.

    PostgreSQL has the ordered-set aggregate `percentile_cont`, whose definition is
    exactly §3.3. SQLite has no percentile aggregate, so there the same formula is
    evaluated with window functions: rank the values, then pick x[lo] and x[hi] and
    interpolate, all inside the database. (The two may differ in the last bit of a
    float: PostgreSQL computes x[lo] + (x[hi] - x[lo]) * f, SQLite x[lo] * (1 - f) +
    x[hi] * f.) The two need different statement shapes, so the construct is the whole
    statement rather than an expression.
    """

    inherit_cache = True
    _traverse_internals = [
        ("source", InternalTraversal.dp_clauseelement),
        ("partition", InternalTraversal.dp_string_list),
        ("value", InternalTraversal.dp_string),
        ("ps", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(self, source: FromClause, partition: Sequence[str], value: str, ps: Sequence[float]) -> None:
        self.source, self.partition, self.value = source, tuple(partition), value
        self.ps = tuple(literal(p) for p in ps)  # bound, so one cached compilation serves every ps

    @property
    def _all_selected_columns(self) -> list[Any]:
        """The result columns, for SQLAlchemy's reuse of a cached compilation (which
        matches the rows of this statement to the cached one's columns by position)."""
        return [self.source.c[name] for name in self.partition] + [column(f"p{i}") for i in range(len(self.ps))]


@compiles(Percentiles, "postgresql")
def _percentiles_postgresql(element: Percentiles, compiler: Any, **kw: Any) -> str:
    keys = [element.source.c[name] for name in element.partition]
    v = element.source.c[element.value]
    cols = [func.percentile_cont(p).within_group(v).label(f"p{i}") for i, p in enumerate(element.ps)]
    return compiler.process(select(*keys, *cols).where(v.is_not(None)).group_by(*keys), **kw)


@compiles(Percentiles, "sqlite")
def _percentiles_sqlite(element: Percentiles, compiler: Any, **kw: Any) -> str:
    keys = [element.source.c[name] for name in element.partition]
    v = element.source.c[element.value]
    ranked = (
        select(*keys, v.label("v"),
               (func.row_number().over(partition_by=keys, order_by=v) - 1).label("rn"),
               func.count().over(partition_by=keys).label("n"))
        .where(v.is_not(None))
        .subquery("ranked")
    )
    rkeys = [ranked.c[name] for name in element.partition]
    stmt: Select = select(*rkeys, *[_interpolated(ranked, p).label(f"p{i}") for i, p in enumerate(element.ps)])
    return compiler.process(stmt.group_by(*rkeys), **kw)


def _interpolated(ranked: FromClause, p: Any) -> ColumnElement[float]:
    h = p * (ranked.c.n - 1)
    lo = cast(h, Integer)  # h >= 0, so truncation is floor
    hi = lo + case((h > lo, 1), else_=0)
    frac = h - lo
    return (func.sum(case((ranked.c.rn == lo, ranked.c.v * (1 - frac)), else_=0.0))
            + func.sum(case((ranked.c.rn == hi, ranked.c.v * frac), else_=0.0)))


__all__ = ["Percentiles"]
