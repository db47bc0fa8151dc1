"""graphql.md §2 Batching: the number of SQL statements for a fully selected groupRuns
query (and for REST group/runs), or datasetRuns query (spec §6), does not depend on how
much data is returned. (REST §6's count is tests/test_rest_dataset_runs.py's.)"""

from __future__ import annotations

import uuid

import pytest

from evalql.config import Settings
from evalql.db import rls, writes
from tests.support.app import app_client
from tests.support.gql import DATASET_RUNS, EVERY_FIELD_BUDGET, GROUP_RUNS, dataset_runs_input, graphql_input
from tests.support.statements import counting
from tests.support.world import build_world
from tests.test_rest_dataset_runs import count_bodies

SMALL = (20, 2)
BIG = (200, 6)


@pytest.fixture
async def env(database_url):
    async with app_client(Settings(database_url=database_url, graphql_max_cost=EVERY_FIELD_BUDGET)) as (client, app):
        async with app.state.db_sessions() as db:
            ws = await writes.create_workspace(db, "counts")
            rls.bind(db, ws.id)
            key = await writes.create_api_key(db, ws.id)
            await db.commit()
        worlds = {}
        for label, (n_examples, n_sessions) in (("small", SMALL), ("big", BIG)):
            async with app.state.db_sessions() as db:
                rls.bind(db, ws.id)
                worlds[label] = await build_world(db, ws.id, n_examples=n_examples, n_sessions=n_sessions,
                                                  seed=3, name=label)
        yield client, app, {"X-API-Key": key}, worlds


def rest_body(world, group_by: str, key: str) -> dict:
    return {"session_ids": [str(s) for s in world.session_ids], "group_by": group_by, "metadata_key": key,
            "limit": 20, "per_group_limit": 10}


CASES = [("example_metadata", "category"), ("run_metadata", "model"), ("run_metadata", "temperature")]


def shape(groups: list[dict], examples_key: str = "examples") -> tuple[int, int, int, int, int]:
    """(groups, sessions, examples, runs, feedbacks) returned, to show the two sizes differ."""
    sessions = sum(len(g["sessions"]) for g in groups)
    examples = [e for g in groups for e in g[examples_key]]
    runs = [r for e in examples for r in e["runs"]]
    return len(groups), sessions, len(examples), len(runs), sum(len(r["feedbacks"]) for r in runs)


async def test_graphql_group_runs_statement_count_is_constant(env):
    for group_by, key in CASES:
        await check_graphql(env, group_by, key)
    await check_graphql_limits(env)


async def test_rest_group_runs_statement_count_is_constant(env):
    for group_by, key in CASES:
        await check_rest(env, group_by, key)


async def check_graphql(env, group_by, key):
    client, app, headers, worlds = env
    counts, shapes = {}, {}
    for label, world in worlds.items():
        payload = {"query": GROUP_RUNS, "variables": {"ds": str(world.dataset_id),
                                                       "input": graphql_input(rest_body(world, group_by, key))}}
        data, counts[label] = await counted(client, app, headers, payload)
        groups = data["groupRuns"]
        shapes[label] = shape(groups)
        children = sum(len(r["children"]) for g in groups for e in g["examples"] for r in e["runs"])
        assert children == shapes[label][3]  # every root run has its llm child
    print(f"\nGraphQL groupRuns {group_by}/{key}: statements {counts}, "
          f"(groups, sessions, examples, runs, feedbacks) {shapes}")
    assert shapes["big"] > shapes["small"] and shapes["big"][3] > 2 * shapes["small"][3]
    assert counts["small"] == counts["big"]


async def counted(client, app, headers, payload: dict) -> tuple[dict, int]:
    """The data of a GraphQL request and how many statements it took, once pools and
    caches are warm; the same request again takes as many (deterministic)."""
    warm = await client.post("/graphql", json=payload, headers=headers)
    assert warm.status_code == 200 and "errors" not in warm.json(), warm.text
    with counting(app) as statements:
        response = await client.post("/graphql", json=payload, headers=headers)
    body = response.json()
    assert "errors" not in body, body
    with counting(app) as again:
        await client.post("/graphql", json=payload, headers=headers)
    assert len(again) == len(statements)
    return body["data"], len(statements)


async def check_rest(env, group_by, key):
    client, app, headers, worlds = env
    counts, shapes = {}, {}
    for label, world in worlds.items():
        path = f"/api/v1/datasets/{world.dataset_id}/group/runs"
        body = rest_body(world, group_by, key)
        assert (await client.post(path, json=body, headers=headers)).status_code == 200
        with counting(app) as statements:
            response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        shapes[label] = shape(response.json()["groups"])
        counts[label] = len(statements)
    print(f"\nREST group/runs {group_by}/{key}: statements {counts}, "
          f"(groups, sessions, examples, runs, feedbacks) {shapes}")
    assert shapes["big"] > shapes["small"]
    assert counts["small"] == counts["big"]


async def check_graphql_limits(env):
    """The same data, asked for 1 group × 1 example or 20 groups × 10 examples."""
    client, app, headers, worlds = env
    world = worlds["big"]
    counts = {}
    for limit, per_group in ((1, 1), (20, 10)):
        body = {**rest_body(world, "example_metadata", "category"), "limit": limit, "per_group_limit": per_group}
        payload = {"query": GROUP_RUNS, "variables": {"ds": str(world.dataset_id), "input": graphql_input(body)}}
        _, counts[(limit, per_group)] = await counted(client, app, headers, payload)
    print(f"\nGraphQL groupRuns by limits: {counts}")
    assert len(set(counts.values())) == 1, counts


async def test_graphql_dataset_runs_statement_count_is_constant(env):
    """Every field of every example and run selected, for the bodies of the REST count
    (plain; filtered and restricted to example ids; sorted): the same count for a page of 100
    examples of the small world (2 sessions) and of the big one (6 sessions, more runs per
    example), and for a page of 1; repeated, the same count again."""
    client, app, headers, worlds = env
    for i in range(3):
        counts, shapes = {}, {}
        for label, limit in (("small", 100), ("big", 1), ("big", 100)):
            world = worlds[label]
            payload = {"query": DATASET_RUNS, "variables": {
                "ds": str(world.dataset_id), "input": dataset_runs_input(count_bodies(world, limit)[i])}}
            data, counts[(label, limit)] = await counted(client, app, headers, payload)
            examples = data["datasetRuns"]
            runs = [r for e in examples for r in e["runs"]]
            assert sum(len(r["children"]) for r in runs) == len(runs)  # every root run has its llm child
            shapes[(label, limit)] = (len(examples), len(runs), sum(len(r["feedbacks"]) for r in runs))
        print(f"\nGraphQL datasetRuns, body {i}: statements {counts}, (examples, runs, feedbacks) {shapes}")
        assert shapes[("big", 100)][0] == 100 and shapes[("big", 100)][1] > 2 * shapes[("small", 100)][1], shapes
        assert len(set(counts.values())) == 1, (counts, shapes)


DATASETS_WITH_SESSIONS = """query($n: Int!) { datasets(first: $n) { edges { node { id
  sessions(first: 4) { edges { cursor node { id stats { testRunNumber } } } pageInfo { hasNextPage endCursor } } } } } }"""
SESSIONS_AFTER = """query($id: UUID!, $after: String) { dataset(id: $id) {
  sessions(first: 100, after: $after) { edges { node { id stats { testRunNumber } } } } } }"""


async def test_datasets_with_their_sessions_take_constant_statements(env):
    """A list of datasets with their first sessions (the landing page's query): one
    statement for every dataset's first page, checked against the sessions in order and
    their `testRunNumber`, and against the `after` path for the rest."""
    from evalql.db.models import TracerSession
    from evalql.db.tenant import readable

    client, app, headers, worlds = env
    viewer = (await client.post("/graphql", headers=headers, json={"query": "{ viewer { workspaceId } }"})).json()
    workspace = uuid.UUID(viewer["data"]["viewer"]["workspaceId"])
    one, n_one = await counted(client, app, headers, {"query": DATASETS_WITH_SESSIONS, "variables": {"n": 1}})
    two, n_two = await counted(client, app, headers, {"query": DATASETS_WITH_SESSIONS, "variables": {"n": 2}})
    assert (len(one["datasets"]["edges"]), len(two["datasets"]["edges"])) == (1, 2)
    assert n_one == n_two
    for edge in two["datasets"]["edges"]:
        dataset_id = edge["node"]["id"]
        async with app.state.db_sessions() as db:
            rls.bind(db, workspace)
            expected = [str(s) for s in await db.scalars(
                readable(workspace, TracerSession, TracerSession.id)
                .where(TracerSession.reference_dataset_id == uuid.UUID(dataset_id))
                .order_by(TracerSession.start_time, TracerSession.id))]
        page = edge["node"]["sessions"]
        assert [e["node"]["id"] for e in page["edges"]] == expected[:4]
        assert [e["node"]["stats"]["testRunNumber"] for e in page["edges"]] == list(range(1, len(expected[:4]) + 1))
        assert page["pageInfo"]["hasNextPage"] is (len(expected) > 4)
        rest = (await client.post("/graphql", headers=headers, json={"query": SESSIONS_AFTER, "variables": {
            "id": dataset_id, "after": page["pageInfo"]["endCursor"]}})).json()["data"]["dataset"]["sessions"]
        assert [e["node"]["id"] for e in rest["edges"]] == expected[4:]
        assert [e["node"]["stats"]["testRunNumber"] for e in rest["edges"]] == list(range(5, len(expected) + 1))
