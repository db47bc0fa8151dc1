"""Issue 13, `/graphql` over HTTP: bounded work and no 500 from client input.

- A cost budget (evalql/schema/cost.py) refuses an operation whose estimated answer is too
  large before anything runs; everything the comparison page and the README send fits.
- An execution timeout cancels the operation and its SQL (PostgreSQL: the query is cancelled;
  SQLite: the statement is interrupted), answers 504, and leaves the pool and the comparison
  engine's state sound.
- GraphQL over HTTP (evalql/graphql_http.py): JSON request errors, 415 for other media types,
  `application/graphql-response+json` with 400 and no `data` for documents that fail.
- A fuzz test of bodies, query strings and headers: only 2xx/4xx, always JSON, nothing written
  on a 4xx.
Real HTTP through the ASGI app, on both databases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
import strawberry
from graphql import get_introspection_query, get_operation_ast, parse, validate
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from starlette.routing import Route

from evalql.config import Settings
from evalql.db import models, rls, writes
from evalql.db.backend import is_postgresql
from evalql.engine import load as engine_load
from evalql.graphql_app import GraphQLEndpoint
from evalql.graphql_http import GRAPHQL_RESPONSE, response_media_type
from evalql.schema import build_schema
from evalql.schema.context import Info
from evalql.schema.cost import DEFAULT_MAX_COST, estimate
from tests.support.app import app_client
from tests.support.statements import counting
from tests.support.whole_database import everywhere
from tests.support.world import build_world

ROOT = Path(__file__).resolve().parents[1]
IDS = [str(uuid.UUID(int=i + 1)) for i in range(10)]


def endpoint(app) -> GraphQLEndpoint:
    return next(r.endpoint for r in app.routes if isinstance(r, Route) and r.path == "/graphql")


async def post(api, body: object, accept: str | None = None, **headers: str) -> httpx.Response:
    sent = {**api.headers(), "Content-Type": "application/json", **headers}
    if accept is not None:
        sent["Accept"] = accept
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await api.client.post("/graphql", content=content, headers=sent)


def only_error(response: httpx.Response) -> dict:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


# --- the cost budget ----------------------------------------------------------------------------

def page_documents() -> dict[str, str]:
    """Every operation of web/src/queries.ts, with the fragments it spreads."""
    source = (ROOT / "web/src/queries.ts").read_text()
    texts = re.findall(r"graphql\(`(.*?)`", source, re.S)
    fragments = {re.search(r"fragment (\w+)", t).group(1): t for t in texts if t.strip().startswith("fragment")}
    out = {}
    for t in texts:
        if t.strip().startswith("fragment"):
            continue
        name = re.search(r"(?:query|subscription|mutation) (\w+)", t).group(1)
        out[name] = t + "".join(f for n, f in fragments.items() if f"...{n}" in t)
    return out


def readme_documents() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    found = re.findall(r"```graphql\n(.*?)```", readme, re.S)
    # documents sent with curl: `-d '{"query": "…"}'`
    found += [json.loads(body)["query"] for body in re.findall(r"-d '(\{\"query\":.*?\})'", readme, re.S)]
    # inline mutations: `mutation { … }` in backquotes, placeholders filled in
    found += [m.replace("<run id>", IDS[0]) for m in re.findall(r"`(mutation \{.*?\})`", readme)]
    return found


# What the page sends at most: 10 sessions, 20 groups (+1 for the next page's probe), 51 examples.
PAGE_VARIABLES = {
    "datasetId": IDS[0], "sessionIds": IDS, "filter": "eq(status, \"success\")", "baseline": IDS[0],
    "input": {"sessionIds": IDS, "groupBy": "RUN_METADATA", "metadataKey": "model", "limit": 51,
              "perGroupLimit": 10, "filters": [{"sessionId": s, "filters": ["eq(is_root, true)"]} for s in IDS]},
    "next": {"sessionIds": IDS, "groupBy": "RUN_METADATA", "metadataKey": "model", "offset": 20, "limit": 1},
}


def test_page_and_readme_documents_fit_the_budget():
    schema = build_schema()._schema
    documents = page_documents()
    assert {"Landing", "CompareSetup", "CompareGroups", "CompareExamples"} <= documents.keys()
    readme = readme_documents()
    assert len(readme) >= 3, readme
    costs = {}
    for name, document in [*documents.items(), *((f"README {i}", d) for i, d in enumerate(readme))]:
        parsed = parse(document)
        assert validate(schema, parsed) == [], (name, validate(schema, parsed))
        costs[name] = estimate(schema, parsed, get_operation_ast(parsed), PAGE_VARIABLES)
    # GraphiQL's schema request
    introspection = parse(get_introspection_query(descriptions=True, input_value_deprecation=True))
    costs["introspection"] = estimate(schema, introspection, get_operation_ast(introspection), {})
    assert max(costs.values()) <= DEFAULT_MAX_COST // 2, costs  # with room to spare
    assert Settings().graphql_max_cost == DEFAULT_MAX_COST


# The issue's example: 15 aliases × examples(first: 100) { runs { feedbacks children } }.
ABUSE = "{" + " ".join(
    f'a{i}: dataset(id: "{IDS[0]}") {{ examples(first: 100) {{ edges {{ node {{ id '
    f'runs(sessionIds: ["{IDS[0]}", "{IDS[1]}", "{IDS[2]}"]) {{ id feedbacks {{ id score }} children {{ id }} }} '
    "} } } }" for i in range(15)) + "}"


async def test_the_issues_query_is_refused_before_anything_runs(api, caplog):
    await api.graphql("{ viewer { readOnly } }")  # authentication's statements, once cached
    with counting(api) as cheap:
        await api.graphql("{ viewer { readOnly } }")
    with counting(api) as refused, caplog.at_level(logging.INFO):
        response = await api.graphql(ABUSE)
    assert response.status_code == 200  # application/json: the legacy rules
    error = only_error(response)
    cost = error["extensions"]["cost"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert cost["budget"] == DEFAULT_MAX_COST and cost["estimate"] > DEFAULT_MAX_COST
    assert f"Query cost {cost['estimate']} exceeds the budget of {DEFAULT_MAX_COST}" in error["message"]
    assert response.json()["data"] is None
    assert refused == cheap  # authentication only: no resolver, no statement of the query
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # one alias of it fits
    single = ABUSE.split(" a1:")[0] + "}"
    assert "errors" not in (await api.graphql(single)).json()
    # a client that accepts application/graphql-response+json gets a 400 without data
    response = await post(api, {"query": ABUSE}, accept=GRAPHQL_RESPONSE)
    assert response.status_code == 400 and "data" not in response.json()
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)


async def test_every_answer_states_its_estimate(api):
    response = await api.graphql("{ datasets(first: 7) { edges { node { id } } pageInfo { hasNextPage } } }")
    # the connection, 7 edges, 7 nodes, pageInfo
    assert response.json()["extensions"] == {"cost": {"estimate": 16, "budget": DEFAULT_MAX_COST}}
    # variables, their defaults and the schema's defaults count
    query = "query($n: Int = 3) { datasets(first: $n) { edges { node { id } } } }"
    assert (await api.graphql(query)).json()["extensions"]["cost"]["estimate"] == 7
    assert (await api.graphql(query, {"n": 50})).json()["extensions"]["cost"]["estimate"] == 101
    assert (await api.graphql("{ datasets { edges { node { id } } } }")).json()["extensions"]["cost"]["estimate"] == 41


def cost_of(document: str, variables: dict | None = None) -> int:
    schema = build_schema()._schema
    parsed = parse(document)
    assert validate(schema, parsed) == []
    return estimate(schema, parsed, get_operation_ast(parsed), variables)


def test_aliases_add_fragments_merge_as_execution_does():
    one = cost_of("{ datasets(first: 10) { edges { node { id } } } }")
    assert one == 21
    assert cost_of("{ a: datasets(first: 10) { edges { node { id } } } b: datasets(first: 10) { edges { node { id } } } }") == 2 * one
    # the same fragment spread twice in one selection, and an inline fragment: merged, not added
    assert cost_of("""{ datasets(first: 10) { ...F ...F ... on DatasetConnection { edges { node { name } } } } }
                      fragment F on DatasetConnection { edges { node { id } } }""") == one
    # nested lists multiply: 10 datasets × (1 + 20 sessions' edges and nodes)
    assert cost_of("{ datasets(first: 10) { edges { node { sessions { edges { node { id } } } } } } }") == 1 + 10 * (2 + 1 + 40)
    # page sizes past the resolvers' maxima cost their maximum (the resolver refuses them anyway)
    assert cost_of("{ datasets(first: 100000) { edges { node { id } } } }") == 201


def test_deeply_nested_fragments_cost_the_estimate_no_time():
    """Each level spreads the next three times over: 3^11 paths, costed once per fragment."""
    levels = 11
    fragments = [f"fragment L{i} on Run {{ parent {{ ...L{i + 1} }} children {{ ...L{i + 1} }} "
                 f"feedbacks {{ run {{ ...L{i + 1} }} }} }}" for i in range(levels)]
    fragments.append(f"fragment L{levels} on Run {{ id }}")
    document = f'{{ run(id: "{IDS[0]}") {{ ...L0 }} }} ' + " ".join(fragments)
    schema = build_schema()._schema
    parsed = parse(document)
    started = time.perf_counter()
    found = estimate(schema, parsed, get_operation_ast(parsed), {})
    assert time.perf_counter() - started < 1.0
    assert found > 10**11


async def test_the_budget_is_a_setting(database_url, monkeypatch):
    monkeypatch.setenv("EVALQL_GRAPHQL_MAX_COST", "30")
    monkeypatch.setenv("EVALQL_GRAPHQL_TIMEOUT", "2.5")
    configured = Settings.from_env(database_url)
    assert (configured.graphql_max_cost, configured.graphql_timeout) == (30, 2.5)
    async with app_client(dataclasses.replace(configured, ingest_workers=0, engine_snapshots="off")) as (client, app):
        async with app.state.db_sessions() as db:
            workspace = await writes.create_workspace(db, "budget")
            rls.bind(db, workspace.id)  # the app connects as the service's role (row-level security)
            key = await writes.create_api_key(db, workspace.id)
            await db.commit()
        headers = {"X-API-Key": key}
        fits = await client.post("/graphql", json={"query": "{ datasets(first: 14) { edges { node { id } } } }"},
                                 headers=headers)
        assert fits.json()["extensions"]["cost"] == {"estimate": 29, "budget": 30}
        over = await client.post("/graphql", json={"query": "{ datasets(first: 15) { edges { node { id } } } }"},
                                 headers=headers)
        assert "Query cost 31 exceeds the budget of 30" in only_error(over)["message"]


# --- the execution timeout ----------------------------------------------------------------------

SLOW_SQL = {
    # Both would run for minutes: only cancelling them ends them in time.
    "postgresql": "SELECT pg_sleep(120)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000000) "
              "SELECT count(*) FROM c",
}


@strawberry.type
class SlowQuery:
    @strawberry.field
    async def slow(self, info: Info) -> int:
        db = info.context.tenant.db
        return await db.scalar(text(SLOW_SQL["postgresql" if is_postgresql(db) else "sqlite"]))

    @strawberry.field
    def fast(self) -> int:
        return 1


async def test_a_slow_operation_is_cancelled_with_its_sql(api, backend, caplog):
    app = api.client._transport.app  # type: ignore[attr-defined]
    graphql = endpoint(app)
    graphql.schema, graphql.timeout = strawberry.Schema(query=SlowQuery), 0.5
    started = time.perf_counter()
    with caplog.at_level(logging.INFO):
        response = await asyncio.wait_for(api.graphql("{ slow }"), 30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 504, response.text
    assert only_error(response)["extensions"]["code"] == "TIMEOUT"
    assert "0.5 s" in only_error(response)["message"]
    # The answer comes once the session is closed: on SQLite that waits for the statement,
    # so this bound shows it was interrupted, not left to run.
    assert elapsed < 10, elapsed
    assert [r.levelno for r in caplog.records if r.name == "evalql.graphql"] == [logging.WARNING]
    assert "Traceback" not in caplog.text
    assert app.state.engine.pool.checkedout() == 0
    if backend == "postgresql":
        async with api.db_sessions() as db:
            for _ in range(50):  # the server ends the cancelled query promptly
                running = await db.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'SELECT pg_sleep%' AND state = 'active'"))
                if running == 0:
                    break
                await asyncio.sleep(0.1)
            assert running == 0
    # The pool serves every connection afterwards, one after another and all at once; under a
    # deadline no pause of a busy machine reaches.
    graphql.timeout = 30.0
    for _ in range(25):
        assert (await api.graphql("{ fast }")).json()["data"] == {"fast": 1}
    answers = await asyncio.gather(*(api.graphql("{ fast }") for _ in range(20)))
    assert all(a.status_code == 200 and a.json()["data"] == {"fast": 1} for a in answers)
    assert app.state.engine.pool.checkedout() == 0


GROUPS = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) {
  groupKey count exampleCount sessions { session { id } runCount feedbackStats { key n avg } }
  examples { example { id } runs { id feedbacks { key score } } } } }"""
CREATE = "mutation($input: CreateFeedbackInput!) { createFeedback(input: $input) { id } }"


async def test_cancelled_comparisons_leave_the_engine_sound(api, database_url):
    """Timeouts from half a millisecond to a second cancel `groupRuns` at every phase (loading,
    following the change log, computing, reading the page); between them feedback is written.
    The last answer is that of a server that never saw a cancellation."""
    async with api.db_sessions() as db:
        world = await build_world(db, api.workspace_id, n_examples=30, n_sessions=3, seed=7)
        await db.commit()
    variables = {"ds": str(world.dataset_id), "input": {
        "sessionIds": [str(s) for s in world.session_ids], "groupBy": "EXAMPLE_METADATA", "metadataKey": "category",
        "perGroupLimit": 3}}
    graphql = endpoint(api.client._transport.app)  # type: ignore[attr-defined]
    statuses = set()
    for step in range(12):
        graphql.timeout = 0.0005 * 2 ** step
        statuses.add((await api.graphql(GROUPS, variables)).status_code)
        graphql.timeout = 30.0
        created = await api.graphql(CREATE, {"input": {"runId": str(world.root_run_ids[step]), "key": "k",
                                                       "score": step / 12}})
        assert "errors" not in created.json(), created.text
    assert statuses <= {200, 504} and 504 in statuses
    answer = (await api.graphql(GROUPS, variables)).json()
    async with app_client(Settings(database_url=database_url, engine_snapshots="off")) as (client, _):
        fresh = await client.post("/graphql", json={"query": GROUPS, "variables": variables}, headers=api.headers())
    assert answer["data"] == fresh.json()["data"] and answer["data"]["groupRuns"]


async def test_a_comparison_cut_by_the_deadline_finishes_for_the_next_request(api, monkeypatch):
    """The engine computes on a task and a session of its own (engine/answer.py `detached`):
    a request the deadline cancels while the engine loads leaves the load to finish, so a
    first comparison that takes longer than the deadline is not started over (and cut
    again) by every request."""
    async with api.db_sessions() as db:
        world = await build_world(db, api.workspace_id, n_examples=30, n_sessions=3, seed=3)
        await db.commit()
    variables = {"ds": str(world.dataset_id), "input": {
        "sessionIds": [str(s) for s in world.session_ids], "groupBy": "EXAMPLE_METADATA", "metadataKey": "category"}}
    app = api.client._transport.app  # type: ignore[attr-defined]
    graphql, comparisons = endpoint(app), app.state.comparisons
    # The first load of a session waits until the request that asked for it was cut.
    cut, loads = asyncio.Event(), []
    session_runs = engine_load.session_runs

    async def slow_session_runs(tenant, session_id):
        loads.append(session_id)
        await cut.wait()
        return await session_runs(tenant, session_id)

    monkeypatch.setattr(engine_load, "session_runs", slow_session_runs)
    for timeout in (0.5, 1, 2, 4, 8):  # long enough to reach the load on a busy machine
        graphql.timeout = timeout
        assert (await api.graphql(GROUPS, variables)).status_code == 504
        if loads:
            break
    assert loads and comparisons._running  # the load goes on without the request
    cut.set()
    for _ in range(200):
        if not comparisons._running:
            break
        await asyncio.sleep(0.05)
    assert not comparisons._running and len(comparisons._answers) == 1  # its answer, for the next request
    graphql.timeout = 30.0
    loaded = len(loads)
    answer = await api.graphql(GROUPS, variables)
    assert answer.status_code == 200 and answer.json()["data"]["groupRuns"]
    assert len(loads) == loaded == len(world.session_ids)  # each session loaded once, none again


# --- GraphQL over HTTP -------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
    "application/graphql", "application/json; charset=latin-1"])
async def test_other_media_types_are_415_naming_json(api, content_type):
    response = await api.client.post("/graphql", content=b'{"query": "{ viewer { readOnly } }"}',
                                     headers={**api.headers(), "Content-Type": content_type})
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = only_error(response)
    assert "application/json" in error["message"] and content_type in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("content_type", [None, "application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "application/vnd.api+json"])
async def test_json_and_absent_content_types_are_read(api, content_type):
    headers = api.headers() if content_type is None else {**api.headers(), "Content-Type": content_type}
    response = await api.client.post("/graphql", content=b'{"query": "{ viewer { readOnly } }"}', headers=headers)
    assert response.status_code == 200 and response.json()["data"] == {"viewer": {"readOnly": False}}


@pytest.mark.parametrize("body,words", [
    (b'{"query": "{ viewer { readOnly } }\xff"}', "not valid JSON"),  # invalid UTF-8: was a 500
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # RecursionError: was a 500
    (b'{"query": "\\ud800"}', "not valid JSON"),  # a lone surrogate
    (b"{", "not valid JSON"),
    (b"", "empty"),
    (b"   ", "empty"),
    (b'"{ viewer { readOnly } }"', "JSON object"),
    (b"[]", "Batching"),
    (b"{}", "query: required"),
    (b'{"query": 1}', "query: must be a string"),
    (b'{"query": "{ viewer { readOnly } }", "variables": [1]}', "variables: must be a JSON object"),
    (b'{"query": "{ viewer { readOnly } }", "extensions": "x"}', "extensions: must be a JSON object"),
    (b'{"query": "{ viewer { readOnly } }", "operationName": 5}', "operationName: must be a string"),
    (b'{"query": "subscription { groupRunsChanged }"}', "WebSocket"),
    (b'{"query": "query A { viewer { readOnly } }", "operationName": "B"}', "B"),
])
async def test_malformed_requests_are_400_in_json(api, body, words, caplog):
    for accept in (None, GRAPHQL_RESPONSE):
        with caplog.at_level(logging.INFO):
            response = await post(api, body, accept=accept)
        assert response.status_code == 400, response.text
        error = only_error(response)
        assert words in error["message"], error
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert ("data" in response.json()) is (accept is None)  # graphql-response+json: no data entry
        assert response.headers["content-type"].startswith(accept or "application/json")
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_get_and_other_methods_are_405_in_json(api):
    for method, url in [("GET", "/graphql?query={viewer{readOnly}}"),
                        ("GET", "/graphql?query=mutation{deleteFeedback(id:\"%s\"){id}}" % IDS[0]),
                        ("PUT", "/graphql"), ("DELETE", "/graphql")]:
        response = await api.client.request(method, url, headers=api.headers())
        assert response.status_code == 405, (method, url, response.text)
        assert response.headers["allow"] == "POST"
        assert "POST" in only_error(response)["message"]
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")  # GraphiQL


@pytest.mark.parametrize("accept,chosen", [
    (None, "application/json"), ("*/*", "application/json"), ("application/json", "application/json"),
    (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE), (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
    (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
    (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"), ("text/csv", "application/json"),
    (f"{GRAPHQL_RESPONSE};q=0", "application/json"), (f"{GRAPHQL_RESPONSE};q=nan", "application/json"),
])
def test_response_media_type(accept, chosen):
    assert response_media_type(accept) == chosen


async def test_graphql_response_json_status_codes(api):
    """The spec's rules for `application/graphql-response+json`; `application/json` keeps 200."""
    cases = [
        ("{ viewer { readOnly ", None, 400),  # syntax
        ("{ viewer { nope } }", None, 400),  # validation
        ("query($n: Int!) { datasets(first: $n) { edges { cursor } } }", {"n": "ten"}, 400),  # coercion
        ("query($x: Float!) { groupRuns(datasetId: \"%s\", input: {sessionIds: [], groupBy: RUN_METADATA, "
         "metadataKey: \"m\"}, deltaTolerance: $x) { count } }" % IDS[0], {"x": float("nan")}, 400),
        # a field error (the resolver ran): 200, with a data entry
        ("{ datasets(first: 0) { edges { cursor } } }", None, 200),
        ("{ viewer { readOnly } }", None, 200),
    ]
    for query, variables, status in cases:
        body = json.dumps({"query": query, "variables": variables}, allow_nan=True).encode()
        strict = await post(api, body, accept=GRAPHQL_RESPONSE)
        assert strict.status_code == status, (query, strict.text)
        assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert ("data" in strict.json()) is (status == 200), strict.text
        legacy = await post(api, body, accept="application/json")
        assert legacy.status_code == 200 and "data" in legacy.json(), legacy.text
        assert legacy.headers["content-type"].startswith("application/json")
        if status == 400:
            assert strict.json()["errors"] == legacy.json()["errors"]
    # auth errors keep their status, in the client's media type
    refused = await api.client.post("/graphql", json={"query": "{ viewer { readOnly } }"},
                                    headers={"Accept": GRAPHQL_RESPONSE, "X-API-Key": "evq_nope"})
    assert refused.status_code == 401 and refused.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in refused.json() and only_error(refused)["extensions"]["code"] == "UNAUTHENTICATED"


async def test_non_finite_numbers_are_refused_naming_the_variable(api):
    query = ("query($x: Float!) { groupRuns(datasetId: \"%s\", input: {sessionIds: [\"%s\"], groupBy: RUN_METADATA, "
             "metadataKey: \"m\"}, deltaTolerance: $x) { count } }" % (IDS[0], IDS[0]))
    for spelled in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        body = b'{"query": %s, "variables": {"x": %s}}' % (json.dumps(query).encode(), spelled)
        response = await post(api, body)
        error = only_error(response)
        assert response.status_code == 200 and response.json()["data"] is None
        assert "'$x'" in error["message"] and "Float cannot represent non numeric value" in error["message"], error
    literal = query.replace("query($x: Float!) ", "").replace("$x", "1e400")
    error = only_error(await api.graphql(literal))  # a literal too large for a double: infinite once read
    assert error["message"] == "deltaTolerance: Input should be a finite number", error


# --- fuzz ---------------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10)
DOCUMENTS = [
    "{ viewer { readOnly } }", "{ viewer { readOnly }", "{ nope }", ABUSE, "{ datasets(first: 3) { edges { cursor } } }",
    "query($n: Int) { datasets(first: $n) { edges { node { id name } } } }",
    "mutation($input: CreateFeedbackInput!) { createFeedback(input: $input) { id key score } }",
    "mutation($id: UUID!) { deleteFeedback(id: $id) { id } }",
    "subscription { groupRunsChanged }", "{ " + "dataset(id: 1) { " * 40 + "}" * 41, "",
]
CONTENT_TYPES = [None, "application/json", "application/json; charset=utf-8", "text/plain", "application/xml",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=" + "b" * 300,
                 "application/json; charset=utf-16", GRAPHQL_RESPONSE, ""]
ACCEPTS = [None, "*/*", "application/json", GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE};q=abc, application/json",
           "text/csv", "text/html"]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@st.composite
def structured_body(draw) -> bytes:
    body: dict = {"query": draw(st.sampled_from(DOCUMENTS) | st.text(max_size=60) | JSONISH)}
    variables = st.fixed_dictionaries({}, optional={
        "n": JSONISH, "id": st.sampled_from(IDS) | JSONISH,
        "input": st.fixed_dictionaries({}, optional={
            "runId": st.just("RUN") | JSONISH, "key": st.text(max_size=10) | JSONISH, "score": JSONISH,
            "value": JSONISH, "comment": st.text(max_size=10)})})
    for name, values in (("variables", variables | JSONISH), ("operationName", JSONISH), ("extensions", JSONISH)):
        if draw(st.booleans()):
            body[name] = draw(values)
    return json.dumps(body, allow_nan=True).encode()


REQUESTS = st.fixed_dictionaries({
    "method": st.sampled_from(["POST"] * 6 + ["GET", "PUT"]),
    "body": structured_body() | st.binary(max_size=200),
    "params": st.dictionaries(st.sampled_from(["query", "variables", "operationName", "x"]), st.text(max_size=30),
                              max_size=3),
    "content_type": st.sampled_from(CONTENT_TYPES) | HEADER_TEXT,
    "accept": st.sampled_from(ACCEPTS) | HEADER_TEXT,
})


async def rows_and_version(api) -> tuple:
    async with api.db_sessions() as db:
        counts = tuple([await db.scalar(everywhere(select(func.count()).select_from(model)))
                        for model in (models.Feedback, models.Run, models.Example, models.Dataset)])
        return counts, await db.scalar(everywhere(select(func.max(models.DataVersionCounter.version))))


@pytest.fixture
async def fuzz_world(api):
    async with api.db_sessions() as db:
        world = await build_world(db, api.workspace_id, n_examples=4, n_sessions=2, seed=1)
        await db.commit()
    return world


@settings(max_examples=60, deadline=None)
@given(request=REQUESTS)
async def test_fuzz_graphql_http(api, fuzz_world, request):
    """Bytes and structures, query strings, content types and accept headers: only 2xx/4xx,
    always a JSON body (GraphiQL's page aside), nothing written by a 4xx."""
    body = request["body"].replace(b'"RUN"', json.dumps(str(fuzz_world.root_run_ids[0])).encode())
    headers = api.headers()
    for name in ("content_type", "accept"):
        if request[name] is not None:
            headers[name.replace("_", "-")] = request[name]
    before = await rows_and_version(api)
    response = await api.client.request(request["method"], "/graphql", params=request["params"],
                                        content=body if request["method"] != "GET" else None, headers=headers)
    assert 200 <= response.status_code < 500, (response.status_code, response.text[:500])
    if request["method"] == "GET" and "text/html" in (request["accept"] or ""):
        assert response.headers["content-type"].startswith("text/html")
        return
    assert response.headers["content-type"].split(";")[0] in ("application/json", GRAPHQL_RESPONSE)
    answer = response.json()
    assert answer.get("errors") or "data" in answer, answer
    if response.status_code >= 400:
        assert await rows_and_version(api) == before
