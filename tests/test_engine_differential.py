"""The comparison engine against the SQL path it replaced, over random worlds and writes.

The engine keeps state between requests and brings it up to date from the change log, so
a world is built once and then changed step by step through the public REST API (feedback
created, patched and deleted; runs posted and patched; examples added, re-labelled, moved
between splits and deleted). After every step, whole answers of the engine (REST, and a
fresh engine built from the tables) are compared with the straightforward SQL evaluation:
- group/runs (§5) with `queries/group_runs.answer_group_query`, for groupings by run and
  by example metadata, with offsets and a per-session filter;
- `POST /datasets/{id}/runs` (§6) with `queries/dataset_runs.answer_dataset_runs`, with
  offsets, limits, `example_ids`, `sort_params` in both orders, filters, `preview`, and an
  unknown dataset or session (the same 404, in the same order).
The oracle tests (tests/test_group_runs_oracle.py, tests/test_rest_dataset_runs.py) check
the same answers against plain Python.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from evalql.app import create_app
from evalql.config import Settings
from evalql.core import dataset_runs_request
from evalql.core.errors import NotFoundError
from evalql.core.group_request import to_query, validate_group_request
from evalql.core.json import dumps
from evalql.db import rls, writes
from evalql.db.tenant import Tenant
from evalql.engine.answer import ComparisonEngine
from evalql.queries.dataset_runs import answer_dataset_runs
from evalql.queries.group_runs import answer_group_query
from evalql.rest.group_shape import example_with_runs_json, group_json
from tests import databases, oracle
from tests.test_group_runs_oracle import HT0, SCORES, VALUES, random_world, run_strategy, world_strategy
from tests.worlds import rich

METADATA = [None, 0, 1, 2.5, "a", "b", True, {"k": 1}]
op_strategy = st.one_of(
    st.tuples(st.just("feedback_new"), st.integers(0, 40), st.sampled_from(["c", "h", "new"]),
              st.sampled_from([0, 1, 0.5, None, True])),
    st.tuples(st.just("feedback_patch"), st.integers(0, 40), st.sampled_from([0, 1, 0.75, None])),
    st.tuples(st.just("feedback_delete"), st.integers(0, 40)),
    st.tuples(st.just("run_new"), st.integers(0, 2), st.integers(0, 6), st.sampled_from(METADATA)),
    st.tuples(st.just("run_patch"), st.integers(0, 40), st.sampled_from([None, "boom"]), st.integers(0, 9)),
    st.tuples(st.just("example_patch"), st.integers(0, 6), st.sampled_from(METADATA),
              st.sampled_from(["base", "test"])),
    st.tuples(st.just("example_delete"), st.integers(0, 6)),
    # created_at among the random world's examples' (HT0 + 0..3 minutes): ties the id breaks
    st.tuples(st.just("example_new"), st.integers(0, 3), st.sampled_from(METADATA)),
)
body_strategy = st.fixed_dictionaries({
    "group_by": st.sampled_from(["run_metadata", "example_metadata"]),
    "offset": st.integers(0, 1), "limit": st.integers(1, 4), "per_group_limit": st.integers(1, 3),
    # Filters on each thing the engine's cached filter masks must notice changing: the run,
    # its feedback, its example's metadata, its outputs.
    "filter": st.sampled_from([None, "gt(latency, 0.5)", 'eq(feedback_key, "c")', "eq(error, false)",
                               'and(eq(feedback_key, "h"), gt(feedback_score, 0.5))', 'eq(example_metadata_value, "a")',
                               'eq(output_key, "patched")']),
})

# Worlds for §6 with enough runs that a page holds several examples, and their sort
# several distinct and equal means (hypothesis otherwise favours the smallest worlds).
dataset_runs_world = st.fixed_dictionaries({
    "n_sessions": st.integers(1, 3),
    "examples": st.lists(st.tuples(st.sampled_from(VALUES), st.integers(0, 3)), min_size=3, max_size=7),
    "runs": st.lists(run_strategy, min_size=8, max_size=24),
    "session_feedback": st.lists(st.tuples(st.integers(0, 2), st.sampled_from(SCORES)), max_size=2),
})
# §6 requests: sessions by index into the world's (repeated ones are dropped by the
# request); example ids by index (past the end: an id no example has); a sort keeps the
# first session only (§6 allows it with exactly one); a filter on one of the sessions.
dataset_runs_strategy = st.fixed_dictionaries({
    "sessions": st.lists(st.integers(0, 2), min_size=1, max_size=4),
    "offset": st.sampled_from([0, 0, 1, 2, 3]), "limit": st.sampled_from([1, 2, 3, 100]),
    "example_ids": st.one_of(st.none(), st.lists(st.integers(0, 9), max_size=5)),
    "sort": st.one_of(st.none(), st.tuples(st.sampled_from(["feedback.c", "c", "h", "feedback.new", "nokey"]),
                                           st.sampled_from(["ASC", "DESC", None]))),
    "filter": st.sampled_from([None, "gt(latency, 0.5)", 'eq(feedback_key, "c")', "eq(error, false)",
                               'eq(status, "success")', "and(gte(feedback_score, 0.5), eq(feedback_key, \"h\"))"]),
    "filter_on": st.integers(0, 3),
    "preview": st.booleans(),
    "missing": st.sampled_from([None, None, None, None, "dataset", "session"]),
})

# Checked at every step beside the drawn requests: whole sorted answers, both orders.
PROBES = [
    {"sessions": [0], "offset": 0, "limit": 100, "example_ids": None, "sort": ("feedback.c", "DESC"),
     "filter": None, "filter_on": 0, "preview": False, "missing": None},
    {"sessions": [1], "offset": 0, "limit": 100, "example_ids": None, "sort": ("h", "ASC"),
     "filter": "eq(error, false)", "filter_on": 0, "preview": True, "missing": None},
]

T0 = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def rendered(groups: list) -> Any:
    return orjson.loads(orjson.dumps({"groups": [group_json(g, False) for g in groups]}, default=str))


def rendered_examples(examples: list, preview: bool) -> Any:
    """As REST renders §6 (`rest/dataset_runs.py`)."""
    return orjson.loads(dumps([example_with_runs_json(e, preview) for e in examples]))


class Harness:
    def __init__(self, client: httpx.AsyncClient, app: Any, workspace_id: uuid.UUID, key: str, rec: Any) -> None:
        self.client, self.app, self.workspace_id, self.rec = client, app, workspace_id, rec
        self.headers = {"X-API-Key": key}
        self.runs = [r["id"] for r in rec.runs if r.get("parent_run_id") is None]
        self.feedback = [f["id"] for f in rec.feedback if f.get("run_id")]
        self.examples = [e["id"] for e in rec.examples]
        self.sessions = [s["id"] for s in rec.sessions]

    async def apply(self, op: tuple) -> None:
        kind, *args = op
        c, h = self.client, self.headers
        if kind == "feedback_new" and self.runs:
            fid = uuid.uuid4()
            r = await c.post("/api/v1/feedback", headers=h, json={
                "id": str(fid), "run_id": str(self.runs[args[0] % len(self.runs)]), "key": args[1], "score": args[2],
                "comment": "noted" if args[0] % 3 == 0 else None})
            assert r.status_code == 200, r.text
            self.feedback.append(fid)
        elif kind == "feedback_patch" and self.feedback:
            r = await c.patch(f"/api/v1/feedback/{self.feedback[args[0] % len(self.feedback)]}", headers=h,
                              json={"score": args[1]})
            assert r.status_code in (200, 404), r.text
        elif kind == "feedback_delete" and self.feedback:
            r = await c.delete(f"/api/v1/feedback/{self.feedback.pop(args[0] % len(self.feedback))}", headers=h)
            assert r.status_code in (200, 204, 404), r.text
        elif kind == "run_new":
            rid = uuid.uuid4()
            start = T0 + dt.timedelta(seconds=len(self.runs))
            metadata = {} if args[2] is None else {"m": args[2]}
            r = await c.post("/api/v1/runs", headers=h, json={
                "id": str(rid), "name": "new", "run_type": "chain", "session_id": str(self.sessions[
                    args[0] % len(self.sessions)]),
                "start_time": start.isoformat(), "end_time": (start + dt.timedelta(seconds=args[1] / 4)).isoformat(),
                "reference_example_id": str(self.examples[args[1] % len(self.examples)]),
                "inputs": {"q": 1}, "outputs": {"a": 2}, "extra": {"metadata": metadata}})
            assert r.status_code in (200, 202), r.text
            self.runs.append(rid)
        elif kind == "run_patch" and self.runs:
            rid = self.runs[args[0] % len(self.runs)]
            r = await c.patch(f"/api/v1/runs/{rid}", headers=h, json={
                "error": args[1], "end_time": (T0 + dt.timedelta(days=2, seconds=args[2])).isoformat(),
                "outputs": {"patched": True}})
            assert r.status_code in (200, 202), r.text
        elif kind == "example_patch":
            eid = self.examples[args[0] % len(self.examples)]
            metadata = {"dataset_split": [args[2]]} | ({} if args[1] is None else {"m": args[1]})
            r = await c.patch(f"/api/v1/examples/{eid}", headers=h, json={"metadata": metadata})
            assert r.status_code in (200, 404), r.text
        elif kind == "example_delete" and len(self.examples) > 1:
            r = await c.delete(f"/api/v1/examples/{self.examples[args[0] % len(self.examples)]}", headers=h)
            assert r.status_code in (200, 204, 404), r.text
        elif kind == "example_new":
            eid = uuid.uuid4()
            r = await c.post("/api/v1/examples", headers=h, json={
                "id": str(eid), "dataset_id": str(self.rec.datasets[0]["id"]), "inputs": {"new": True},
                "created_at": (HT0 + dt.timedelta(minutes=args[0])).isoformat(),
                "metadata": {} if args[1] is None else {"m": args[1]}})
            assert r.status_code == 200, r.text
            self.examples.append(eid)

    def body(self, spec: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "session_ids": [str(s) for s in self.sessions], "group_by": spec["group_by"], "metadata_key": "m",
            **{k: spec[k] for k in ("offset", "limit", "per_group_limit")}}
        if spec["filter"]:
            body["filters"] = {str(self.sessions[0]): [spec["filter"]]}
        return body

    async def check(self, spec: dict[str, Any], step: str) -> None:
        body = self.body(spec)
        dataset_id = self.rec.datasets[0]["id"]
        response = await self.client.post(f"/api/v1/datasets/{dataset_id}/group/runs", json=body,
                                          headers=self.headers)
        assert response.status_code == 200, response.text
        request, problems = validate_group_request(body)
        assert request is not None, problems
        query = to_query(dataset_id, request)
        async with self.app.state.db_sessions() as db:
            tenant = Tenant(self.workspace_id, False, db)
            expected = rendered(await answer_group_query(tenant, query))
            cold = rendered((await ComparisonEngine().group_query(tenant, query)).result)
        for name, got in (("engine", response.json()), ("fresh engine", cold)):
            problems = oracle.compare(expected, got)
            assert not problems, f"{name} after {step} for {body}:\n" + "\n".join(problems[:30])

    def dataset_runs_body(self, spec: dict[str, Any]) -> dict[str, Any]:
        sessions = [str(self.sessions[i % len(self.sessions)]) for i in spec["sessions"]]
        body: dict[str, Any] = {"session_ids": sessions, "offset": spec["offset"], "limit": spec["limit"],
                                "preview": spec["preview"]}
        if spec["sort"] is not None:
            body["session_ids"] = sessions = sessions[:1]
            sort_by, order = spec["sort"]
            body["sort_params"] = {"sort_by": sort_by} | ({} if order is None else {"sort_order": order})
        if spec["example_ids"] is not None:
            body["example_ids"] = [str(self.examples[i]) if i < len(self.examples) else str(uuid.uuid4())
                                   for i in spec["example_ids"]]
        if spec["filter"]:
            body["filters"] = {sessions[spec["filter_on"] % len(sessions)]: [spec["filter"]]}
        if spec["missing"] == "session":
            body["session_ids"] = [*sessions, str(uuid.uuid4())]
            body.pop("sort_params", None)
        return body

    async def check_dataset_runs(self, spec: dict[str, Any], step: str) -> None:
        """The REST answer (the app's engine, kept current through the writes so far) and a
        fresh engine's, each compared whole with the SQL evaluation: the same JSON, or the
        same 404."""
        body = self.dataset_runs_body(spec)
        dataset_id = uuid.uuid4() if spec["missing"] == "dataset" else self.rec.datasets[0]["id"]
        response = await self.client.post(f"/api/v1/datasets/{dataset_id}/runs", json=body, headers=self.headers)
        query = dataset_runs_request.to_query(
            dataset_id, dataset_runs_request.DatasetRunsRequest.model_validate(body))
        async with self.app.state.db_sessions() as db:
            tenant = Tenant(self.workspace_id, False, db)
            answers: dict[str, Any] = {}
            for name, answer in (("sql", answer_dataset_runs(tenant, query)),
                                 ("fresh engine", ComparisonEngine().dataset_runs(tenant, query))):
                try:
                    found = await answer
                except NotFoundError as exc:
                    answers[name] = (404, {"detail": exc.detail})
                else:
                    examples = found if isinstance(found, list) else found.result
                    answers[name] = (200, rendered_examples(examples, body["preview"]))
        expected = answers.pop("sql")
        if spec["missing"] is None:
            assert expected[0] == 200, expected
        else:
            assert expected[0] == 404, expected
        answers["engine"] = (response.status_code, response.json())
        for name, got in answers.items():
            if got != expected:
                problems = oracle.compare(expected[1], got[1]) or ["equal within the float tolerance, not exactly"]
                raise AssertionError(f"{name} after {step} for {body} on {dataset_id}: status {got[0]}, expected "
                                     f"{expected[0]}:\n" + "\n".join(problems[:30]))


async def run_scenario(database_url: str, spec: dict, ops: list[tuple], bodies: list[dict],
                       dataset_runs: Sequence[dict] = ()) -> None:
    """Group bodies are checked one per step, in turn; §6 bodies all at every step."""
    rec = random_world(spec)
    app = create_app(Settings(database_url=databases.app_url(database_url)))  # as the service's role
    async with app.router.lifespan_context(app):
        async with app.state.db_sessions() as db:
            workspace = await writes.create_workspace(db, "diff")
            rls.bind(db, workspace.id)
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
        async with app.state.db_sessions() as db:
            rls.bind(db, workspace.id)
            await rich.load(db, workspace.id, rec)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
            harness = Harness(client, app, workspace.id, key, rec)
            for spec_body in bodies:
                await harness.check(spec_body, "loading")
            for ds_body in dataset_runs:
                await harness.check_dataset_runs(ds_body, "loading")
            for i, op in enumerate(ops):
                await harness.apply(op)
                if bodies:
                    await harness.check(bodies[i % len(bodies)], f"step {i} {op}")
                for ds_body in dataset_runs:
                    await harness.check_dataset_runs(ds_body, f"step {i} {op}")


def in_new_database(backend: str, tmp_path_factory: Any, scenario: Any) -> None:
    """`scenario(url)` on a database of its own (a hypothesis example cannot use a fixture's)."""
    url = asyncio.run(databases.new_database(backend, tmp_path_factory.mktemp("diff")))
    try:
        asyncio.run(scenario(url))
    finally:
        asyncio.run(databases.drop_database(url))


# No shrinking: every example builds a database and replays its writes, so shrinking a
# failure takes many minutes; the failing world, writes and bodies are printed as they are.
@settings(max_examples=12, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(spec=world_strategy, ops=st.lists(op_strategy, min_size=1, max_size=10),
       bodies=st.lists(body_strategy, min_size=1, max_size=3))
def test_engine_matches_sql_through_writes(backend, tmp_path_factory, spec, ops, bodies):
    in_new_database(backend, tmp_path_factory, lambda url: run_scenario(url, spec, ops, bodies))


@settings(max_examples=20, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(spec=dataset_runs_world, ops=st.lists(op_strategy, min_size=1, max_size=10),
       bodies=st.lists(dataset_runs_strategy, min_size=1, max_size=3))
def test_engine_dataset_runs_match_sql_through_writes(backend, tmp_path_factory, spec, ops, bodies):
    in_new_database(backend, tmp_path_factory, lambda url: run_scenario(url, spec, ops, [], [*bodies, *PROBES]))
