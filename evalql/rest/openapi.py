"""The REST API's OpenAPI 3.1 document, served at `/openapi.json` and browsed at `/docs`.

Generated rather than written: every request body and query-string schema is pydantic's
JSON Schema of the very model (or TypeAdapter) the route validates with, and the operations
are the app's own routes. What no model says (which route reads which model, who may call
it, what it answers) is the table `OPERATIONS` below, keyed by the route's endpoint; a
route missing from it is left out of the document, and tests/test_openapi.py fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NotRequired

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema
from starlette.routing import BaseRoute, Route
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

import evalql
from evalql.core.dataset_runs_request import DatasetRunsRequest
from evalql.core.feedback import FeedbackCreate, FeedbackPatch
from evalql.core.group_request import GroupRequest
from evalql.ingest.records import POST_REQUIRED, RunRecord
from evalql.rest import (
    dataset_runs,
    datasets,
    examples,
    export,
    feedback,
    group_runs,
    info,
    runs_ingest,
    runs_read,
    sessions,
)
from evalql.rest.body import MAX_BODY_BYTES
from evalql.rest.routes import API_PREFIX

REF = "#/components/schemas/{model}"

Schema = dict[str, Any]
# A request body: the model or TypeAdapter the route validates it with, or a schema built
# here around such models' components (the run ingest bodies, see `_run_schemas`).
Body = type[BaseModel] | TypeAdapter[Any] | Schema
Auth = Literal["none", "read", "write", "signed"]


class JsonSchemaGenerator(GenerateJsonSchema):
    """pydantic's generator, but a numeric bound placed after a validator (`Annotated[Int,
    Field(le=20)]`, Int being a BeforeValidator) comes out under its JSON Schema keyword
    (`maximum`) rather than the raw `le` that pydantic writes there (pydantic#11576)."""

    RAW = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum",
           "multiple_of": "multipleOf"}

    def generate_inner(self, schema: CoreSchema) -> JsonSchemaValue:
        found = super().generate_inner(schema)
        for raw, keyword in self.RAW.items():
            if raw in found:
                found[keyword] = found.pop(raw)
        return found


def json_schema(validator: type[BaseModel] | TypeAdapter[Any]) -> Schema:
    """The validation schema of a model or TypeAdapter, references pointing at components."""
    if isinstance(validator, TypeAdapter):
        return validator.json_schema(ref_template=REF, schema_generator=JsonSchemaGenerator)
    return validator.model_json_schema(ref_template=REF, schema_generator=JsonSchemaGenerator)


def ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    returns: str
    auth: Auth = "read"
    body: Body | None = None
    media_type: str = "application/json"
    answers_as: tuple[str, ...] = ("application/json",)  # the 200's media types
    query: type[BaseModel] | None = None
    query_optional: bool = False  # every query parameter optional, whatever the model requires
    status: int = 200
    not_found: bool = False  # a 404 for a referenced record, besides the path's own id
    conflict: bool = False
    encoded: bool = False  # the body may come gzip- or zstd-compressed
    description: str = ""


# --- response bodies (built by hand in rest/shapes.py; only the errors are modelled) -------

class Error(TypedDict):
    detail: str


class ProblemItem(TypedDict):
    loc: list[str | int]
    msg: str
    type: str
    input: NotRequired[Any]


class Problems(TypedDict):
    """Every problem of the request, reported together (a 422)."""

    detail: list[ProblemItem]


ERRORS: dict[str, tuple[int, str, str]] = {  # component name: (status, description, body schema)
    "Unauthorized": (401, "No API key, or an unknown or revoked one", "Error"),
    "Forbidden": (403, "A read-only key on a write route, or an X-Tenant-Id the key has no access to", "Error"),
    "NotFound": (404, "No such record in the key's workspace", "Error"),
    "Conflict": (409, "The name or id is taken", "Error"),
    "TooLarge": (413, f"The body exceeds {MAX_BODY_BYTES} bytes (decompressed)", "Error"),
    "Unsupported": (415, "A Content-Type other than the request body's media type, or a Content-Encoding "
                         "other than identity, gzip or zstd (identity only, except on the run ingest routes)",
                    "Error"),
    "Invalid": (422, "Every problem with the path, query string and body, together", "Problems"),
    "Busy": (503, "The database is busy; retry after the Retry-After seconds", "Error"),
}


# --- the run ingest bodies ----------------------------------------------------------------

UUID_TEXT = "[0-9a-fA-F-]{32,36}"


def _run_schemas(record: Schema) -> dict[str, Schema]:
    """Variants of `RunRecord`'s generated schema by who supplies what: a post needs
    POST_REQUIRED; a patch nothing but its id, which the path or part name may give."""
    return {
        "RunRecord": record,
        "RunCreate": {**record, "title": "RunCreate", "required": ["id", *POST_REQUIRED]},
        "RunPatch": {**record, "title": "RunPatch", "required": []},
    }


RUN_BATCH: Schema = {
    "type": "object",
    "properties": {"post": {"type": "array", "items": ref("RunCreate")},
                   "patch": {"type": "array", "items": ref("RunRecord")}},
}
RUN_MULTIPART: Schema = {
    "type": "object",
    "description": (
        "One part per record or field, named `post.<run id>`, `patch.<run id>` (a run as JSON, its id "
        "taken from the name), `post.<run id>.<field>` / `patch.<run id>.<field>` (one of inputs, outputs, "
        "events, extra, error, serialized as JSON, sent apart from its record), `feedback.<feedback id>` "
        "(a feedback as POST /feedback takes it) or `attachment.<run id>.<name>` (a file, kept with its "
        "Content-Type)."),
    "patternProperties": {
        f"^post\\.{UUID_TEXT}$": {"allOf": [ref("RunPatch"), {"required": list(POST_REQUIRED)}]},
        f"^patch\\.{UUID_TEXT}$": ref("RunPatch"),
        f"^(post|patch)\\.{UUID_TEXT}\\.(inputs|outputs|events|extra|error|serialized)$": {},
        f"^feedback\\.{UUID_TEXT}$": ref("FeedbackCreate"),
        f"^attachment\\.{UUID_TEXT}\\.[^.]+$": {"type": "string", "contentMediaType": "application/octet-stream"},
    },
    "additionalProperties": False,
}

INGEST = ("Validated whole and applied in one transaction; answered (202, `{}`) after the commit, so a read "
          "that follows sees the data.")


OPERATIONS: dict[Any, Op] = {
    info.info_route: Op("Server version and ingest limits", "info", "The server's info (no key needed)",
                        auth="none"),
    # datasets
    datasets.create_dataset_route: Op("Create a dataset", "datasets", "The dataset", auth="write",
                                      body=datasets.DatasetCreate, conflict=True),
    datasets.list_datasets_route: Op("List datasets", "datasets", "Live datasets, newest first",
                                     query=datasets.DatasetListQuery),
    datasets.read_dataset_route: Op("Read a dataset", "datasets", "The dataset"),
    datasets.delete_dataset_route: Op("Delete a dataset (soft)", "datasets", "`{}`", auth="write"),
    # comparisons
    group_runs.group_runs_route: Op(
        "Runs of sessions grouped by a metadata value", "comparisons", "`{\"groups\": [...]}`",
        body=GroupRequest, description="The group query (a read key is enough)."),
    dataset_runs.dataset_runs_route: Op(
        "Examples with their runs in sessions", "comparisons", "Examples, each with its runs",
        body=DatasetRunsRequest, description="Paged by example (a read key is enough)."),
    export.export_route: Op(
        "The comparison as CSV or JSON, streamed", "comparisons",
        "The table, as an attachment (`Content-Disposition`)", body=GroupRequest, query=export.ExportQuery,
        answers_as=tuple(export.MEDIA_TYPES.values()), description=export.DESCRIPTION),
    # examples
    examples.bulk_create_route: Op("Create examples", "examples", "The examples, in order", auth="write",
                                   body=examples.BULK, not_found=True, conflict=True),
    examples.create_route: Op("Create an example", "examples", "The example", auth="write",
                              body=examples.ExampleCreate, not_found=True, conflict=True),
    examples.list_route: Op("List examples", "examples", "Live examples, oldest first",
                            query=examples.ExampleListQuery, not_found=True),
    examples.read_route: Op("Read an example", "examples", "The example"),
    examples.patch_route: Op("Update an example", "examples", "`{}`", auth="write", body=examples.ExamplePatch),
    examples.delete_route: Op("Delete an example (soft)", "examples", "`{}`", auth="write"),
    # sessions
    sessions.create_route: Op("Create a session (project, experiment)", "sessions", "The session", auth="write",
                              body=sessions.SessionCreate, query=sessions.UpsertQuery, not_found=True,
                              conflict=True, description="`upsert=true` updates a session of the same name."),
    sessions.list_route: Op("List sessions", "sessions", "Sessions, latest start first",
                            query=sessions.SessionListQuery),
    sessions.read_route: Op("Read a session", "sessions", "The session", query=sessions.StatsQuery),
    sessions.patch_route: Op("Update a session", "sessions", "The session", auth="write",
                             body=sessions.SessionPatch, conflict=True),
    sessions.delete_route: Op("Delete a session with its runs", "sessions", "`{}`", auth="write"),
    # runs
    runs_ingest.post_run_route: Op("Create a run", "runs", "`{}`", auth="write", body=ref("RunCreate"),
                                   status=202, encoded=True, description=INGEST),
    runs_ingest.batch_route: Op("Create and update runs", "runs", "`{}`", auth="write", body=RUN_BATCH,
                                status=202, encoded=True, description=INGEST),
    runs_ingest.multipart_route: Op("Create and update runs, feedback and attachments", "runs", "`{}`",
                                    auth="write", body=RUN_MULTIPART, media_type="multipart/form-data",
                                    status=202, encoded=True, description=INGEST),
    runs_ingest.patch_run_route: Op("Update a run", "runs", "`{}`", auth="write", body=ref("RunPatch"),
                                    status=202, encoded=True, description=INGEST),
    runs_read.query_route: Op("Query runs", "runs", "`{\"runs\": [...], \"cursors\": {\"next\": ...}}`",
                              body=runs_read.RunsQueryBody, description="A read (a read key is enough)."),
    runs_read.read_route: Op("Read a run", "runs", "The run"),
    runs_read.attachment_route: Op(
        "Download a run's attachment", "runs", "The attachment's bytes, with its stored Content-Type",
        auth="signed", query=runs_read.SignedQuery, query_optional=True,
        description="With the three query parameters of a presigned URL (a run's `s3_urls`), no API key "
                    "is needed."),
    # feedback
    feedback.create_route: Op("Create or replace feedback", "feedback", "The feedback", auth="write",
                              body=FeedbackCreate, description="An upsert by `id`."),
    feedback.list_route: Op("List feedback", "feedback", "Feedback, oldest first", query=feedback.FeedbackListQuery),
    feedback.read_route: Op("Read feedback", "feedback", "The feedback"),
    feedback.patch_route: Op("Update feedback", "feedback", "The feedback", auth="write", body=FeedbackPatch),
    feedback.delete_route: Op("Delete feedback", "feedback", "`{}`", auth="write"),
}

TAGS = [
    {"name": "info", "description": "The server"},
    {"name": "datasets", "description": "Datasets of examples"},
    {"name": "examples", "description": "Examples: inputs, reference outputs, metadata and splits"},
    {"name": "comparisons", "description": "Experiments compared over a dataset"},
    {"name": "sessions", "description": "Sessions, also called projects or (with a dataset) experiments"},
    {"name": "runs", "description": "Traced runs: ingest and reads"},
    {"name": "feedback", "description": "Scores and comments on runs and sessions"},
]

DESCRIPTION = f"""\
evalql's LangSmith-compatible REST API. Every path is served under `{API_PREFIX}` (the base URL to
give the LangSmith SDK) and at the root alike; a trailing slash is ignored.

**Authentication.** Send an API key as `X-API-Key: <key>` (or `Authorization: Bearer <key>`);
`evalql keys create` makes one. A read-only key may call every read, including the POST queries.
An optional `X-Tenant-Id` header names the workspace the key must belong to.

**Errors** are `{{"detail": "..."}}`, or for a 422 `{{"detail": [{{"loc", "msg", "type"}}, ...]}}`
listing every problem of the request at once.

The same data, and comparisons grouped by metadata, are also served by GraphQL at `/graphql`.
"""


def rest_path(route: Route) -> str:
    """The route's path as an OpenAPI path template: `{name:path}` becomes `{name}`."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)


def documented(routes: Iterable[BaseRoute]) -> list[tuple[Route, Op]]:
    return [(r, OPERATIONS[r.endpoint]) for r in routes if isinstance(r, Route) and r.endpoint in OPERATIONS]


def _add_schemas(components: dict[str, Schema], found: Schema) -> Schema:
    """`found` without its `$defs`, which join `components`; a name given two different
    schemas (two models of one name) is an error rather than a silent overwrite."""
    found = dict(found)
    for name, schema in found.pop("$defs", {}).items():
        if components.setdefault(name, schema) != schema:
            raise ValueError(f"two schemas named {name!r} in the OpenAPI document")
    return found


def _component(components: dict[str, Schema], name: str, schema: Schema) -> Schema:
    """Registers `schema` (its `$defs` hoisted) as component `name`; a reference to it."""
    _add_schemas(components, {"$defs": {name: _add_schemas(components, schema)}})
    return ref(name)


def _model_schema(components: dict[str, Schema], validator: type[BaseModel] | TypeAdapter[Any]) -> Schema:
    """The schema of a body: a model becomes a component (by its name) and is referenced."""
    if isinstance(validator, TypeAdapter):
        return _add_schemas(components, json_schema(validator))
    return _component(components, validator.__name__, json_schema(validator))


def _query_parameters(components: dict[str, Schema], model: type[BaseModel], optional: bool) -> list[Schema]:
    schema = _add_schemas(components, json_schema(model))
    required = set(schema.get("required", ())) if not optional else set()
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        # A query string cannot say null (absent means null): keep the other branch alone.
        branches = [b for b in prop.get("anyOf", ()) if b != {"type": "null"}]
        if len(branches) == 1 and len(prop["anyOf"]) == 2:
            prop = {**{k: v for k, v in prop.items() if k not in ("anyOf", "default")}, **branches[0]}
        param: Schema = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def _path_parameters(route: Route) -> list[Schema]:
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "format": "uuid"} if name.endswith("_id") else {"type": "string"}}
            for name in route.param_convertors]


def _responses(op: Op, has_path_id: bool) -> Schema:
    out: Schema = {str(op.status): {"description": op.returns, "content": {
        media: {} for media in (("*/*",) if op.auth == "signed" else op.answers_as)}}}
    codes = []
    if op.auth != "none":
        codes += ["Unauthorized", "Forbidden"]
    if has_path_id or op.not_found:
        codes.append("NotFound")
    if op.conflict:
        codes.append("Conflict")
    if op.body is not None:
        codes.append("TooLarge")
    if op.body is not None or op.encoded:
        codes.append("Unsupported")
    if op.body is not None or op.query is not None or has_path_id:
        codes.append("Invalid")
    if op.auth != "none":
        codes.append("Busy")
    out.update({str(ERRORS[name][0]): {"$ref": f"#/components/responses/{name}"} for name in codes})
    return out


SECURITY: dict[Auth, list[dict[str, list[str]]]] = {
    "none": [],
    "read": [{"ApiKey": []}, {"Bearer": []}],
    "write": [{"ApiKey": []}, {"Bearer": []}],
    "signed": [{"ApiKey": []}, {"Bearer": []}, {}],
}


def _operation(components: dict[str, Schema], route: Route, op: Op) -> Schema:
    endpoint = route.endpoint
    parameters = _path_parameters(route)
    if op.query is not None:
        parameters += _query_parameters(components, op.query, op.query_optional)
    description = op.description
    if op.auth == "write":
        description = (description + "\n\n" if description else "") + "Needs a key with write access."
    found: Schema = {
        "tags": [op.tag], "summary": op.summary,
        "operationId": f"{endpoint.__module__.rsplit('.', 1)[-1]}.{endpoint.__name__.removesuffix('_route')}",
        "security": SECURITY[op.auth],
    }
    if description:
        found["description"] = description
    if parameters:
        found["parameters"] = parameters
    if op.body is not None:
        body = op.body if isinstance(op.body, dict) else _model_schema(components, op.body)
        found["requestBody"] = {"required": True, "content": {op.media_type: {"schema": body}}}
    found["responses"] = _responses(op, has_path_id=bool(route.param_convertors))
    return found


def build_openapi(routes: Iterable[BaseRoute]) -> Schema:
    """The document of the REST routes among `routes` (those in `OPERATIONS`)."""
    components: dict[str, Schema] = {}
    # The schemas that bodies built here (not by a model) refer to, and the error bodies.
    for name, schema in _run_schemas(_add_schemas(components, json_schema(RunRecord))).items():
        _component(components, name, schema)
    _model_schema(components, FeedbackCreate)
    for error in (Error, Problems):
        _component(components, error.__name__, json_schema(TypeAdapter(error)))
    paths: dict[str, Schema] = {}
    for route, op in documented(routes):
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(rest_path(route), {})[method.lower()] = _operation(components, route, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "evalql REST API", "version": evalql.__version__, "description": DESCRIPTION,
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": API_PREFIX}],
        "tags": TAGS,
        "security": SECURITY["read"],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "responses": {name: {"description": text, "content": {"application/json": {"schema": ref(schema)}}}
                          for name, (_, text, schema) in ERRORS.items()},
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "An API key (`evalql keys create`)"},
                "Bearer": {"type": "http", "scheme": "bearer", "description": "The same key as a bearer token"},
            },
        },
    }

