"""Concurrent ingest (spec §7.5.2, §7.7): posts and patches of the same runs racing in
many simultaneous requests all land merged, whatever order they are applied in; and on
SQLite a writer held by another process past the busy timeout is a 503, not a 500."""

from __future__ import annotations

import asyncio
import random
import sqlite3

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from evalql.db.models import PendingRun, Run
from evalql.db.tenant import readable
from tests.support.whole_database import everywhere
from tests.test_ingest_runs import at, new_id, post

RUNS = 40


async def test_racing_posts_and_patches_all_merge(api):
    ids = [new_id() for _ in range(RUNS)]
    parent = new_id()
    requests = [("post", post(parent))]
    for run_id in ids:  # children of one parent, each with a patch that must win over its post
        requests.append(("post", post(run_id, parent_run_id=parent, start_time=at(1), outputs={"v": "post"})))
        requests.append(("patch", {"id": run_id, "outputs": {"v": "patch"}, "end_time": at(2)}))
    random.Random(7).shuffle(requests)

    async def send(kind: str, record: dict):
        if kind == "post":
            return await api.client.post("/runs", json=record, headers=api.headers())
        return await api.client.patch(f"/runs/{record['id']}", json=record, headers=api.headers())

    responses = await asyncio.gather(*(send(kind, record) for kind, record in requests))
    assert [r.status_code for r in responses] == [202] * len(requests)
    async with api.db_sessions() as db:
        rows = (await db.execute(readable(api.workspace_id, Run, Run.outputs, Run.status)
                                 .where(Run.parent_run_id.is_not(None)))).all()
        assert sorted(rows) == [({"v": "patch"}, "success")] * RUNS
        assert await db.scalar(everywhere(select(func.count()).select_from(PendingRun))) == 0


@pytest.mark.backends("sqlite")
async def test_another_process_holding_the_writer_is_503(api, database_url):
    other = sqlite3.connect(make_url(database_url).database, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction
        response = await api.client.post("/runs", json=post(new_id()), headers=api.headers())
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "busy" in response.json()["detail"]
    response = await api.client.post("/runs", json=post(new_id()), headers=api.headers())
    assert response.status_code == 202
