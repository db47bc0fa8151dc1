"""GraphQL's feedback mutations (issue 10, item 3): createFeedback, updateFeedback and
deleteFeedback, through real HTTP on both databases. They agree with REST's `/feedback`
(spec §7.6) row for row, the comparison (`groupRuns`, REST group/runs) reflects them on the
next request, and refused ones (read-only key, another workspace's rows, bad input) write
nothing."""

from __future__ import annotations

import datetime as dt
import json
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import event, func, select

from evalql.core.feedback import SourceType
from evalql.db import models, writes
from evalql.db.changes import changes_between, current_version
from evalql.db.tenant import readable
from evalql.schema.enums import FeedbackSourceType
from tests.support.app import second_workspace
from tests.support.gql import FEEDBACK
from tests.support.statements import counting, engine_of
from tests.support.whole_database import everywhere
from tests.test_graphql_api import ok

T0 = dt.datetime(2024, 9, 19, 12, 0, tzinfo=dt.UTC)
CATEGORIES = ["a", "a", "b", "b", "b"]

CREATE = f"mutation($input: CreateFeedbackInput!) {{ createFeedback(input: $input) {{ {FEEDBACK} }} }}"
UPDATE = f"mutation($id: UUID!, $input: UpdateFeedbackInput!) {{ updateFeedback(id: $id, input: $input) {{ {FEEDBACK} }} }}"
DELETE = "mutation($id: UUID!) { deleteFeedback(id: $id) { id } }"
RUN_FEEDBACKS = f"query($id: UUID!) {{ run(id: $id) {{ feedbacks {{ {FEEDBACK} }} }} }}"
GROUP_RUNS = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) {
    groupKey feedbackStats { key n avg comments } sessions { session { id } feedbackStats { key n avg } } } }"""


@dataclass
class Annotated:
    dataset_id: uuid.UUID
    session_ids: list[uuid.UUID]
    runs: dict[tuple[int, int], uuid.UUID]  # (session, example) -> root run
    children: dict[tuple[int, int], uuid.UUID]  # (session, example) -> its child run
    feedback_ids: list[uuid.UUID]


@pytest.fixture
async def world(api) -> Annotated:
    """Two experiments over five examples (categories a, a, b, b, b), each run with a child,
    and some feedback already given."""
    async with api.db_sessions() as db:
        dataset = await writes.insert_dataset(db, api.workspace_id, name="annotated")
        examples = await writes.insert_examples(db, api.workspace_id, [
            {"dataset_id": dataset.id, "inputs": {"q": i}, "metadata": {"category": c},
             "created_at": T0 + dt.timedelta(minutes=i)} for i, c in enumerate(CATEGORIES)])
        sessions = [(await writes.insert_session(db, api.workspace_id, name=f"exp-{s}",
                                                 reference_dataset_id=dataset.id)).id for s in range(2)]
        runs, children, records = {}, {}, []
        for s, session_id in enumerate(sessions):
            for e, example_id in enumerate(examples):
                runs[s, e], children[s, e] = uuid.uuid4(), uuid.uuid4()
                start = T0 + dt.timedelta(hours=1, seconds=10 * (s * 10 + e))
                records += [
                    {"id": runs[s, e], "name": "target", "run_type": "chain", "session_id": session_id,
                     "reference_example_id": example_id, "start_time": start,
                     "end_time": start + dt.timedelta(seconds=2)},
                    {"id": children[s, e], "name": "llm", "run_type": "llm", "session_id": session_id,
                     "parent_run_id": runs[s, e], "start_time": start, "end_time": start + dt.timedelta(seconds=1)},
                ]
        await writes.insert_runs(db, api.workspace_id, records)
        feedback_ids = await writes.insert_feedback(db, api.workspace_id, [
            {"run_id": runs[0, 0], "key": "human", "score": 1, "comment": "right"},
            {"run_id": runs[1, 1], "key": "human", "score": 0},
            {"run_id": runs[0, 2], "key": "correctness", "score": 0.5, "value": "meh"},
        ])
        await db.commit()
    return Annotated(dataset.id, sessions, runs, children, feedback_ids)


# --- helpers --------------------------------------------------------------------------------

def error_of(response) -> dict:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload.get("errors") and payload.get("data") is None, payload
    [error] = payload["errors"]
    return error


def refused(response, code: str) -> str:
    error = error_of(response)
    assert error["extensions"]["code"] == code, error
    return error["message"]


async def create(api, **fields) -> dict:
    return ok(await api.graphql(CREATE, {"input": fields}))["createFeedback"]


async def graphql_allowing_nan(api, query: str, variables: dict):
    """A request whose JSON spells NaN and Infinity (as Python's JSON writer does): httpx refuses
    to write them, Python's JSON reader (Strawberry's) accepts them."""
    body = json.dumps({"query": query, "variables": variables}, allow_nan=True)
    return await api.client.post("/graphql", content=body,
                                 headers={**api.headers(), "Content-Type": "application/json"})


async def rest_feedback(api, feedback_id) -> dict:
    response = await api.client.get(f"/api/v1/feedback/{feedback_id}", headers=api.headers())
    assert response.status_code == 200, response.text
    return response.json()


async def run_feedbacks(api, run_id) -> list[dict]:
    return ok(await api.graphql(RUN_FEEDBACKS, {"id": str(run_id)}))["run"]["feedbacks"]


def as_rest(node: dict) -> dict:
    """A GraphQL Feedback in REST's names (spec §2.5), for the fields both show."""
    source = node["feedbackSource"]
    return {"id": node["id"], "run_id": node["run"]["id"] if node["run"] else None, "trace_id": node["traceId"],
            "key": node["key"], "score": node["score"], "value": node["value"], "comment": node["comment"],
            "correction": node["correction"],
            "feedback_source": {"type": source["type"], "metadata": source["metadata"], "user_id": source["userId"],
                                "user_name": source["userName"]},
            "feedback_group_id": node["feedbackGroupId"], "comparative_experiment_id": node["comparativeExperimentId"],
            "start_time": node["startTime"], "is_root": node["isRoot"], "created_at": node["createdAt"],
            "modified_at": node["modifiedAt"]}


async def agree(api, node: dict) -> dict:
    """REST's GET /feedback/{id} shows what GraphQL answered, and so does `run.feedbacks`."""
    rest = await rest_feedback(api, node["id"])
    assert {k: rest[k] for k in as_rest(node)} == as_rest(node)
    [again] = [f for f in await run_feedbacks(api, node["run"]["id"]) if f["id"] == node["id"]]
    assert again == node
    return rest


async def feedback_rows(api, workspace_id: uuid.UUID | None = None) -> list[models.Feedback]:
    async with api.db_sessions() as db:
        stmt = readable(workspace_id or api.workspace_id, models.Feedback).order_by(models.Feedback.id)
        return list((await db.scalars(stmt)).all())


async def all_rows(api) -> list[tuple]:
    """Every feedback row of every workspace, as plain values."""
    async with api.db_sessions() as db:
        rows = (await db.scalars(everywhere(select(models.Feedback)))).all()
        return sorted((r.workspace_id, r.id, r.run_id, r.key, r.score, r.value, r.comment, r.correction,
                       r.modified_at) for r in rows)


async def version(api) -> int:
    async with api.db_sessions() as db:
        return (await current_version(db, api.workspace_id)).version


@contextmanager
def transactions(api) -> Iterator[dict[str, list]]:
    """The statements a request sends, and its commits."""
    seen: dict[str, list] = {"commits": []}
    engine = engine_of(api)

    def commit(conn) -> None:  # noqa: ANN001
        seen["commits"].append(conn)

    event.listen(engine, "commit", commit)
    try:
        with counting(api) as statements:
            seen["statements"] = statements
            yield seen
    finally:
        event.remove(engine, "commit", commit)


def writes_of(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]


# --- create ---------------------------------------------------------------------------------

async def test_create_round_trip(api, world):
    run_id = world.runs[0, 1]
    before = await version(api)
    node = await create(api, runId=str(run_id).upper(), key="human", score=0.75, value="good", comment="nice",
                        correction={"answer": 42})
    assert (node["key"], node["score"], node["value"], node["comment"]) == ("human", 0.75, "good", "nice")
    assert node["correction"] == {"answer": 42}
    # An annotation of the GraphQL API is recognisable: an application's, not the REST default ("api").
    assert node["feedbackSource"] == {"type": "app", "metadata": {}, "userId": None, "lsUserId": None,
                                      "userName": None}
    assert node["run"] == {"id": str(run_id)} and node["traceId"] == str(run_id) and node["isRoot"] is True
    assert node["session"] == {"id": str(world.session_ids[0])}
    assert node["createdAt"] == node["modifiedAt"] and node["startTime"] is None
    rest = await agree(api, node)
    assert (rest["session_id"], rest["error"], rest["extra"], rest["feedback_config"]) == (None, False, None, None)
    listed = await api.client.get("/feedback", params={"source": "app"}, headers=api.headers())
    assert [f["id"] for f in listed.json()] == [node["id"]]
    # the write went through the change log: the version moved and names the feedback
    async with api.db_sessions() as db:
        after = await current_version(db, api.workspace_id)
        changes = await changes_between(db, api.workspace_id, after=before, upto=after.version)
    assert after.version > before and uuid.UUID(node["id"]) in changes.feedback


async def test_create_on_a_child_run_takes_its_trace(api, world):
    child = world.children[1, 3]
    node = await create(api, runId=str(child), key="step", score=1)
    assert (node["run"]["id"], node["traceId"], node["isRoot"]) == (str(child), str(world.runs[1, 3]), False)
    assert node["score"] == 1.0
    await agree(api, node)


async def test_create_with_a_given_source(api, world):
    user = uuid.uuid4()
    node = await create(api, runId=str(world.runs[0, 0]), key="judge", value=True,
                        feedbackSource={"type": "MODEL", "metadata": {"model": "m"}, "userId": str(user),
                                        "userName": "ann"})
    assert node["feedbackSource"] == {"type": "model", "metadata": {"model": "m"}, "userId": str(user),
                                      "lsUserId": None, "userName": "ann"}
    assert node["value"] is True and node["score"] is None
    rest = await agree(api, node)
    assert rest["feedback_source"] == {"type": "model", "metadata": {"model": "m"}, "user_id": str(user),
                                       "user_name": "ann"}
    # only the type given: the rest of the source is empty
    node = await create(api, runId=str(world.runs[0, 0]), key="judge", feedbackSource={"type": "API"})
    assert node["feedbackSource"]["type"] == "api" and node["feedbackSource"]["metadata"] == {}


async def test_create_with_an_id_is_idempotent(api, world):
    given = uuid.uuid4()
    first = await create(api, id=str(given), runId=str(world.runs[0, 3]), key="human", score=0.0)
    assert first["id"] == str(given)
    again = await create(api, id=str(given), runId=str(world.runs[0, 3]), key="human", score=1.0, comment="changed")
    assert again["id"] == str(given) and (again["score"], again["comment"]) == (1.0, "changed")
    assert [f["id"] for f in await run_feedbacks(api, world.runs[0, 3])] == [str(given)]
    await agree(api, again)


def test_source_types_are_the_cores():
    assert {t.value for t in FeedbackSourceType} == {t.value for t in SourceType}


# --- update ---------------------------------------------------------------------------------

async def test_update_null_clears_absent_keeps(api, world):
    node = await create(api, runId=str(world.runs[1, 0]), key="human", score=0.5, value="ok", comment="c",
                        correction="fixed")
    response = await api.graphql(UPDATE, {"id": node["id"], "input": {"score": 0.25, "comment": None}})
    updated = ok(response)["updateFeedback"]
    assert (updated["score"], updated["comment"], updated["value"], updated["correction"]) == (0.25, None, "ok", "fixed")
    assert updated["createdAt"] == node["createdAt"] and updated["modifiedAt"] >= node["modifiedAt"]
    assert updated["feedbackSource"] == node["feedbackSource"] and updated["key"] == "human"
    await agree(api, updated)
    # value and correction: a label now, and cleared; an empty input changes nothing but the time
    response = await api.graphql(UPDATE, {"id": node["id"], "input": {"value": {"x": [1]}, "correction": None}})
    updated = ok(response)["updateFeedback"]
    assert (updated["score"], updated["value"], updated["correction"]) == (0.25, {"x": [1]}, None)
    unchanged = ok(await api.graphql(UPDATE, {"id": node["id"], "input": {}}))["updateFeedback"]
    assert {k: v for k, v in unchanged.items() if k != "modifiedAt"} == {
        k: v for k, v in updated.items() if k != "modifiedAt"}
    await agree(api, unchanged)


async def test_update_of_rest_feedback(api, world):
    """Feedback made over REST is changed over GraphQL, and REST sees the change."""
    response = await api.client.post("/feedback", json={"run_id": str(world.runs[0, 4]), "key": "k", "score": True},
                                     headers=api.headers())
    made = response.json()
    updated = ok(await api.graphql(UPDATE, {"id": made["id"], "input": {"score": 3}}))["updateFeedback"]
    rest = await agree(api, updated)
    assert rest["score"] == 3.0 and rest["feedback_source"]["type"] == "api"
    [row] = [r for r in await feedback_rows(api) if str(r.id) == made["id"]]
    assert (row.score, row.score_is_bool) == (3.0, False)


# --- delete ---------------------------------------------------------------------------------

async def test_delete(api, world):
    node = await create(api, runId=str(world.runs[0, 1]), key="human", score=1)
    before = await version(api)
    deleted = ok(await api.graphql(DELETE, {"id": node["id"].upper()}))["deleteFeedback"]
    assert deleted == {"id": node["id"]}
    assert node["id"] not in {f["id"] for f in await run_feedbacks(api, world.runs[0, 1])}
    assert (await api.client.get(f"/feedback/{node['id']}", headers=api.headers())).status_code == 404
    assert await version(api) > before
    again = await api.graphql(DELETE, {"id": node["id"]})
    assert refused(again, "NOT_FOUND") == f"Feedback {node['id']} not found"
    # REST's DELETE goes the same way
    rest_made = await create(api, runId=str(world.runs[0, 1]), key="human", score=0)
    assert (await api.client.delete(f"/feedback/{rest_made['id']}", headers=api.headers())).json() == {}
    assert (await api.client.delete(f"/feedback/{rest_made['id']}", headers=api.headers())).status_code == 404
    assert refused(await api.graphql(DELETE, {"id": rest_made["id"]}), "NOT_FOUND")


# --- the comparison reflects them -----------------------------------------------------------

async def oracle(api, world) -> dict[str, dict[str | None, tuple[int, float | None]]]:
    """Plain Python from the rows: per group of `category` (and per session of a group,
    keyed by `<group>/<session id>`), for each feedback key on the group's root runs, the
    number of scores and their mean (spec §3.1, §5.3; every session ran every example)."""
    async with api.db_sessions() as db:
        runs = (await db.execute(readable(api.workspace_id, models.Run, models.Run.id, models.Run.session_id,
                                          models.Run.reference_example_id)
                                 .where(models.Run.parent_run_id.is_(None)))).all()
        examples = {e.id: e.metadata_["category"] for e in
                    await db.scalars(readable(api.workspace_id, models.Example))}
    feedback = await feedback_rows(api)
    out: dict[str, dict] = {}
    for group in sorted(set(CATEGORIES)):
        for session_id in [None, *world.session_ids]:
            ids = {r.id for r in runs if examples[r.reference_example_id] == group
                   and (session_id is None or r.session_id == session_id)}
            stats = {}
            for key in sorted({f.key for f in feedback if f.run_id in ids}):
                scores = [f.score for f in feedback if f.run_id in ids and f.key == key and f.score is not None]
                stats[key] = (len(scores), statistics.fmean(scores) if scores else None)
            out[group if session_id is None else f"{group}/{session_id}"] = stats
    return out


async def compared(api, world) -> dict[str, dict]:
    """The same numbers from GraphQL's groupRuns, checked against REST's group/runs."""
    body = {"session_ids": [str(s) for s in world.session_ids], "group_by": "example_metadata",
            "metadata_key": "category"}
    graphql = ok(await api.graphql(GROUP_RUNS, {"ds": str(world.dataset_id), "input": {
        "sessionIds": body["session_ids"], "groupBy": "EXAMPLE_METADATA", "metadataKey": "category"}}))["groupRuns"]
    rest = (await api.group_runs(world.dataset_id, body)).json()["groups"]
    out: dict[str, dict] = {}
    for group, rest_group in zip(graphql, rest, strict=True):
        assert rest_group["group_key"] == group["groupKey"]
        out[group["groupKey"]] = {s["key"]: (s["n"], s["avg"]) for s in group["feedbackStats"]}
        assert {k: (v["n"], v["avg"]) for k, v in rest_group["feedback_stats"].items()} == out[group["groupKey"]]
        for session in group["sessions"]:
            out[f"{group['groupKey']}/{session['session']['id']}"] = {
                s["key"]: (s["n"], s["avg"]) for s in session["feedbackStats"]}
    return out


def assert_same(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for where, stats in expected.items():
        assert found[where].keys() == stats.keys(), where
        for key, (n, avg) in stats.items():
            assert found[where][key][0] == n, (where, key)
            assert found[where][key][1] == (None if avg is None else pytest.approx(avg)), (where, key)


async def test_the_comparison_reflects_each_mutation(api, world):
    assert_same(await compared(api, world), await oracle(api, world))  # the engine has loaded the workspace
    assert "human" not in (await compared(api, world))["b"]

    made = await create(api, runId=str(world.runs[1, 2]), key="human", score=0.25, comment="group b")
    found = await compared(api, world)
    assert found["b"]["human"] == (1, 0.25) and found[f"b/{world.session_ids[1]}"]["human"] == (1, 0.25)
    assert_same(found, await oracle(api, world))
    comments = ok(await api.graphql(GROUP_RUNS, {"ds": str(world.dataset_id), "input": {
        "sessionIds": [str(s) for s in world.session_ids], "groupBy": "EXAMPLE_METADATA",
        "metadataKey": "category"}}))["groupRuns"][1]["feedbackStats"]
    assert [s["comments"] for s in comments if s["key"] == "human"] == [["group b"]]

    second = await create(api, runId=str(world.runs[0, 3]), key="human", score=1)
    assert (await compared(api, world))["b"]["human"] == (2, pytest.approx(0.625))
    ok(await api.graphql(UPDATE, {"id": made["id"], "input": {"score": 0.75}}))
    assert (await compared(api, world))["b"]["human"] == (2, pytest.approx(0.875))
    ok(await api.graphql(UPDATE, {"id": second["id"], "input": {"score": None}}))
    assert (await compared(api, world))["b"]["human"] == (1, 0.75)
    assert_same(await compared(api, world), await oracle(api, world))

    # group a: feedback given before; updated and deleted there
    assert (await compared(api, world))["a"]["human"] == (2, 0.5)
    ok(await api.graphql(UPDATE, {"id": str(world.feedback_ids[1]), "input": {"score": 1}}))
    assert (await compared(api, world))["a"]["human"] == (2, 1.0)
    ok(await api.graphql(DELETE, {"id": str(world.feedback_ids[0])}))
    found = await compared(api, world)
    assert found["a"]["human"] == (1, 1.0) and "human" not in found[f"a/{world.session_ids[0]}"]
    ok(await api.graphql(DELETE, {"id": made["id"]}))
    ok(await api.graphql(DELETE, {"id": second["id"]}))
    found = await compared(api, world)
    assert "human" not in found["b"]
    assert_same(found, await oracle(api, world))


# --- refused: nothing written ---------------------------------------------------------------

async def test_read_only_key_is_refused(api, world):
    existing = str(world.feedback_ids[0])
    rows, before = await all_rows(api), await version(api)
    attempts = [
        (CREATE, {"input": {"runId": str(world.runs[0, 0]), "key": "human", "score": 1}}),
        (UPDATE, {"id": existing, "input": {"score": 0}}),
        (DELETE, {"id": existing}),
        (DELETE, {"id": str(uuid.uuid4())}),  # refused before anything is looked up
    ]
    for query, variables in attempts:
        with transactions(api) as seen:
            message = refused(await api.graphql(query, variables, key=api.read_key), "FORBIDDEN")
        assert message == "API key is read-only"
        assert writes_of(seen["statements"]) == [] and seen["commits"] == []
    assert await all_rows(api) == rows and await version(api) == before
    # the read-only key still reads
    assert ok(await api.graphql("{ viewer { readOnly } }", key=api.read_key)) == {"viewer": {"readOnly": True}}


async def test_other_workspaces_are_not_found(api, world):
    other_ws, other_key, _ = await second_workspace(api.db_sessions)
    async with api.db_sessions() as db:
        session = await writes.insert_session(db, other_ws, name="theirs")
        their_run = uuid.uuid4()
        await writes.insert_runs(db, other_ws, [{"id": their_run, "name": "r", "run_type": "chain",
                                                 "session_id": session.id, "start_time": T0}])
        [theirs] = await writes.insert_feedback(db, other_ws, [{"run_id": their_run, "key": "human", "score": 1}])
        await db.commit()
    rows, before = await all_rows(api), await version(api)
    unknown = uuid.uuid4()
    cases = [
        (CREATE, {"input": {"runId": str(their_run), "key": "human", "score": 0}}, f"input.runId: Run {their_run} not found"),
        (CREATE, {"input": {"runId": str(unknown), "key": "human"}}, f"input.runId: Run {unknown} not found"),
        (UPDATE, {"id": str(theirs), "input": {"score": 0}}, f"Feedback {theirs} not found"),
        (UPDATE, {"id": str(unknown), "input": {"score": 0}}, f"Feedback {unknown} not found"),
        (DELETE, {"id": str(theirs)}, f"Feedback {theirs} not found"),
        (DELETE, {"id": str(unknown)}, f"Feedback {unknown} not found"),
    ]
    for query, variables, message in cases:
        with transactions(api) as seen:
            assert refused(await api.graphql(query, variables), "NOT_FOUND") == message
        assert seen["commits"] == []
    assert await all_rows(api) == rows and await version(api) == before
    # the owner still sees its feedback as it was, and may change it
    [row] = await feedback_rows(api, other_ws)
    assert (row.id, row.score) == (theirs, 1.0)
    response = await api.graphql(UPDATE, {"id": str(theirs), "input": {"score": 0.5}}, key=other_key)
    assert ok(response)["updateFeedback"]["score"] == 0.5


NUL_MESSAGE = "Value error, text must not contain the NUL character (\\u0000)"


@pytest.mark.parametrize("fields,messages", [
    ({"key": ""}, ["input.key: String should have at least 1 character"]),
    ({"key": "k" * 181}, ["input.key: String should have at most 180 characters"]),
    ({"value": [1, 2]}, ["input.value: Value error, value must be a string, a number, a boolean, an object or null"]),
    ({"correction": 3}, ["input.correction: Value error, correction must be an object, a string or null"]),
    ({"value": {"a": [float("nan")]}},
     ["input.value: Value error, numbers must be finite (not NaN or Infinity), at .a[0]"]),
    ({"correction": {"x": float("inf")}},
     ["input.correction: Value error, numbers must be finite (not NaN or Infinity), at .x"]),
    ({"comment": "a\x00b"}, [f"input.comment: {NUL_MESSAGE}"]),
    ({"feedbackSource": {"metadata": [1]}}, ["input.feedbackSource.metadata: Input should be a valid dictionary"]),
    ({"feedbackSource": {"userName": "\x00"}}, [f"input.feedbackSource.userName: {NUL_MESSAGE}"]),
    ({"key": "", "value": [1]}, ["input.key: String should have at least 1 character",
                                 "input.value: Value error, value must be a string"]),
    # refused by graphql-core as it reads the variables, in its own spelling
    ({"score": float("nan")}, ["'$input' has invalid value at .score: Float cannot represent non numeric value"]),
    ({"score": "high"}, ["'$input' has invalid value at .score: Float cannot represent non numeric value"]),
    ({"runId": "not-a-uuid"}, ["'$input' has invalid value at .runId: Expected value of type 'UUID'"]),
    ({"value": {"deep": json.loads("[" * 200 + "]" * 200)}}, ["input: JSON nesting is deeper than 200 levels"]),
])
async def test_bad_input_names_the_field(api, world, fields, messages):
    rows, before = await all_rows(api), await version(api)
    variables = {"input": {"runId": str(world.runs[0, 0]), "key": "human", **fields}}
    with transactions(api) as seen:
        message = refused(await graphql_allowing_nan(api, CREATE, variables), "BAD_USER_INPUT")
    for expected in messages:
        assert expected in message
    assert writes_of(seen["statements"]) == [] and seen["commits"] == []
    assert await all_rows(api) == rows and await version(api) == before


async def test_bad_update_names_the_field(api, world):
    feedback_id = str(world.feedback_ids[2])
    rows, before = await all_rows(api), await version(api)
    cases = [
        ({"value": [1]}, "input.value: Value error, value must be a string, a number, a boolean, an object or null"),
        ({"correction": False}, "input.correction: Value error, correction must be an object, a string or null"),
        ({"comment": "\x00"}, f"input.comment: {NUL_MESSAGE}"),
        ({"value": {"deep": json.loads("[" * 200 + "]" * 200)}},
         "input: JSON nesting is deeper than 200 levels"),
    ]
    for fields, expected in cases:
        message = refused(await api.graphql(UPDATE, {"id": feedback_id, "input": fields}), "BAD_USER_INPUT")
        assert message == expected
    # a score too large for a float, written in the document: infinite once read
    literal = f'mutation {{ updateFeedback(id: "{feedback_id}", input: {{score: 1e999}}) {{ id }} }}'
    message = refused(await api.graphql(literal), "BAD_USER_INPUT")
    assert message == "input.score: Value error, score must be a finite number"
    literal = (f'mutation {{ createFeedback(input: {{runId: "{world.runs[0, 0]}", key: "k", score: -1e999}}) '
               "{ id } }")
    assert refused(await api.graphql(literal), "BAD_USER_INPUT") == "input.score: Value error, score must be a finite number"
    assert await all_rows(api) == rows and await version(api) == before


async def test_same_words_as_rest(api, world):
    """A create REST refuses is refused by GraphQL with REST's messages, located in GraphQL's names."""
    body = {"run_id": str(world.runs[0, 0]), "key": "", "value": [1], "correction": 3,
            "feedback_source": {"type": "app", "metadata": "m"}}
    response = await api.client.post("/feedback", json=body, headers=api.headers())
    assert response.status_code == 422
    rest = {tuple(p["loc"]): p["msg"] for p in response.json()["detail"]}
    message = refused(await api.graphql(CREATE, {"input": {
        "runId": body["run_id"], "key": "", "value": [1], "correction": 3,
        "feedbackSource": {"type": "APP", "metadata": "m"}}}), "BAD_USER_INPUT")
    names = {("body", "key"): "input.key", ("body", "value"): "input.value", ("body", "correction"): "input.correction",
             ("body", "feedback_source", "metadata"): "input.feedbackSource.metadata"}
    assert rest.keys() == names.keys()
    assert message == "; ".join(f"{names[loc]}: {msg}" for loc, msg in rest.items())


# --- one transaction ------------------------------------------------------------------------

async def test_each_mutation_is_one_write_and_one_commit(api, world):
    run_id = str(world.runs[1, 4])
    with transactions(api) as seen:
        node = await create(api, runId=run_id, key="human", score=1)
    assert len(writes_of(seen["statements"])) == 1 and len(seen["commits"]) == 1
    created = len(seen["statements"])
    with transactions(api) as seen:
        await create(api, runId=run_id, key="human", score=1)
    assert len(seen["statements"]) == created  # a constant
    with transactions(api) as seen:
        ok(await api.graphql(UPDATE, {"id": node["id"], "input": {"comment": "c"}}))
    assert len(writes_of(seen["statements"])) == 1 and len(seen["commits"]) == 1
    with transactions(api) as seen:
        ok(await api.graphql(DELETE, {"id": node["id"]}))
    assert len(writes_of(seen["statements"])) == 1 and len(seen["commits"]) == 1
    assert len(seen["statements"]) <= 3  # the key, the delete (and nothing read back)


async def test_mutations_of_one_document_run_in_order(api, world):
    """Each commits on its own, in the document's order; a later one reads what an earlier wrote."""
    run_id = str(world.runs[0, 4])
    given = str(uuid.uuid4())
    document = f"""mutation {{
      first: createFeedback(input: {{id: "{given}", runId: "{run_id}", key: "human", score: 0}}) {{
        id run {{ feedbacks {{ id score }} }} }}
      second: updateFeedback(id: "{given}", input: {{score: 1}}) {{ id score run {{ feedbacks {{ id score }} }} }}
      third: deleteFeedback(id: "{given}") {{ id }}
    }}"""
    data = ok(await api.graphql(document))
    assert data["first"]["run"]["feedbacks"] == [{"id": given, "score": 0.0}]
    assert data["second"]["score"] == 1.0 and data["second"]["run"]["feedbacks"] == [{"id": given, "score": 1.0}]
    assert data["third"] == {"id": given}
    assert await run_feedbacks(api, run_id) == []
    async with api.db_sessions() as db:
        count = await db.scalar(readable(api.workspace_id, models.Feedback, func.count())
                                .where(models.Feedback.run_id == uuid.UUID(run_id)))
    assert count == 0
