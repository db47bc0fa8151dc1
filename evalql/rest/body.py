"""The one way a REST route reads its body (spec §1.3, §1.4): bounded bytes, then JSON,
then validation, with every problem of the request reported together as one 422."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request

from evalql.body_limits import content_encoding_of
from evalql.core.json import nul_problems, parse_json
from evalql.core.problems import InvalidInput, Problem, problems_from
from evalql.rest.errors import ApiError
from evalql.rest.params import parse_path_uuid

MAX_BODY_BYTES = 20 * 1024 * 1024  # spec §1.3

# A pydantic model, a TypeAdapter, or a function of the raw JSON to (value or None, problems).
Validator = type[BaseModel] | TypeAdapter[Any] | Callable[[Any], tuple[Any, list[Problem]]]
Check = Callable[[Any], list[Problem]]


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing (413) as soon as more than `limit` bytes have arrived."""
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


JSON_MEDIA_TYPE = "application/json"
MULTIPART_MEDIA_TYPE = "multipart/form-data"


def media_type(request: Request) -> str | None:
    """The Content-Type without its parameters, lower case; None when absent or empty."""
    value = request.headers.get("content-type")
    return (value.split(";", 1)[0].strip().lower() or None) if value is not None else None


def unsupported_media_type(request: Request, expected: str) -> ApiError:
    return ApiError(415, f"Unsupported Content-Type {request.headers.get('content-type')!r}: "
                         f"this endpoint takes {expected}")


def require_json(request: Request) -> None:
    """A 415 unless the body is declared JSON (`application/json`, `application/…+json`, any
    parameters) or not declared at all (curl and older clients send none): a form or text
    body is not parsed as JSON by accident."""
    media = media_type(request)
    if media is None or media == JSON_MEDIA_TYPE or (media.startswith("application/") and media.endswith("+json")):
        return
    raise unsupported_media_type(request, JSON_MEDIA_TYPE)


def require_identity(request: Request) -> None:
    """Only the ingest routes decode compressed bodies (`encoding.py`, spec §1.3): elsewhere
    a compressed body is a 415 naming its encoding, not JSON that fails to parse."""
    if content_encoding_of(request.headers) != "identity":
        raise ApiError(415, f"Unsupported Content-Encoding: {request.headers.get('content-encoding')} "
                            "(this endpoint takes identity)")


def require_multipart(request: Request) -> None:
    if media_type(request) != MULTIPART_MEDIA_TYPE:
        raise unsupported_media_type(request, f"{MULTIPART_MEDIA_TYPE} with a boundary")


def validate(validator: Validator, raw: Any, loc: Sequence[Any] = ("body",)) -> tuple[Any, list[Problem]]:
    """(value, []) or (None, problems located under `loc`)."""
    if not isinstance(validator, (TypeAdapter, type)):
        return validator(raw)
    try:
        if isinstance(validator, TypeAdapter):
            return validator.validate_python(raw), []
        return cast(type[BaseModel], validator).model_validate(raw), []
    except ValidationError as exc:
        return None, problems_from(exc, list(loc))


async def json_body(request: Request, validator: Validator, *checks: Check,
                    found: Sequence[Problem] = ()) -> Any:
    """The body, validated. `checks` see the raw JSON (rules across fields, reported with
    the field problems); `found` are problems the route already has (path, query string),
    reported first. Any problem at all is a 422 listing them all; a body that is not
    declared JSON is a 415 before it is read."""
    require_json(request)
    require_identity(request)
    data = await read_body(request)
    raw, problems = parse_json(data)
    problems = [*found, *problems]
    value = None
    if len(problems) == len(found):  # the body is JSON
        value, invalid = validate(validator, raw)
        problems += invalid
        for check in checks:
            problems += check(raw)
        if not problems:  # the model's own NUL rules, where it has them, say it better
            problems = nul_problems(data, raw)
    if problems or value is None:
        raise InvalidInput(problems)
    return value


async def path_id_and_body(request: Request, name: str, validator: Validator, *checks: Check) -> tuple[uuid.UUID, Any]:
    """A path id and the body, checked together (spec §5.2: after authentication, the path
    and the body's problems are one 422)."""
    found, problems = parse_path_uuid(request.path_params[name], name)
    body = await json_body(request, validator, *checks, found=problems)
    if found is None:  # a problem was found, so json_body raised; this keeps the types honest
        raise InvalidInput(problems)
    return found, body
