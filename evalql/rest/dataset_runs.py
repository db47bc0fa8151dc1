"""`POST /datasets/{dataset_id}/runs` (spec §6): examples with their runs, paged by example.

A read endpoint (a `read` key is enough). Validation, filters and the error order are
those of group/runs (§5.1, §5.2), through the same helpers. Answered by the comparison
engine (`engine/answer.py`), with the rendered body kept with the cached answer, as
group/runs is.
"""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typing_extensions import TypedDict

from evalql.core.fields import Int
from evalql.core.group_request import SESSION_IDS, SessionFilters, SessionIds, compile_filters, filter_problems
from evalql.core.json import dumps
from evalql.core.problems import Problem, problem
from evalql.queries.dataset_runs import DatasetRunsQuery, FeedbackSort
from evalql.rest.body import path_id_and_body
from evalql.rest.context import request_tenant
from evalql.rest.group_shape import example_with_runs_json

FEEDBACK_PREFIX = "feedback."


class SortOrder(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


# A TypedDict rather than a model so that a non-object is reported as `dict_type` (§1.4).
class SortParams(TypedDict):
    sort_by: Annotated[str, Field(min_length=1)]  # "feedback.<key>" or "<key>": a feedback key
    sort_order: NotRequired[SortOrder]  # LangSmith's default: DESC


class DatasetRunsBody(BaseModel):
    session_ids: SessionIds
    offset: Annotated[Int, Field(ge=0)] = 0
    limit: Annotated[Int, Field(ge=1, le=100)] = 10
    preview: bool = False
    filters: SessionFilters | None = None
    example_ids: Annotated[list[uuid.UUID], Field(max_length=1000)] | None = None
    comparative_experiment_id: uuid.UUID | None = None  # accepted and ignored (spec §6)
    sort_params: SortParams | None = None


def body_filter_problems(raw: Any) -> list[Problem]:
    return filter_problems(raw, ("body",))


def sort_key(sort_by: str) -> str:
    return sort_by[len(FEEDBACK_PREFIX):] if sort_by.startswith(FEEDBACK_PREFIX) else sort_by


def sort_problems(raw: Any) -> list[Problem]:
    """Rules on `sort_params` beyond its shape: it names a key, and it needs exactly one
    session (after duplicates are dropped: `[A, A]` is one session). Checked on the raw
    body so they are reported together with every other problem."""
    if not isinstance(raw, dict) or raw.get("sort_params") is None:
        return []
    out = []
    params = raw["sort_params"]
    sort_by = params.get("sort_by") if isinstance(params, dict) else None
    if isinstance(sort_by, str) and sort_by and not sort_key(sort_by):
        out.append(problem(["body", "sort_params", "sort_by"], f"sort_by {sort_by!r} names no feedback key",
                           "value_error", sort_by))
    try:
        sessions = dict.fromkeys(SESSION_IDS.validate_python(raw.get("session_ids")))
    except ValidationError:
        return out  # reported by the model
    if len(sessions) != 1:
        out.append(problem(["body", "sort_params"],
                           f"sort_params needs exactly one session id, got {len(sessions)}", "value_error"))
    return out


def to_query(dataset_id: uuid.UUID, body: DatasetRunsBody) -> DatasetRunsQuery:
    conditions, strings = compile_filters(body.filters)
    sort = None
    if body.sort_params is not None:
        order = body.sort_params.get("sort_order", SortOrder.DESC)
        sort = FeedbackSort(sort_key(body.sort_params["sort_by"]), descending=order is SortOrder.DESC)
    return DatasetRunsQuery(
        dataset_id=dataset_id, session_ids=list(dict.fromkeys(body.session_ids)), offset=body.offset,
        limit=body.limit, run_conditions=conditions, filter_strings=strings, example_ids=body.example_ids,
        sort=sort,
    )


async def dataset_runs_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        dataset_id, body = await path_id_and_body(request, "dataset_id", DatasetRunsBody, body_filter_problems,
                                                  sort_problems)
        answer = await request.app.state.comparisons.dataset_runs(tenant, to_query(dataset_id, body))
        # A repeated request at an unchanged data version gets the same answer: its body is
        # rendered once per `preview`.
        rendered = answer.renderings.get(("rest", body.preview))
        if rendered is None:
            rendered = answer.renderings[("rest", body.preview)] = dumps(
                [example_with_runs_json(e, body.preview) for e in answer.result])
        return Response(rendered, media_type="application/json")


ROUTES: list[Route] = [Route("/datasets/{dataset_id}/runs", dataset_runs_route, methods=["POST"])]
