"""orjson responses and bounded JSON bodies."""

from __future__ import annotations

from typing import Any

import json

import orjson
from starlette.requests import Request
from starlette.responses import Response

MAX_BODY_BYTES = 20 * 1024 * 1024  # spec §1.3


def dumps(content: Any) -> bytes:
    try:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which JSON allows (a metadata value of
        # 1e300 is an integral number, so its group key is an int); stdlib json writes them.
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(content), status_code=status, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing (413) as soon as more than `limit` bytes have arrived."""
    from evalql.rest.errors import ApiError

    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"Request body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"Request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> tuple[Any, list[dict[str, Any]]]:
    """(value, problems): a body that is not JSON is a 422 `json_invalid` problem."""
    body = await read_body(request)
    try:
        return orjson.loads(body), []
    except orjson.JSONDecodeError as exc:
        return None, [{"loc": ["body"], "msg": f"JSON decode error: {exc}", "type": "json_invalid"}]
