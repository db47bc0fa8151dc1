"""`Dataset.exampleMetadataKeys` and `Dataset.runMetadataKeys`: the keys a comparison can group
by and their values' counts, checked against a plain-Python count of the metadata JSON the rows
carry (not of the entry tables the SQL reads), on both databases, with deleted examples, child
runs, other sessions, null and JSON values, and another workspace's rows in the way."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from evalql.core.values import group_key, normalize
from evalql.db import writes
from evalql.db.models import Example, Run
from evalql.db.tenant import readable
from tests.support.statements import counting
from tests.support.world import build_world

QUERY = """query($ds: UUID!, $sessions: [UUID!]!, $n: Int!) { dataset(id: $ds) {
  exampleMetadataKeys(valuesPerKey: $n) { key count distinctValues values { value count } }
  runMetadataKeys(sessionIds: $sessions, valuesPerKey: $n) { key count distinctValues values { value count } } } }"""


def expected(metadatas: list[dict], n: int) -> list[dict]:
    """The answer of plain Python: per key, entries with it; values ranked by count, then
    kind and text in code-point order; keys by count, then name."""
    per_key: dict[str, Counter] = {}
    for metadata in metadatas:
        for key, value in (metadata or {}).items():
            norm = normalize(value)
            per_key.setdefault(key, Counter())[(norm.kind, norm.text)] += 1
    answer = []
    for key, counts in per_key.items():
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][0], item[0][1]))
        answer.append({"key": key, "count": sum(counts.values()), "distinctValues": len(counts), "values": [
            {"value": None if kind == "null" else group_key(kind != "number", text), "count": c}
            for (kind, text), c in ranked[:n]]})
    return sorted(answer, key=lambda k: (-k["count"], k["key"]))


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        found = await build_world(db, api.workspace_id, n_examples=30, n_sessions=4, seed=5)
        # Odd values: null, JSON, a number spelled as a float, the text of a number.
        await writes.insert_examples(db, api.workspace_id, [
            {"dataset_id": found.dataset_id, "inputs": {"i": i}, "metadata": {"odd": value, "category": "extra"}}
            for i, value in enumerate([None, {"b": 1, "a": [1, "x"]}, 2.0, "2", 2, 2, True])])
        # A deleted example: its metadata, and its runs' metadata, no longer count.
        await writes.soft_delete_example(db, api.workspace_id, found.example_ids[-1])
        # The same kind of world in another workspace, which must not show.
        other = await writes.create_workspace(db, "other")
        await build_world(db, other.id, n_examples=5, n_sessions=2, seed=6)
        await db.commit()
    return found


async def rows_as_python(api, world, sessions: list[uuid.UUID]) -> tuple[list[dict], list[dict]]:
    async with api.db_sessions() as db:
        live = {e.id: e.metadata_ for e in (await db.scalars(readable(api.workspace_id, Example).where(
            Example.dataset_id == world.dataset_id, Example.deleted_at.is_(None)))).all()}
        runs = (await db.execute(readable(api.workspace_id, Run, Run.extra, Run.session_id, Run.reference_example_id)
                                 .where(Run.parent_run_id.is_(None)))).all()
    return (list(live.values()),
            [(extra or {}).get("metadata") for extra, session, example in runs
             if session in sessions and example in live])


@pytest.mark.parametrize("n", [1, 3, 100])
async def test_keys_and_counts_match_plain_python(api, world, n):
    sessions = world.session_ids[:3]
    example_metadata, run_metadata = await rows_as_python(api, world, sessions)
    response = await api.graphql(QUERY, {"ds": str(world.dataset_id), "sessions": [str(s) for s in sessions], "n": n})
    payload = response.json()
    assert "errors" not in payload, payload
    dataset = payload["data"]["dataset"]
    assert dataset["exampleMetadataKeys"] == expected(example_metadata, n)
    assert dataset["runMetadataKeys"] == expected(run_metadata, n)
    keys = {k["key"] for k in dataset["exampleMetadataKeys"]}
    assert {"category", "difficulty"} <= keys
    assert {k["key"] for k in dataset["runMetadataKeys"]} == {"model", "temperature"}


async def test_one_statement_each_whatever_the_keys(api, world):
    variables = {"ds": str(world.dataset_id), "sessions": [str(s) for s in world.session_ids], "n": 5}
    with counting(api) as statements:
        assert "errors" not in (await api.graphql(QUERY, variables)).json()
    # authentication (which on PostgreSQL also binds the transaction's workspace for
    # row-level security, evalql/db/keys.py), the dataset, and one statement per field,
    # whatever the keys and values
    assert len(statements) == 4, statements


async def test_no_sessions_no_keys_and_bounds(api, world):
    response = await api.graphql(QUERY, {"ds": str(world.dataset_id), "sessions": [str(uuid.uuid4())], "n": 2})
    assert response.json()["data"]["dataset"]["runMetadataKeys"] == []
    for n in (0, 101):
        payload = (await api.graphql(QUERY, {"ds": str(world.dataset_id), "sessions": [], "n": n})).json()
        assert payload["data"] is None or payload["data"]["dataset"] is None
        assert "valuesPerKey: must be between 1 and 100" in payload["errors"][0]["message"]
        assert payload["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_another_workspaces_dataset_is_not_found(api, world):
    async with api.db_sessions() as db:
        other = await db.scalar(select(Example.dataset_id).where(Example.workspace_id != api.workspace_id)
                                .execution_options(evalql_all_workspaces=True))
    response = await api.graphql(QUERY, {"ds": str(other), "sessions": [], "n": 2})
    assert response.json()["data"]["dataset"] is None


async def test_too_many_sessions_are_refused_by_name(api, world):
    sessions = [str(uuid.uuid4()) for _ in range(101)]
    payload = (await api.graphql(QUERY, {"ds": str(world.dataset_id), "sessions": sessions, "n": 2})).json()
    assert "sessionIds: at most 100 sessions, got 101" in payload["errors"][0]["message"]
    assert payload["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
