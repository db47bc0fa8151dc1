"""Rows of a tenant table found by a list of keys, planned alike with or without statistics.

The write path looks up the rows a batch names: runs by id or by parent, waiting records by
run or by what they wait for. Written as `column IN (…ids…)`, PostgreSQL plans that lookup
from column statistics, and a new database has none (autovacuum may be off, and rows written
earlier in the same transaction are never counted): it assumes each id matches 0.5% of the
table, so a few hundred ids match all of it, and it reads every row of the workspace through
any index that starts with `workspace_id`. Each batch then costs as much as the whole table,
and a bulk load goes quadratic.

So on PostgreSQL the keys are one array, unnested and joined LATERAL to a subquery that finds
the rows of one key. The subquery has an OFFSET, so the planner cannot flatten it into a join
that it might hash over a full scan; it stays a nested loop with one index probe per key, and
for one key the index on (workspace_id, key column) is the cheapest path at any row count.
Plans are also made per execution (`plan_cache_mode`, for this transaction): a prepared
statement's generic plan, if made while the table was empty, would keep the plan of an empty
table. SQLite plans `IN (…)` as one probe per key already (it keeps no statistics unless
ANALYZE is run), so there the keys are bound in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, cast, func, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.backend import is_postgresql
from evalql.db.chunks import id_chunks
from evalql.db.engine import SerializedSession
from evalql.db.tenant import Owner, deletable, readable, workspace_of

# For the rest of the transaction, plan each execution with its own values and table sizes.
CUSTOM_PLANS = "set_config('plan_cache_mode', 'force_custom_plan', true)"
_PLANNED = "evalql_custom_plans"  # connection info: the transaction CUSTOM_PLANS was set in


async def custom_plans_set(db: AsyncSession) -> None:
    """Note that the caller has run CUSTOM_PLANS in the session's current transaction (the
    ingest lock does, in the statement that takes the lock)."""
    connection = await _sync_connection(db)
    connection.info[_PLANNED] = connection.get_transaction()


async def _sync_connection(db: AsyncSession) -> Connection:
    connection = (await db.connection()).sync_connection
    assert connection is not None  # an async connection that is open has its sync connection
    return connection


async def _custom_plans(db: AsyncSession) -> None:
    connection = await _sync_connection(db)
    if connection.info.get(_PLANNED) is not connection.get_transaction():
        await db.execute(text(f"SELECT {CUSTOM_PLANS}"))
        connection.info[_PLANNED] = connection.get_transaction()


async def rows_by_keys(db: AsyncSession, owner: Owner, model: Any, key: Any, keys: Iterable[Any],
                       *columns: Any) -> list[Any]:
    """The owner's rows of `model` whose `key` column is one of `keys`: the given `columns`
    of each, as rows (attribute access by column name). In no particular order."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    postgresql = is_postgresql(db)
    statement = _statement(postgresql, "select", owner, model, key, columns)
    if not postgresql:
        rows: list[Any] = []
        for chunk in id_chunks(wanted):
            rows.extend((await db.execute(statement, {"keys": chunk})).all())
        return rows
    await _custom_plans(db)
    return list((await db.execute(statement, {"keys": wanted})).all())


async def delete_by_keys(db: AsyncSession, owner: Owner, model: Any, key: Any, keys: Iterable[Any]) -> None:
    """Delete the owner's rows of `model` whose `key` column is one of `keys`: one statement
    executed per key (`key = :key`, an index probe on both databases whatever the
    statistics, for the reasons above), sent as one batch."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return
    # The ORM session refuses a DELETE with many parameter sets; its Core connection runs it
    # as one executemany, after the session's SQLite writer turn is taken as its execute would.
    if isinstance(db, SerializedSession):
        await db.claim_writer()
    connection = await db.connection()
    statement = _statement(False, "delete", owner, model, key, ())
    await connection.execute(statement, [{"keys": value} for value in wanted])


# Built statements, reused: building one (the LATERAL form above all) and computing its
# cache key cost more than running it, several times per ingest batch. Keys: the owner's
# workspace and names, never SQLAlchemy expressions (`==` on those builds SQL).
_STATEMENTS: dict[tuple[Any, ...], Any] = {}
_MAX_STATEMENTS = 1024


def _statement(postgresql: bool, kind: str, owner: Owner, model: Any, key: Any, columns: tuple[Any, ...]) -> Any:
    workspace_id = workspace_of(owner)
    cache_key = (postgresql, kind, workspace_id, model, key.key, tuple(column.key for column in columns))
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        if len(_STATEMENTS) >= _MAX_STATEMENTS:
            _STATEMENTS.clear()
        if kind == "delete":
            statement = deletable(workspace_id, model).where(key == bindparam("keys"))
        elif not postgresql:
            statement = readable(workspace_id, model, *columns).where(key.in_(bindparam("keys", expanding=True)))
        else:
            array = ARRAY(key.type)
            given = func.unnest(cast(bindparam("keys", type_=array), array)).table_valued("key").render_derived(
                name="k")
            found = readable(workspace_id, model, *columns).where(key == given.c.key).offset(0).lateral("found")
            statement = select(*found.c).select_from(given).join(found, true())
        _STATEMENTS[cache_key] = statement
    return statement


__all__ = ["CUSTOM_PLANS", "custom_plans_set", "delete_by_keys", "rows_by_keys"]
