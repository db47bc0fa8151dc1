"""Run ingest routes (spec §7.5.3, §7.5.4): `POST /runs`, `PATCH /runs/{id}`,
`POST /runs/batch` and `POST /runs/multipart`.

Each request is validated whole, applied in one transaction and answered (202) only
after the commit, so a client that flushes and then reads sees its data (§7.7).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.ingest.apply import Batch, apply_batch
from evalql.ingest.lock import ingest_transaction
from evalql.ingest.multipart import parse_parts
from evalql.ingest.wire import json_batch, multipart_batch, single_record
from evalql.rest.context import request_tenant
from evalql.rest.encoding import content_encoding, read_decoded_body
from evalql.rest.params import require_path_uuid
from evalql.rest.responses import json_response


async def _ingest(request: Request, build: Callable[[bytes], Batch]) -> Response:
    async with request_tenant(request, write=True) as tenant:
        content_encoding(request)  # 415 before reading a body it could not decode
        batch = build(await read_decoded_body(request))
        for attempt in (1, 2):
            try:
                async with ingest_transaction(tenant.db, tenant.workspace_id):
                    await apply_batch(tenant.db, tenant.workspace_id, batch)
                    await tenant.db.commit()
                break
            except IntegrityError:
                # Another request created a session of the same name between this batch's
                # lookup and its insert (session creation is not under the ingest lock).
                # The batch was rolled back whole (apply_batch never mutates it); applying
                # it again finds that session.
                await tenant.db.rollback()
                if attempt == 2:
                    raise
    return json_response({}, 202)


async def post_run_route(request: Request) -> Response:
    return await _ingest(request, lambda body: single_record(body, "post"))


async def patch_run_route(request: Request) -> Response:
    run_id = require_path_uuid(request, "run_id")
    return await _ingest(request, lambda body: single_record(body, "patch", run_id))


async def batch_route(request: Request) -> Response:
    return await _ingest(request, json_batch)


async def multipart_route(request: Request) -> Response:
    content_type = request.headers.get("content-type")
    return await _ingest(request, lambda body: multipart_batch(parse_parts(body, content_type)))


ROUTES = [
    Route("/runs", post_run_route, methods=["POST"]),
    Route("/runs/batch", batch_route, methods=["POST"]),
    Route("/runs/multipart", multipart_route, methods=["POST"]),
    Route("/runs/{run_id}", patch_run_route, methods=["PATCH"]),
]
