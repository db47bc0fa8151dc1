"""`POST /datasets/{dataset_id}/group/runs` (spec §5): the REST view of the group query."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.core.group_request import to_query, validate_group_request
from evalql.core.json import dumps
from evalql.core.problems import Problem
from evalql.queries.candidates import GroupQuery
from evalql.queries.results import Group
from evalql.rest.body import path_id_and_body
from evalql.rest.comparison_body import comparison_body
from evalql.rest.context import request_tenant
from evalql.rest.group_shape import group_json


def group_request(raw: Any) -> tuple[Any, list[Problem]]:
    """The JSON body is the group request itself; problems are located under `body`."""
    return validate_group_request(raw, ("body",))


async def group_runs_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        dataset_id, body = await path_id_and_body(request, "dataset_id", group_request)
        query = to_query(dataset_id, body)
        comparisons = request.app.state.comparisons
        rendered = await comparison_body(request, tenant, lambda: comparisons.cached_group_query(tenant, query),
                                         lambda: comparisons.group_query(tenant, query), ("rest", query.preview),
                                         lambda groups: _render(groups, query))
        return Response(rendered, media_type="application/json")


def _render(groups: list[Group], query: GroupQuery) -> bytes:
    deltas = query.baseline_session_id is not None
    return dumps({"groups": [group_json(g, query.preview, deltas) for g in groups]})


ROUTES: list[Route] = [Route("/datasets/{dataset_id}/group/runs", group_runs_route, methods=["POST"])]
