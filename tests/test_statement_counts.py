"""graphql.md §2 Batching: the number of SQL statements for a fully selected groupRuns
query (and for REST group/runs) does not depend on how much data is returned."""

from __future__ import annotations

import pytest

from evalql.config import Settings
from evalql.db import writes
from tests.support.app import app_client
from tests.support.gql import GROUP_RUNS, graphql_input
from tests.support.statements import counting
from tests.support.world import build_world

SMALL = (20, 2)
BIG = (200, 6)


@pytest.fixture
async def env(database_url):
    async with app_client(Settings(database_url=database_url)) as (client, app):
        async with app.state.db_sessions() as db:
            ws = await writes.create_workspace(db, "counts")
            key = await writes.create_api_key(db, ws.id)
            await db.commit()
        worlds = {}
        for label, (n_examples, n_sessions) in (("small", SMALL), ("big", BIG)):
            async with app.state.db_sessions() as db:
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
        warm = await client.post("/graphql", json=payload, headers=headers)  # warm pools and caches
        assert warm.status_code == 200 and "errors" not in warm.json(), warm.text
        with counting(app) as statements:
            response = await client.post("/graphql", json=payload, headers=headers)
        data = response.json()
        assert "errors" not in data, data
        groups = data["data"]["groupRuns"]
        shapes[label] = shape(groups)
        children = sum(len(r["children"]) for g in groups for e in g["examples"] for r in e["runs"])
        assert children == shapes[label][3]  # every root run has its llm child
        counts[label] = len(statements)
        # and again on the same data: deterministic
        with counting(app) as again:
            await client.post("/graphql", json=payload, headers=headers)
        assert len(again) == counts[label]
    print(f"\nGraphQL groupRuns {group_by}/{key}: statements {counts}, "
          f"(groups, sessions, examples, runs, feedbacks) {shapes}")
    assert shapes["big"] > shapes["small"] and shapes["big"][3] > 2 * shapes["small"][3]
    assert counts["small"] == counts["big"]


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
        await client.post("/graphql", json=payload, headers=headers)
        with counting(app) as statements:
            response = await client.post("/graphql", json=payload, headers=headers)
        assert "errors" not in response.json()
        counts[(limit, per_group)] = len(statements)
    print(f"\nGraphQL groupRuns by limits: {counts}")
    assert len(set(counts.values())) == 1, counts
