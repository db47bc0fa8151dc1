"""GraphQL `datasetRuns` (spec §6 through graphql.md): examples with runs, paged by example.

It must answer exactly what REST `POST /datasets/{id}/runs` answers for the same input: both
are sent every body of the REST oracle tests (tests/test_rest_dataset_runs.py: paging,
session order and duplicates, filters, example ids, sorts in both directions, preview) over
the rich world, and a few over a larger random one; GraphQL's answer, mapped to REST's
names, is compared value for value on every field both expose. Then the errors: each
problem named in GraphQL's spelling, NOT_FOUND for an unknown dataset or session.
"""

from __future__ import annotations

import uuid

import pytest

from tests.support.gql import DATASET_RUNS, EVERY_FIELD_BUDGET, dataset_runs_input
from tests.support.world import build_world
from tests.test_rest_dataset_runs import BODIES, DATASET
from tests.test_rest_equals_graphql import compare_examples, example_with_runs_from_graphql
from tests.worlds import rich, worked_example

pytestmark = pytest.mark.settings(graphql_max_cost=EVERY_FIELD_BUDGET)  # every field, largest pages


async def both(api, dataset_id, body: dict) -> tuple[list[dict], list[dict]]:
    rest = await api.client.post(f"/api/v1/datasets/{dataset_id}/runs", json=body, headers=api.headers())
    assert rest.status_code == 200, rest.text
    gql = await api.graphql(DATASET_RUNS, {"ds": str(dataset_id), "input": dataset_runs_input(body)})
    assert gql.status_code == 200, gql.text
    payload = gql.json()
    assert "errors" not in payload, payload
    return rest.json(), payload["data"]["datasetRuns"]


def compare(rest: list[dict], gql: list[dict], where: str) -> int:
    return compare_examples(rest, [example_with_runs_from_graphql(e) for e in gql], where)


@pytest.fixture
async def rich_world(api):
    async with api.db_sessions() as db:
        return await rich.load(db, api.workspace_id, rich.build())


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
async def test_rest_equals_graphql_rich_world(api, rich_world, body):
    rest, gql = await both(api, DATASET, body)
    compared = compare(rest, gql, str(body))
    runs = [r for e in rest for r in e["runs"]]
    assert compared >= len(rest) * 5 + len(runs) * 20  # every example's and run's fields, not just ids


async def test_rich_world_answers_are_not_trivial(api, rich_world):
    """The side-by-side bodies reach what a comparison must see: pages, several sessions'
    runs per example, feedbacks, errors, and a sort that changes the order."""
    rest, gql = await both(api, DATASET, BODIES["AB"])
    compare(rest, gql, "AB")
    runs = [r for e in rest for r in e["runs"]]
    assert len(rest) > 10 and any(len(e["runs"]) > 1 for e in rest)
    assert any(r["feedbacks"] for r in runs) and any(r["error"] for r in runs)
    plain, _ = await both(api, DATASET, BODIES["sort-correctness-desc"] | {"sort_params": None})
    desc, _ = await both(api, DATASET, BODIES["sort-correctness-desc"])
    asc, _ = await both(api, DATASET, BODIES["sort-correctness-asc"])
    orders = [[e["id"] for e in page] for page in (plain, desc, asc)]
    assert len({tuple(o) for o in orders}) == 3, orders
    preview, _ = await both(api, DATASET, BODIES["preview"])
    assert all(r["inputs"] is None for e in preview for r in e["runs"])


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        return await build_world(db, api.workspace_id, n_examples=40, n_sessions=4, seed=7)


async def test_rest_equals_graphql_random_world(api, world):
    s = [str(i) for i in world.session_ids]
    e = [str(i) for i in world.example_ids]
    for body in (
        {"session_ids": s, "limit": 100},
        {"session_ids": [s[2], s[0], s[2]], "offset": 5, "limit": 7},
        {"session_ids": s, "limit": 100, "filters": {s[0]: ['eq(status, "success")'], s[1]: ["gt(latency, 1)"]}},
        {"session_ids": s, "example_ids": e[::3], "preview": True},
        {"session_ids": s[1:2], "limit": 100, "sort_params": {"sort_by": "feedback.correctness", "sort_order": "ASC"}},
        {"session_ids": s[1:2], "offset": 3, "limit": 20, "sort_params": {"sort_by": "correctness"}},
    ):
        rest, gql = await both(api, world.dataset_id, body)
        assert rest, body
        compare(rest, gql, str(body))


# ---------------------------------------------------------------------------- errors

QUERY = "query($ds: UUID!, $input: DatasetRunsInput!) { datasetRuns(datasetId: $ds, input: $input) { example { id } } }"


@pytest.fixture
async def worked(api):
    async with api.db_sessions() as db:
        return await worked_example.load(db, api.workspace_id)


def two(worked, **extra) -> dict:
    return {"sessionIds": [str(worked.sessions["A"]), str(worked.sessions["B"])], **extra}


async def error_of(api, worked, variables: dict) -> dict:
    response = await api.graphql(QUERY, {"ds": str(worked.dataset_id), **variables})
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload.get("errors") and payload["data"] is None, payload
    return payload["errors"][0]


def one(worked, **extra) -> dict:
    return {"sessionIds": [str(worked.sessions["A"])], **extra}


STRANGER = str(uuid.UUID(int=7))
BAD_INPUTS = [
    # (id, input as a function of the world, the whole message)
    ("limit-0", lambda w: two(w, limit=0), "input.limit: Input should be greater than or equal to 1"),
    ("limit-101", lambda w: two(w, limit=101), "input.limit: Input should be less than or equal to 100"),
    ("offset-negative", lambda w: two(w, offset=-1), "input.offset: Input should be greater than or equal to 0"),
    ("sessionIds-empty", lambda w: two(w, sessionIds=[]),
     "input.sessionIds: List should have at least 1 item after validation, not 0"),
    ("sessionIds-11", lambda w: two(w, sessionIds=[str(uuid.UUID(int=i)) for i in range(11)]),
     "input.sessionIds: List should have at most 10 items after validation, not 11"),
    ("exampleIds-1001", lambda w: two(w, exampleIds=[str(uuid.UUID(int=i)) for i in range(1001)]),
     "input.exampleIds: List should have at most 1000 items after validation, not 1001"),
    ("sortParams-two-sessions", lambda w: two(w, sortParams={"sortBy": "correctness"}),
     "input.sortParams: sortParams needs exactly one session id, got 2"),
    ("sortBy-empty", lambda w: one(w, sortParams={"sortBy": ""}),
     "input.sortParams.sortBy: String should have at least 1 character"),
    ("sortBy-prefix-only", lambda w: one(w, sortParams={"sortBy": "feedback."}),
     "input.sortParams.sortBy: sortBy 'feedback.' names no feedback key"),
    ("filters-stranger", lambda w: two(w, filters=[{"sessionId": STRANGER, "filters": []}]),
     f"input.filters[0].sessionId: Session {STRANGER} is not in sessionIds"),
]


@pytest.mark.parametrize("make,message", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
async def test_bad_input_names_the_graphql_field(api, worked, make, message):
    err = await error_of(api, worked, {"input": make(worked)})
    assert (err["message"], err["extensions"]["code"]) == (message, "BAD_USER_INPUT")


async def test_filter_errors_name_the_entry(api, worked):
    """Two entries for one session AND their strings; a bad string is named by its entry
    and position as the caller wrote them."""
    a, b = str(worked.sessions["A"]), str(worked.sessions["B"])
    err = await error_of(api, worked, {"input": two(worked, filters=[
        {"sessionId": a, "filters": ['eq(status, "success")']}, {"sessionId": b, "filters": []},
        {"sessionId": a, "filters": ['eq(name, "x")', "gt(latency"]}])})
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["message"].startswith("input.filters[2].filters[1]: Invalid filter: "), err["message"]


async def test_every_problem_in_one_message(api, worked):
    err = await error_of(api, worked, {"input": two(worked, limit=0, offset=-2, sortParams={"sortBy": "feedback."},
                                                    filters=[{"sessionId": STRANGER, "filters": []}])})
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["message"] == "; ".join([
        "input.offset: Input should be greater than or equal to 0",
        "input.limit: Input should be greater than or equal to 1",
        f"input.filters[0].sessionId: Session {STRANGER} is not in sessionIds",
        "input.sortParams.sortBy: sortBy 'feedback.' names no feedback key",
        "input.sortParams: sortParams needs exactly one session id, got 2",
    ])


async def test_bad_variable_types_are_bad_user_input(api, worked):
    err = await error_of(api, worked, {"input": one(worked, sortParams={"sortBy": "x", "sortOrder": "asc"})})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "sortOrder" in err["message"], err
    err = await error_of(api, worked, {"input": one(worked, exampleIds=["nope"])})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "exampleIds" in err["message"], err


async def test_boundaries_and_one_session_spelled_twice_accepted(api, worked):
    a = str(worked.sessions["A"])
    for extra in ({"limit": 1}, {"limit": 100}, {"exampleIds": [str(uuid.UUID(int=i)) for i in range(1000)]},
                  {"exampleIds": []}, {"filters": []}, {"sessionIds": [a, a.upper()], "sortParams": {"sortBy": "x"}}):
        response = await api.graphql(QUERY, {"ds": str(worked.dataset_id), "input": one(worked, **extra)})
        payload = response.json()
        assert "errors" not in payload, (extra, payload)
        assert isinstance(payload["data"]["datasetRuns"], list)


async def test_unknown_dataset_then_unknown_session_not_found(api, worked):
    unknown = uuid.uuid4()
    response = await api.graphql(QUERY, {"ds": str(unknown), "input": two(worked, sessionIds=[STRANGER])})
    err = response.json()["errors"][0]
    assert (err["message"], err["extensions"]["code"]) == (f"Dataset {unknown} not found", "NOT_FOUND")
    assert response.json()["data"] is None
    err = await error_of(api, worked, {"input": two(worked, sessionIds=[str(worked.sessions["A"]), STRANGER])})
    assert (err["message"], err["extensions"]["code"]) == (f"Session {STRANGER} not found", "NOT_FOUND")


async def test_validation_before_not_found(api, worked):
    response = await api.graphql(QUERY, {"ds": str(uuid.uuid4()), "input": two(worked, limit=0)})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_field_is_described(api):
    query = """{ __type(name: "Query") { fields { name description args { name type { ofType { name } } } } } }"""
    response = await api.graphql(query)
    field = next(f for f in response.json()["data"]["__type"]["fields"] if f["name"] == "datasetRuns")
    assert "spec §6" in field["description"], field
    assert [(a["name"], a["type"]["ofType"]["name"]) for a in field["args"]] == [
        ("datasetId", "UUID"), ("input", "DatasetRunsInput")]
