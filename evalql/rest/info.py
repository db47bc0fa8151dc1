"""`GET /info` (spec §7.1): served without authentication."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import evalql
from evalql.rest.body import MAX_BODY_BYTES
from evalql.rest.responses import json_response

API_VERSION = "0.10.0"  # must stay >= 0.8.10 so the SDK sends feedback inside multipart requests


def info_body() -> dict:
    return {
        "version": API_VERSION,
        "license_expiration_time": None,
        # All six keys: a partial object crashes the SDK's tracing thread.
        "batch_ingest_config": {
            "use_multipart_endpoint": True, "scale_up_qsize_trigger": 1000, "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4, "size_limit": 100, "size_limit_bytes": MAX_BODY_BYTES,
        },
        "instance_flags": {"zstd_compression_enabled": True},
        "evalql_version": evalql.__version__,
    }


async def info_route(_request: Request) -> Response:
    return json_response(info_body())


ROUTES: list[Route] = [Route("/info", info_route, methods=["GET"])]
