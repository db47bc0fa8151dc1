"""The real LangSmith SDK reading runs from a live server (spec §7.5.5, §9 item 8):
`list_runs` with a feedback filter on root runs, `list_runs` paging with the cursor over
more than 100 runs, and `read_run`. The data is written with evalql.db.writes before the
server starts; the expected answers come from the plain-Python filter oracle."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from evalql.db import writes
from tests.oracle import Derived, feedback_stats
from tests.test_langsmith_sdk import ServerThread
from tests.test_rest_runs_read import EXACT, exact_expected, exact_world
from tests.worlds import rich

langsmith = pytest.importorskip("langsmith")
# list_runs and read_run are the 0.15 SDK's REST readers this server implements; the SDK
# announces their successors (the /v2 query API), which evalql does not serve.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated and will be removed after:DeprecationWarning")


def drive_sdk(url: str, key: str, project_id: uuid.UUID, expected: set[str], all_ids: set[str],
              probe: dict) -> None:
    client = langsmith.Client(api_url=url, api_key=key, auto_batch_tracing=False)
    matched = [str(run.id) for run in client.list_runs(project_id=project_id, filter=EXACT, is_root=True)]
    assert len(matched) == len(set(matched)) and set(matched) == expected

    listed = list(client.list_runs(project_id=project_id))
    ids = [str(run.id) for run in listed]
    assert len(ids) == len(set(ids)) and set(ids) == all_ids
    starts = [(run.start_time, run.id) for run in listed]
    assert starts == sorted(starts, reverse=True)  # newest first, across page boundaries

    capped = [str(run.id) for run in client.list_runs(project_id=project_id, limit=150)]
    assert capped == ids[:150]

    run = client.read_run(probe["id"])
    assert str(run.id) == probe["id"] and run.name == probe["name"] and run.run_type == "chain"
    assert run.inputs == probe["inputs"] and run.status == "success" and run.parent_run_ids == []
    assert str(run.trace_id) == probe["id"] and run.session_id == project_id
    assert run.feedback_stats == probe["feedback_stats"]
    assert run.total_tokens == 30 and run.total_cost == Decimal("0.003")
    child = client.read_run(probe["child"])
    assert [str(i) for i in child.parent_run_ids] == [probe["id"]] and str(child.parent_run_id) == probe["id"]
    assert child.dotted_order.startswith(run.dotted_order + ".")
    with pytest.raises(langsmith.utils.LangSmithNotFoundError):
        client.read_run(uuid.uuid4())


async def test_sdk_reads_runs(api, database_url, monkeypatch):
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    rec = exact_world("sdk")
    root = rec.runs[0]  # root 0 of the world, feedback "exact" 1; give its child usage to roll up
    rec.runs[1].update(prompt_tokens=20, completion_tokens=10, total_tokens=30, total_cost="0.003")
    async with api.db_sessions() as db:
        await rich.load(db, api.workspace_id, rec)
    async with api.db_sessions() as db:  # a second project: list_runs(project_id=…) must not see it
        other = await writes.insert_session(db, api.workspace_id, name="elsewhere")
        await writes.insert_runs(db, api.workspace_id, [{"id": uuid.uuid4(), "session_id": other.id, "name": "x",
                                                         "run_type": "chain", "start_time": root["start_time"]}])
        await db.commit()
    d = Derived(rec)
    probe = {"id": str(root["id"]), "child": str(rec.runs[1]["id"]), "name": root["name"], "inputs": root["inputs"],
             "feedback_stats": feedback_stats([f for f in rec.feedback if f.get("run_id") == root["id"]])}
    assert d.usage(root["id"])["total_tokens"] == 30
    project_id = rec.sessions[0]["id"]
    with ServerThread(database_url) as url:
        await asyncio.to_thread(drive_sdk, url, api.key, project_id, exact_expected(rec),
                                {str(r["id"]) for r in rec.runs}, probe)
        await asyncio.to_thread(drive_sdk, url + "/api/v1", api.read_key, project_id, exact_expected(rec),
                                {str(r["id"]) for r in rec.runs}, probe)
