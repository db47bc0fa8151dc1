"""Hot reads run statements built once per process (evalql/db/tenant.py, `EACH_EXECUTION`).

A single read (a run, a session, a dataset by id) and the key lookup before it used to
build their SQLAlchemy statements on every request: a millisecond and more of Python per
read, most of what such a read cost the server. Now they are built once, the workspace a
bound parameter filled from the tenant on each execution. What must hold: the statements
really are the same objects from one request to the next (whatever the id or the
workspace), each still reads only its caller's workspace, and a built statement cannot run
without one.
"""

from __future__ import annotations

import aiosqlite
import pytest
from sqlalchemy.exc import StatementError

from evalql.db import rls
from evalql.db.models import Dataset
from evalql.db.tenant import WORKSPACE_PARAMETER, _live_statement
from tests.support.app import second_workspace
from tests.support.statements import listening
from tests.support.world import build_world


async def world_of(api, name: str):
    workspace_id, key, _ = await second_workspace(api.db_sessions, name)
    async with api.db_sessions() as db:
        rls.bind(db, workspace_id)
        world = await build_world(db, workspace_id, n_examples=4, n_sessions=2, seed=len(name), name=name)
        await db.commit()
    return world, key


async def statements_of(api, path: str, key: str) -> list[object]:
    """The statement objects a GET sends, in order."""
    seen: list[object] = []

    def before(conn, clauseelement, multiparams, params, execution_options):  # noqa: ANN001
        seen.append(clauseelement)

    with listening(api, "before_execute", before):
        response = await api.client.get(path, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return seen


def paths(world) -> dict[str, str]:
    return {"runs": f"/api/v1/runs/{world.root_run_ids[-1]}", "sessions": f"/api/v1/sessions/{world.session_ids[0]}",
            "datasets": f"/api/v1/datasets/{world.dataset_id}"}


@pytest.mark.parametrize("what", ["runs", "sessions", "datasets"])
async def test_a_single_read_sends_the_same_statement_objects_every_time(api, what):
    one, one_key = await world_of(api, "first")
    two, two_key = await world_of(api, "second")
    first = await statements_of(api, paths(one)[what], one_key)
    # Another row, and another workspace: nothing is built again.
    again = await statements_of(api, paths(two)[what], two_key)
    # The key lookup, then one statement for the row and what hangs off it; SQLite reads
    # a run's feedback in a statement of its own (a probe, run on the loop's thread).
    postgresql = api.app_engine.dialect.name == "postgresql"
    assert len(first) == (3 if what == "runs" and not postgresql else 2), first
    assert [id(s) for s in first] == [id(s) for s in again]


@pytest.mark.parametrize("what", ["runs", "sessions", "datasets"])
async def test_a_built_statement_reads_only_the_callers_workspace(api, what):
    one, one_key = await world_of(api, "first")
    two, two_key = await world_of(api, "second")
    for world, key in ((one, one_key), (two, two_key)):
        assert (await api.client.get(paths(world)[what], headers={"X-API-Key": key})).status_code == 200
    for world, key in ((one, two_key), (two, one_key)):  # each id asked with the other workspace's key
        response = await api.client.get(paths(world)[what], headers={"X-API-Key": key})
        assert response.status_code == 404, response.text


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("what", ["runs", "sessions"])
async def test_on_sqlite_a_single_read_never_waits_for_a_connection_thread(api, what, monkeypatch):
    """Its statements are index probes, run on the event loop's thread (tenant.probe), and
    ending a transaction that only read is no hand-over either (evalql/db/sqlite_driver.py)."""
    one, one_key = await world_of(api, "first")
    await statements_of(api, paths(one)[what], one_key)  # the pool has a connection ready
    queued: list[object] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # noqa: ANN001
        queued.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    response = await api.client.get(paths(one)[what], headers={"X-API-Key": one_key})
    assert response.status_code == 200, response.text
    assert queued == []


async def test_a_built_statement_cannot_run_without_a_workspace(api):
    world, _ = await world_of(api, "first")
    async with api.db_sessions() as db:
        with pytest.raises(StatementError, match=WORKSPACE_PARAMETER):
            await db.execute(_live_statement(Dataset), {"row_id": world.dataset_id})
