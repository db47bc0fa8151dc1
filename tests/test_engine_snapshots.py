"""Engine snapshots: a restarted server (a new engine over the same snapshot directory)
restores its state from disk, catches up from the change log, and answers exactly as the
SQL evaluation does; a snapshot that cannot be trusted is ignored."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from evalql.core.group_request import to_query, validate_group_request
from evalql.db import writes
from evalql.db.changes import current_version
from evalql.db.models import Run
from evalql.db.tenant import Tenant, readable
from evalql.engine import snapshot
from evalql.engine.answer import ComparisonEngine
from evalql.engine.log_pruner import LogPruner
from evalql.queries.group_runs import answer_group_query
from evalql.rest.group_shape import group_json
from tests import oracle
from tests.test_engine_processes import BENCH, World

sys.path.insert(0, str(BENCH))
try:
    from workload import load_workload
finally:
    sys.path.remove(str(BENCH))


def rendered(groups: list) -> dict:
    return orjson.loads(orjson.dumps({"groups": [group_json(g, False) for g in groups]}, default=str))


@pytest.fixture
async def world(api) -> World:
    found = World("")
    async with api.db_sessions() as db:
        found.workload = await load_workload(db, api.workspace_id, 30)
        await db.commit()
    found.workspace_id = api.workspace_id
    return found


async def answers(api, world: World, engine: ComparisonEngine) -> None:
    """Every body of the world through `engine`, compared with the SQL evaluation."""
    for body in world.bodies():
        request, problems = validate_group_request(body)
        assert request is not None, problems
        query = to_query(world.workload.dataset_id, request)
        async with api.db_sessions() as db:
            tenant = Tenant(world.workspace_id, True, db)
            got = rendered((await engine.group_query(tenant, query)).result)
            expected = rendered(await answer_group_query(tenant, query))
        problems = oracle.compare(expected, got)
        assert not problems, "\n".join(problems[:30])


async def new_feedback(api, world: World, score: float) -> None:
    async with api.db_sessions() as db:
        run_id = await db.scalar(readable(world.workspace_id, Run, Run.id).where(Run.is_root.is_(True)).limit(1))
        await writes.insert_feedback(db, world.workspace_id, [{"run_id": run_id, "key": "after", "score": score}])
        await db.commit()


async def test_a_restart_restores_the_snapshot_and_catches_up(api, world, tmp_path: Path):
    first = ComparisonEngine(snapshots=tmp_path)
    await answers(api, world, first)
    await first.close()  # a graceful shutdown writes what lags
    assert snapshot.path_of(tmp_path, world.workspace_id).exists()
    await new_feedback(api, world, 0.5)  # written while no server runs

    restarted = ComparisonEngine(snapshots=tmp_path)
    await answers(api, world, restarted)
    assert restarted.restored == 1


async def test_an_unreadable_snapshot_is_ignored(api, world, tmp_path: Path):
    snapshot.path_of(tmp_path, world.workspace_id).write_bytes(b"not a snapshot")
    engine = ComparisonEngine(snapshots=tmp_path)
    await answers(api, world, engine)
    assert engine.restored == 0


async def test_a_snapshot_newer_than_the_database_is_not_used(api, world, tmp_path: Path):
    """A database restored from a backup is older than the snapshots taken since."""
    first = ComparisonEngine(snapshots=tmp_path)
    await answers(api, world, first)
    await first.close()
    restored = snapshot.load(tmp_path, world.workspace_id)
    assert restored is not None
    async with api.db_sessions() as db:
        restored.version = (await current_version(db, world.workspace_id)).version + 1000
    snapshot.save(tmp_path, snapshot.freeze(restored))
    # Its data is also wrong: were it used, the answers would be.
    engine = ComparisonEngine(snapshots=tmp_path)
    await answers(api, world, engine)
    assert engine.restored == 1  # read, found newer than the database, and dropped


async def test_the_log_is_pruned_and_a_state_older_than_it_is_rebuilt(api, world):
    """The pruner deletes what was logged before the version it noted `horizon` ago; an
    engine whose state is older learns so from the log and rebuilds from the tables."""
    engine = ComparisonEngine()
    await answers(api, world, engine)  # state at version v0
    pruner = LogPruner(api.db_sessions, horizon=100)
    await pruner.prune_once(now=0.0)  # notes v0
    await new_feedback(api, world, 1.0)  # v1 > v0
    async with api.db_sessions() as db:
        noted = (await current_version(db, world.workspace_id)).version
    await pruner.prune_once(now=50.0)  # notes v1; nothing is 100 s old yet
    pruned = await pruner.prune_once(now=150.0)  # v0 and v1 are: pruned through v1
    assert pruned[world.workspace_id] == noted
    async with api.db_sessions() as db:
        found = await current_version(db, world.workspace_id)
    assert found.pruned_through == noted
    await new_feedback(api, world, 0.0)
    await answers(api, world, engine)  # its state (v0) predates the pruned log: rebuilt, same answers
