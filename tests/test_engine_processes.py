"""The comparison engine with several processes and after faults (real `evalql serve`
processes on one database).

Each server keeps its engine state in its own memory; the database is the only source of
truth. So a write through one process (or by any other process: a script, the CLI) must
show in the next answer of another, and a server killed with SIGKILL in the middle of
ingest must leave nothing (no change-log entry, no state elsewhere) that disagrees with
the tables. Every answer is compared whole with the SQL evaluation of spec §5.3
(`queries/group_runs.answer_group_query`) over the same tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from evalql.core.group_request import to_query, validate_group_request
from evalql.db import writes
from evalql.db.engine import create_engine, session_factory
from evalql.db.models import Run
from evalql.db.tenant import Tenant, readable
from evalql.queries.group_runs import answer_group_query
from evalql.rest.group_shape import group_json
from tests import oracle

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
N_EXAMPLES = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def server(url: str) -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """`evalql serve` in its own process; yields its base URL and the process."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "evalql.cli", "serve", "--database-url", url, "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(300):
                if proc.poll() is not None:
                    raise AssertionError(f"server exited: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/api/v1/info")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("server did not start")
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux's /proc)."""
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


class World:
    """W(40) of the benchmark (4 sessions, run and example metadata) in a fresh workspace."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def load(self) -> None:
        sys.path.insert(0, str(BENCH))
        try:
            from workload import load_workload
        finally:
            sys.path.remove(str(BENCH))
        engine = create_engine(self.url)
        try:
            async with session_factory(engine)() as db:
                workspace = await writes.create_workspace(db, f"processes-{uuid.uuid4()}")
                self.key = await writes.create_api_key(db, workspace.id)
                self.workload = await load_workload(db, workspace.id, N_EXAMPLES)
                await db.commit()
        finally:
            await engine.dispose()
        self.workspace_id = workspace.id

    def bodies(self) -> list[dict]:
        sessions = [str(s) for s in self.workload.session_ids]
        return [
            {"session_ids": sessions, "group_by": "run_metadata", "metadata_key": "model", "per_group_limit": 3},
            {"session_ids": sessions[1:], "group_by": "example_metadata", "metadata_key": "difficulty",
             "filters": {sessions[1]: ["gt(latency, 1)"]}},
        ]

    async def expected(self, body: dict) -> dict:
        request, problems = validate_group_request(body)
        assert request is not None, problems
        engine = create_engine(self.url)
        try:
            async with session_factory(engine)() as db:
                groups = await answer_group_query(Tenant(self.workspace_id, True, db),
                                                  to_query(self.workload.dataset_id, request))
        finally:
            await engine.dispose()
        return orjson.loads(orjson.dumps({"groups": [group_json(g, False) for g in groups]}, default=str))

    async def check(self, base: str, what: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60, headers={"X-API-Key": self.key}) as client:
            for body in self.bodies():
                response = await client.post(f"/api/v1/datasets/{self.workload.dataset_id}/group/runs", json=body)
                assert response.status_code == 200, response.text
                problems = oracle.compare(await self.expected(body), response.json())
                assert not problems, f"{what}, {body['group_by']}:\n" + "\n".join(problems[:30])

    async def root_runs(self) -> list[dict]:
        engine = create_engine(self.url)
        try:
            async with engine.connect() as conn:
                stmt = readable(self.workspace_id, Run, Run.id, Run.session_id, Run.reference_example_id).where(
                    Run.is_root.is_(True))
                return [dict(row._mapping) for row in await conn.execute(stmt)]
        finally:
            await engine.dispose()


async def writes_through(base: str, world: World) -> None:
    """Feedback created, patched and deleted; a run posted; an example re-labelled."""
    roots = await world.root_runs()
    async with httpx.AsyncClient(base_url=base, timeout=60, headers={"X-API-Key": world.key}) as client:
        created = []
        for i, run in enumerate(roots[:6]):
            response = await client.post("/api/v1/feedback", json={
                "run_id": str(run["id"]), "key": "correctness", "score": i % 2, "comment": f"c{i}"})
            assert response.status_code == 200, response.text
            created.append(response.json()["id"])
        assert (await client.patch(f"/api/v1/feedback/{created[0]}", json={"score": 0.25})).status_code == 200
        assert (await client.delete(f"/api/v1/feedback/{created[1]}")).status_code in (200, 204)
        start = dt.datetime(2026, 10, 2, tzinfo=dt.UTC)
        response = await client.post("/api/v1/runs", json={
            "id": str(uuid.uuid4()), "name": "late", "run_type": "chain", "session_id": str(roots[0]["session_id"]),
            "reference_example_id": str(roots[1]["reference_example_id"]), "start_time": start.isoformat(),
            "end_time": (start + dt.timedelta(seconds=3)).isoformat(), "inputs": {}, "outputs": {"a": 1},
            "extra": {"metadata": {"model": "gpt-4o"}}})
        assert response.status_code in (200, 202), response.text
        example_id = roots[2]["reference_example_id"]
        response = await client.patch(f"/api/v1/examples/{example_id}", json={"metadata": {"difficulty": "brutal"}})
        assert response.status_code == 200, response.text


@pytest.fixture
async def world(database_url: str) -> World:
    found = World(database_url)
    await found.load()
    return found


async def test_a_write_through_one_server_shows_in_the_other(world: World):
    async with server(world.url) as (writer, _), server(world.url) as (reader, _):
        await world.check(reader, "before any write")  # the reader's state is now warm
        await writes_through(writer, world)
        await world.check(reader, "after writes through the other server")
        await world.check(writer, "on the writing server")


async def test_a_write_by_another_process_shows(world: World):
    """Not a server: a script with its own connection (as the CLI or a migration would be)."""
    roots = await world.root_runs()
    async with server(world.url) as (base, _):
        await world.check(base, "before")
        script = textwrap.dedent(f"""
            import asyncio, uuid
            from evalql.db import writes
            from evalql.db.engine import create_engine, session_factory
            async def main():
                engine = create_engine({world.url!r})
                async with session_factory(engine)() as db:
                    await writes.insert_feedback(db, uuid.UUID({str(world.workspace_id)!r}), [
                        {{"run_id": {str(roots[3]["id"])!r}, "key": "helpfulness", "score": 0.0}},
                        {{"run_id": {str(roots[4]["id"])!r}, "key": "fresh", "score": 1.0, "comment": "x"}}])
                    await db.commit()
                await engine.dispose()
            asyncio.run(main())
        """)
        subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       timeout=60)
        await world.check(base, "after another process wrote")


async def test_sigkill_during_ingest_leaves_nothing_that_disagrees(world: World):
    roots = await world.root_runs()
    async with server(world.url) as (reader, _):
        await world.check(reader, "before")
        async with server(world.url) as (writer, proc):
            async def ingest() -> None:
                async with httpx.AsyncClient(base_url=writer, timeout=60, headers={"X-API-Key": world.key}) as client:
                    for batch in range(1000):
                        start = dt.datetime(2026, 10, 3, tzinfo=dt.UTC) + dt.timedelta(minutes=batch)
                        posts = [{
                            "id": str(uuid.uuid4()), "name": "k", "run_type": "chain",
                            "session_id": str(roots[i]["session_id"]),
                            "reference_example_id": str(roots[i]["reference_example_id"]),
                            "start_time": start.isoformat(), "end_time": (start + dt.timedelta(seconds=i)).isoformat(),
                            "inputs": {}, "outputs": {}, "extra": {"metadata": {"model": "claude-3-5"}}}
                            for i in range(0, len(roots), 7)]
                        await client.post("/api/v1/runs/batch", json={"post": posts})
                        await client.post("/api/v1/feedback", json={
                            "run_id": posts[0]["id"], "key": "correctness", "score": batch % 2})

            task = asyncio.create_task(ingest())
            await asyncio.sleep(2.0)
            workers = children(proc.pid)  # its ingest workers (and multiprocessing's tracker)
            assert workers, "evalql serve starts ingest worker processes"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            with contextlib.suppress(httpx.TransportError):
                await task
            for _ in range(100):  # orphaned, they exit by themselves
                if not any(Path(f"/proc/{pid}").exists() for pid in workers):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"ingest workers outlived their server: {workers}")
        await world.check(reader, "after the writer was killed mid-ingest")
    async with server(world.url) as (fresh, _):
        await world.check(fresh, "on a server started after the kill")
