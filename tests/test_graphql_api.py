"""The GraphQL API (graphql.md): every Query field, errors with extensions.code, limits,
masking, GraphiQL, introspection and field suggestions, scalar formats."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from decimal import Decimal

import pytest

from evalql.config import Settings
from evalql.db import models, rls, writes
from evalql.db.tenant import readable
from tests.support.app import app_client
from tests.support.world import build_world
from tests.worlds import worked_example

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload
    return payload["data"]


def error_of(response) -> dict:
    payload = response.json()
    assert payload.get("errors"), payload
    return payload["errors"][0]


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        return await build_world(db, api.workspace_id, n_examples=10, n_sessions=3, seed=7)


@pytest.fixture
async def worked(api):
    async with api.db_sessions() as db:
        return await worked_example.load(db, api.workspace_id)


async def rows(api, stmt):
    async with api.db_sessions() as db:
        return list((await db.execute(stmt)).scalars().all())


# --- dataset / datasets -------------------------------------------------------------

async def test_dataset(api, world):
    query = """query($id: UUID!) { dataset(id: $id) {
        id name description dataType createdAt modifiedAt exampleCount sessionCount
        examples(first: 4) { edges { cursor node { id name splits dataset { id } } } pageInfo { hasNextPage endCursor } }
        sessions(first: 2) { edges { node { id name } } pageInfo { hasNextPage endCursor } } } }"""
    data = ok(await api.graphql(query, {"id": str(world.dataset_id)}))["dataset"]
    assert data["id"] == str(world.dataset_id)
    assert (data["name"], data["description"], data["dataType"]) == ("D", "dataset D", "kv")
    assert TS.match(data["createdAt"]) and TS.match(data["modifiedAt"])
    assert (data["exampleCount"], data["sessionCount"]) == (10, 3)
    assert [e["node"]["id"] for e in data["examples"]["edges"]] == [str(i) for i in world.example_ids[:4]]
    assert data["examples"]["pageInfo"]["hasNextPage"] is True
    assert data["examples"]["pageInfo"]["endCursor"] == data["examples"]["edges"][-1]["cursor"]
    first = data["examples"]["edges"][0]["node"]
    assert first["name"] == "#" + uuid.UUID(first["id"]).hex[:4]
    assert first["dataset"]["id"] == str(world.dataset_id)
    assert [e["node"]["id"] for e in data["sessions"]["edges"]] == [str(s) for s in world.session_ids[:2]]
    assert data["sessions"]["pageInfo"]["hasNextPage"] is True


async def test_dataset_examples_paging_and_splits(api, world):
    query = """query($id: UUID!, $after: String, $splits: [String!]) { dataset(id: $id) {
        examples(first: 3, after: $after, splits: $splits) {
            edges { node { id splits } } pageInfo { hasNextPage endCursor } } } }"""
    seen, after = [], None
    while True:
        page = ok(await api.graphql(query, {"id": str(world.dataset_id), "after": after}))["dataset"]["examples"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [str(i) for i in world.example_ids]
    page = ok(await api.graphql(query, {"id": str(world.dataset_id), "splits": ["test"]}))["dataset"]["examples"]
    assert [e["node"]["id"] for e in page["edges"]] == [str(i) for i in world.example_ids[1:7:2]]
    assert all("test" in e["node"]["splits"] for e in page["edges"])


async def test_dataset_unknown_is_null(api, world):
    assert ok(await api.graphql("query($id: UUID!) { dataset(id: $id) { id } }",
                                {"id": str(uuid.uuid4())})) == {"dataset": None}


async def test_datasets_paging_and_name_contains(api):
    async with api.db_sessions() as db:
        base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        made = [await writes.insert_dataset(db, api.workspace_id, name=name, created_at=base + dt.timedelta(hours=i))
                for i, name in enumerate(["alpha", "Beta", "gamma", "beta-2", "100%_real", "delta"])]
        gone = await writes.insert_dataset(db, api.workspace_id, name="beta-deleted", deleted_at=base)
        await db.commit()
    newest_first = [str(d.id) for d in reversed(made)]
    query = """query($first: Int, $after: String, $name: String) {
        datasets(first: $first, after: $after, nameContains: $name) {
            edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    for _ in range(10):
        page = ok(await api.graphql(query, {"first": 4, "after": after}))["datasets"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == newest_first
    assert str(gone.id) not in seen
    default = ok(await api.graphql("{ datasets { edges { node { id } } } }"))["datasets"]
    assert [e["node"]["id"] for e in default["edges"]] == newest_first
    page = ok(await api.graphql(query, {"first": 20, "name": "BETA"}))["datasets"]
    assert [e["node"]["name"] for e in page["edges"]] == ["beta-2", "Beta"]
    page = ok(await api.graphql(query, {"first": 20, "name": "%"}))["datasets"]
    assert [e["node"]["name"] for e in page["edges"]] == ["100%_real"]
    page = ok(await api.graphql(query, {"first": 20, "name": "_"}))["datasets"]
    assert [e["node"]["name"] for e in page["edges"]] == ["100%_real"]
    page = ok(await api.graphql(query, {"first": 20, "name": "zzz"}))["datasets"]
    assert page == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


@pytest.mark.parametrize("first", [0, 101, -1])
async def test_datasets_first_out_of_range(api, first):
    err = error_of(await api.graphql("query($f: Int) { datasets(first: $f) { edges { cursor } } }", {"first": first}
                                     if False else {"f": first}))
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in err["message"]


async def test_datasets_bad_cursor(api):
    err = error_of(await api.graphql('{ datasets(after: "garbage!") { edges { cursor } } }'))
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "after" in err["message"]


# --- session ---------------------------------------------------------------------------

async def test_session_with_stats_and_runs(api, world):
    sid = world.session_ids[1]
    query = """query($id: UUID!, $root: Boolean, $after: String) { session(id: $id) {
        id name description startTime endTime metadata extra referenceDataset { id name }
        stats { runCount exampleCount totalTokens errorRate streamingRate latencyP50 filter
                session { id } testRunNumber feedbackStats { key n } sessionFeedbackStats { key n avg comments } }
        runs(first: 5, after: $after, isRoot: $root) { edges { node { id parentRunId startTime } }
                                                        pageInfo { hasNextPage endCursor } } } }"""
    data = ok(await api.graphql(query, {"id": str(sid), "root": True}))["session"]
    assert (data["id"], data["name"], data["description"]) == (str(sid), "D-session-1", "experiment 1")
    assert data["metadata"] == {"model": "m2", "n": 1}
    assert data["extra"] == {"metadata": {"model": "m2", "n": 1}}
    assert data["referenceDataset"] == {"id": str(world.dataset_id), "name": "D"}
    assert TS.match(data["startTime"]) and data["endTime"] is None

    roots = await rows(api, readable(api.workspace_id, models.Run).where(models.Run.session_id == sid,
                                                                         models.Run.is_root.is_(True)))
    everything = await rows(api, readable(api.workspace_id, models.Run).where(models.Run.session_id == sid))
    stats = data["stats"]
    assert stats["runCount"] == len(roots)
    assert stats["totalTokens"] == sum(r.total_tokens for r in roots)
    assert stats["errorRate"] == pytest.approx(sum(r.status == "error" for r in roots) / len(roots), abs=1e-9)
    assert stats["session"]["id"] == str(sid)
    assert stats["testRunNumber"] == 2
    assert stats["sessionFeedbackStats"] == [{"key": "summary", "n": 1, "avg": 0.5, "comments": ["summary 1"]}]

    # runs connection: newest first, isRoot filter, stable paging
    seen, after = [], None
    while True:
        page = ok(await api.graphql(query, {"id": str(sid), "root": True, "after": after}))["session"]["runs"]
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert all(n["parentRunId"] is None for n in seen)
    expected = sorted(roots, key=lambda r: (r.start_time, r.id), reverse=True)
    assert [n["id"] for n in seen] == [str(r.id) for r in expected]
    children = ok(await api.graphql(query, {"id": str(sid), "root": False}))["session"]["runs"]["edges"]
    assert children and all(e["node"]["parentRunId"] is not None for e in children)
    anything = ok(await api.graphql(query.replace("first: 5", "first: 100"), {"id": str(sid)}))["session"]["runs"]
    assert len(anything["edges"]) == len(everything)


async def test_session_unknown_is_null(api, world):
    assert ok(await api.graphql("query($id: UUID!) { session(id: $id) { id } }",
                                {"id": str(uuid.uuid4())})) == {"session": None}


# --- example ---------------------------------------------------------------------------

async def test_example_with_runs_and_dataset(api, world):
    eid = world.example_ids[0]
    s0, s1, s2 = (str(s) for s in world.session_ids)
    query = """query($id: UUID!, $sids: [UUID!]!) { example(id: $id) {
        id name inputs outputs metadata splits sourceRunId createdAt modifiedAt
        dataset { id name exampleCount } runs(sessionIds: $sids) { id session { id } parentRunId startTime } } }"""
    data = ok(await api.graphql(query, {"id": str(eid), "sids": [s2, s0, s2]}))["example"]
    assert data["id"] == str(eid) and data["name"] == "#" + eid.hex[:4]
    assert data["inputs"] == {"question": "q0"} and data["outputs"] == {"answer": "a0"}
    assert data["metadata"]["category"] == "math" and data["splits"] == ["base"]
    assert data["sourceRunId"] is None and TS.match(data["createdAt"])
    assert data["dataset"] == {"id": str(world.dataset_id), "name": "D", "exampleCount": 10}
    roots = await rows(api, readable(api.workspace_id, models.Run).where(models.Run.reference_example_id == eid,
                                                                         models.Run.is_root.is_(True)))
    order = {s2: 0, s0: 1}
    expected = sorted((r for r in roots if str(r.session_id) in order),
                      key=lambda r: (order[str(r.session_id)], r.start_time, r.id))
    assert [r["id"] for r in data["runs"]] == [str(r.id) for r in expected]
    assert all(r["parentRunId"] is None for r in data["runs"])
    assert {r["session"]["id"] for r in data["runs"]} <= {s0, s2}
    assert ok(await api.graphql("query($id: UUID!) { example(id: $id) { id } }",
                                {"id": str(uuid.uuid4())})) == {"example": None}


# --- run -------------------------------------------------------------------------------

async def test_run_relations(api, world):
    feedback = await rows(api, readable(api.workspace_id, models.Feedback)
                          .where(models.Feedback.run_id.in_(world.root_run_ids)))
    counts: dict = {}
    for f in feedback:
        counts[f.run_id] = counts.get(f.run_id, 0) + 1
    rid = max(counts, key=counts.get)  # the root run with the most feedback
    run = (await rows(api, readable(api.workspace_id, models.Run).where(models.Run.id == rid)))[0]
    child = (await rows(api, readable(api.workspace_id, models.Run).where(models.Run.parent_run_id == rid)))[0]
    query = """query($id: UUID!) { run(id: $id) {
        id name runType status parentRunId parent { id } traceId dottedOrder
        children { id parentRunId parent { id } runType }
        session { id name } referenceExample { id dataset { id } }
        totalTokens totalCost appPath latency startTime endTime
        feedbacks { id key score value comment isRoot run { id } session { id } feedbackSource { type userName } }
        feedbackStats { key n avg stdev min max errors values { value count } comments } } }"""
    data = ok(await api.graphql(query, {"id": str(rid)}))["run"]
    assert data["id"] == str(rid) and (data["runType"], data["parentRunId"], data["parent"]) == ("CHAIN", None, None)
    assert data["status"] == run.status.upper()
    assert data["traceId"] == str(rid) and data["dottedOrder"].endswith(str(rid))
    assert data["children"] == [{"id": str(child.id), "parentRunId": str(rid), "parent": {"id": str(rid)},
                                 "runType": "LLM"}]
    assert data["session"]["id"] == str(run.session_id)
    assert data["referenceExample"]["id"] == str(run.reference_example_id)
    assert data["referenceExample"]["dataset"]["id"] == str(world.dataset_id)
    assert data["appPath"] == f"/o/{api.workspace_id}/projects/p/{run.session_id}/r/{rid}?trace_id={rid}"
    assert data["latency"] == pytest.approx(run.latency)
    mine = sorted((f for f in feedback if f.run_id == rid), key=lambda f: (f.created_at, f.id))
    assert [f["id"] for f in data["feedbacks"]] == [str(f.id) for f in mine]
    assert all(f["isRoot"] is True and f["run"]["id"] == str(rid) and f["session"]["id"] == str(run.session_id)
               for f in data["feedbacks"])
    assert sorted(s["key"] for s in data["feedbackStats"]) == sorted({f.key for f in mine})
    for stat in data["feedbackStats"]:
        scores = [f.score for f in mine if f.key == stat["key"] and f.score is not None]
        assert stat["n"] == len(scores)

    # a child run: parent, no reference example, feedback isRoot false
    data = ok(await api.graphql(query, {"id": str(child.id)}))["run"]
    assert data["parent"] == {"id": str(rid)} and data["parentRunId"] == str(rid)
    assert data["traceId"] == str(rid) and data["children"] == []
    assert data["referenceExample"] is None
    assert ok(await api.graphql("query($id: UUID!) { run(id: $id) { id } }", {"id": str(uuid.uuid4())})) == {"run": None}


async def test_child_feedback_is_not_root(api, world):
    child_id = world.child_run_ids[0]
    async with api.db_sessions() as db:
        await writes.insert_feedback(db, api.workspace_id, [{"run_id": child_id, "key": "on_child", "score": 1}])
        await db.commit()
    query = "query($id: UUID!) { run(id: $id) { feedbacks { key isRoot run { id } } } }"
    data = ok(await api.graphql(query, {"id": str(child_id)}))["run"]
    assert {"key": "on_child", "isRoot": False, "run": {"id": str(child_id)}} in data["feedbacks"]


# --- groupRuns errors ---------------------------------------------------------------------

GROUP = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) { groupKey } }"""


def group_input(worked, **extra) -> dict:
    return {"sessionIds": [str(worked.sessions["A"]), str(worked.sessions["B"])], "groupBy": "EXAMPLE_METADATA",
            "metadataKey": "category", **extra}


async def test_group_runs_unknown_dataset_not_found(api, worked):
    unknown = uuid.uuid4()
    response = await api.graphql(GROUP, {"ds": str(unknown), "input": group_input(worked)})
    err = error_of(response)
    assert (err["message"], err["extensions"]["code"]) == (f"Dataset {unknown} not found", "NOT_FOUND")
    assert response.json()["data"] is None


async def test_group_runs_unknown_session_not_found(api, worked):
    unknown = uuid.uuid4()
    err = error_of(await api.graphql(GROUP, {"ds": str(worked.dataset_id), "input": group_input(
        worked, sessionIds=[str(worked.sessions["A"]), str(unknown)])}))
    assert (err["message"], err["extensions"]["code"]) == (f"Session {unknown} not found", "NOT_FOUND")


@pytest.mark.parametrize("patch,field,words", [
    ({"limit": 0}, "limit", "greater than or equal to 1"),
    ({"limit": 21}, "limit", "less than or equal to 20"),
    ({"perGroupLimit": 11}, "perGroupLimit", "less than or equal to 10"),
    ({"offset": -1}, "offset", "greater than or equal to 0"),
    ({"sessionIds": []}, "sessionIds", "at least 1"),
    ({"metadataKey": ""}, "metadataKey", "at least 1"),
    ({"sessionIds": [str(uuid.UUID(int=i)) for i in range(11)]}, "sessionIds", "at most 10"),
])
async def test_group_runs_bad_input(api, worked, patch, field, words):
    response = await api.graphql(GROUP, {"ds": str(worked.dataset_id), "input": group_input(worked, **patch)})
    err = error_of(response)
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    # The argument in GraphQL's own spelling, not the REST field's (per_group_limit).
    assert f"input.{field}: " in err["message"] and words in err["message"], err["message"]
    assert "_" not in err["message"].split(":")[0], err["message"]
    assert response.json()["data"] is None


async def test_group_runs_several_problems_in_one_message(api, worked):
    err = error_of(await api.graphql(GROUP, {"ds": str(worked.dataset_id),
                                             "input": group_input(worked, limit=0, sessionIds=[])}))
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["message"].startswith("input.sessionIds: ") and "; input.limit: " in err["message"], err["message"]


async def test_group_runs_filter_key_not_in_session_ids(api, worked):
    stranger = str(uuid.uuid4())
    err = error_of(await api.graphql(GROUP, {"ds": str(worked.dataset_id), "input": group_input(
        worked, filters=[{"sessionId": stranger, "filters": []}])}))
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["message"] == f"input.filters[0].sessionId: Session {stranger} is not in sessionIds"


async def test_group_runs_filter_errors_name_the_entry(api, worked):
    """Two entries for one session AND their strings (as two spellings do in REST); a bad
    string is named by its entry and position as the caller wrote them."""
    a, b = str(worked.sessions["A"]), str(worked.sessions["B"])
    err = error_of(await api.graphql(GROUP, {"ds": str(worked.dataset_id), "input": group_input(
        worked, filters=[{"sessionId": a, "filters": ['eq(status, "success")']},
                         {"sessionId": b, "filters": []},
                         {"sessionId": a, "filters": ['eq(name, "x")', "gt(latency"]}])}))
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["message"].startswith("input.filters[2].filters[1]: Invalid filter: "), err["message"]


@pytest.mark.parametrize("patch,named", [
    ({"sessionIds": ["nope"]}, "sessionIds"),
    ({"groupBy": "FOO"}, "groupBy"),
    ({"limit": "ten"}, "limit"),
    ({"ds": "nope"}, "$ds"),
], ids=["bad-uuid", "bad-enum", "bad-int", "bad-dataset-id"])
async def test_group_runs_variable_coercion_is_bad_user_input(api, worked, patch, named):
    """Type errors in variables (bad UUID, bad enum, non-integer) are the caller's fault:
    BAD_USER_INPUT with a message naming the argument, not a masked INTERNAL error."""
    patch = dict(patch)
    ds = patch.pop("ds", str(worked.dataset_id))
    response = await api.graphql(GROUP, {"ds": ds, "input": group_input(worked, **patch)})
    assert response.status_code != 500
    err = error_of(response)
    assert err["extensions"]["code"] == "BAD_USER_INPUT", err
    assert named in err["message"], err


@pytest.mark.parametrize("query", [
    '{ dataset(id: "nope") { id } }',
    '{ run(id: 5) { id } }',
    '{ datasets(first: "x") { edges { cursor } } }',
])
async def test_bad_literal_argument_is_bad_user_input(api, query):
    """graphql-core's literal messages carry a location rather than the argument name."""
    response = await api.graphql(query)
    assert response.status_code != 500
    err = error_of(response)
    assert err["extensions"]["code"] == "BAD_USER_INPUT", err
    assert err["message"] != "Internal error" and err.get("locations"), err


async def test_group_runs_ok_and_duplicates_dropped(api, worked):
    a, b = str(worked.sessions["A"]), str(worked.sessions["B"])
    query = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) {
        groupKey totalCost minStartTime sessions { session { id } } } }"""
    data = ok(await api.graphql(query, {"ds": str(worked.dataset_id), "input": group_input(
        worked, sessionIds=[b.upper(), a, b])}))["groupRuns"]
    assert [g["groupKey"] for g in data] == ["geo", "math"]
    assert [[s["session"]["id"] for s in g["sessions"]] for g in data] == [[b, a], [b, a]]
    assert [g["totalCost"] for g in data] == ["0.008", "0.005"]
    assert all(TS.match(g["minStartTime"]) for g in data)


# --- scalar formats -------------------------------------------------------------------------

async def test_datetime_and_decimal_formats(api):
    async with api.db_sessions() as db:
        ds = await writes.insert_dataset(db, api.workspace_id, name="fmt")
        [eid] = await writes.insert_examples(db, api.workspace_id, [{"dataset_id": ds.id, "inputs": {},
                                                                    "metadata": {"g": "x"}}])
        session = await writes.insert_session(db, api.workspace_id, name="fmt-s", reference_dataset_id=ds.id,
                                              start_time=dt.datetime(2024, 5, 1, 12, 0, 0))
        start = dt.datetime(2024, 5, 1, 14, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 12:00 UTC
        rid = uuid.uuid4()
        await writes.insert_runs(db, api.workspace_id, [{
            "id": rid, "name": "r", "run_type": "llm", "start_time": start, "end_time": start + dt.timedelta(seconds=1),
            "session_id": session.id, "reference_example_id": eid, "prompt_cost": "0.0000012",
            "completion_cost": 0.00001, "total_cost": "1E-7"}])
        await db.commit()
    query = """query($id: UUID!, $s: UUID!) { run(id: $id) { startTime endTime firstTokenTime totalCost promptCost completionCost }
               session(id: $s) { startTime } }"""
    data = ok(await api.graphql(query, {"id": str(rid), "s": str(session.id)}))
    run = data["run"]
    assert run["startTime"] == "2024-05-01T12:00:00.000000+00:00"
    assert run["endTime"] == "2024-05-01T12:00:01.000000+00:00"
    assert run["firstTokenTime"] is None
    assert data["session"]["startTime"] == "2024-05-01T12:00:00.000000+00:00"  # naive means UTC
    for field in ("totalCost", "promptCost", "completionCost"):
        assert isinstance(run[field], str) and DECIMAL.match(run[field]), run
        assert "e" not in run[field].lower()
    assert Decimal(run["promptCost"]) == Decimal("0.0000012")
    assert Decimal(run["completionCost"]) == Decimal("0.00001")
    assert Decimal(run["totalCost"]) == Decimal("1E-7")


async def test_ids_lowercase_in_output(api, worked):
    data = ok(await api.graphql("query($id: UUID!) { dataset(id: $id) { id } }",
                                {"id": str(worked.dataset_id).upper()}))
    assert data["dataset"]["id"] == str(worked.dataset_id)


# --- limits ---------------------------------------------------------------------------------

def nested_parents(levels: int) -> str:
    """`run` plus `levels` nested `parent` fields, ending in `id`."""
    inner = "id"
    for _ in range(levels):
        inner = f"parent {{ {inner} }}"
    return f'{{ run(id: "{uuid.uuid4()}") {{ {inner} }} }}'


async def test_depth_limit(api):
    # Strawberry's QueryDepthLimiter (like graphql-depth-limit) counts the top-level field
    # as depth 0: run=0, parent×n, id → depth n + 1.
    ok_resp = await api.graphql(nested_parents(11))  # depth 12
    assert ok(ok_resp) == {"run": None}
    response = await api.graphql(nested_parents(12))  # depth 13
    err = error_of(response)
    assert "depth" in err["message"].lower() and "12" in err["message"], err
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert response.json().get("data") is None


async def test_alias_limit(api):
    fields = " ".join(f"a{i}: __typename" for i in range(15))
    assert len(ok(await api.graphql(f"{{ {fields} }}"))) == 15
    fields = " ".join(f"a{i}: __typename" for i in range(16))
    err = error_of(await api.graphql(f"{{ {fields} }}"))
    assert "alias" in err["message"].lower() and "15" in err["message"], err
    assert err["extensions"]["code"] == "BAD_USER_INPUT"


async def test_token_limit(api):
    fields = " ".join(["id"] * 2100)
    query = f'{{ dataset(id: "{uuid.uuid4()}") {{ {fields} }} }}'
    assert len(query) < 15_000
    response = await api.graphql(query)
    err = error_of(response)
    assert "token" in err["message"].lower() and "2000" in err["message"], err
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    # under the limit is fine (graphql-core's overlapping-fields rule gives up on ~1000
    # duplicate fields, so stay well below that)
    fields = " ".join(["id"] * 450)
    assert ok(await api.graphql(f'{{ dataset(id: "{uuid.uuid4()}") {{ {fields} }} }}')) == {"dataset": None}


async def test_query_text_limit(api):
    query = "{ __typename }" + " " * 15_000  # few tokens, too many characters
    response = await api.graphql(query)
    assert response.status_code in (400, 413), response.text
    err = error_of(response)
    assert "15000" in err["message"] and "characters" in err["message"], err
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    query = "{ __typename }" + " " * (15_000 - len("{ __typename }"))
    assert ok(await api.graphql(query)) == {"__typename": "Query"}


async def test_body_limit_413(api):
    query = "query($x: String) { datasets(nameContains: $x) { edges { cursor } } }"
    response = await api.graphql(query, {"x": "x" * (1024 * 1024)})
    assert response.status_code == 413, response.text
    err = error_of(response)
    assert "1048576" in err["message"]
    # a body just under the limit goes through
    response = await api.graphql(query, {"x": "x" * (1024 * 1024 - 200)})
    assert ok(response) == {"datasets": {"edges": []}}


async def test_batching_off(api):
    response = await api.client.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}],
                                      headers=api.headers())
    assert response.status_code == 400, response.text


async def test_syntax_error_is_bad_user_input(api):
    response = await api.graphql("{ dataset(id: ")
    err = error_of(response)
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert response.status_code != 500


# --- masking -------------------------------------------------------------------------------

async def test_unexpected_errors_masked(api, worked, monkeypatch, caplog):
    from evalql.engine.answer import ComparisonEngine

    async def explode(*_args, **_kwargs):
        raise RuntimeError("secret sql text: SELECT * FROM api_keys")

    monkeypatch.setattr(ComparisonEngine, "group_query", explode)
    with caplog.at_level(logging.ERROR, logger="evalql.graphql"):
        response = await api.graphql(GROUP, {"ds": str(worked.dataset_id), "input": group_input(worked)})
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] is None
    [err] = payload["errors"]
    assert err["message"] == "Internal error"
    assert err["extensions"] == {"code": "INTERNAL"}
    assert "secret" not in response.text and "SELECT" not in response.text and "Traceback" not in response.text
    assert "secret sql text" in caplog.text  # logged for the operator


async def test_unexpected_error_in_nested_field_masked(api, worked, monkeypatch):
    import evalql.schema.run as run_module

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret nested failure")

    monkeypatch.setattr(run_module, "app_path", explode)
    query = "query($id: UUID!) { run(id: $id) { id appPath } }"
    response = await api.graphql(query, {"id": str(worked.runs["a1"])})
    payload = response.json()
    assert payload["data"] == {"run": None}
    assert [e["message"] for e in payload["errors"]] == ["Internal error"]
    assert payload["errors"][0]["extensions"] == {"code": "INTERNAL"}
    assert "secret" not in response.text


# --- GraphiQL, introspection, suggestions -------------------------------------------------------

INTROSPECTION = "{ __schema { queryType { name } types { name } } }"


async def test_graphiql_page(api):
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert "cdn" not in response.text.lower() and "unpkg" not in response.text.lower()


async def test_introspection_on_by_default(api):
    data = ok(await api.graphql(INTROSPECTION))
    names = {t["name"] for t in data["__schema"]["types"]}
    assert data["__schema"]["queryType"]["name"] == "Query"
    assert {"ExampleGroupWithSessions", "SessionStats", "GroupRunsInput", "UUID", "DateTime", "Decimal"} <= names
    err = error_of(await api.graphql("{ datset(id: \"%s\") { id } }" % uuid.uuid4()))
    assert "Did you mean" in err["message"]


async def test_introspection_off_disables_suggestions(database_url):
    async with app_client(Settings(database_url=database_url, introspection=False)) as (client, app):
        async with app.state.db_sessions() as db:
            ws = await writes.create_workspace(db, "closed")
            rls.bind(db, ws.id)
            key = await writes.create_api_key(db, ws.id)
            await db.commit()
        headers = {"X-API-Key": key}
        response = await client.post("/graphql", json={"query": INTROSPECTION}, headers=headers)
        payload = response.json()
        assert payload.get("errors"), payload
        assert not payload.get("data"), payload
        response = await client.post("/graphql", json={"query": "{ datset(id: \"%s\") { id } }" % uuid.uuid4()},
                                     headers=headers)
        err = error_of(response)
        assert "Did you mean" not in response.text
        assert "datset" in err["message"]
        response = await client.post("/graphql", json={"query": "{ dataset(id: \"%s\") { nme } }" % uuid.uuid4()},
                                     headers=headers)
        assert "Did you mean" not in response.text
        # ordinary queries still work
        response = await client.post("/graphql", json={"query": "{ datasets { edges { cursor } } }"}, headers=headers)
        assert response.json()["data"] == {"datasets": {"edges": []}}


async def test_graphiql_can_be_disabled(database_url):
    async with app_client(Settings(database_url=database_url, graphiql=False)) as (client, _app):
        response = await client.get("/graphql", headers={"Accept": "text/html"})
        assert response.status_code == 404


async def test_group_runs_entries_for_one_session_are_anded(api, worked):
    """Two SessionFilter entries for one session mean both filters (as REST's two spellings
    of one session id do), not the last entry alone."""
    a = str(worked.sessions["A"])
    strings = ["eq(is_root, true)", "gte(total_tokens, 0)"]
    query = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) {
        groupKey count sessions { filter runCount } } }"""
    split = ok(await api.graphql(query, {"ds": str(worked.dataset_id), "input": group_input(
        worked, filters=[{"sessionId": a, "filters": strings[:1]}, {"sessionId": a.upper(), "filters": strings[1:]}])}))
    joined = ok(await api.graphql(query, {"ds": str(worked.dataset_id), "input": group_input(
        worked, filters=[{"sessionId": a, "filters": strings}])}))
    assert split == joined
    assert all(strings[1] in g["sessions"][0]["filter"] for g in split["groupRuns"]), split


async def test_user_errors_are_not_logged_as_server_errors(api, worked, caplog):
    """BAD_USER_INPUT and NOT_FOUND are the caller's: logged at INFO in one line, with no
    traceback; nothing at ERROR."""
    with caplog.at_level(logging.INFO):
        bad = await api.graphql(GROUP, {"ds": str(worked.dataset_id), "input": group_input(worked, limit=0)})
        missing = await api.graphql(GROUP, {"ds": str(uuid.uuid4()), "input": group_input(worked)})
        syntax = await api.graphql("{ dataset(id: ")
    assert [error_of(r)["extensions"]["code"] for r in (bad, missing, syntax)] == ["BAD_USER_INPUT"] * 1 + [
        "NOT_FOUND", "BAD_USER_INPUT"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    refused = [r for r in caplog.records if r.name == "evalql.graphql"]
    assert len(refused) == 3 and all(r.levelno == logging.INFO and r.exc_info is None for r in refused)
    assert "Traceback" not in caplog.text
