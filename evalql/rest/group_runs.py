"""`POST /datasets/{dataset_id}/group/runs` (spec §5): the REST view of the group query."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
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
        # An answer already computed at this data version costs nothing: served at once.
        # Anything else takes a comparison slot (evalql/admission.py).
        answer = await comparisons.cached_group_query(tenant, query)
        async with nullcontext() if answer is not None else request.app.state.admission.admitted(tenant):
            if answer is None:
                answer = await comparisons.group_query(tenant, query)
            # A repeated request at an unchanged data version gets the same answer: its body is
            # rendered once per `preview`. A page of a few hundred runs takes tens of
            # milliseconds to render: in a worker thread, so the event loop goes on serving
            # other requests meanwhile (the GIL changes hands every few milliseconds).
            body = answer.renderings.get(("rest", query.preview))
            if body is None:
                body = answer.renderings[("rest", query.preview)] = await asyncio.to_thread(
                    _render, answer.result, query)
        return Response(body, media_type="application/json")


def _render(groups: list[Group], query: GroupQuery) -> bytes:
    deltas = query.baseline_session_id is not None
    return dumps({"groups": [group_json(g, query.preview, deltas) for g in groups]})


ROUTES: list[Route] = [Route("/datasets/{dataset_id}/group/runs", group_runs_route, methods=["POST"])]
