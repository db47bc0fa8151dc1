"""Run ingest routes (spec §7.5.3, §7.5.4): `POST /runs`, `PATCH /runs/{id}`,
`POST /runs/batch` and `POST /runs/multipart`.

Each request is validated whole, applied in one transaction and answered (202) only
after the commit, so a client that flushes and then reads sees its data (§7.7). Parsing
and applying happen in the ingest worker processes when there are any
(evalql/ingest/workers.py).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.rest.body import require_json, require_multipart
from evalql.rest.context import request_tenant
from evalql.rest.encoding import content_encoding, read_decoded_body
from evalql.rest.params import require_path_uuid
from evalql.rest.responses import json_response


async def _ingest(request: Request, route: str, run_id: uuid.UUID | None = None) -> Response:
    # The database session of authentication is given back before the body is read and
    # applied: the batch's transaction is the ingester's own (maybe in a worker process).
    async with request_tenant(request, write=True, close_at_exit=True) as tenant:
        workspace_id = tenant.workspace_id
    content_encoding(request)  # 415 before reading a body it could not decode
    (require_multipart if route == "multipart" else require_json)(request)
    body = await read_decoded_body(request)
    await request.app.state.ingest.apply(workspace_id, route, body, request.headers.get("content-type"), run_id)
    return json_response({}, 202)


async def post_run_route(request: Request) -> Response:
    return await _ingest(request, "post")


async def patch_run_route(request: Request) -> Response:
    return await _ingest(request, "patch", require_path_uuid(request, "run_id"))


async def batch_route(request: Request) -> Response:
    return await _ingest(request, "batch")


async def multipart_route(request: Request) -> Response:
    return await _ingest(request, "multipart")


ROUTES = [
    Route("/runs", post_run_route, methods=["POST"]),
    Route("/runs/batch", batch_route, methods=["POST"]),
    Route("/runs/multipart", multipart_route, methods=["POST"]),
    Route("/runs/{run_id}", patch_run_route, methods=["PATCH"]),
]
