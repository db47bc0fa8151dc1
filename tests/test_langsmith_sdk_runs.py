"""The real SDK's one-run-at-a-time path (`auto_batch_tracing=False`): `create_run` is
`POST /runs`, `update_run` is `PATCH /runs/{id}`; then `read_run` and `list_runs` see
the merged runs, a child's trace fields and its usage rolled up into the parent."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest

from tests.test_langsmith_sdk import ServerThread

langsmith = pytest.importorskip("langsmith")


def drive(url: str, key: str) -> None:
    client = langsmith.Client(api_url=url, api_key=key, auto_batch_tracing=False)
    root, child = uuid.uuid4(), uuid.uuid4()
    start = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    client.create_run("pipeline", {"question": "2+2?"}, "chain", id=root, project_name="single",
                      start_time=start, extra={"metadata": {"model": "m1"}})
    # The child's patch is sent before its post: it waits, then wins over the post.
    client.update_run(child, outputs={"answer": "4", "usage_metadata": {"input_tokens": 5, "output_tokens": 1}},
                      end_time=start + dt.timedelta(seconds=2), trace_id=root)
    client.create_run("llm", {"prompt": "2+2?"}, "llm", id=child, parent_run_id=root, project_name="single",
                      start_time=start + dt.timedelta(seconds=1), outputs={"answer": "draft"})
    client.update_run(root, outputs={"answer": "4"}, end_time=start + dt.timedelta(seconds=3),
                      extra={"metadata": {"graded": True}})

    read = client.read_run(root)
    assert read.status == "success" and read.outputs == {"answer": "4"}
    assert {k: read.extra["metadata"][k] for k in ("model", "graded")} == {"model": "m1", "graded": True}  # + SDK keys
    assert read.total_tokens == 6 and read.prompt_tokens == 5  # rolled up from the child
    llm = client.read_run(child)
    assert llm.outputs["answer"] == "4" and llm.trace_id == root and llm.parent_run_id == root
    assert llm.dotted_order.startswith(read.dotted_order + ".")
    runs = list(client.list_runs(project_name="single"))
    assert sorted(r.name for r in runs) == ["llm", "pipeline"]
    assert [r.id for r in client.list_runs(project_name="single", is_root=True)] == [root]


async def test_sdk_single_run_endpoints(api, database_url, monkeypatch):
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with ServerThread(database_url) as url:
        await asyncio.to_thread(drive, url, api.key)
