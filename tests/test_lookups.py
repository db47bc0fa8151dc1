"""Lookups by key (evalql/db/lookups.py) on both databases: the rows they find, and on
PostgreSQL a plan that probes the index of the key column for each key in a database that
has no planner statistics (a new one, as here: test databases are never analyzed)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import event, text

from evalql.db import writes
from evalql.db.chunks import CHUNK
from evalql.db.engine import create_engine, session_factory
from evalql.db.lookups import delete_by_keys, rows_by_keys
from evalql.db.models import PendingRun, Run, RunMetadata
from evalql.db.tenancy_check import ALL_WORKSPACES

T0 = dt.datetime(2024, 9, 19, 17, 16, 48, tzinfo=dt.UTC)


def runs(n: int) -> list[dict]:
    """n roots, each with one child, the child carrying metadata."""
    records = []
    for i in range(n):
        root = uuid.uuid4()
        records.append({"id": root, "name": "root", "run_type": "chain", "start_time": T0 + dt.timedelta(seconds=i)})
        records.append({"id": uuid.uuid4(), "parent_run_id": root, "name": "llm", "run_type": "llm",
                        "start_time": T0 + dt.timedelta(seconds=i), "extra": {"metadata": {"k": i}}})
    return records


@pytest.fixture
async def loaded(database_url):
    engine = create_engine(database_url)
    async with session_factory(engine)() as db:
        workspace = await writes.create_workspace(db, "lookups")
        other = await writes.create_workspace(db, "other")
        records = runs(CHUNK + 20)  # more keys than one chunk of bound ids
        await writes.insert_runs(db, workspace.id, records)
        others = runs(3)
        await writes.insert_runs(db, other.id, others)
        await db.commit()
        yield engine, db, workspace.id, records + others
    await engine.dispose()


async def test_rows_by_keys_finds_the_workspaces_rows(loaded):
    _, db, workspace_id, records = loaded
    mine, others = records[:-6], records[-6:]
    roots = [r["id"] for r in mine if "parent_run_id" not in r]
    # a repeated key, an unknown one, and ids of another workspace's runs
    wanted = [*roots, roots[0], uuid.uuid4(), *(r["id"] for r in others)]
    found = await rows_by_keys(db, workspace_id, Run, Run.id, wanted, Run.id, Run.name)
    assert sorted(r.id for r in found) == sorted(roots) and {r.name for r in found} == {"root"}
    children = await rows_by_keys(db, workspace_id, Run, Run.parent_run_id, roots[:7], Run.id, Run.parent_run_id)
    assert sorted(r.parent_run_id for r in children) == sorted(roots[:7])
    assert await rows_by_keys(db, workspace_id, Run, Run.id, [], Run.id) == []


async def test_delete_by_keys_deletes_only_those(loaded):
    _, db, workspace_id, records = loaded
    children = [r["id"] for r in records[:-6] if "parent_run_id" in r]
    await delete_by_keys(db, workspace_id, RunMetadata, RunMetadata.run_id, children[:CHUNK + 5])
    left = await rows_by_keys(db, workspace_id, RunMetadata, RunMetadata.run_id, children, RunMetadata.run_id)
    assert sorted(r.run_id for r in left) == sorted(children[CHUNK + 5:])


@pytest.mark.backends("postgresql")
async def test_postgresql_probes_the_key_index_without_statistics(loaded):
    """Rows written in the same transaction and a table never analyzed: `IN (ids)` was planned
    as a read of every row of the workspace; the lookup probes the key's index per key."""
    engine, db, workspace_id, records = loaded
    await writes.insert_runs(db, workspace_id, runs(2000))  # uncommitted: no statistics can know them
    seen: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        if "unnest" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        ids = [r["id"] for r in records[:600]]
        await rows_by_keys(db, workspace_id, Run, Run.id, ids, Run.id)
        await rows_by_keys(db, workspace_id, Run, Run.parent_run_id, ids, Run.id)
        await rows_by_keys(db, workspace_id, PendingRun, PendingRun.waits_for, ids, PendingRun.id)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    connection = await db.connection()
    assert await connection.scalar(text("SELECT current_setting('plan_cache_mode')")) == "force_custom_plan"
    connection = await connection.execution_options(**{ALL_WORKSPACES: True})
    plans = []
    for statement, parameters in seen:
        rows = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        plans.append("\n".join(row[0] for row in rows))
    assert len(plans) == 3
    for plan, index in zip(plans, ("runs_pkey", "ix_runs_ws_parent", "ix_pending_runs_ws_waits_for"), strict=True):
        assert "Nested Loop" in plan and "Function Scan on unnest" in plan, plan
        assert re.search(rf"(Index Scan|Index Only Scan) using {index} on|Bitmap Index Scan on {index}\b", plan), plan
        assert "= k.key)" in plan and "Seq Scan" not in plan, plan
