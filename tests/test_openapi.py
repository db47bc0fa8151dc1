"""`/openapi.json`: every REST route of the app is in it with its method, it is valid
OpenAPI 3.1, and its body and query schemas are the validating models' own. The document
reads no database; the app runs on a fresh SQLite file (the tests/support/app.py client)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from starlette.routing import Mount, Route

from evalql.config import Settings
from evalql.core.group_request import GroupRequest
from evalql.ingest.records import POST_REQUIRED
from evalql.rest import examples, runs_read
from evalql.rest.openapi import REF, build_openapi, json_schema
from tests.support.app import app_client

# Routes of the app that are not the REST API: GraphQL, the web pages (their endpoints are
# not in evalql.rest), and the reference itself (/docs, /openapi.json, /api/v1), which is
# marked include_in_schema=False.
NOT_REST = {"/graphql"}


@pytest.fixture
async def served(tmp_path):
    async with app_client(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/openapi.db")) as found:
        yield found


@pytest.fixture
def app(served):
    return served[1]


@pytest.fixture
def client(served):
    return served[0]


@pytest.fixture
async def doc(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


def rest_routes(app) -> list[tuple[str, str, list[str]]]:
    """(method, OpenAPI path, path parameter names) of every REST route of the app."""
    found = []
    for route in app.routes:
        if isinstance(route, Mount) or route.path in NOT_REST or not route.include_in_schema:
            continue
        assert isinstance(route, Route), route
        if not route.endpoint.__module__.startswith("evalql.rest."):
            continue
        params = re.findall(r"\{(\w+)(?::\w+)?\}", route.path)
        path = re.sub(r"\{(\w+)(?::\w+)?\}", r"{\1}", route.path)
        found += [(method, path, params) for method in sorted(route.methods - {"HEAD"})]
    return found


def resolve(doc: dict, schema: dict) -> dict:
    prefix = REF.format(model="")
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].removeprefix(prefix)]
    return schema


def body_schema(doc: dict, method: str, path: str, media_type: str = "application/json") -> dict:
    return doc["paths"][path][method]["requestBody"]["content"][media_type]["schema"]


def test_every_rest_route_is_in_the_document_with_its_method(app, doc):
    routes = rest_routes(app)
    assert len(routes) >= 30  # all of evalql/rest, not a filtered few
    for method, path, params in routes:
        assert path in doc["paths"], (method, path)
        op = doc["paths"][path].get(method.lower())
        assert op is not None, (method, path)
        assert op["summary"] and op["responses"]
        in_path = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        assert in_path == params, (method, path)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(m, p) for m, p, _ in routes}  # and nothing that is not a route


def test_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any violation of the 3.1 schema, dangling $ref included


def test_body_schemas_are_the_models(doc):
    group = resolve(doc, body_schema(doc, "post", "/datasets/{dataset_id}/group/runs"))
    assert group["properties"]["limit"]["maximum"] == 20
    assert group["properties"]["session_ids"]["maxItems"] == 10
    assert set(group["required"]) == {"session_ids", "group_by", "metadata_key"}
    own = json_schema(GroupRequest)
    assert own.pop("$defs") == {"GroupBy": resolve(doc, {"$ref": REF.format(model="GroupBy")})}
    assert group == own

    runs = resolve(doc, body_schema(doc, "post", "/datasets/{dataset_id}/runs"))
    assert runs["properties"]["limit"]["maximum"] == 100
    assert runs["properties"]["session_ids"]["maxItems"] == 10

    bulk = body_schema(doc, "post", "/examples/bulk")
    assert bulk["type"] == "array" and bulk["maxItems"] == examples.MAX_BULK
    assert resolve(doc, bulk["items"])["title"] == "ExampleCreate"

    query = resolve(doc, body_schema(doc, "post", "/runs/query"))
    assert query["title"] == runs_read.RunsQueryBody.__name__
    assert query["properties"]["id"]["anyOf"][0]["maxItems"] == runs_read.MAX_IDS
    assert query["properties"]["cursor"]["anyOf"][0] == {"type": "string"}  # the wire form, not the dataclass

    create = resolve(doc, body_schema(doc, "post", "/runs"))
    assert set(create["required"]) == {"id", *POST_REQUIRED}
    assert resolve(doc, body_schema(doc, "patch", "/runs/{run_id}"))["required"] == []
    batch = body_schema(doc, "post", "/runs/batch")
    assert set(resolve(doc, batch["properties"]["patch"]["items"])["required"]) == {"id"}
    assert "patternProperties" in body_schema(doc, "post", "/runs/multipart", "multipart/form-data")


def test_query_and_path_parameters(doc):
    params = {p["name"]: p for p in doc["paths"]["/datasets"]["get"]["parameters"]}
    assert set(params) == {"name", "name_contains", "id", "metadata", "offset", "limit"}
    assert params["limit"]["schema"]["maximum"] == 100 and not params["limit"]["required"]
    assert params["id"]["schema"]["type"] == "array"
    assert params["name"]["schema"] == {"type": "string"}  # no null branch: a query string cannot say null
    feedback = {p["name"]: p for p in doc["paths"]["/feedback"]["get"]["parameters"]}
    assert resolve(doc, feedback["source"]["schema"]["items"])["enum"]
    upsert = {p["name"] for p in doc["paths"]["/sessions"]["post"]["parameters"]}
    assert upsert == {"upsert"}
    attachment = doc["paths"]["/runs/{run_id}/attachments/{name}"]["get"]
    signed = [p for p in attachment["parameters"] if p["in"] == "query"]
    assert {p["name"] for p in signed} == {"tenant", "expires", "signature"}
    assert not any(p["required"] for p in signed)
    [run_id] = [p for p in attachment["parameters"] if p["name"] == "run_id"]
    assert run_id == {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


def test_auth_and_responses(doc):
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key (`evalql keys create`)"}
    assert doc["security"][0] == {"ApiKey": []}
    info = doc["paths"]["/info"]["get"]
    assert info["security"] == [] and set(info["responses"]) == {"200"}
    read = doc["paths"]["/datasets/{dataset_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422"} <= set(read)
    create = doc["paths"]["/datasets"]["post"]["responses"]
    assert {"200", "401", "403", "409", "413", "422"} <= set(create) and "404" not in create
    assert {"202", "401", "403", "413", "415", "422"} <= set(doc["paths"]["/runs/batch"]["post"]["responses"])
    invalid = doc["components"]["responses"]["Invalid"]["content"]["application/json"]["schema"]
    assert resolve(doc, resolve(doc, invalid)["properties"]["detail"]["items"])["required"] == ["loc", "msg", "type"]
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


@pytest.mark.parametrize("path", ["/openapi.json", "/api/v1/openapi.json", "/openapi.json/"])
async def test_served_without_a_key_and_built_once(app, client, path):
    first = await client.get(path)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    kept = app.state.openapi_json
    second = await client.get("/openapi.json", headers={"X-API-Key": "nonsense"})
    assert second.content == first.content and app.state.openapi_json is kept


def test_building_twice_gives_the_same_document(app):
    assert build_openapi(app.routes) == build_openapi(app.routes)


def test_no_raw_pydantic_constraint_keys(doc):
    """pydantic writes `le`/`ge` for a bound after a validator (pydantic#11576); the
    document must carry JSON Schema's own keywords, which validators understand."""
    raw = {"gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length"}

    def walk(node, under_properties=False):
        if isinstance(node, dict):
            if not under_properties:
                assert not raw & set(node), node
            for key, child in node.items():
                walk(child, under_properties=key in ("properties", "patternProperties"))
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(doc["components"])
    walk(doc["paths"])
