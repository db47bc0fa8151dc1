"""Client input that answered 500 (issue 13, item 3, REST side and the filter language both
interfaces share) is a 4xx naming the field, on both databases; JSON routes take JSON and
multipart routes multipart (item 6), anything else is a 415.

NUL is refused at the edge on every write path (runs, feedback, like datasets and examples
in test_input_hardening.py): PostgreSQL stores none in text or JSONB, and a run stored with
one in its inputs made every search and input filter over it fail there."""

from __future__ import annotations

import gzip
import uuid

import orjson
import pytest
from sqlalchemy import func, select

from evalql.db.models import Feedback, PendingRun, Run
from evalql.rest.openapi import build_openapi
from evalql.rest.routes import ROUTES
from tests.support.gql import GROUP_RUNS
from tests.support.whole_database import everywhere
from tests.test_ingest_multipart import BOUNDARY, body_of, part, send
from tests.test_ingest_runs import new_id, post, send_post


async def count(api, model) -> int:
    async with api.db_sessions() as db:
        return await db.scalar(everywhere(select(func.count()).select_from(model)))


@pytest.fixture
async def world(api) -> dict:
    """A dataset, an example with metadata k=1, a session with one root run on it (m=1)."""
    ds = (await api.client.post("/datasets", json={"name": "edges"}, headers=api.headers())).json()["id"]
    ex = (await api.client.post("/examples", json={"dataset_id": ds, "inputs": {"q": "x"}, "metadata": {"k": 1}},
                                headers=api.headers())).json()["id"]
    response = await send_post(api, post(new_id(), session_name="s", reference_example_id=ex, inputs={"a": "x"},
                                         outputs={"b": "y"}, extra={"metadata": {"m": 1}}, total_tokens=5,
                                         total_cost="0.5"))
    assert response.status_code == 202, response.text
    session = (await api.client.get("/sessions", params={"name": "s"}, headers=api.headers())).json()[0]["id"]
    return {"dataset": ds, "session": session}


def group_body(world: dict, *filters: str, metadata_key: str = "m") -> dict:
    return {"session_ids": [world["session"]], "group_by": "run_metadata", "metadata_key": metadata_key,
            "filters": {world["session"]: list(filters)}}


# (filter, runs of the world it selects, or the problem it is refused with)
RUN_FILTERS = [
    ("gt(total_tokens, 99999999999999999999)", 0),  # beyond 64 bits: compared as a number
    ("lt(total_tokens, 99999999999999999999)", 1),
    ("gt(total_tokens, 5000000000)", 0),  # beyond the 32-bit column PostgreSQL binds it as
    ("lt(total_tokens, 5.5)", 1),
    ("in(total_tokens, [99999999999999999999, 5])", 1),
    ("gt(feedback_score, 99999999999999999999)", 0),
    ("lt(feedback_score, 9223372036854775807)", 0),  # the run has no feedback
    ("lt(total_cost, \"1e999999999\")", 1),  # clamped, not expanded into a billion digits
    ("eq(name, \"\\ud83d\\ude00\")", 0),  # a surrogate pair is one character, as in JSON
    ("eq(name, \"\\ud800\")", "lone surrogate"),
    ("eq(name, \"x\\udc00\")", "lone surrogate"),
    ("eq(name, \"\\u0000\")", "NUL"),
    ("eq(name, \"a\x00\")", "NUL"),
    ("eq(input_value, \"\\u0000\")", "NUL"),
    ("search(\"\\u0000\")", "NUL"),
    ("eq(metadata_key, \"\\ud800\")", "lone surrogate"),
    ("gt(total_tokens, 1" + "0" * 400 + ")", "out of range"),
]


async def test_run_filter_literals(api, world):
    """One world for all the cases (a world per case cost more than the requests)."""
    for text, expected in RUN_FILTERS:
        await run_filter_case(api, world, text, expected)


async def run_filter_case(api, world, text, expected):
    body = group_body(world, text)
    rest = await api.group_runs(world["dataset"], body)
    gql = (await api.graphql(GROUP_RUNS, {"ds": world["dataset"], "input": {
        "sessionIds": [world["session"]], "groupBy": "RUN_METADATA", "metadataKey": "m",
        "filters": [{"sessionId": world["session"], "filters": [text]}]}})).json()
    if isinstance(expected, int):
        assert rest.status_code == 200, (text, rest.text)
        assert sum(g["count"] for g in rest.json()["groups"]) == expected, text
        assert "errors" not in gql, (text, gql)
        assert sum(g["count"] for g in gql["data"]["groupRuns"]) == expected, text
        return
    assert rest.status_code == 422, (text, rest.text)
    [problem] = rest.json()["detail"]
    assert problem["loc"] == ["body", "filters", world["session"], 0] and expected in problem["msg"], (text, problem)
    [error] = gql["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", (text, error)
    assert error["message"].startswith("input.filters[0].filters[0]: ") and expected in error["message"], (text, error)


EXAMPLE_QUERY = """query($id: UUID!, $filter: String) {
  dataset(id: $id) { examples(filter: $filter) { edges { node { id } } } }
}"""

EXAMPLE_FILTERS = [
    ("gt(metadata.k, 99999999999999999999)", 0),
    ("lt(metadata.k, 99999999999999999999)", 1),
    ("eq(metadata.k, \"\\u0000\")", "NUL"),
    ("eq(metadata.\"\\u0000\", 1)", "NUL"),
    ("eq(inputs.q, \"\\u0000\")", "NUL"),
    ("search(inputs.q, \"\\ud800\")", "lone surrogate"),
    ("eq(metadata.k, \"\\udfff\")", "lone surrogate"),
]


async def test_example_filter_literals(api, world):
    for text, expected in EXAMPLE_FILTERS:
        await example_filter_case(api, world, text, expected)


async def example_filter_case(api, world, text, expected):
    rest = await api.client.get("/examples", params={"dataset": world["dataset"], "filter": text},
                                headers=api.headers())
    gql = (await api.graphql(EXAMPLE_QUERY, {"id": world["dataset"], "filter": text})).json()
    if isinstance(expected, int):
        assert rest.status_code == 200 and len(rest.json()) == expected, (text, rest.text)
        assert len(gql["data"]["dataset"]["examples"]["edges"]) == expected, (text, gql)
        return
    assert rest.status_code == 422, (text, rest.text)
    [problem] = rest.json()["detail"]
    assert problem["loc"] == ["query", "filter"] and expected in problem["msg"], (text, problem)
    [error] = gql["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith("filter: "), (text, error)
    assert expected in error["message"], (text, error)


async def test_nul_in_metadata_key(api, world):
    rest = await api.group_runs(world["dataset"], group_body(world, metadata_key="m\x00"))
    assert rest.status_code == 422, rest.text
    assert rest.json()["detail"][0]["loc"] == ["body", "metadata_key"], rest.text
    gql = (await api.graphql(GROUP_RUNS, {"ds": world["dataset"], "input": {
        "sessionIds": [world["session"]], "groupBy": "RUN_METADATA", "metadataKey": "m\x00"}})).json()
    [error] = gql["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "metadataKey" in error["message"], error


def _multipart_inputs(run_id: str) -> tuple[str, bytes]:
    return "multipart", body_of(part(f"post.{run_id}", post(run_id)), part(f"post.{run_id}.inputs", {"q": "a\x00"}))


@pytest.mark.parametrize("how, loc", [
    ("post-inputs", ["body", "inputs", "q"]),
    ("post-outputs", ["body", "outputs", "o", 1]),
    ("post-extra", ["body", "extra", "deep", "k\x00"]),
    ("batch", ["body", "post", 0, "events", 0, "e"]),
    ("patch", ["body", "outputs", "o"]),
    ("multipart", ["body", "post.{id}.inputs", "q"]),
    ("feedback", ["body", "comment"]),
])
async def test_nul_in_writes_is_422_and_writes_nothing(api, world, how, loc):
    run_id = new_id()
    before = (await count(api, Run), await count(api, PendingRun), await count(api, Feedback))
    if how == "post-inputs":
        response = await send_post(api, post(run_id, inputs={"q": "a\x00"}))
    elif how == "post-outputs":
        response = await send_post(api, post(run_id, outputs={"o": ["x", "\x00"]}))
    elif how == "post-extra":
        response = await send_post(api, post(run_id, extra={"deep": {"k\x00": 1}}))
    elif how == "batch":
        response = await api.client.post("/runs/batch", json={"post": [post(run_id, events=[{"e": "\x00"}])]},
                                          headers=api.headers())
    elif how == "patch":
        response = await api.client.patch(f"/runs/{run_id}", json={"outputs": {"o": "\x00"}}, headers=api.headers())
    elif how == "multipart":
        response = await send(api, _multipart_inputs(run_id)[1])
    else:
        response = await api.client.post("/feedback", json={"run_id": run_id, "key": "k", "comment": "\x00"},
                                         headers=api.headers())
    assert response.status_code == 422, response.text
    wanted = [x.replace("{id}", run_id) if isinstance(x, str) else x for x in loc]
    assert response.json()["detail"][0]["loc"] == wanted, response.text
    assert "NUL" in response.json()["detail"][0]["msg"]
    assert (await count(api, Run), await count(api, PendingRun), await count(api, Feedback)) == before
    # Searches and input/output filters over the session keep answering.
    for text in ('search("x")', 'eq(input_value, "x")', 'eq(output_key, "b")'):
        found = await api.group_runs(world["dataset"], group_body(world, text))
        assert found.status_code == 200 and found.json()["groups"], found.text


async def test_nul_in_query_strings(api, world):
    for path, loc in (("/datasets", ["name"]), ("/sessions", ["name"]), ("/examples", ["splits", 0])):
        response = await api.client.get(path, params={loc[0]: "a\x00"}, headers=api.headers())
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", *loc], response.text


@pytest.mark.parametrize("length", [257, 5000])
async def test_long_multipart_boundaries(api, length):
    boundary = "b" * length
    run_id = new_id()
    body = body_of(part(f"post.{run_id}", post(run_id))).replace(BOUNDARY.encode(), boundary.encode())
    response = await send(api, body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 202, response.text
    assert await count(api, Run) == 1


def _gzipped(record: dict) -> bytes:
    return gzip.compress(orjson.dumps(record))


@pytest.mark.parametrize("damage, fragment", [
    (lambda raw: raw[:-8] + bytes(4) + raw[-4:], "incorrect data check"),  # CRC-32 trailer
    (lambda raw: raw[:-4] + b"\x01\x00\x00\x00", "incorrect length check"),  # ISIZE trailer
    (lambda raw: raw + b"junk", "4 bytes follow the end of the gzip stream"),
    (lambda raw: raw + b"\x1f\x8b", "truncated"),  # a second member that never comes
])
async def test_bad_gzip_trailers(api, damage, fragment):
    response = await api.client.post("/runs", content=damage(_gzipped(post(new_id()))), headers={
        **api.headers(), "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert "Content-Encoding: gzip" in problem["msg"] and fragment in problem["msg"], problem
    assert await count(api, Run) == 0


async def test_gzip_members_in_a_row_are_one_body(api):
    """RFC 1952 §2.2: a gzip body may be several members; their data is concatenated."""
    run_id = new_id()
    raw = orjson.dumps(post(run_id))
    data = gzip.compress(raw[:10]) + gzip.compress(raw[10:])
    response = await api.client.post("/runs", content=data, headers={
        **api.headers(), "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 202, response.text
    assert await count(api, Run) == 1


NOT_JSON = ["text/plain", "application/x-www-form-urlencoded", f"multipart/form-data; boundary={BOUNDARY}",
            "application/xml", "text/json"]
JSON_TYPES = [None, "application/json", "application/json; charset=utf-8", "Application/JSON",
              "application/vnd.langsmith+json"]


@pytest.mark.parametrize("method, path", [
    ("POST", "/datasets"), ("POST", "/runs"), ("POST", "/runs/batch"), ("PATCH", "/runs/{id}"), ("POST", "/feedback"),
    ("POST", "/api/v1/runs/query"),
])
async def test_json_routes_refuse_other_content_types(api, method, path):
    body = orjson.dumps({"name": "x"} if path == "/datasets" else post(new_id()))
    for content_type in NOT_JSON:
        response = await api.client.request(method, path.replace("{id}", new_id()), content=body,
                                            headers={**api.headers(), "Content-Type": content_type})
        assert response.status_code == 415, (content_type, response.text)
        assert "application/json" in response.json()["detail"], response.text
    assert (await count(api, Run), await count(api, PendingRun)) == (0, 0)


@pytest.mark.parametrize("content_type", JSON_TYPES)
async def test_json_routes_take_json_and_no_declared_type(api, content_type):
    headers = {**api.headers(), **({"Content-Type": content_type} if content_type else {})}
    response = await api.client.post("/datasets", content=orjson.dumps({"name": f"d{uuid.uuid4()}"}), headers=headers)
    assert response.status_code == 200, response.text
    response = await api.client.post("/runs", content=orjson.dumps(post(new_id())), headers=headers)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_multipart_route_takes_only_multipart(api, content_type):
    run_id = new_id()
    headers = {**api.headers(), **({"Content-Type": content_type} if content_type else {})}
    response = await api.client.post("/runs/multipart", content=_multipart_inputs(run_id)[1], headers=headers)
    assert response.status_code == 415, response.text
    assert "multipart/form-data" in response.json()["detail"], response.text


def test_openapi_lists_415_for_every_body():
    for path, ops in build_openapi(ROUTES)["paths"].items():
        for method, op in ops.items():
            assert ("415" in op["responses"]) == ("requestBody" in op), (method, path)


@pytest.mark.parametrize("encoding", ["gzip", "zstd", "br"])
async def test_compressed_bodies_only_on_ingest_routes(api, encoding):
    response = await api.client.post("/datasets", content=gzip.compress(b'{"name": "x"}'), headers={
        **api.headers(), "Content-Type": "application/json", "Content-Encoding": encoding})
    assert response.status_code == 415, response.text
    assert response.json()["detail"].startswith(f"Unsupported Content-Encoding: {encoding}"), response.text
