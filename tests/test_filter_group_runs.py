"""Filters wired into group/runs and GraphQL (spec §5.1, §5.3, §5.5; graphql.md).

- Group `filter` strings select exactly the group's runs when applied through the compiler,
  whatever the value: quotes, backslashes, commas, parentheses, unicode, JSON-looking text.
- Session `filter` strings select a superset of the session's runs of the group.
- Statement counts of groupRuns stay constant with filters present.
- GraphQL: validateFilter, Session.stats(filter:), Session.runs(filter:), errors.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select

from evalql.db.models import Run
from evalql.filters.runs import run_condition
from tests.filter_oracle import string_form
from tests.oracle import Records
from tests.support.gql import GROUP_RUNS, graphql_input
from tests.test_statement_counts import counting, env, rest_body  # noqa: F401  (env is a fixture)
from tests.worlds import rich

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
TRICKY = ["gpt')), or(eq(is_root, true", "o'neil\\", 'say "hi", (x) [y]', "été 😀", '{"a":[1,"x"]}',
          "tab\there\nnl", "\\u0041", "", "1", 1, 1.0, 2.5, -3, True, "true", {"b": [1, "'"], "a": None}, ["x", "y"],
          "a,b", "null"]


def tricky_world() -> Records:
    """One session; one root run per (value, copy) with run metadata {"m": value} on an
    example with metadata {"m": value}; each root has a child run with the same metadata;
    plus roots without `m`."""
    rec = Records()
    ds, s = uuid.uuid4(), uuid.uuid4()
    rec.datasets = [{"id": ds, "name": "tricky"}]
    rec.sessions = [{"id": s, "name": "s", "reference_dataset_id": ds, "start_time": T0}]
    for i, value in enumerate([*TRICKY, "missing"]):
        for copy in range(2):
            ex, root = uuid.uuid4(), uuid.uuid4()
            md = {} if value == "missing" else {"m": value}
            rec.examples.append({"id": ex, "dataset_id": ds, "inputs": {"i": i}, "outputs": None, "metadata": md,
                                 "created_at": T0 + dt.timedelta(minutes=i, seconds=copy)})
            start = T0 + dt.timedelta(hours=1, minutes=i, seconds=copy)
            rec.runs.append({"id": root, "name": f"r{i}", "run_type": "chain", "start_time": start,
                             "end_time": start + dt.timedelta(seconds=1 + copy), "session_id": s,
                             "reference_example_id": ex, "extra": {"metadata": md}})
            rec.runs.append({"id": uuid.uuid4(), "name": "child", "run_type": "llm", "start_time": start,
                             "end_time": start, "session_id": s, "parent_run_id": root,
                             "reference_example_id": ex, "extra": {"metadata": md}})
    return rec


@pytest.fixture
async def tricky(api) -> Records:
    async with api.db_sessions() as db:
        return await rich.load(db, api.workspace_id, tricky_world())


async def runs_of(api, session_id, text: str) -> set[str]:
    async with api.db_sessions() as db:
        cond = run_condition(text)
        ids = await db.scalars(select(Run.id).where(Run.workspace_id == api.workspace_id,
                                                    Run.session_id == uuid.UUID(str(session_id)), cond))
        return {str(i) for i in ids}


@pytest.mark.parametrize("group_by", ["run_metadata", "example_metadata"])
async def test_group_filter_selects_exactly_the_group(api, tricky, group_by):
    session = tricky.sessions[0]["id"]
    body = {"session_ids": [str(session)], "group_by": group_by, "metadata_key": "m", "limit": 20,
            "per_group_limit": 10}
    groups = []
    while True:
        response = await api.group_runs(tricky.datasets[0]["id"], {**body, "offset": len(groups)})
        assert response.status_code == 200, response.text
        page = response.json()["groups"]
        if not page:
            break
        groups += page
    # 1 and 1.0 form one group, as do true and "true" (§5.3 step 3); "1" is its own group
    assert len(groups) == len(TRICKY) - 2
    members = {json.dumps(g["group_key"]): {r["id"] for e in g["examples"] for r in e["runs"]} for g in groups}
    by_text: dict[str, set[str]] = {}
    for group in groups:
        by_text.setdefault(string_form(group["group_key"]), set()).update(members[json.dumps(group["group_key"])])
    for group in groups:
        mine = members[json.dumps(group["group_key"])]
        assert len(mine) == group["count"]
        # exactly the group's runs, plus (§5.5) those of a group with the same string form: 1 and "1"
        assert await runs_of(api, session, group["filter"]) == by_text[string_form(group["group_key"])], group["filter"]
        [stats] = group["sessions"]
        assert stats["filter"] == group["filter"]


async def test_session_filter_strings(api, tricky):
    session = str(tricky.sessions[0]["id"])
    filters = ['gt(latency, "1500ms")', "neq(name, 'r3')"]
    body = {"session_ids": [session], "group_by": "run_metadata", "metadata_key": "m", "limit": 20,
            "per_group_limit": 10, "filters": {session.upper(): filters}}
    response = await api.group_runs(tricky.datasets[0]["id"], body)
    assert response.status_code == 200, response.text
    groups = response.json()["groups"]
    assert groups
    by_text: dict[str, set[str]] = {}
    for group in groups:
        by_text.setdefault(string_form(group["group_key"]), set()).update(
            r["id"] for e in group["examples"] for r in e["runs"])
    for group in groups:
        [stats] = group["sessions"]
        assert stats["filter"] == f"and({group['filter']}, {filters[0]}, {filters[1]})"
        members = {r["id"] for e in group["examples"] for r in e["runs"]}
        selected = await runs_of(api, session, stats["filter"])
        # one session, so E(g) is every example of the group: equal up to same-text keys (1 and "1")
        assert members and members <= selected <= by_text[string_form(group["group_key"])]
        assert all(r["end_time"] > r["start_time"] for e in group["examples"] for r in e["runs"])
        assert group["count"] == len(members)  # only the slower copy of each example


# -- statement counts --------------------------------------------------------------------

FILTERS = ['gt(latency, "1s")', "and(eq(feedback_key, 'correctness'), gte(feedback_score, 0.5))",
           "or(has(tags, 't1'), eq(input_key, 'question'))", "eq(metadata_value, 'm1')"]


async def test_group_runs_statement_count_constant_with_filters(env):  # noqa: F811
    client, app, headers, worlds = env
    counts = {}
    for label, world in worlds.items():
        body = {**rest_body(world, "example_metadata", "category"),
                "filters": {str(s): FILTERS[: 1 + i % len(FILTERS)] for i, s in enumerate(world.session_ids)}}
        payload = {"query": GROUP_RUNS, "variables": {"ds": str(world.dataset_id), "input": graphql_input(body)}}
        warm = await client.post("/graphql", json=payload, headers=headers)
        assert warm.status_code == 200 and "errors" not in warm.json(), warm.text
        with counting(app) as statements:
            data = (await client.post("/graphql", json=payload, headers=headers)).json()
        assert "errors" not in data and data["data"]["groupRuns"], data
        counts[label] = len(statements)
        path = f"/api/v1/datasets/{world.dataset_id}/group/runs"
        with counting(app) as rest_statements:
            assert (await client.post(path, json=body, headers=headers)).status_code == 200
        counts[label + "-rest"] = len(rest_statements)
    assert counts["small"] == counts["big"] and counts["small-rest"] == counts["big-rest"], counts


# -- GraphQL -----------------------------------------------------------------------------

VALIDATE = "query($f: String!) { validateFilter(filter: $f) { ok message offset } }"


async def test_validate_filter(api):
    ok = (await api.graphql(VALIDATE, {"f": 'and(eq(is_root, true), gt(latency, "5s"))'})).json()["data"]
    assert ok == {"validateFilter": {"ok": True, "message": None, "offset": None}}
    bad = (await api.graphql(VALIDATE, {"f": "eq(latncy, 1)"})).json()["data"]["validateFilter"]
    assert bad == {"ok": False, "message": "Invalid filter: unknown field 'latncy' at offset 3", "offset": 3}
    bad = (await api.graphql(VALIDATE, {"f": "x" * 5000})).json()["data"]["validateFilter"]
    assert bad["ok"] is False and "4096" in bad["message"]


SESSION = """query($id: UUID!, $f: String) { session(id: $id) {
  stats(filter: $f) { runCount filter totalTokens }
  runs(first: 100, filter: $f) { edges { node { id name } } } } }"""


async def test_session_stats_and_runs_with_filter(api, tricky):
    session = str(tricky.sessions[0]["id"])
    text = "and(eq(metadata_key, 'm'), eq(metadata_value, 1))"
    data = (await api.graphql(SESSION, {"id": session, "f": text})).json()
    assert "errors" not in data, data
    expected = await runs_of(api, session, text)
    assert len(expected) == 3 * 2 * 2  # 1, 1.0 and "1"; two copies; root and child
    assert {e["node"]["id"] for e in data["data"]["session"]["runs"]["edges"]} == expected
    stats = data["data"]["session"]["stats"]
    assert stats["runCount"] == len(expected) // 2  # root runs only
    assert stats["filter"] == f"and(eq(is_root, true), {text})"
    plain = (await api.graphql(SESSION, {"id": session, "f": None})).json()["data"]["session"]
    assert plain["stats"]["filter"] == "eq(is_root, true)" and plain["stats"]["runCount"] == 2 * (len(TRICKY) + 1)


@pytest.mark.parametrize("field", ["stats(filter: $f) { runCount }", "runs(filter: $f) { edges { cursor } }"])
async def test_session_bad_filter_is_bad_user_input(api, tricky, field):
    query = f"query($id: UUID!, $f: String) {{ session(id: $id) {{ {field} }} }}"
    data = (await api.graphql(query, {"id": str(tricky.sessions[0]["id"]), "f": "eq(latncy, 1)"})).json()
    [error] = data["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "filter: Invalid filter: unknown field 'latncy' at offset 3"


async def test_group_runs_bad_filter_is_bad_user_input(api, tricky):
    session = str(tricky.sessions[0]["id"])
    body = {"session_ids": [session], "group_by": "run_metadata", "metadata_key": "m",
            "filters": {session: ["eq(name, 'x')", "gt(latency, '5 parsecs')"]}}
    data = (await api.graphql(GROUP_RUNS, {"ds": str(tricky.datasets[0]["id"]), "input": graphql_input(body)})).json()
    [error] = data["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "input.filters[0].filters[1]: Invalid filter: latency takes seconds" in error["message"]
    assert "at offset 12" in error["message"]
