"""Tenancy: every tenant table carries workspace_id, and two workspaces holding identical
data each see only their own, through GraphQL and REST (spec §1.2). Every statement is
built scoped (evalql/db/tenant.py) and checked (evalql/db/tenancy_check.py): the whole
suite runs under the check (tests/conftest.py); the tests below pin down its rule."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import (
    Column,
    MetaData,
    Table,
    Uuid,
    and_,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import aliased

from evalql.config import Settings
from evalql.db import tenancy_check
from evalql.db.engine import create_engine
from evalql.db.models import ApiKey, Base, Dataset, Example, Feedback, Run, Workspace
from evalql.db.tenant import deletable, owned, owned_rows, readable, updatable
from tests.support.app import second_workspace
from tests.support.whole_database import everywhere
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
        assert response.json()["data"] == {"dataset": None, "session": None, "example": None, "run": None}


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


# -- writes by construction, and the check that every statement is scoped ------------------

async def test_the_check_refuses_unscoped_statements_on_the_fixture_engine(api, tenancy_violations):
    """On the engine every test uses (both backends): a hand-built statement on a tenant
    table without the workspace condition is refused before it reaches the database."""
    assert tenancy_check.installed(api.db_sessions.kw["bind"])
    for statement in (select(Run), select(func.count()).select_from(Run), update(Run).values(name="x"),
                      delete(Feedback), delete(Feedback).where(Feedback.id == uuid.uuid4())):
        async with api.db_sessions() as db:
            with pytest.raises(tenancy_check.UnscopedStatement, match="not scoped"):
                await db.execute(statement)
    assert len(tenancy_violations) == 5
    tenancy_violations.clear()


async def test_the_builders_statements_pass(api):
    other_ws, _, _ = await second_workspace(api.db_sessions)
    async with api.db_sessions() as db:
        mine = await build_world(db, api.workspace_id, n_examples=2, n_sessions=1, seed=2, name="D")
        theirs = await build_world(db, other_ws, n_examples=2, n_sessions=1, seed=2, name="D")
    async with api.db_sessions() as db:
        run_id = mine.root_run_ids[0]
        assert await db.scalar(readable(api.workspace_id, Run, Run.id).where(Run.id == run_id)) == run_id
        assert await db.scalar(readable(api.workspace_id, Run, Run.id).where(Run.id == theirs.root_run_ids[0])) is None
        await db.execute(updatable(api.workspace_id, Run).where(Run.id == run_id).values(name="renamed"))
        # Their rows are out of reach of my builders, whatever the other conditions say.
        await db.execute(updatable(api.workspace_id, Run).values(name="everything"))
        await db.execute(deletable(api.workspace_id, Feedback).where(Feedback.run_id.in_(theirs.root_run_ids)))
        await db.commit()
    async with api.db_sessions() as db:
        assert set(await db.scalars(readable(other_ws, Run, Run.name))) != {"everything"}
        assert await db.scalar(readable(other_ws, Feedback, func.count())) == len(theirs.feedback_ids)
        assert set(await db.scalars(readable(api.workspace_id, Run, Run.name))) == {"everything"}


def test_owned_rows_stamp_the_workspace_and_refuse_another():
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    assert owned_rows(mine, [{"id": 1}, {"id": 2, "workspace_id": mine}]) == [
        {"id": 1, "workspace_id": mine}, {"id": 2, "workspace_id": mine}]
    with pytest.raises(ValueError, match="written for workspace"):
        owned_rows(mine, [{"id": 1, "workspace_id": theirs}])
    assert owned(mine, Dataset, name="d").workspace_id == mine


def test_tenant_tables_are_every_table_with_a_workspace_but_api_keys():
    with_workspace = {name for name, table in Base.metadata.tables.items() if "workspace_id" in table.c}
    assert tenancy_check.TENANT_TABLES == with_workspace - {"api_keys"}


WS = uuid.uuid4()


def scratch() -> Table:
    return Table("evalql_candidates_0123456789ab", MetaData(), Column("run_id", Uuid), Column("workspace_id", Uuid),
                 prefixes=["TEMPORARY"])


def correlated_feedback(condition):
    return exists(select(1).select_from(Feedback).where(condition, Feedback.run_id == Run.id).correlate(Run))


CHECKED = {
    # statement: the tenant tables it leaves unscoped
    "bare select": (lambda: select(Run), ["runs"]),
    "bare update": (lambda: update(Run).values(name="x"), ["runs"]),
    "bare delete": (lambda: delete(Feedback).where(Feedback.id == WS), ["feedback"]),
    "readable": (lambda: readable(WS, Run), []),
    "updatable": (lambda: updatable(WS, Run).where(Run.id == WS).values(name="x"), []),
    "deletable": (lambda: deletable(WS, Feedback).where(Feedback.id == WS), []),
    "condition under OR": (lambda: select(Run).where(or_(Run.workspace_id == WS, Run.id == WS)), ["runs"]),
    "compared with a column, not a value": (lambda: select(Run).where(Run.workspace_id == Run.session_id), ["runs"]),
    "joined on workspace_id": (lambda: readable(WS, Run).join(Example, and_(
        Example.workspace_id == Run.workspace_id, Example.id == Run.reference_example_id)), []),
    "joined without workspace_id": (lambda: readable(WS, Run).join(Example, Example.id == Run.reference_example_id),
                                    ["examples"]),
    "LEFT JOIN scopes its right side": (lambda: readable(WS, Run).outerjoin(Example, and_(
        Example.workspace_id == Run.workspace_id, Example.id == Run.reference_example_id)), []),
    "LEFT JOIN's ON does not scope its left side": (lambda: select(Run).outerjoin(Example, and_(
        Run.workspace_id == WS, Example.workspace_id == Run.workspace_id)), ["runs", "examples"]),
    "EXISTS correlated on workspace_id": (
        lambda: readable(WS, Run).where(correlated_feedback(Feedback.workspace_id == Run.workspace_id)), []),
    "EXISTS correlated without it": (lambda: readable(WS, Run).where(correlated_feedback(true())), ["feedback"]),
    "scalar subquery in a function's arguments": (lambda: readable(WS, Run, func.coalesce(
        select(func.max(Feedback.score)).where(Feedback.run_id == Run.id).scalar_subquery(), 0)), ["feedback"]),
    "aliased self-correlation": (lambda: (lambda other: readable(WS, Run).where(exists(
        select(1).select_from(other).where(other.workspace_id == Run.workspace_id, other.trace_id == Run.trace_id)
        .correlate(Run))))(aliased(Run)), []),
    "IN a scoped subquery": (lambda: deletable(WS, Feedback).where(Feedback.run_id.in_(readable(WS, Run, Run.id))),
                             []),
    "IN an unscoped subquery": (lambda: deletable(WS, Feedback).where(Feedback.run_id.in_(select(Run.id))), ["runs"]),
    "FROM an unscoped subquery": (lambda: select(select(Run.id).subquery()), ["runs"]),
    "joined to a scoped subquery on workspace_id": (lambda: (lambda runs: select(runs.c.id, Feedback.key).join(
        Feedback, and_(Feedback.workspace_id == runs.c.workspace_id, Feedback.run_id == runs.c.id)))(
        readable(WS, Run, Run.workspace_id, Run.id).subquery()), []),
    "a scoped CTE": (lambda: (lambda c: select(c.c.id))(readable(WS, Run, Run.id).cte("c")), []),
    "UNION with an unscoped part": (lambda: union_all(readable(WS, Run, Run.id), select(Example.id)), ["examples"]),
    "subquery in a join's ON clause": (lambda: readable(WS, Run).join(Example, and_(
        Example.workspace_id == Run.workspace_id, Example.dataset_id.in_(select(Dataset.id)))), ["datasets"]),
    "constant false reads nothing": (lambda: select(Run.id).where(Run.workspace_id == WS, false()), []),
    "scratch table joined to a scoped table": (lambda: (lambda t: readable(WS, Run).join(t, t.c.run_id == Run.id))(
        scratch()), []),
    "INSERT into scratch from a scoped SELECT": (
        lambda: insert(scratch()).from_select(["run_id"], readable(WS, Run, Run.id)), []),
    "INSERT into scratch from an unscoped SELECT": (
        lambda: insert(scratch()).from_select(["run_id"], select(Run.id)), ["runs"]),
    "plain INSERT (rows carry workspace_id)": (lambda: insert(Run), []),
    "api_keys is not a tenant table": (lambda: select(ApiKey.workspace_id).where(ApiKey.key_hash == "h"), []),
    "workspaces is not a tenant table": (lambda: select(Workspace), []),
    "textual SQL naming a tenant table": (lambda: text("SELECT count(*) FROM runs"),
                                          ["runs (named in textual SQL)"]),
    "textual SQL naming none": (lambda: text('ANALYZE "evalql_group_runs_0123456789ab"'), []),
}


@pytest.mark.parametrize("name", list(CHECKED))
def test_the_rule(name):
    build, unscoped = CHECKED[name]
    assert tenancy_check.unscoped_tables(build()) == unscoped


async def test_statements_marked_as_spanning_workspaces_pass(api):
    async with api.db_sessions() as db:
        assert await db.scalar(everywhere(select(func.count()).select_from(Run))) == 0


def test_the_check_is_on_in_the_app_only_when_asked(monkeypatch):
    assert Settings.from_env().check_tenancy is False
    monkeypatch.setenv("EVALQL_CHECK_TENANCY", "1")
    assert Settings.from_env().check_tenancy is True
    on = create_engine("sqlite+aiosqlite://", check_tenancy=True)
    off = create_engine("sqlite+aiosqlite://")
    assert event.contains(on.sync_engine, "before_execute", tenancy_check._before_execute)
    assert not event.contains(off.sync_engine, "before_execute", tenancy_check._before_execute)
