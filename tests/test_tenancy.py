"""Tenancy: every tenant table carries workspace_id, and two workspaces holding identical
data each see only their own, through GraphQL and REST (spec §1.2)."""

from __future__ import annotations

import pytest

from evalql.db.models import Base
from tests.support.app import second_workspace
from tests.support.world import build_world


def test_every_table_but_workspaces_has_workspace_id():
    tables = Base.metadata.tables
    assert "api_keys" in tables and "workspaces" in tables
    missing = [name for name, table in tables.items() if name != "workspaces" and "workspace_id" not in table.c]
    assert missing == []
    assert "workspace_id" not in tables["workspaces"].c


QUERY = """
query($ds: UUID!, $s: UUID!, $e: UUID!, $r: UUID!, $input: GroupRunsInput!) {
  dataset(id: $ds) { id name exampleCount sessionCount
                     examples(first: 100) { edges { node { id } } }
                     sessions(first: 100) { edges { node { id } } } }
  datasets(first: 100) { edges { node { id name } } }
  session(id: $s) { id name stats { runCount } runs(first: 100) { edges { node { id } } } }
  example(id: $e) { id runs(sessionIds: [$s]) { id } }
  run(id: $r) { id children { id } feedbacks { id } session { id } }
  groupRuns(datasetId: $ds, input: $input) { groupKey count sessions { session { id } runCount }
                                             examples { example { id } runs { id } } }
}
"""


def variables(world) -> dict:
    return {"ds": str(world.dataset_id), "s": str(world.session_ids[0]), "e": str(world.example_ids[0]),
            "r": str(world.root_run_ids[0]),
            "input": {"sessionIds": [str(s) for s in world.session_ids], "groupBy": "EXAMPLE_METADATA",
                      "metadataKey": "category", "limit": 20, "perGroupLimit": 10}}


def rest_body(world) -> dict:
    return {"session_ids": [str(s) for s in world.session_ids], "group_by": "run_metadata",
            "metadata_key": "model", "limit": 20, "per_group_limit": 10}


def all_ids(value) -> set[str]:
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" and isinstance(item, str):
                found.add(item)
            found |= all_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= all_ids(item)
    return found


@pytest.fixture
async def two(api):
    other_ws, other_key, other_read = await second_workspace(api.db_sessions)
    async with api.db_sessions() as db:
        mine = await build_world(db, api.workspace_id, n_examples=8, n_sessions=2, seed=1, name="D")
    async with api.db_sessions() as db:
        theirs = await build_world(db, other_ws, n_examples=8, n_sessions=2, seed=1, name="D")
    return mine, theirs, other_key, other_read


async def test_each_key_sees_only_its_own_graphql(api, two):
    mine, theirs, other_key, other_read = two
    for key, own, foreign in ((api.key, mine, theirs), (api.read_key, mine, theirs),
                              (other_key, theirs, mine), (other_read, theirs, mine)):
        response = await api.graphql(QUERY, variables(own), key=key)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert "errors" not in payload, payload
        data = payload["data"]
        assert data["dataset"]["id"] == str(own.dataset_id)
        assert data["dataset"]["exampleCount"] == 8 and data["dataset"]["sessionCount"] == 2
        assert [e["node"]["id"] for e in data["datasets"]["edges"]] == [str(own.dataset_id)]
        assert data["session"]["id"] == str(own.session_ids[0])
        assert data["example"]["id"] == str(own.example_ids[0])
        assert data["run"]["id"] == str(own.root_run_ids[0])
        assert data["groupRuns"], data
        ids = all_ids(data)
        foreign_ids = {str(i) for i in [foreign.dataset_id, *foreign.session_ids, *foreign.example_ids,
                                        *foreign.root_run_ids, *foreign.child_run_ids, *foreign.feedback_ids]}
        assert ids and not ids & foreign_ids

        # the foreign ids, asked for by this key, are invisible
        response = await api.graphql(QUERY, variables(foreign), key=key)
        payload = response.json()
        data = payload["data"]
        assert data is None or all(data.get(f) is None for f in ("dataset", "session", "example", "run")), payload
        codes = {e["extensions"]["code"] for e in payload["errors"]}
        assert codes == {"NOT_FOUND"}, payload
        single = """query($ds: UUID!, $s: UUID!, $e: UUID!, $r: UUID!) {
            dataset(id: $ds) { id } session(id: $s) { id } example(id: $e) { id } run(id: $r) { id } }"""
        v = variables(foreign)
        del v["input"]
        response = await api.graphql(single, v, key=key)
        assert response.json() == {"data": {"dataset": None, "session": None, "example": None, "run": None}}


async def test_identical_worlds_give_identical_answers_except_ids(api, two):
    mine, theirs, other_key, _ = two
    query = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) {
        groupKey count exampleCount totalTokens errorRate sessions { runCount totalTokens }
        examples { runs { totalTokens status } } } }"""
    a = (await api.graphql(query, {"ds": str(mine.dataset_id), "input": variables(mine)["input"]})).json()
    b = (await api.graphql(query, {"ds": str(theirs.dataset_id), "input": variables(theirs)["input"]},
                           key=other_key)).json()
    assert a["data"]["groupRuns"] and set(map(len, (a["data"]["groupRuns"], b["data"]["groupRuns"]))) != {0}
    # same shape of groups (the random usage makes numbers equal too: same seed)
    assert [g["groupKey"] for g in a["data"]["groupRuns"]] == [g["groupKey"] for g in b["data"]["groupRuns"]]
    assert [g["count"] for g in a["data"]["groupRuns"]] == [g["count"] for g in b["data"]["groupRuns"]]


async def test_each_key_sees_only_its_own_rest(api, two):
    mine, theirs, other_key, other_read = two
    for key, own, foreign in ((api.key, mine, theirs), (other_read, theirs, mine)):
        response = await api.group_runs(own.dataset_id, rest_body(own), key=key)
        assert response.status_code == 200, response.text
        groups = response.json()["groups"]
        assert groups
        ids = all_ids(groups)
        foreign_ids = {str(i) for i in [foreign.dataset_id, *foreign.session_ids, *foreign.example_ids,
                                        *foreign.root_run_ids, *foreign.child_run_ids, *foreign.feedback_ids]}
        assert not ids & foreign_ids
        own_ws = {str(s["tenant_id"]) for g in groups for s in g["sessions"]}
        assert len(own_ws) == 1
        response = await api.group_runs(foreign.dataset_id, rest_body(foreign), key=key)
        assert response.status_code == 404
        assert response.json() == {"detail": f"Dataset {foreign.dataset_id} not found"}
        response = await api.group_runs(own.dataset_id, {**rest_body(own), "session_ids": [
            str(own.session_ids[0]), str(foreign.session_ids[0])]}, key=key)
        assert response.status_code == 404
        assert response.json() == {"detail": f"Session {foreign.session_ids[0]} not found"}
