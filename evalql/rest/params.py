"""Query-string and path parameters validated by pydantic, reported as 422 problems (spec §1.4, §1.5)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request

from evalql.rest.errors import ApiError, Problem, problem, problems_from
from evalql.rest.json import read_json

Q = TypeVar("Q", bound=BaseModel)


def query_problems(request: Request, model: type[Q], lists: tuple[str, ...] = ()) -> tuple[Q | None, list[Problem]]:
    """The model of the query string: `lists` name repeatable keys (`id=a&id=b`); for the
    others the last value wins. Unknown keys are ignored."""
    raw: dict[str, Any] = {}
    for name in model.model_fields:
        values = request.query_params.getlist(name)
        if values:
            raw[name] = values if name in lists else values[-1]
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, problems_from(exc, ["query"])


def parse_path_uuid(value: str, name: str) -> tuple[uuid.UUID | None, list[Problem]]:
    try:
        return uuid.UUID(value), []
    except ValueError:
        return None, [problem(["path", name], "Input should be a valid UUID", "uuid_parsing", value)]


def require_path_uuid(request: Request, name: str) -> uuid.UUID:
    found, problems = parse_path_uuid(request.path_params[name], name)
    if found is None:
        raise ApiError(422, problems)
    return found


async def parsed_body(request: Request, adapter: Any) -> Any:
    """The JSON body validated by a pydantic model or TypeAdapter; any problem is a 422."""
    raw, problems = await read_json(request)
    if problems:
        raise ApiError(422, problems)
    try:
        return adapter.validate_python(raw) if isinstance(adapter, TypeAdapter) else adapter.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(422, problems_from(exc, ["body"])) from None
