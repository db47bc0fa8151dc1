"""Spec §5.7, value for value, through REST and GraphQL."""

from __future__ import annotations

import pytest

from tests.worlds import worked_example


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        return await worked_example.load(db, api.workspace_id)


def body(world, **extra):
    return {"session_ids": [str(world.sessions["A"]), str(world.sessions["B"])],
            "group_by": "example_metadata", "metadata_key": "category", **extra}


async def test_groups_values(api, world):
    response = await api.group_runs(world.dataset_id, body(world))
    assert response.status_code == 200, response.text
    geo, math = response.json()["groups"]
    assert geo["group_key"] == "geo" and math["group_key"] == "math"

    assert (geo["count"], geo["example_count"], geo["total_tokens"]) == (2, 1, 80)
    assert geo["total_cost"] == "0.008"
    assert geo["latency_p50"] == pytest.approx(4.0, abs=1e-6)
    assert geo["latency_p99"] == pytest.approx(4.98, abs=1e-6)
    assert geo["error_rate"] == 0.5
    correctness = geo["feedback_stats"]["correctness"]
    assert {k: correctness[k] for k in ("n", "avg", "stdev", "min", "max", "errors")} == {
        "n": 2, "avg": 0.5, "stdev": 0.5, "min": 0.0, "max": 1.0, "errors": 0}
    a, b = geo["sessions"]
    assert (a["id"], b["id"]) == (str(world.sessions["A"]), str(world.sessions["B"]))
    assert (a["run_count"], a["latency_p50"], a["total_tokens"], a["error_rate"], a["example_count"]) == (1, 3.0, 30, 1.0, 1)
    assert (b["run_count"], b["latency_p50"], b["total_tokens"], b["error_rate"], b["example_count"]) == (1, 5.0, 50, 0.0, 1)
    [e3] = geo["examples"]
    assert e3["id"] == str(world.examples["e3"])
    assert [r["id"] for r in e3["runs"]] == [str(world.runs["a3"]), str(world.runs["b3"])]

    assert (math["count"], math["example_count"], math["total_tokens"], math["total_cost"]) == (2, 1, 50, "0.005")
    assert math["latency_p50"] == pytest.approx(2.5, abs=1e-6)
    assert math["latency_p99"] == pytest.approx(3.97, abs=1e-6)
    assert math["error_rate"] == 0.0
    assert math["feedback_stats"]["correctness"]["n"] == 2
    assert math["feedback_stats"]["correctness"]["avg"] == 1.0
    assert math["feedback_stats"]["correctness"]["stdev"] == 0.0
    assert [e["id"] for e in math["examples"]] == [str(world.examples["e1"])]
    all_run_ids = {r["id"] for g in (geo, math) for e in g["examples"] for r in e["runs"]}
    assert str(world.runs["a2"]) not in all_run_ids
    assert math["filter"] == ("and(eq(is_root, true), and(eq(example_metadata_key, 'category'), "
                              "eq(example_metadata_value, 'math')))")


async def test_paging_and_per_group_limit(api, world):
    response = await api.group_runs(world.dataset_id, body(world, limit=1, offset=1))
    assert [g["group_key"] for g in response.json()["groups"]] == ["math"]
    response = await api.group_runs(world.dataset_id, body(world, per_group_limit=1))
    assert [g["example_count"] for g in response.json()["groups"]] == [1, 1]
    response = await api.group_runs(world.dataset_id, body(world, offset=5))
    assert response.json() == {"groups": []}


GROUP_QUERY = """
query($ds: UUID!, $input: GroupRunsInput!) {
  groupRuns(datasetId: $ds, input: $input) {
    groupKey filter count exampleCount totalTokens totalCost latencyP50 latencyP99 errorRate
    feedbackStats { key n avg stdev min max errors values { value count } comments }
    sessions { session { id name } runCount exampleCount latencyP50 totalTokens errorRate testRunNumber filter }
    examples { example { id name } runs { id latency feedbacks { key score } session { name } } }
  }
}
"""


async def test_graphql_worked_example(api, world):
    variables = {"ds": str(world.dataset_id), "input": {
        "sessionIds": [str(world.sessions["A"]), str(world.sessions["B"])],
        "groupBy": "EXAMPLE_METADATA", "metadataKey": "category"}}
    response = await api.graphql(GROUP_QUERY, variables)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload
    geo, math = payload["data"]["groupRuns"]
    assert (geo["groupKey"], geo["count"], geo["totalTokens"], geo["totalCost"]) == ("geo", 2, 80, "0.008")
    assert geo["latencyP99"] == pytest.approx(4.98, abs=1e-6)
    assert [s["session"]["name"] for s in geo["sessions"]] == ["A", "B"]
    assert [s["testRunNumber"] for s in geo["sessions"]] == [1, 2]
    assert [r["session"]["name"] for r in geo["examples"][0]["runs"]] == ["A", "B"]
    assert math["latencyP50"] == pytest.approx(2.5, abs=1e-6)
