"""Recorded answers: the demo's group queries (REST and GraphQL) and the reads around them,
byte for byte as they were when recorded.

Refactors must not change what a client receives. Each request below is sent to the real app
with the demo loaded, and the answer's bytes (the workspace id, which differs per test, replaced
by a placeholder) must equal the recording in `answers/<backend>/`: exactly on SQLite; on
PostgreSQL, whose float sums follow its plan, floats within 1e-12 (see `assert_same`). Record again, deliberately, with
`EVALQL_RECORD_GOLDEN=1 make test PYTEST_ARGS=tests/golden` when an answer is
meant to change, and say why in the commit.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import orjson
import pytest

from evalql.demo import DEMO_DATASET_ID, load_demo
from tests.support.gql import GROUP, GROUP_RUNS, graphql_input

ANSWERS = Path(__file__).with_name("answers")
DATASET = str(DEMO_DATASET_ID)
SESSIONS = ["581f06ba-59de-5f01-a0cb-a5ca5e327972", "184cb0a4-4cc8-5719-affa-1d2486900aa0",
            "c251ae9a-3f5d-51d2-9a2e-975ab6c77f4b", "ff8e5304-acb9-5f4d-9eff-d5cbb619f208"]

BY_DIFFICULTY = {"session_ids": SESSIONS, "group_by": "example_metadata", "metadata_key": "difficulty",
                 "per_group_limit": 2}
BY_MODEL_PREVIEW = {"session_ids": SESSIONS[:3], "group_by": "run_metadata", "metadata_key": "model",
                    "preview": True, "limit": 20, "per_group_limit": 10}
BY_TOPIC_FILTERED = {"session_ids": SESSIONS, "group_by": "example_metadata", "metadata_key": "topic",
                     "offset": 1, "limit": 3, "per_group_limit": 3,
                     "filters": {SESSIONS[0]: ['eq(status, "success")', 'lt(latency, "2s")'],
                                 SESSIONS[2]: ['has(tags, "demo")']}}
BY_PROMPT = {"session_ids": SESSIONS, "group_by": "run_metadata", "metadata_key": "prompt_version"}

# (name, method, path, JSON body or None); GraphQL requests are POST /graphql bodies.
REQUESTS: list[tuple[str, str, str, object]] = [
    ("rest_group_difficulty", "POST", f"/api/v1/datasets/{DATASET}/group/runs", BY_DIFFICULTY),
    ("rest_group_model_preview", "POST", f"/api/v1/datasets/{DATASET}/group/runs", BY_MODEL_PREVIEW),
    ("rest_group_topic_filtered", "POST", f"/api/v1/datasets/{DATASET}/group/runs", BY_TOPIC_FILTERED),
    ("rest_group_prompt", "POST", f"/api/v1/datasets/{DATASET}/group/runs", BY_PROMPT),
    ("rest_group_invalid", "POST", f"/api/v1/datasets/{DATASET}/group/runs",
     {"session_ids": [], "group_by": "tags", "metadata_key": "", "limit": 0, "per_group_limit": True,
      "filters": {"nope": ["eq(status"], SESSIONS[0]: ["eq(status"]}}),
    ("rest_group_missing_dataset", "POST", f"/api/v1/datasets/{SESSIONS[0]}/group/runs", BY_PROMPT),
    ("rest_dataset_runs", "POST", f"/api/v1/datasets/{DATASET}/runs",
     {"session_ids": SESSIONS[:2], "limit": 3, "offset": 2, "preview": True}),
    ("rest_sessions_stats", "GET", f"/api/v1/sessions?reference_dataset={DATASET}&include_stats=true", None),
    ("rest_session_read", "GET", f"/api/v1/sessions/{SESSIONS[1]}?include_stats=true", None),
    ("rest_examples_list", "GET", f"/api/v1/examples?dataset={DATASET}&limit=3&offset=4", None),
    ("rest_runs_query", "POST", "/api/v1/runs/query",
     {"session": SESSIONS[2:], "is_root": True, "limit": 4, "filter": 'gt(latency, "1s")'}),
    ("rest_feedback_list", "GET", f"/api/v1/feedback?session={SESSIONS[3]}&limit=5", None),
    ("graphql_group_difficulty", "POST", "/graphql",
     {"query": GROUP_RUNS, "variables": {"ds": DATASET, "input": graphql_input(BY_DIFFICULTY)}}),
    ("graphql_group_topic_filtered", "POST", "/graphql",
     {"query": GROUP_RUNS, "variables": {"ds": DATASET, "input": graphql_input(BY_TOPIC_FILTERED)}}),
    ("graphql_dataset", "POST", "/graphql",
     {"query": f"""{{ dataset(id: "{DATASET}") {{ id name exampleCount sessionCount
                   examples(first: 3, filter: "eq(metadata.difficulty, \\"hard\\")") {{
                     edges {{ cursor node {{ id name metadata splits }} }} pageInfo {{ hasNextPage endCursor }} }}
                   sessions(first: 2) {{ edges {{ node {{ id name stats {{ runCount latencyP50 totalCost
                     feedbackStats {{ key n avg stdev values {{ value count }} }} }} }} }} }} }} }}"""}),
    ("graphql_session_runs", "POST", "/graphql",
     {"query": f"""{{ session(id: "{SESSIONS[0]}") {{ name stats(filter: "eq(status, \\"error\\")") {{
                   runCount errorRate }} runs(first: 3, isRoot: true, filter: "gt(total_tokens, 10)") {{
                   edges {{ node {{ id name latency totalTokens totalCost children {{ name runType }} }} }} }} }} }}"""}),
    ("graphql_unused_group", "POST", "/graphql",
     {"query": "query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) "
               f"{{ {GROUP} }} }}",
      "variables": {"ds": DATASET, "input": graphql_input(BY_PROMPT)}}),
]


@pytest.fixture
async def demo_api(api):
    async with api.db_sessions() as db:
        await load_demo(db, api.workspace_id)
        await db.commit()
    return api


async def _answer(api, method: str, path: str, body: object) -> bytes:
    headers = api.headers() if body is None else {**api.headers(), "Content-Type": "application/json"}
    content = None if body is None else orjson.dumps(body)
    response = await api.client.request(method, path, headers=headers, content=content)
    status = f"{response.status_code}\n".encode()
    return status + response.content.replace(str(api.workspace_id).encode(), b"<workspace>")


@pytest.mark.parametrize("name", [r[0] for r in REQUESTS])
async def test_answer_is_as_recorded(demo_api, backend: str, name: str) -> None:
    _, method, path, body = next(r for r in REQUESTS if r[0] == name)
    got = await _answer(demo_api, method, path, body)
    # Per backend: PostgreSQL returns JSONB objects with its own key order. Recorded from the
    # SQL evaluation that preceded the comparison engine, and kept: the engine must give the
    # same answers. Floats may differ in their last bits: the engine sums scores in its own
    # order (so does PostgreSQL, in the order its plan reads rows), and interpolates
    # percentiles as PostgreSQL does where SQLite's SQL used x_lo(1-f) + x_hi f. Everything
    # else, key order included, must be as recorded.
    recorded = ANSWERS / backend / f"{name}.txt"
    if os.environ.get("EVALQL_RECORD_GOLDEN") == "1":
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_bytes(got)
    want = recorded.read_bytes()
    assert got.split(b"\n", 1)[0] == want.split(b"\n", 1)[0]
    assert_same(orjson.loads(got.split(b"\n", 1)[1]), orjson.loads(want.split(b"\n", 1)[1]))


def assert_same(got: object, want: object, path: str = "$") -> None:
    """Equal JSON, floats within 1e-12 relative; dict keys in the same order."""
    if isinstance(want, float) and isinstance(got, float):
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-15), (path, got, want)
    elif isinstance(want, dict) and isinstance(got, dict):
        assert list(got) == list(want), path
        for key in want:
            assert_same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list) and isinstance(got, list):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    else:
        assert (type(got), got) == (type(want), want), path
