"""graphql.md §2: groupRuns returns exactly what REST group/runs returns for the same input.
Both are sent the same request over a varied world; GraphQL's answer is mapped to REST's
names and compared value for value on every field both expose."""

from __future__ import annotations

import pytest

from tests.support.gql import EVERY_FIELD_BUDGET, GROUP_RUNS, graphql_input
from tests.support.world import build_world
from tests.worlds import worked_example

pytestmark = pytest.mark.settings(graphql_max_cost=EVERY_FIELD_BUDGET)  # every field, largest pages


def stats_dict(items: list[dict]) -> dict:
    out = {}
    for s in items:
        assert s["key"] not in out, "duplicate feedback key"
        out[s["key"]] = {"n": s["n"], "avg": s["avg"], "stdev": s["stdev"], "min": s["min"], "max": s["max"],
                         "errors": s["errors"], "values": {v["value"]: v["count"] for v in s["values"]},
                         "comments": s["comments"]}
    return out


def rest_stats(stats: dict) -> dict:
    for value in stats.values():
        assert value["contains_thread_feedback"] is False
    return {k: {f: v for f, v in value.items() if f != "contains_thread_feedback"} for k, value in stats.items()}


def feedback_from_graphql(f: dict) -> dict:
    src = f["feedbackSource"]
    return {
        "id": f["id"], "key": f["key"], "score": f["score"], "value": f["value"], "comment": f["comment"],
        "correction": f["correction"],
        "feedback_source": {"type": src["type"], "metadata": src["metadata"], "user_id": src["userId"],
                            "user_name": src["userName"]},
        "feedback_group_id": f["feedbackGroupId"], "comparative_experiment_id": f["comparativeExperimentId"],
        "start_time": f["startTime"], "created_at": f["createdAt"], "modified_at": f["modifiedAt"],
        "is_root": f["isRoot"], "run_id": f["run"]["id"] if f["run"] else None, "trace_id": f["traceId"],
    }


def run_from_graphql(r: dict) -> dict:
    return {
        "id": r["id"], "name": r["name"], "run_type": r["runType"].lower(), "status": r["status"].lower(),
        "start_time": r["startTime"], "end_time": r["endTime"], "first_token_time": r["firstTokenTime"],
        "inputs": r["inputs"], "outputs": r["outputs"], "inputs_preview": r["inputsPreview"],
        "outputs_preview": r["outputsPreview"], "error": r["error"], "extra": r["extra"], "tags": r["tags"],
        "events": r["events"], "serialized": r["serialized"], "trace_id": r["traceId"],
        "dotted_order": r["dottedOrder"], "execution_order": r["executionOrder"], "parent_run_id": r["parentRunId"],
        "session_id": r["session"]["id"],
        "reference_example_id": r["referenceExample"]["id"] if r["referenceExample"] else None,
        "total_tokens": r["totalTokens"], "prompt_tokens": r["promptTokens"],
        "completion_tokens": r["completionTokens"], "total_cost": r["totalCost"], "prompt_cost": r["promptCost"],
        "completion_cost": r["completionCost"], "app_path": r["appPath"],
        "feedback_stats": stats_dict(r["feedbackStats"]),
        "feedbacks": [feedback_from_graphql(f) for f in r["feedbacks"]],
    }


def example_from_graphql(e: dict) -> dict:
    return {"id": e["id"], "dataset_id": e["dataset"]["id"], "name": e["name"], "inputs": e["inputs"],
            "outputs": e["outputs"], "metadata": e["metadata"], "source_run_id": e["sourceRunId"],
            "created_at": e["createdAt"], "modified_at": e["modifiedAt"]}


def session_from_graphql(s: dict) -> dict:
    session = s["session"]
    return {
        "id": session["id"], "name": session["name"], "description": session["description"],
        "start_time": session["startTime"], "end_time": session["endTime"], "extra": session["extra"],
        "reference_dataset_id": session["referenceDataset"]["id"] if session["referenceDataset"] else None,
        "filter": s["filter"], "run_count": s["runCount"], "example_count": s["exampleCount"],
        "latency_p50": s["latencyP50"], "latency_p99": s["latencyP99"], "first_token_p50": s["firstTokenP50"],
        "first_token_p99": s["firstTokenP99"], "total_tokens": s["totalTokens"], "prompt_tokens": s["promptTokens"],
        "completion_tokens": s["completionTokens"], "total_cost": s["totalCost"], "prompt_cost": s["promptCost"],
        "completion_cost": s["completionCost"], "error_rate": s["errorRate"], "streaming_rate": s["streamingRate"],
        "min_start_time": s["minStartTime"], "max_start_time": s["maxStartTime"],
        "last_run_start_time": s["lastRunStartTime"], "feedback_stats": stats_dict(s["feedbackStats"]),
        "session_feedback_stats": stats_dict(s["sessionFeedbackStats"]), "test_run_number": s["testRunNumber"],
    }


def group_from_graphql(g: dict) -> dict:
    return {
        "group_key": g["groupKey"], "filter": g["filter"], "count": g["count"], "example_count": g["exampleCount"],
        "total_tokens": g["totalTokens"], "prompt_tokens": g["promptTokens"],
        "completion_tokens": g["completionTokens"], "total_cost": g["totalCost"], "prompt_cost": g["promptCost"],
        "completion_cost": g["completionCost"], "min_start_time": g["minStartTime"],
        "max_start_time": g["maxStartTime"], "latency_p50": g["latencyP50"], "latency_p99": g["latencyP99"],
        "error_rate": g["errorRate"], "feedback_stats": stats_dict(g["feedbackStats"]),
        "sessions": [session_from_graphql(s) for s in g["sessions"]],
        "examples": [example_with_runs_from_graphql(e) for e in g["examples"]],
    }


def restrict(rest: dict, mapped: dict, where: str) -> dict:
    """REST's values for the keys GraphQL exposes (every mapped key must exist in REST)."""
    missing = set(mapped) - set(rest)
    assert not missing, f"{where}: not in REST: {missing}"
    return {k: rest[k] for k in mapped}


def assert_same(rest: dict, gql: dict, where: str) -> None:
    for key, value in gql.items():
        expected = rest[key]
        if key in ("feedback_stats", "session_feedback_stats"):
            expected = rest_stats(expected)
        if key == "score" and isinstance(expected, bool):
            expected = float(expected)
        assert value == expected, (where, key, value, expected)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, expected))
        assert type(value) is type(expected) or numbers, (where, key, value, expected)


def compare(rest_groups: list[dict], gql_groups: list[dict]) -> int:
    """Field-by-field comparison; returns how many values were compared."""
    compared = 0
    assert [g["group_key"] for g in rest_groups] == [g["groupKey"] for g in gql_groups]
    for rg, gg in zip(rest_groups, gql_groups, strict=True):
        mapped = group_from_graphql(gg)
        where = f"group {rg['group_key']!r}"
        scalars = {k: v for k, v in mapped.items() if k not in ("sessions", "examples")}
        assert_same(restrict(rg, scalars, where), scalars, where)
        compared += len(scalars)
        assert len(rg["sessions"]) == len(mapped["sessions"]), where
        for rs, gs in zip(rg["sessions"], mapped["sessions"], strict=True):
            w = f"{where} session {rs['id']}"
            assert_same(restrict(rs, gs, w), gs, w)
            assert rs["last_run_start_time_live"] == gs["last_run_start_time"]
            compared += len(gs)
        compared += compare_examples(rg["examples"], mapped["examples"], where)
    return compared


def example_with_runs_from_graphql(e: dict) -> dict:
    return {**example_from_graphql(e["example"]), "runs": [run_from_graphql(r) for r in e["runs"]]}


LEVELS = (("example", "runs"), ("run", "feedbacks"), ("feedback", None))  # (name, its children's key)


def compare_examples(rest_examples: list[dict], mapped: list[dict], where: str, depth: int = 0) -> int:
    """REST's ExampleWithRuns list (§5.4) against GraphQL's, already mapped to REST's names:
    the same examples, runs and feedbacks in the same order, value for value; returns how
    many values were compared. One level (examples, their runs, their feedbacks) a call."""
    name, children = LEVELS[depth]
    assert [e["id"] for e in rest_examples] == [e["id"] for e in mapped], where
    compared = 0
    for rest_item, graphql_item in zip(rest_examples, mapped, strict=True):
        w = f"{where} {name} {rest_item['id']}"
        plain = {k: v for k, v in graphql_item.items() if k != children}
        assert_same(restrict(rest_item, plain, w), plain, w)
        compared += len(plain)
        if children is not None:
            compared += compare_examples(rest_item[children], graphql_item[children], w, depth + 1)
    return compared


async def both(api, dataset_id, body: dict) -> tuple[list[dict], list[dict]]:
    rest = await api.group_runs(dataset_id, body)
    assert rest.status_code == 200, rest.text
    gql = await api.graphql(GROUP_RUNS, {"ds": str(dataset_id), "input": graphql_input(body)})
    assert gql.status_code == 200, gql.text
    payload = gql.json()
    assert "errors" not in payload, payload
    return rest.json()["groups"], payload["data"]["groupRuns"]


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        return await build_world(db, api.workspace_id, n_examples=24, n_sessions=4, seed=11)


CASES = [
    ("example_metadata", "category", {}),
    ("example_metadata", "difficulty", {"per_group_limit": 10}),
    ("run_metadata", "model", {"limit": 20, "per_group_limit": 10}),
    ("run_metadata", "temperature", {"offset": 1, "limit": 2, "per_group_limit": 3}),
    ("example_metadata", "category", {"offset": 2, "limit": 3, "per_group_limit": 1}),
    ("example_metadata", "missing-key", {}),
]


@pytest.mark.parametrize("group_by,key,extra", CASES, ids=[f"{c[0]}-{c[1]}-{sorted(c[2])}" for c in CASES])
async def test_rest_equals_graphql(api, world, group_by, key, extra):
    body = {"session_ids": [str(s) for s in world.session_ids], "group_by": group_by, "metadata_key": key, **extra}
    rest, gql = await both(api, world.dataset_id, body)
    compared = compare(rest, gql)
    if key != "missing-key":
        assert rest and compared > 100, compared
        runs = [r for g in rest for e in g["examples"] for r in e["runs"]]
        assert any(r["error"] for r in runs) and any(r["feedbacks"] for r in runs)
        assert any(r["total_cost"] is None for r in runs) or group_by == "run_metadata"
    else:
        assert rest == [] and gql == []


async def test_rest_equals_graphql_session_subset_and_order(api, world):
    s = [str(i) for i in world.session_ids]
    body = {"session_ids": [s[2], s[0], s[2]], "group_by": "example_metadata", "metadata_key": "category",
            "limit": 20, "per_group_limit": 10}
    rest, gql = await both(api, world.dataset_id, body)
    assert compare(rest, gql) > 100


async def test_rest_equals_graphql_with_preview(api, world):
    """§5.6 preview nulls inputs, outputs, events and serialized in REST; groupRuns must agree."""
    body = {"session_ids": [str(i) for i in world.session_ids], "group_by": "example_metadata",
            "metadata_key": "category", "preview": True}
    rest, gql = await both(api, world.dataset_id, body)
    runs = [r for g in rest for e in g["examples"] for r in e["runs"]]
    assert runs and all(r["inputs"] is None and r["outputs"] is None for r in runs)
    compare(rest, gql)


async def test_rest_equals_graphql_worked_example(api):
    async with api.db_sessions() as db:
        world = await worked_example.load(db, api.workspace_id)
    body = {"session_ids": [str(world.sessions["A"]), str(world.sessions["B"])], "group_by": "example_metadata",
            "metadata_key": "category"}
    rest, gql = await both(api, world.dataset_id, body)
    compare(rest, gql)
    assert [g["total_cost"] for g in rest] == ["0.008", "0.005"]


KEPT_RUNS = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) {
  groupKey examples { example { id } runs { id name inputs outputs totalTokens
    feedbackStats { key n avg stdev min max errors values { value count } comments }
    feedbacks { id key score value comment feedbackSource { type metadata userId userName } } } } } }"""


def kept_runs_view(rest_groups: list[dict], gql_groups: list[dict]) -> tuple[list, list]:
    """REST's and GraphQL's runs of KEPT_RUNS's fields, as comparable values."""
    def from_rest(r: dict) -> tuple:
        return (r["id"], r["name"], r["inputs"], r["outputs"], r["total_tokens"], rest_stats(r["feedback_stats"]),
                sorted((f["id"], f["key"], f["score"], f["comment"], f["feedback_source"]["type"])
                       for f in r["feedbacks"]))

    def from_gql(r: dict) -> tuple:
        return (r["id"], r["name"], r["inputs"], r["outputs"], r["totalTokens"], stats_dict(r["feedbackStats"]),
                sorted((f["id"], f["key"], f["score"], f["comment"], f["feedbackSource"]["type"])
                       for f in r["feedbacks"]))

    return ([from_rest(r) for g in rest_groups for e in g["examples"] for r in e["runs"]],
            [from_gql(r) for g in gql_groups for e in g["examples"] for r in e["runs"]])


async def test_kept_run_results_follow_writes_and_preview(api, world):
    """A run of a page whose selection is pure (no loader fields) is completed once and kept
    between requests (schema/execution.py); a write to one of its runs, and `preview`, must
    show at once, exactly as REST shows them."""
    body = {"session_ids": [str(s) for s in world.session_ids], "group_by": "example_metadata",
            "metadata_key": "category"}

    async def views(preview: bool) -> tuple[list, list]:
        sent = {**body, "preview": preview}
        rest = await api.group_runs(world.dataset_id, sent)
        gql = await api.graphql(KEPT_RUNS, {"ds": str(world.dataset_id), "input": graphql_input(sent)})
        assert rest.status_code == 200 and "errors" not in gql.json(), gql.text
        return kept_runs_view(rest.json()["groups"], gql.json()["data"]["groupRuns"])

    rest, gql = await views(False)
    assert rest == gql and len(rest) > 20
    assert (await views(False)) == (rest, gql)  # kept, unchanged
    shown = rest[0][0]
    response = await api.client.post("/api/v1/feedback", headers=api.headers(), json={
        "run_id": shown, "key": "kept-check", "score": 0.25, "comment": "new"})
    assert response.status_code == 200, response.text
    rest_after, gql_after = await views(False)
    assert rest_after == gql_after
    changed = next(run for run in gql_after if run[0] == shown)
    assert changed[5]["kept-check"]["n"] == 1 and ("kept-check" not in rest[0][5])
    assert [run for run in gql_after if run[0] != shown] == [run for run in gql if run[0] != shown]
    rest_preview, gql_preview = await views(True)  # the same rows, previewed: inputs and outputs null
    assert rest_preview == gql_preview and all(run[2] is None and run[3] is None for run in gql_preview)
    assert (await views(False)) == (rest_after, gql_after)
