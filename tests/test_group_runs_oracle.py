"""`POST /datasets/{id}/group/runs` against an independent oracle (tests/oracle.py).

Every answer is compared field by field with the oracle's (floats abs 1e-6, costs by
decimal value, all else exact). A few targeted tests pin spec rules literally, so that the
oracle itself is checked too. A hypothesis test compares random small worlds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import rls, writes
from tests import databases, oracle
from tests.oracle import MISSING, Records
from tests.worlds import rich

S = {name: str(rich.uid("session " + name)) for name in "ABCZXN"}
DATASET = str(rich.uid("D"))


@pytest.fixture
async def world(api) -> Records:
    async with api.db_sessions() as db:
        return await rich.load(db, api.workspace_id, rich.build())


async def check(api, world: Records, body: dict[str, Any], dataset: str = DATASET) -> dict[str, Any]:
    response = await api.group_runs(dataset, body)
    assert response.status_code == 200, response.text
    got = response.json()
    expected = oracle.expected_group_runs(world, dataset, body)
    problems = oracle.compare(expected, got)
    assert not problems, f"{len(problems)} mismatches for {body}:\n" + "\n".join(problems[:40])
    return got


def rm(keys: str | list[str], key: str = "model", **extra: Any) -> dict[str, Any]:
    return {"session_ids": [S[k] for k in keys], "group_by": "run_metadata", "metadata_key": key, **extra}


def em(keys: str | list[str], key: str = "tier", **extra: Any) -> dict[str, Any]:
    return {"session_ids": [S[k] for k in keys], "group_by": "example_metadata", "metadata_key": key, **extra}


BODIES = {
    "rm-model-ABC": rm("ABC"),
    "rm-model-AB-preview": rm("AB", preview=True),
    "rm-model-BA": rm("BA"),
    "rm-model-CAB-paged": rm("CAB", offset=1, limit=2),
    "rm-model-duplicates": rm("ABAB"),
    "rm-model-A-pgl1": rm("A", per_group_limit=1),
    "rm-model-duplicates-any-case": {**rm("BA"), "session_ids": [S["B"], S["A"].upper(), S["A"], S["B"].upper()]},
    "rm-model-AX-other-dataset-session": rm("AX"),
    "rm-model-XA": rm("XA"),
    "rm-model-AN-no-reference": rm("AN"),
    "rm-model-AZ-zero-runs": rm("AZ"),
    "rm-model-Z-only": rm("Z"),
    "rm-model-all-limit20": rm("ABCZXN", limit=20, per_group_limit=10),
    "rm-model-offset-past-end": rm("AB", offset=50),
    "rm-temperature-ABC": rm("ABC", key="temperature"),
    "rm-temperature-A-preview-pgl2": rm("A", key="temperature", preview=True, per_group_limit=2),
    "rm-ls_run-A-limit20": rm("A", key="ls_run", limit=20),
    "rm-missing-key": rm("ABC", key="nope"),
    "em-tier-ABC": em("ABC"),
    "em-tier-AB": em("AB"),
    "em-tier-BA-preview": em("BA", preview=True),
    "em-tier-A-limit20": em("A", limit=20),
    "em-tier-A-offset3-limit2": em("A", offset=3, limit=2),
    "em-tier-ABC-pgl1": em("ABC", per_group_limit=1),
    "em-tier-CBA-dup": em("CBAC"),
    "em-difficulty-A": em("A", key="difficulty", limit=20),
    "em-difficulty-AB": em("AB", key="difficulty"),
    "em-quote-key-AB": em("AB", key="it's", limit=20),
    "em-split-ABC": em("ABC", key="dataset_split"),
    "em-split-A-pgl2": em("A", key="dataset_split", per_group_limit=2),
    "em-tier-AXN": em("AXN"),
}


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
async def test_rich_world_matches_oracle(api, world, body):
    await check(api, world, body)


async def test_other_dataset_view(api, world):
    """Grouping D2: only runs on D2 examples (x1, a12) count, whatever the sessions reference."""
    got = await check(api, world, rm("XA"), dataset=str(rich.uid("D2")))
    assert [g["group_key"] for g in got["groups"]] == ["gpt-4"]
    got = await check(api, world, em("AX", key="tier"), dataset=str(rich.uid("D2")))
    assert [g["group_key"] for g in got["groups"]] == ["gold"]


# ---------------------------------------------------------------------------- literal spec pins

def run_ids(group: dict[str, Any]) -> list[str]:
    return [r["id"] for e in group["examples"] for r in e["runs"]]


def name_of(run_id: str) -> str:
    names = {str(rich.uid(n)): n for n, *_ in rich.ROWS}
    names.update({str(rich.uid(n + ".child")): n + ".child" for n, *_ in rich.ROWS})
    return names.get(run_id, run_id)


async def test_group_keys_normalised_and_ordered(api, world):
    got = await check(api, world, em("A", limit=20))
    # 2 and 2.0 form one group; true and "true" too; the object key is canonical JSON;
    # numbers ascending first, then strings by code point; missing and null dropped.
    assert [g["group_key"] for g in got["groups"]] == [-3, 0.5, 2, "gold", "true", '{"a":[1,"x"],"b":1}', "été"]
    assert type(got["groups"][2]["group_key"]) is int
    two = got["groups"][2]
    assert [e["id"] for e in two["examples"]] == [str(rich.uid("e2")), str(rich.uid("e3"))]
    got = await check(api, world, rm("AB"))
    keys = [g["group_key"] for g in got["groups"]]
    # 1 (int, a3/b3 and 1.0 of a11/b9) and "1" (a4/b4) are distinct groups
    assert keys[0] == 1 and "1" in keys and "true" in keys and "false" in keys
    assert '{"name":"m","v":2}' in keys


async def test_keyless_runs_and_child_runs_never_counted(api, world):
    got = await check(api, world, rm("ABC", limit=20))
    seen = [name_of(r) for g in got["groups"] for r in run_ids(g)]
    assert not {"a9", "a10", "a12", "a13"} & set(seen)
    assert not [n for n in seen if ".child" in n]
    for g in got["groups"]:
        assert g["count"] == sum(s["run_count"] for s in g["sessions"])
        assert all(r["parent_run_id"] is None for r in run_ids_full(g))
    gpt4 = next(g for g in got["groups"] if g["group_key"] == "gpt-4")
    # children carry model gpt-4 and the example id, yet never count (nor does their feedback)
    assert "child" not in json.dumps(gpt4["feedback_stats"])


async def test_worked_numbers_of_gpt4_group(api, world):
    """model gpt-4 over A, B: S = [A, B]; E = {e1, e2, e7, e11}; a1 and a8 repeat e1."""
    got = await check(api, world, rm("AB"))
    gpt4 = next(g for g in got["groups"] if g["group_key"] == "gpt-4")
    assert gpt4["example_count"] == 4
    assert [name_of(r) for r in run_ids(gpt4)] == (
        sorted(["a1", "a8"], key=lambda n: rich.uid(n)) + ["b1", "a2", "b2", "a7", "b7", "a14", "b8"])
    assert gpt4["count"] == 9
    a, b = gpt4["sessions"]
    assert (a["run_count"], b["run_count"]) == (5, 4)
    assert a["example_count"] == b["example_count"] == 4
    # a7 has no usage at all; a1 rolls its child's usage up; a2's own usage wins over its child
    a2 = next(r for e in gpt4["examples"] for r in e["runs"] if name_of(r["id"]) == "a2")
    assert (a2["total_tokens"], a2["prompt_tokens"], a2["total_cost"], a2["prompt_cost"]) == (7, 0, "0.0007", None)
    a7 = next(r for e in gpt4["examples"] for r in e["runs"] if name_of(r["id"]) == "a7")
    assert (a7["total_tokens"], a7["total_cost"]) == (0, None)
    a1 = next(r for e in gpt4["examples"] for r in e["runs"] if name_of(r["id"]) == "a1")
    assert (a1["total_tokens"], a1["prompt_cost"]) == (15, "0.001")
    b7 = next(r for e in gpt4["examples"] for r in e["runs"] if name_of(r["id"]) == "b7")
    assert (b7["status"], b7["end_time"], b7["outputs_preview"]) == ("pending", None, None)
    correctness = gpt4["feedback_stats"]["correctness"]
    # a1 1, a8 0, b1 true, b2 false (+ one score-less error entry)
    assert {k: correctness[k] for k in ("n", "avg", "min", "max", "errors")} == {
        "n": 4, "avg": 0.5, "min": 0.0, "max": 1.0, "errors": 2}
    assert correctness["values"] == {"good": 1, "bad": 1, "1": 1, "true": 1}
    assert gpt4["feedback_stats"]["helpfulness"]["comments"] == ["early comment", "comment only"]
    assert correctness["comments"] == ["b1 says", "late comment"]
    assert gpt4["feedback_stats"]["note"]["n"] == 0 and gpt4["feedback_stats"]["note"]["values"] == {"meh": 1}
    assert a["session_feedback_stats"]["f1"]["n"] == 2 and a["session_feedback_stats"]["f1"]["comments"] == [
        "session comment"]
    assert b["session_feedback_stats"]["pass_rate"]["avg"] == 1.0
    assert (a["test_run_number"], b["test_run_number"]) == (1, 2)
    assert a["streaming_rate"] == pytest.approx(2 / 5) and b["streaming_rate"] == pytest.approx(1 / 4)


async def test_per_group_limit_caps_examples_not_counts(api, world):
    for pgl in (1, 2, 10):
        got = await check(api, world, rm("ABC", per_group_limit=pgl))
        for g in got["groups"]:
            assert len(g["examples"]) == min(pgl, g["example_count"])
            assert all(s["example_count"] == g["example_count"] for s in g["sessions"])


async def test_preview(api, world):
    got = await check(api, world, rm("A", key="ls_run", limit=20, preview=True))
    runs = {name_of(r["id"]): r for g in got["groups"] for r in run_ids_full(g)}
    assert all(r["inputs"] is None and r["outputs"] is None and r["events"] is None and r["serialized"] is None
               for r in runs.values())
    assert runs["a1"]["inputs_preview"] == "question a1"
    assert runs["a2"]["inputs_preview"] == rich.LONG[:200] and len(runs["a2"]["inputs_preview"]) == 200
    assert runs["a3"]["inputs_preview"] == '{"b":[1,2],"a":"ü"}'  # key order as stored, non-ASCII kept
    assert runs["a4"]["inputs_preview"] == '{"n":3}'  # one key, non-string value: JSON
    assert runs["a4"]["outputs_preview"] is None  # pending run without outputs
    assert runs["a3"]["outputs_preview"] == "é" * 200
    assert runs["a2"]["outputs_preview"] == '{"a":1,"b":"two"}'
    got = await check(api, world, rm("A", key="ls_run", limit=20))
    full = {name_of(r["id"]): r for g in got["groups"] for r in run_ids_full(g)}
    assert full["a2"]["inputs"] == {"question": rich.LONG} and full["a2"]["serialized"] == {"name": "a2"}
    assert full["a2"]["inputs_preview"] == runs["a2"]["inputs_preview"]
    # examples are never truncated
    e2 = next(e for g in got["groups"] for e in g["examples"] if e["id"] == str(rich.uid("e2")))
    assert e2["inputs"] == {"q": rich.LONG}


def run_ids_full(group: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for e in group["examples"] for r in e["runs"]]


async def test_group_and_session_filter_strings(api, world):
    got = await check(api, world, em("A", key="it's", limit=20))
    by_key = {g["group_key"]: g for g in got["groups"]}
    assert by_key["o'neil\\"]["filter"] == (
        "and(eq(is_root, true), and(eq(example_metadata_key, 'it\\'s'), "
        "eq(example_metadata_value, 'o\\'neil\\\\')))")
    assert by_key[-1]["filter"].endswith("eq(example_metadata_value, -1)))")
    assert by_key[2.5]["filter"].endswith("eq(example_metadata_value, 2.5)))")
    got = await check(api, world, rm("AB"))
    for g in got["groups"]:
        assert all(s["filter"] == g["filter"] for s in g["sessions"])
    obj = next(g for g in got["groups"] if g["group_key"] == '{"name":"m","v":2}')
    assert obj["filter"] == ("and(eq(is_root, true), and(eq(metadata_key, 'model'), "
                             "eq(metadata_value, '{\"name\":\"m\",\"v\":2}')))")


FILTERED = {
    "A-success": rm("AB", filters={S["A"]: ['eq(status, "success")']}),
    "A-two-filters-B-empty": rm("AB", filters={S["A"]: ["gt(latency, 0.6)", "eq(run_type, 'chain')"], S["B"]: []}),
    "B-errored-tier": em("ABC", filters={S["B"]: ["neq(error, null)"]}),
    "uppercase-uuid-key": rm("AB", filters={S["A"].upper(): ["lt(total_tokens, 20)"]}),
}


@pytest.mark.parametrize("body", list(FILTERED.values()), ids=list(FILTERED))
async def test_session_filters_match_oracle(api, world, body):
    """§5.1/§5.3 step 1: per-session filters, AND-ed, applied before grouping; §5.5 the
    session `filter` strings carry them."""
    await check(api, world, body)


# ---------------------------------------------------------------------------- hypothesis

VALUES = [MISSING, None, 0, 1, 1.0, -0.0, 2, 0.5, -1.5, 1e-7, True, False, "1", "", "a", "B", "true", "é", "😀",
          {"k": 1, "a": 0}, {"é": "ü", "A": [True, None]}, ["x"], []]
LATENCIES = [None, 0.0, 0.25, 1.0, 1.5, 3.0, 10.125]
COSTS = [None, "0.001", "0.0025", 0.5, "3"]
SCORES = [None, 0, 1, 0.5, True, False, 0.25]
LABELS = [None, "good", "bad", "", 1, 1.5, True, False, {"o": 1}, ["l"]]

run_strategy = st.fixed_dictionaries({
    "session": st.integers(0, 2), "example": st.integers(0, 6), "model": st.sampled_from(VALUES),
    "start": st.integers(0, 5), "latency": st.sampled_from(LATENCIES), "error": st.sampled_from([None, None, "x"]),
    "tokens": st.one_of(st.none(), st.integers(0, 50)), "cost": st.sampled_from(COSTS),
    "child": st.one_of(st.none(), st.tuples(st.integers(0, 20), st.sampled_from(COSTS))),
    "stream": st.sampled_from([None, None, 0.05, 0.2]),
    "feedback": st.lists(st.tuples(st.sampled_from(["c", "h"]), st.sampled_from(SCORES), st.sampled_from(LABELS),
                                   st.sampled_from([None, "", "x", "y"]), st.booleans(), st.integers(0, 3)),
                         max_size=3),
})
world_strategy = st.fixed_dictionaries({
    "n_sessions": st.integers(1, 3),
    "examples": st.lists(st.tuples(st.sampled_from(VALUES), st.integers(0, 3)), min_size=1, max_size=6),
    "runs": st.lists(run_strategy, min_size=1, max_size=16),
    "session_feedback": st.lists(st.tuples(st.integers(0, 2), st.sampled_from(SCORES)), max_size=3),
})
body_strategy = st.fixed_dictionaries({
    "sessions": st.lists(st.integers(0, 2), min_size=1, max_size=4),
    "group_by": st.sampled_from(["run_metadata", "example_metadata"]),
    "offset": st.integers(0, 2), "limit": st.integers(1, 4), "per_group_limit": st.integers(1, 3),
    "preview": st.booleans(),
})

HT0 = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


def random_world(spec: dict[str, Any]) -> Records:
    rec = Records()
    ds = uuid.uuid4()
    rec.datasets = [{"id": ds, "name": "h"}]
    n_ex = len(spec["examples"])
    for i, (value, minute) in enumerate(spec["examples"]):
        md = {} if value is MISSING else {"m": value}
        rec.examples.append({"id": uuid.uuid4(), "dataset_id": ds, "inputs": {"i": i}, "outputs": {"o": i},
                             "metadata": md, "created_at": HT0 + dt.timedelta(minutes=minute)})
    for i in range(spec["n_sessions"]):
        rec.sessions.append({"id": uuid.uuid4(), "name": f"s{i}", "reference_dataset_id": ds,
                             "start_time": HT0 + dt.timedelta(hours=i % 2)})
    for r in spec["runs"]:
        r = {**r, "session": r["session"] % spec["n_sessions"], "example": r["example"] % (n_ex + 1)}
        start = HT0 + dt.timedelta(days=1, seconds=r["start"])
        run_id = uuid.uuid4()
        root = {"id": run_id, "name": "t", "run_type": "chain", "start_time": start,
                "end_time": None if r["latency"] is None else start + dt.timedelta(seconds=r["latency"]),
                "error": r["error"], "session_id": rec.sessions[r["session"]]["id"],
                "reference_example_id": rec.examples[r["example"]]["id"] if r["example"] < n_ex else uuid.uuid4(),
                "inputs": {"q": "x" * r["start"]}, "outputs": {"a": r["start"], "b": 1},
                "extra": {"metadata": {} if r["model"] is MISSING else {"m": r["model"]}}, "events": [], "tags": []}
        if r["tokens"] is not None or r["cost"] is not None:
            root.update({"total_tokens": r["tokens"], "total_cost": r["cost"]})
        if r["stream"] is not None:
            root["first_token_time"] = start + dt.timedelta(seconds=r["stream"])
        rec.runs.append(root)
        if r["child"] is not None:
            tokens, cost = r["child"]
            rec.runs.append({"id": uuid.uuid4(), "name": "llm", "run_type": "llm", "parent_run_id": run_id,
                             "start_time": start, "end_time": root["end_time"], "session_id": root["session_id"],
                             "reference_example_id": root["reference_example_id"], "inputs": {}, "outputs": {},
                             "extra": {"metadata": {"m": "child"}}, "events": [], "tags": [],
                             "prompt_tokens": tokens, "completion_tokens": 1, "total_tokens": tokens + 1,
                             "total_cost": cost})
        for key, score, value, comment, error, minute in r["feedback"]:
            rec.feedback.append({"id": uuid.uuid4(), "run_id": run_id, "key": key, "score": score, "value": value,
                                 "comment": comment, "error": error, "created_at": HT0 + dt.timedelta(minutes=minute)})
    for session, score in spec["session_feedback"]:
        if session < spec["n_sessions"]:
            rec.feedback.append({"id": uuid.uuid4(), "session_id": rec.sessions[session]["id"], "key": "s",
                                 "score": score, "created_at": HT0})
    return rec


async def answer(database_url: str, rec: Records, body_spec: dict[str, Any]) -> tuple[dict, dict, dict]:
    app = create_app(Settings(database_url=databases.app_url(database_url)))  # as the service's role
    async with app.router.lifespan_context(app):
        async with app.state.db_sessions() as db:
            workspace = await writes.create_workspace(db, "h")
            rls.bind(db, workspace.id)
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
        async with app.state.db_sessions() as db:
            rls.bind(db, workspace.id)
            await rich.load(db, workspace.id, rec)
        sessions = [rec.sessions[i % len(rec.sessions)]["id"] for i in body_spec["sessions"]]
        body = {"session_ids": [str(s) for s in sessions], "group_by": body_spec["group_by"], "metadata_key": "m",
                **{k: body_spec[k] for k in ("offset", "limit", "per_group_limit", "preview")}}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
            response = await client.post(f"/api/v1/datasets/{rec.datasets[0]['id']}/group/runs", json=body,
                                         headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return body, response.json(), oracle.expected_group_runs(rec, rec.datasets[0]["id"], body)


@settings(max_examples=25, deadline=None)
@given(spec=world_strategy, body_spec=body_strategy)
def test_random_worlds_match_oracle(backend, tmp_path_factory, spec, body_spec):
    rec = random_world(spec)
    url = asyncio.run(databases.new_database(backend, tmp_path_factory.mktemp("hyp")))
    try:
        body, got, expected = asyncio.run(answer(url, rec, body_spec))
    finally:
        asyncio.run(databases.drop_database(url))
    problems = oracle.compare(expected, got)
    assert not problems, f"{len(problems)} mismatches for {body}:\n" + "\n".join(problems[:40])


# ---------------------------------------------------------------------------- numeric edges

def simple_world(values: list[Any], costs: list[Any] | None = None) -> Records:
    """One dataset, one session, one example per value (metadata `m`), one root run per example."""
    spec = {"n_sessions": 1, "examples": [(v, i) for i, v in enumerate(values)], "session_feedback": [],
            "runs": [{"session": 0, "example": i, "model": v, "start": i, "latency": 1.0, "error": None,
                      "tokens": None, "cost": (costs or [None] * len(values))[i], "child": None, "stream": None,
                      "feedback": []} for i, v in enumerate(values)]}
    return random_world(spec)


async def simple_check(api, rec: Records, **extra: Any) -> dict[str, Any]:
    async with api.db_sessions() as db:
        await rich.load(db, api.workspace_id, rec)
    body = {"session_ids": [str(rec.sessions[0]["id"])], "group_by": "example_metadata", "metadata_key": "m",
            "limit": 20, **extra}
    response = await api.group_runs(rec.datasets[0]["id"], body)
    assert response.status_code == 200, response.text
    got = response.json()
    problems = oracle.compare(oracle.expected_group_runs(rec, rec.datasets[0]["id"], body), got)
    assert not problems, "\n".join(problems[:40])
    return got


async def test_large_integer_keys_order_numerically(api):
    """§5.3 step 5: integer keys in ascending numeric order, also beyond float precision."""
    big = 2**60
    got = await simple_check(api, simple_world([big + 1, -big, big, -big - 1, 0]))
    assert [g["group_key"] for g in got["groups"]] == [-big - 1, -big, 0, big, big + 1]


async def test_huge_integral_float_key(api):
    """§5.3 step 3: an integral JSON number (here 1e300, a valid JSON number) becomes an integer key."""
    got = await simple_check(api, simple_world([1e300, 2.5]))
    assert [g["group_key"] for g in got["groups"]] == [2.5, int(1e300)]


async def test_costs_keep_decimal_value(api):
    """§3.2/§1.5: cost sums are decimal sums, compared by decimal value. evalql keeps 12
    decimal places (README), so the smallest cost is 1e-12 and sums of those stay exact."""
    got = await simple_check(api, simple_world(["a", "a", "b"], ["0.000000000001", "0.000000000004", "0.00000015"]))
    assert [g["total_cost"] for g in got["groups"]] == ["0.000000000005", "0.00000015"]
