"""`POST /datasets/{dataset_id}/group/runs` (spec §5): the REST view of the group query."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import ColumnElement
from starlette.requests import Request
from starlette.responses import Response

from evalql.errors import NotFoundError
from evalql.filters.errors import FilterError
from evalql.filters.runs import run_condition, validate_run_filter
from evalql.resolvers.candidates import GroupBy, GroupQuery
from evalql.resolvers.group_runs import answer_group_query
from evalql.rest.context import request_scope
from evalql.rest.errors import ApiError, Problem, problem, problems_from
from evalql.rest.fields import Int
from evalql.rest.json import json_response, read_json
from evalql.rest.params import parse_path_uuid
from evalql.rest.shapes import group_json

# Keys stay strings here: two spellings of one session (case) must AND their lists,
# which a UUID-keyed dict would silently collapse to the last one.
SessionFilters = dict[str, list[str]]


# The length is checked on the request as sent, before duplicates are dropped (spec §5.1).
SessionIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=10)]


class GroupRunsBody(BaseModel):
    session_ids: SessionIds
    group_by: GroupBy
    metadata_key: Annotated[str, Field(min_length=1, max_length=1024)]
    offset: Annotated[Int, Field(ge=0)] = 0
    limit: Annotated[Int, Field(ge=1, le=20)] = 10
    per_group_limit: Annotated[Int, Field(ge=1, le=10)] = 5
    preview: bool = False
    filters: SessionFilters | None = None


SESSION_IDS = TypeAdapter(list[uuid.UUID])


def filter_problems(raw: Any) -> list[Problem]:
    """Rules on `filters` that need `session_ids` too; checked whenever both parse, so they
    are reported together with every other problem."""
    if not isinstance(raw, dict) or not isinstance(raw.get("filters"), dict):
        return []
    try:
        session_ids: set[uuid.UUID] | None = set(SESSION_IDS.validate_python(raw.get("session_ids")))
    except ValidationError:
        session_ids = None  # reported by the model; filter strings are still checked
    out = []
    for raw_key, strings in raw["filters"].items():
        try:
            session_id = uuid.UUID(str(raw_key))
        except ValueError:
            out.append(problem(["body", "filters", raw_key], "Input should be a valid UUID", "uuid_parsing", raw_key))
            continue
        if session_ids is not None and session_id not in session_ids:
            out.append(problem(["body", "filters", raw_key], f"Session {session_id} is not in session_ids",
                               "value_error"))
            continue
        if not isinstance(strings, list):
            continue  # list_type, reported by the model
        for i, text in enumerate(strings):
            if not isinstance(text, str):
                continue  # string_type, reported by the model
            try:
                validate_run_filter(text)
            except FilterError as exc:
                out.append(problem(["body", "filters", str(session_id), i], exc.message, "value_error", text))
    return out


RunConditions = dict[uuid.UUID, list[ColumnElement[bool]]]


def compile_filters(filters: SessionFilters | None, dialect: str) -> tuple[RunConditions, dict[uuid.UUID, list[str]]]:
    """(conditions, strings) per session: the filter strings (already checked by
    `filter_problems`) compiled into SQL conditions on runs (spec §5.3 step 1), and the
    non-empty string lists themselves. Spellings of one session AND their lists."""
    strings: dict[uuid.UUID, list[str]] = {}
    for key, texts in (filters or {}).items():
        strings.setdefault(uuid.UUID(key), []).extend(texts)  # keys compare as UUIDs
    conditions = {
        session_id: [run_condition(text, dialect, prefix=f"s{n}_{i}") for i, text in enumerate(texts)]
        for n, (session_id, texts) in enumerate(strings.items()) if texts
    }
    return conditions, {s: t for s, t in strings.items() if t}


def to_query(dataset_id: uuid.UUID, body: GroupRunsBody, dialect: str) -> GroupQuery:
    """The group query of a validated body."""
    conditions, strings = compile_filters(body.filters, dialect)
    return GroupQuery(
        dataset_id=dataset_id, session_ids=list(dict.fromkeys(body.session_ids)),
        group_by=body.group_by, metadata_key=body.metadata_key, offset=body.offset,
        limit=body.limit, per_group_limit=body.per_group_limit, preview=body.preview,
        run_conditions=conditions, filter_strings=strings,
    )


B = TypeVar("B", bound=BaseModel)


async def validated_body(request: Request, model: type[B], *checks: Callable[[Any], list[Problem]]
                         ) -> tuple[uuid.UUID, B]:
    """Step 2 of spec §5.2 (after authentication): the path's dataset id and the body,
    with `filter_problems` and every extra check run on the raw body, all problems
    reported together as one 422."""
    dataset_id, problems = parse_path_uuid(request.path_params["dataset_id"], "dataset_id")
    raw, json_problems = await read_json(request)
    problems += json_problems
    body = None
    if not json_problems:
        try:
            body = model.model_validate(raw)
        except ValidationError as exc:
            problems += problems_from(exc, ["body"])
        problems += filter_problems(raw)
        for check in checks:
            problems += check(raw)
    if problems or body is None or dataset_id is None:
        raise ApiError(422, problems)
    return dataset_id, body


async def group_runs_route(request: Request) -> Response:
    async with request_scope(request) as scope:
        dataset_id, body = await validated_body(request, GroupRunsBody)
        query = to_query(dataset_id, body, scope.db.bind.dialect.name)
        try:
            groups = await answer_group_query(scope, query)
        except NotFoundError as exc:
            raise ApiError(404, exc.detail) from None
        return json_response({"groups": [group_json(g, query.preview) for g in groups]})
