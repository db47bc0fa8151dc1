"""Ingest in worker processes (evalql/ingest/workers.py): the same rows and the same 422s as
ingest in the server process, batches applied in parallel all land, the comparison sees a
worker's commit, and a worker that dies answers 503 and is replaced. Both databases, real
worker processes (spawned), real HTTP through the ASGI app."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from evalql.app import create_app
from evalql.config import MAX_INGEST_WORKERS, Settings, default_ingest_workers
from evalql.db import writes
from evalql.db.engine import create_engine, session_factory
from evalql.db.models import Feedback, Run, RunMetadata
from evalql.ingest import apply, lock
from evalql.ingest.apply import Prepared, prepare
from evalql.ingest.workers import InProcess, Workers, can_use_workers
from tests import databases
from tests.conftest import Api
from tests.support.whole_database import everywhere
from tests.test_ingest_multipart import body_of, part, send
from tests.test_ingest_runs import at, new_id, post
from tests.test_statement_timeout import table_locked

# Columns that differ between two databases given the same body: ids of the workspace and
# of the session (made by name in each), and when the row was written (or modified).
UNCOMPARED = {"workspace_id", "session_id", "created_at", "modified_at"}


@asynccontextmanager
async def served(database_url: str, workers: int, **settings: Any) -> AsyncIterator[Api]:
    # The server and its worker processes connect as the service's role (PostgreSQL); the
    # test seeds and reads every workspace with its own engine.
    app = create_app(Settings(database_url=databases.app_url(database_url), ingest_workers=workers,
                              check_tenancy=True, **settings))
    own = create_engine(database_url)
    try:
        async with app.router.lifespan_context(app):
            async with session_factory(own)() as db:
                workspace = await writes.create_workspace(db, "tests")
                key = await writes.create_api_key(db, workspace.id)
                read_key = await writes.create_api_key(db, workspace.id, read_only=True)
                await db.commit()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://evalql.test") as client:
                yield Api(client, session_factory(own), workspace.id, key, read_key, app.state.engine)
    finally:
        await own.dispose()


async def stored_rows(api: Api) -> dict[str, list[dict]]:
    """Every run, metadata entry and feedback row, without the columns that differ by database."""
    found = {}
    async with api.db_sessions() as db:
        for model, order in ((Run, Run.id), (RunMetadata, (RunMetadata.run_id, RunMetadata.key)), (Feedback, Feedback.id)):
            order_by = order if isinstance(order, tuple) else (order,)
            rows = (await db.execute(everywhere(select(model.__table__).order_by(*order_by)))).mappings().all()
            found[model.__tablename__] = [{k: v for k, v in row.items() if k not in UNCOMPARED} for row in rows]
    return found


def traces_body(count: int) -> tuple[bytes, list[str]]:
    """`count` traces of a root and a child, with the child's patch and the root's feedback."""
    parts, roots = [], []
    for i in range(count):
        root, child = new_id(), new_id()
        roots.append(root)
        parts += [part(f"post.{root}", {k: v for k, v in post(root, extra=None).items() if k != "extra"}),
                  part(f"post.{root}.extra", {"metadata": {"model": f"m{i % 2}", "i": i}}),
                  part(f"post.{child}", post(child, parent_run_id=root, start_time=at(1), outputs={"v": "post"})),
                  part(f"patch.{child}", {"id": child, "outputs": {"v": "patch"}, "end_time": at(2),
                                          "total_tokens": i, "total_cost": "0.001"}),
                  part(f"feedback.{new_id()}", {"run_id": root, "key": "correct", "score": i % 3})]
    return body_of(*parts), roots


async def test_workers_store_what_the_server_process_stores(new_database, backend):
    body, _ = traces_body(30)
    stored = {}
    for workers in (0, 2):
        async with served(await new_database(), workers) as api:
            assert isinstance(api_ingest(api), Workers if workers else InProcess)
            response = await send(api, body, "zstd")
            assert response.status_code == 202, response.text
            stored[workers] = await stored_rows(api)
    assert len(stored[0]["runs"]) == 60 and len(stored[0]["feedback"]) == 30
    assert stored[2] == stored[0]


def api_ingest(api: Api):
    transport = api.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state.ingest  # type: ignore[attr-defined]


async def test_invalid_batch_gets_the_same_422_from_a_worker(new_database, backend):
    run_id = new_id()
    body = body_of(part(f"post.{run_id}", {**post(run_id), "start_time": "yesterday"}),
                   part(f"post.{run_id}.inputs", [1, 2]),
                   part("post.not-a-uuid", {}),
                   part(f"feedback.{new_id()}", {"key": "correct", "score": 1}))
    answers = []
    for workers in (0, 1):
        async with served(await new_database(), workers) as api:
            response = await send(api, body)
            assert response.status_code == 422
            answers.append(response.json())
            assert await stored_rows(api) == {"runs": [], "run_metadata": [], "feedback": []}
    assert answers[1] == answers[0]
    locations = [problem["loc"] for problem in answers[0]["detail"]]
    assert ["body", f"post.{run_id}", "start_time"] in locations and ["body", "post.not-a-uuid"] in locations


async def test_parallel_batches_all_land_merged_and_the_comparison_sees_them(new_database, backend):
    """Posts and patches of the same runs spread over concurrent requests, so batches race
    for the ingest lock from two workers; then a group query reads what the workers wrote."""
    async with served(await new_database(), 2) as api:
        async with api.db_sessions() as db:
            dataset = await writes.insert_dataset(db, api.workspace_id, name="d")
            examples = await writes.insert_examples(db, api.workspace_id, [
                {"dataset_id": dataset.id, "inputs": {"i": i}} for i in range(12)])
            await db.commit()
        session = str((await api.client.post("/api/v1/sessions", json={"name": "s", "reference_dataset_id": str(
            dataset.id)}, headers=api.headers())).json()["id"])
        ids = [new_id() for _ in examples]
        requests = []
        for i, (run_id, example) in enumerate(zip(ids, examples, strict=True)):
            requests.append(body_of(part(f"post.{run_id}", post(run_id, session_id=session, reference_example_id=str(
                example), extra={"metadata": {"model": f"m{i % 2}"}}, outputs={"v": "post"}))))
            requests.append(body_of(part(f"patch.{run_id}", {"id": run_id, "outputs": {"v": "patch"},
                                                             "end_time": at(2)})))
        requests.reverse()  # every patch before its post: each waits, then merges
        responses = await asyncio.gather(*(send(api, body) for body in requests))
        assert [r.status_code for r in responses] == [202] * len(requests)
        async with api.db_sessions() as db:
            outputs = (await db.execute(everywhere(select(Run.outputs, Run.status)))).all()
        assert sorted(map(tuple, outputs), key=str) == [({"v": "patch"}, "success")] * len(ids)
        answer = await api.group_runs(dataset.id, {"session_ids": [session], "group_by": "run_metadata",
                                                   "metadata_key": "model"})
        assert answer.status_code == 200, answer.text
        assert {g["group_key"]: g["count"] for g in answer.json()["groups"]} == {"m0": 6, "m1": 6}


async def test_a_dead_worker_answers_503_and_is_replaced(new_database, backend):
    async with served(await new_database(), 1) as api:
        run_id = new_id()
        first = body_of(part(f"post.{run_id}", post(run_id)))
        assert (await send(api, first)).status_code == 202
        workers = api_ingest(api)
        for pid in list(workers._executor._processes):
            os.kill(pid, signal.SIGKILL)
        lost = await send(api, body_of(part(f"post.{new_id()}", post(new_id()))))
        assert lost.status_code == 503 and lost.headers["Retry-After"] == "1"
        assert "worker" in lost.json()["detail"]
        again = new_id()
        assert (await send(api, body_of(part(f"post.{again}", post(again))))).status_code == 202
        async with api.db_sessions() as db:
            stored = set((await db.scalars(everywhere(select(Run.id)))).all())
        assert stored == {uuid.UUID(run_id), uuid.UUID(again)}


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("workers", [0, 1])
async def test_a_batch_past_the_statement_timeout_is_answered_504_and_nothing_lands(new_database, workers):
    """A worker process's statements have the server's timeout: a batch whose insert waits
    on a lock is cancelled, answered as in the server process, rolled back whole; the worker
    applies the next batch."""
    database_url = await new_database()
    async with served(database_url, workers, statement_timeout=0.5) as api:
        assert isinstance(api_ingest(api), Workers if workers else InProcess)
        body, _ = traces_body(3)
        async with asyncio.timeout(30), table_locked(database_url, "runs"):
            response = await send(api, body)
        assert response.status_code == 504, response.text
        assert "longer than 0.5 s and was cancelled" in response.json()["detail"]
        assert await stored_rows(api) == {"runs": [], "run_metadata": [], "feedback": []}
        assert (await send(api, body)).status_code == 202
        stored = await stored_rows(api)
        assert (len(stored["runs"]), len(stored["feedback"])) == (6, 3)


async def test_workers_run_below_the_server(new_database, backend):
    """Each worker process is `ingest_nice` steps below the server (the OS runs the server
    first when the cores are busy), and still applies batches."""
    async with served(await new_database(), 2, ingest_nice=7) as api:
        body, _ = traces_body(2)
        assert (await send(api, body)).status_code == 202
        processes = list(api_ingest(api)._executor._processes)
        assert len(processes) == 2
        expected = [min(19, os.getpriority(os.PRIO_PROCESS, 0) + 7)] * 2
        # A worker that applied nothing yet may still be starting (its initializer sets it).
        async with asyncio.timeout(30):
            while (found := [os.getpriority(os.PRIO_PROCESS, pid) for pid in processes]) != expected:
                await asyncio.sleep(0.05)
        assert found == expected


def test_worker_niceness_from_the_environment(monkeypatch):
    assert Settings.from_env().ingest_nice == 10
    monkeypatch.setenv("EVALQL_INGEST_NICE", "0")
    assert Settings.from_env().ingest_nice == 0
    for wrong in ("-5", "20"):
        monkeypatch.setenv("EVALQL_INGEST_NICE", wrong)
        with pytest.raises(ValueError, match="EVALQL_INGEST_NICE must be from 0 to 19"):
            Settings.from_env()
    # Built in code, refused before any process starts (a worker cannot raise its priority).
    with pytest.raises(ValueError, match="niceness must be from 0 to 19, got -1"):
        Workers("sqlite+aiosqlite:///unused.db", 1, nice=-1)


def test_worker_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("EVALQL_INGEST_WORKERS", "3")
    assert Settings.from_env().ingest_workers == 3
    monkeypatch.delenv("EVALQL_INGEST_WORKERS")
    cores = os.cpu_count() or 1
    assert Settings.from_env().ingest_workers == default_ingest_workers() == (
        0 if cores < 2 else min(cores, MAX_INGEST_WORKERS))
    assert Settings().ingest_workers == 0  # built in code (tests, embedding): in the server process
    monkeypatch.setenv("EVALQL_INGEST_WORKERS", "two")
    with pytest.raises(ValueError, match="EVALQL_INGEST_WORKERS must be an integer"):
        Settings.from_env()


def test_an_in_memory_database_keeps_ingest_in_the_server_process():
    assert not can_use_workers("sqlite+aiosqlite:///:memory:") and not can_use_workers("sqlite+aiosqlite://")
    assert can_use_workers("sqlite+aiosqlite:////tmp/x.db") and can_use_workers("postgresql+asyncpg://h/db")


async def test_prepared_rows_store_what_the_general_path_stores(new_database, backend, monkeypatch):
    """`apply.prepare` builds the rows of fresh runs before the ingest lock; the same
    batches applied with nothing prepared (every row built under the lock) store the same.
    The batches hold fresh runs with their patch, a patch that arrives before its post, a
    child that waits for its parent, a post repeated for a stored run, and feedback."""
    root, child, early, orphan = new_id(), new_id(), new_id(), new_id()
    batches = [
        body_of(part(f"patch.{early}", {"id": early, "outputs": {"v": "early patch"}, "end_time": at(3)}),
                part(f"post.{orphan}", post(orphan, parent_run_id=root, session_name="s2",
                                            extra={"metadata": {"m": -0.0, "n": 1}}))),
        body_of(part(f"post.{root}", post(root, extra={"metadata": {"model": "a", "n": 1.0}})),
                part(f"post.{child}", post(child, parent_run_id=root, start_time=at(1), total_tokens=7,
                                           total_cost="0.25")),
                part(f"patch.{child}", {"id": child, "end_time": at(2), "outputs": {"v": "patched"}}),
                part(f"post.{early}", post(early, session_name="s2", outputs={"v": "post"})),
                part(f"feedback.{new_id()}", {"run_id": root, "key": "k", "score": 1})),
        body_of(part(f"post.{root}", post(root, name="renamed", extra={"metadata": {"model": "b"}}))),
    ]

    def nothing_prepared(workspace_id, batch):
        found = prepare(workspace_id, batch)
        return Prepared(found.problems, {})

    stored = []
    for prepared in (True, False):
        if not prepared:
            monkeypatch.setattr(lock, "prepare", nothing_prepared)
        async with served(await new_database(), 0) as api:
            for body in batches:
                response = await send(api, body)
                assert response.status_code == 202, response.text
            stored.append(await stored_rows(api))
    assert stored[0] == stored[1]
    names = {row["id"]: (row["name"], row["outputs"]) for row in stored[0]["runs"]}
    assert names[uuid.UUID(root)] == ("renamed", None) and names[uuid.UUID(early)][1] == {"v": "early patch"}
    assert names[uuid.UUID(child)][1] == {"v": "patched"} and uuid.UUID(orphan) in names
    # The session names looked up while preparing are not kept: a long-lived worker would
    # keep one per experiment ever posted.
    assert len(apply._UNRESOLVED) == 0
