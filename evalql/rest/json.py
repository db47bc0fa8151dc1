"""orjson responses and bounded JSON bodies."""

from __future__ import annotations

from collections.abc import Sequence
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


# Bodies nest no deeper than this: the JSON encoders that store values and write answers
# back (orjson stops at 254 levels, the stdlib at Python's recursion limit) must not fail.
MAX_JSON_DEPTH = 200


def nesting_problems(value: Any, loc: Sequence[Any] = ("body",)) -> list[dict[str, Any]]:
    """A 422 problem if `value` nests deeper than MAX_JSON_DEPTH. Iterative, for the same reason."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return [{"loc": list(loc), "msg": f"JSON nesting is deeper than {MAX_JSON_DEPTH} levels",
                         "type": "value_error"}]
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return []


def parse_json(data: bytes, loc: Sequence[Any] = ("body",)) -> tuple[Any, list[dict[str, Any]]]:
    """(value, problems): text that is not JSON is a 422 `json_invalid` problem, and a
    value nested too deep to store or echo back a `value_error`."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return None, [{"loc": list(loc), "msg": f"JSON decode error: {exc}", "type": "json_invalid"}]
    # Nesting deeper than the bound needs more brackets than it: counting them (in C) spares
    # the walk over every value for almost all bodies.
    if data.count(b"{") + data.count(b"[") <= MAX_JSON_DEPTH:
        return value, []
    problems = nesting_problems(value, loc)
    return (None if problems else value), problems


async def read_json(request: Request) -> tuple[Any, list[dict[str, Any]]]:
    """(value, problems) of a JSON body (see `parse_json`)."""
    return parse_json(await read_body(request))
