"""Single reads do work that does not grow with the workspace (migration 0007).

`GET /runs/{id}` and `GET /sessions/{id}` answer for one run or one session, so none of
their statements may read rows in proportion to the workspace's examples or the session's
runs. Each statement a read sends is run again on a small and on a forty-times larger
workspace and its work measured: on PostgreSQL the rows its scans return
(`EXPLAIN ANALYZE`), on SQLite the virtual-machine instructions it runs (a progress
handler). Before 0007, `in_dataset` read every example of the workspace and
`last_run_start_time_live` every root run of the session: both grew with the data.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import pytest
from sqlalchemy.engine import make_url

from evalql.db import rls
from tests.support.app import second_workspace
from tests.support.statements import capturing
from tests.support.world import build_world

SMALL, BIG = 10, 400  # examples per world (and root runs per session)
STEPS = 100  # SQLite: instructions between two calls of the progress handler


async def sqlite_work(database_url: str, statement: str, parameters: Any) -> int:
    path = make_url(database_url).database
    conn = sqlite3.connect(path)
    calls = 0

    def count() -> int:
        nonlocal calls
        calls += 1
        return 0

    try:
        conn.set_progress_handler(count, STEPS)
        conn.execute(statement, parameters).fetchall()
    finally:
        conn.close()
    return calls * STEPS


def scanned(plan: dict[str, Any]) -> int:
    """Rows the plan's scan nodes read (returned, or read and filtered out), over all
    their loops."""
    own = 0
    if plan["Node Type"].endswith("Scan"):
        rows = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        own = int(rows * plan.get("Actual Loops", 1))
    return own + sum(scanned(child) for child in plan.get("Plans", []))


async def postgresql_work(api, statement: str, parameters: Any) -> int:
    async with api.db_sessions() as db:
        connection = await db.connection()
        found = (await connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement,
                                                  parameters)).scalar()
        await db.rollback()
    plan = found if isinstance(found, list) else orjson.loads(found)
    return scanned(plan[0]["Plan"])


async def world_of(api, size: int):
    workspace_id, key, _ = await second_workspace(api.db_sessions, f"work-{size}")
    async with api.db_sessions() as db:
        rls.bind(db, workspace_id)
        world = await build_world(db, workspace_id, n_examples=size, n_sessions=1, seed=size, name=f"w{size}")
        await db.commit()
    return world, key


async def works(api, database_url: str, path: str, key: str) -> list[tuple[str, int]]:
    with capturing(api) as sent:
        response = await api.client.get(path, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    out = []
    for statement, parameters in sent:
        if database_url.startswith("sqlite"):
            work = await sqlite_work(database_url, statement, parameters)
        else:
            work = await postgresql_work(api, statement, parameters)
        out.append((" ".join(statement.split())[:100], work))
    return out


@pytest.mark.parametrize("what", ["runs", "sessions"])
async def test_a_single_read_does_the_same_work_on_a_forty_times_larger_workspace(api, database_url, what):
    small, small_key = await world_of(api, SMALL)
    big, big_key = await world_of(api, BIG)

    def path(world) -> str:
        return f"/api/v1/{what}/{world.root_run_ids[-1] if what == 'runs' else world.session_ids[0]}"

    on_small = await works(api, database_url, path(small), small_key)
    on_big = await works(api, database_url, path(big), big_key)
    assert [s for s, _ in on_small] == [s for s, _ in on_big]
    slack = 5 * STEPS if database_url.startswith("sqlite") else 5  # instructions, or rows
    for (statement, little), (_, large) in zip(on_small, on_big, strict=True):
        # Forty times the data: a statement that reads in proportion to it grows about
        # forty-fold; one that probes an index stays within a small constant.
        assert large <= 2 * little + slack, (statement, little, large)
