"""Reading runs (spec §2.4, §7.5.3–§7.5.5): `GET /runs/{id}`, its attachments, and
`POST /runs/query`, a read endpoint (a read-only key may call it)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, false
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.core.enums import RunType
from evalql.core.errors import NotFoundError
from evalql.core.fields import NUL, NUL_MESSAGE, Int
from evalql.core.problems import InvalidInput, problem
from evalql.db import derive
from evalql.db.models import Run
from evalql.db.tenant import Tenant
from evalql.filters.errors import FilterError
from evalql.filters.runs import run_condition, trace_condition, validate_run_filter
from evalql.queries.runs_query import (
    Cursor,
    RelatedRows,
    RunQuery,
    attachment,
    one_run,
    page_of_runs,
    related_rows,
)
from evalql.rest.body import json_body
from evalql.rest.context import request_tenant
from evalql.rest.errors import ApiError
from evalql.rest.params import query_params, require_path_uuid
from evalql.rest.presign import Signer, signing_key, verified
from evalql.rest.responses import json_response
from evalql.rest.run_shape import (
    RUN_FIELDS,
    Related,
    attachment_urls,
    run_json,
    selected_fields,
    unknown_field,
    unneeded_columns,
)

MAX_LIMIT = 100
# Ids per list: each is a bound parameter, and both databases cap those near 32k per statement.
MAX_IDS = 10_000
Ids = Annotated[list[uuid.UUID], Field(max_length=MAX_IDS)]


class Order(str, Enum):
    desc = "desc"
    asc = "asc"


def _filter_text(text: str | None) -> str | None:
    """A filter string that parses and names only run fields (spec §4.7); blank means none."""
    if text is None or not text.strip():
        return None
    try:
        validate_run_filter(text)
    except FilterError as exc:
        raise PydanticCustomError("value_error", exc.message) from None
    return text


def _known_field(name: str) -> str:
    if unknown_field(name):
        raise PydanticCustomError("value_error", f"Unknown run field '{name}' in select")
    return name


FilterText = Annotated[str | None, AfterValidator(_filter_text)]
FieldName = Annotated[str, AfterValidator(_known_field)]


class RunsQueryBody(BaseModel):
    """Spec §7.5.5. Empty lists count as not given, like absent keys and nulls."""

    id: Ids | None = None
    session: Ids | None = None
    trace: uuid.UUID | None = None
    parent_run: uuid.UUID | None = None
    run_type: RunType | None = None
    reference_example: Ids | None = None
    is_root: bool | None = None
    error: bool | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    filter: FilterText = None
    trace_filter: FilterText = None
    tree_filter: FilterText = None
    execution_order: Int | None = None
    select: list[FieldName] | None = None
    order: Order = Order.desc  # before `cursor`: the cursor check reads it
    # On the wire a cursor is the opaque `cursors.next` text of the previous page.
    cursor: Annotated[Cursor | None, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}]})] = None
    limit: Annotated[Int, Field(ge=1)] = MAX_LIMIT  # above MAX_LIMIT is clamped, not refused
    query: Any = None

    @field_validator("cursor", mode="before")
    @classmethod
    def _cursor(cls, value: Any, info: ValidationInfo) -> Cursor | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("string_type", "Input should be a valid string")
        try:
            cursor = Cursor.decode(value)
        except ValueError as exc:
            raise PydanticCustomError("value_error", str(exc)) from None
        order = info.data.get("order")
        if order is not None and cursor.order != order.value:
            raise PydanticCustomError("value_error", f"Invalid cursor: it belongs to order '{cursor.order}'")
        return cursor

    @field_validator("query")
    @classmethod
    def _no_query(cls, value: Any) -> None:
        if value is not None:
            raise PydanticCustomError("value_error", "query is not supported; use filter")
        return None


def conditions(body: RunsQueryBody) -> list[ColumnElement[bool]]:
    """The body's filter arguments as conditions on `Run`, all AND-ed."""
    if body.id:
        return [Run.id.in_(body.id)]  # ids win: every other filter argument is ignored
    found: list[ColumnElement[bool]] = []
    if body.session:
        found.append(Run.session_id.in_(body.session))
    if body.trace is not None:
        found.append(Run.trace_id == body.trace)
    if body.parent_run is not None:
        found.append(Run.parent_run_id == body.parent_run)
    if body.run_type is not None:
        found.append(Run.run_type == body.run_type.value)
    if body.reference_example:
        found.append(Run.reference_example_id.in_(body.reference_example))
    if body.is_root is not None:
        found.append(Run.is_root.is_(body.is_root))
    if body.error is not None:
        found.append(Run.error.is_not(None) if body.error else Run.error.is_(None))
    if body.start_time is not None:
        found.append(Run.start_time >= derive.parse_timestamp(body.start_time))
    if body.end_time is not None:  # spec: runs *starting* at or before end_time
        found.append(Run.start_time <= derive.parse_timestamp(body.end_time))
    if body.filter is not None:
        found.append(run_condition(body.filter, prefix="q"))
    if body.trace_filter is not None:
        found.append(trace_condition(body.trace_filter, "trace"))
    if body.tree_filter is not None:
        found.append(trace_condition(body.tree_filter, "tree"))
    if body.execution_order is not None and body.execution_order != 1:
        # Every run's execution_order is 1 (§2.4, §4.3): 1 matches all, any other none.
        found.append(false())
    return found


def related_of(rows: RelatedRows, run: Run, signer: Signer | None) -> Related:
    names = rows.attachments.get(run.id, ())
    return Related(
        feedback_stats=rows.feedback_stats.get(run.id, {}), in_dataset=run.id in rows.in_dataset,
        s3_urls=attachment_urls(signer.url, run.id, names) if signer is not None and names else {},
        trace_bounds=rows.trace_bounds.get(run.trace_id, (None, None)),
        reference_dataset_id=(None if run.reference_example_id is None
                              else rows.reference_datasets.get(run.reference_example_id)),
    )


async def runs_json(request: Request, tenant: Tenant, runs: Sequence[Run], rows: RelatedRows,
                    fields: Sequence[str]) -> list[dict[str, Any]]:
    signer = None
    if rows.attachments:  # the signing key is read only when some run has attachments
        signer = Signer(str(request.base_url), tenant, await signing_key(tenant.db, tenant.workspace_id) or "")
    return [run_json(run, related_of(rows, run, signer), fields) for run in runs]


async def query_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        body: RunsQueryBody = await json_body(request, RunsQueryBody)
        fields = selected_fields(body.select)
        query = RunQuery(conditions=conditions(body), order=body.order.value,
                         after=body.cursor, limit=min(body.limit, MAX_LIMIT), skip_columns=unneeded_columns(fields))
        runs, next_page = await page_of_runs(tenant, query)
        rows = await related_rows(tenant, runs, fields)
        return json_response({
            "runs": await runs_json(request, tenant, runs, rows, fields),
            "cursors": {"next": None if next_page is None else next_page.encode(), "prev": None},
            "search_cursors": None, "parsed_query": None,
        })


async def read_route(request: Request) -> Response:
    async with request_tenant(request, single_read=True) as tenant:
        run_id = require_path_uuid(request, "run_id")
        found = await one_run(tenant, run_id, RUN_FIELDS)
        if found is None:
            raise NotFoundError(f"Run {run_id} not found")
        run, rows = found
        return json_response((await runs_json(request, tenant, [run], rows, RUN_FIELDS))[0])


class SignedQuery(BaseModel):
    tenant: uuid.UUID
    expires: int
    signature: str


async def attachment_route(request: Request) -> Response:
    """With a presigned URL's query (tenant, expires, signature) no API key is needed;
    without one, the usual key."""
    run_id = require_path_uuid(request, "run_id")
    name = request.path_params["name"]
    if NUL in name:  # compared with text in SQL, which PostgreSQL refuses; no attachment has it
        raise InvalidInput([problem(["path", "name"], NUL_MESSAGE, "value_error")])
    if "signature" in request.query_params:
        signed = query_params(request, SignedQuery)
        async with request.app.state.db_sessions() as db:
            key = await signing_key(db, signed.tenant)
            if not verified(key, signed.tenant, run_id, name, signed.expires, signed.signature):
                raise ApiError(403, "The attachment URL's signature is invalid or has expired")
            return await _attachment_response(Tenant(signed.tenant, True, db), run_id, name)
    async with request_tenant(request) as tenant:
        return await _attachment_response(tenant, run_id, name)


async def _attachment_response(tenant: Tenant, run_id: uuid.UUID, name: str) -> Response:
    found = await attachment(tenant, run_id, name)
    if found is None:
        raise NotFoundError(f"Attachment {name} of run {run_id} not found")
    # The stored type exactly as given: `media_type=` would append a charset to text/*.
    return Response(found.data, headers={"Content-Type": found.content_type})


ROUTES: list[Route] = [
    Route("/runs/query", query_route, methods=["POST"]),
    Route("/runs/{run_id}", read_route, methods=["GET"]),
    Route("/runs/{run_id}/attachments/{name:path}", attachment_route, methods=["GET"]),
]
