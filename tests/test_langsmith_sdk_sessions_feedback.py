"""The real LangSmith SDK against the server on a free local port (spec §7.4, §7.6):
projects (create, upsert, read with stats, list, update, delete) and feedback (create,
list, read, update, delete). Runs are written with evalql.db.writes, not the SDK."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from evalql.db import writes
from tests.test_langsmith_sdk import ServerThread

langsmith = pytest.importorskip("langsmith")

T0 = dt.datetime(2024, 7, 1, 8, 0, tzinfo=dt.UTC)


def client_for(url: str, key: str):
    return langsmith.Client(api_url=url, api_key=key, auto_batch_tracing=False)


def create_projects(url: str, key: str) -> tuple[uuid.UUID, uuid.UUID]:
    client = client_for(url, key)
    dataset = client.create_dataset("sdk-sessions-ds")
    project = client.create_project("sdk-exp", description="first", metadata={"model": "m1"},
                                    reference_dataset_id=dataset.id, num_examples=2, evaluator_keys=["correctness"])
    assert project.name == "sdk-exp" and project.description == "first" and project.metadata == {"model": "m1"}
    assert project.reference_dataset_id == dataset.id
    assert project.extra["__progress"] == {"num_examples": 2, "evaluator_keys": ["correctness"]}
    with pytest.raises(langsmith.utils.LangSmithConflictError):
        client.create_project("sdk-exp")
    assert client.create_project("sdk-exp", upsert=True).id == project.id
    tracing = client.create_project("sdk-tracing")
    assert tracing.reference_dataset_id is None and tracing.metadata == {}
    return project.id, dataset.id


def drive(url: str, key: str, project_id: uuid.UUID, dataset_id: uuid.UUID, roots: list[uuid.UUID]) -> None:
    client = client_for(url, key)
    assert client.read_project(project_name="sdk-exp").id == project_id
    assert client.has_project("sdk-exp") and not client.has_project("no-such-project")
    with pytest.raises(langsmith.utils.LangSmithNotFoundError):
        client.read_project(project_name="no-such-project")

    fb = client.create_feedback(run_id=roots[0], key="correctness", score=1, comment="nice", session_id=project_id)
    client.create_feedback(run_id=roots[1], key="correctness", score=0, session_id=project_id)
    client.create_feedback(key="summary", score=0.5, project_id=project_id)
    assert [f.id for f in client.list_feedback(run_ids=[roots[0]])] == [fb.id]
    assert len(list(client.list_feedback(run_ids=roots, feedback_key=["correctness"]))) == 2
    read = client.read_feedback(fb.id)
    assert (read.key, read.score, read.comment, read.run_id) == ("correctness", 1, "nice", roots[0])
    client.update_feedback(fb.id, score=0.5, comment=None)
    read = client.read_feedback(fb.id)
    assert (read.score, read.comment) == (0.5, None)

    stats = client.read_project(project_id=str(project_id), include_stats=True)
    assert stats.run_count == 2 and stats.total_tokens == 30 and stats.error_rate == 0.5
    assert stats.latency_p50 == dt.timedelta(seconds=1.5)
    assert stats.feedback_stats["correctness"]["n"] == 2 and stats.feedback_stats["correctness"]["avg"] == 0.25
    assert stats.session_feedback_stats["summary"]["avg"] == 0.5
    assert stats.last_run_start_time == T0 + dt.timedelta(seconds=10)

    client.delete_feedback(fb.id)
    assert list(client.list_feedback(run_ids=[roots[0]])) == []

    assert {p.name for p in client.list_projects()} == {"sdk-exp", "sdk-tracing"}
    assert [p.id for p in client.list_projects(reference_dataset_id=dataset_id)] == [project_id]
    assert [p.name for p in client.list_projects(reference_free=True)] == ["sdk-tracing"]
    assert [p.name for p in client.list_projects(metadata={"model": "m1"})] == ["sdk-exp"]
    assert [p.name for p in client.list_projects(name_contains="EXP", include_stats=True)] == ["sdk-exp"]
    assert [p.name for p in client.list_projects(project_ids=[project_id], limit=1)] == ["sdk-exp"]

    end = dt.datetime(2024, 8, 1, tzinfo=dt.UTC)
    updated = client.update_project(project_id, name="sdk-exp-2", description="second", metadata={"model": "m2"},
                                    end_time=end)
    assert (updated.name, updated.description, updated.metadata, updated.end_time) == (
        "sdk-exp-2", "second", {"model": "m2"}, end)
    assert client.read_project(project_id=str(project_id)).name == "sdk-exp-2"
    client.delete_project(project_name="sdk-exp-2")
    with pytest.raises(langsmith.utils.LangSmithNotFoundError):
        client.read_project(project_id=str(project_id))
    assert [p.name for p in client.list_projects()] == ["sdk-tracing"]


async def test_langsmith_sdk_sessions_and_feedback(api, database_url, monkeypatch):
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with ServerThread(database_url) as url:
        project_id, dataset_id = await asyncio.to_thread(create_projects, url + "/api/v1", api.key)
        roots = [uuid.uuid4(), uuid.uuid4()]
        async with api.db_sessions() as db:
            await writes.insert_runs(db, api.workspace_id, [
                {"id": roots[0], "name": "target", "run_type": "chain", "session_id": project_id, "start_time": T0,
                 "end_time": T0 + dt.timedelta(seconds=1), "total_tokens": 10},
                {"id": roots[1], "name": "target", "run_type": "chain", "session_id": project_id,
                 "start_time": T0 + dt.timedelta(seconds=10), "end_time": T0 + dt.timedelta(seconds=12),
                 "error": "boom", "total_tokens": 20},
                {"id": uuid.uuid4(), "name": "llm", "run_type": "llm", "session_id": project_id,
                 "parent_run_id": roots[0], "start_time": T0 + dt.timedelta(seconds=20)},
            ])
            await db.commit()
        await asyncio.to_thread(drive, url, api.key, project_id, dataset_id, roots)
