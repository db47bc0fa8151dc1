"""Exact percentiles by linear interpolation (spec §3.3), per partition, in SQL.

PostgreSQL has `percentile_cont`, whose definition is exactly §3.3. SQLite has no
percentile aggregate, so there the same formula is evaluated with window functions:
rank the values, then pick x[lo] and x[hi] and interpolate, all inside the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Integer, Select, case, cast, func, select
from sqlalchemy.sql import FromClause


def percentiles(
    source: FromClause,
    partition: Sequence[str],
    value: str,
    ps: Sequence[float],
    dialect_name: str,
) -> Select:
    """`SELECT <partition>, p_<i> ... FROM source GROUP BY <partition>` over non-null `value`.

    Columns are labelled `p0`, `p1`, ... in the order of `ps`.
    """
    keys = [source.c[name] for name in partition]
    v = source.c[value]
    if dialect_name == "postgresql":
        cols = [func.percentile_cont(p).within_group(v).label(f"p{i}") for i, p in enumerate(ps)]
        return select(*keys, *cols).where(v.is_not(None)).group_by(*keys)

    ranked = (
        select(*keys, v.label("v"),
               (func.row_number().over(partition_by=keys, order_by=v) - 1).label("rn"),
               func.count().over(partition_by=keys).label("n"))
        .where(v.is_not(None))
        .subquery("ranked")
    )
    rkeys = [ranked.c[name] for name in partition]
    return select(*rkeys, *[_interpolated(ranked, p).label(f"p{i}") for i, p in enumerate(ps)]).group_by(*rkeys)


def _interpolated(ranked: FromClause, p: float) -> ColumnElement[float]:
    h = p * (ranked.c.n - 1)
    lo = cast(h, Integer)  # h >= 0, so truncation is floor
    hi = lo + case((h > lo, 1), else_=0)
    frac = h - lo
    return (func.sum(case((ranked.c.rn == lo, ranked.c.v * (1 - frac)), else_=0.0))
            + func.sum(case((ranked.c.rn == hi, ranked.c.v * frac), else_=0.0)))
