"""Input that used to reach the database and fail there (a 500) is a 422 naming the field,
on every endpoint and both databases: NUL characters (PostgreSQL text and jsonb refuse
them), JSON nested deeper than the encoders go, offsets beyond 64 bits, and timestamps
that leave datetime's range once converted to UTC."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from evalql.db.models import Dataset, Example, PendingRun, Run
from tests.support.whole_database import everywhere
from tests.test_ingest_multipart import body_of, part, send
from tests.test_ingest_runs import at, new_id, post, send_post


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def dataset(api) -> str:
    response = await api.client.post("/datasets", json={"name": "hardening"}, headers=api.headers())
    assert response.status_code == 200
    return response.json()["id"]


async def count(api, model) -> int:
    async with api.db_sessions() as db:
        return await db.scalar(everywhere(select(func.count()).select_from(model)))


@pytest.mark.parametrize("body, loc", [
    ({"name": "a\x00b"}, ["body", "name"]),
    ({"name": "ok", "extra": {"metadata": {"k": "v\x00"}}}, ["body", "extra", "metadata"]),
    ({"name": "ok", "inputs_schema_definition": nested(300)}, ["body"]),
])
async def test_dataset_bodies(api, body, loc):
    response = await api.client.post("/datasets", json=body, headers=api.headers())
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:len(loc)] == loc
    assert await count(api, Dataset) == 0


@pytest.mark.parametrize("field, value", [("inputs", {"q": "\x00"}), ("metadata", {"k\x00": 1}),
                                          ("inputs", nested(300)), ("outputs", nested(250))])
async def test_example_bodies(api, field, value):
    ds = await dataset(api)
    response = await api.client.post("/examples", json={"dataset_id": ds, field: value}, headers=api.headers())
    assert response.status_code == 422, response.text
    assert await count(api, Example) == 0


@pytest.mark.parametrize("path", ["/examples", "/datasets", "/sessions", "/feedback"])
async def test_offsets_beyond_64_bits(api, path):
    response = await api.client.get(path, params={"offset": 2**64}, headers=api.headers())
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize("fields, loc", [
    ({"prompt_token_details": {"x": "\x00"}}, ["body", "prompt_token_details"]),
    ({"tags": ["a\x00"]}, ["body", "tags", 0]),
    ({"start_time": "9999-12-31T23:59:59-05:00"}, ["body", "start_time"]),
    ({"inputs": nested(300)}, ["body"]),
])
async def test_run_posts(api, fields, loc):
    response = await send_post(api, {**post(new_id()), **fields})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:len(loc)] == loc
    assert await count(api, Run) == 0


async def test_nested_multipart_part(api):
    run_id = new_id()
    response = await send(api, body_of(part(f"post.{run_id}", post(run_id)), part(f"post.{run_id}.inputs", b'{"a":' * 300 + b"{}" + b"}" * 300)))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", f"post.{run_id}.inputs"]


async def test_deleting_a_session_drops_posts_waiting_in_it(api):
    """A post waiting for its parent, and a patch waiting for that post, go with their session."""
    child, parent = new_id(), new_id()
    response = await send_post(api, post(child, parent_run_id=parent, session_name="doomed", start_time=at(1)))
    assert response.status_code == 202
    response = await api.client.patch(f"/runs/{child}", json={"end_time": at(2)}, headers=api.headers())
    assert response.status_code == 202
    keep = new_id()
    assert (await api.client.patch(f"/runs/{keep}", json={"end_time": at(2)}, headers=api.headers())).status_code == 202
    assert await count(api, PendingRun) == 3
    sessions = (await api.client.get("/sessions", params={"name": "doomed"}, headers=api.headers())).json()
    response = await api.client.delete(f"/sessions/{sessions[0]['id']}", headers=api.headers())
    assert response.status_code == 200
    async with api.db_sessions() as db:
        assert [str(r) for r in (await db.execute(everywhere(select(PendingRun.run_id)))).scalars()] == [keep]
