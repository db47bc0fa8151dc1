"""`POST /datasets/{dataset_id}/runs` (spec §6): examples with their runs, paged by example.

A read endpoint (a `read` key is enough). The request's rules are the core's
(`core/dataset_runs_request.py`, shared with GraphQL `datasetRuns`); validation, filters
and the error order are those of group/runs (§5.1, §5.2), through the same helpers.
Answered by the comparison engine (`engine/answer.py`), with the rendered body kept with
the cached answer, as group/runs is.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.core.dataset_runs_request import to_query, validate_dataset_runs_request
from evalql.core.json import dumps
from evalql.core.problems import Problem
from evalql.queries.results import ExampleWithRuns
from evalql.rest.body import path_id_and_body
from evalql.rest.comparison_body import comparison_body
from evalql.rest.context import request_tenant
from evalql.rest.group_shape import example_with_runs_json


def dataset_runs_request(raw: Any) -> tuple[Any, list[Problem]]:
    """The JSON body is the request itself (`core/dataset_runs_request.py`); problems are
    located under `body`."""
    return validate_dataset_runs_request(raw, ("body",))


async def dataset_runs_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        dataset_id, body = await path_id_and_body(request, "dataset_id", dataset_runs_request)
        comparisons, query = request.app.state.comparisons, to_query(dataset_id, body)
        rendered = await comparison_body(request, tenant, lambda: comparisons.cached_dataset_runs(tenant, query),
                                         lambda: comparisons.dataset_runs(tenant, query), ("rest", body.preview),
                                         lambda examples: _render(examples, body.preview))
        return Response(rendered, media_type="application/json")


def _render(examples: list[ExampleWithRuns], preview: bool) -> bytes:
    return dumps([example_with_runs_json(e, preview) for e in examples])


ROUTES: list[Route] = [Route("/datasets/{dataset_id}/runs", dataset_runs_route, methods=["POST"])]
