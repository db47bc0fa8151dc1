"""Query-string and path parameters validated by pydantic, reported as 422 problems (spec §1.4, §1.5)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from evalql.core.fields import NUL, NUL_MESSAGE
from evalql.core.problems import InvalidInput, Problem, problem, problems_from

Q = TypeVar("Q", bound=BaseModel)


def query_problems(request: Request, model: type[Q], lists: tuple[str, ...] = ()) -> tuple[Q | None, list[Problem]]:
    """The model of the query string: `lists` name repeatable keys (`id=a&id=b`); for the
    others the last value wins. Unknown keys are ignored."""
    raw: dict[str, Any] = {}
    refused: list[Problem] = []
    for name in model.model_fields:
        values = request.query_params.getlist(name)
        nul = [i for i, value in enumerate(values) if NUL in value]
        if nul:  # compared with text in SQL: PostgreSQL refuses it
            loc = ["query", name, nul[0]] if name in lists else ["query", name]
            refused.append(problem(loc, NUL_MESSAGE, "value_error"))
        elif values:
            raw[name] = values if name in lists else values[-1]
    try:
        query = model.model_validate(raw)
    except ValidationError as exc:
        return None, [*refused, *problems_from(exc, ["query"])]
    return (None, refused) if refused else (query, [])


def query_params(request: Request, model: type[Q], lists: tuple[str, ...] = ()) -> Q:
    """The model of the query string, or a 422 listing every problem (see `query_problems`)."""
    query, problems = query_problems(request, model, lists)
    if query is None:
        raise InvalidInput(problems)
    return query


def parse_path_uuid(value: str, name: str) -> tuple[uuid.UUID | None, list[Problem]]:
    try:
        return uuid.UUID(value), []
    except ValueError:
        return None, [problem(["path", name], "Input should be a valid UUID", "uuid_parsing", value)]


def require_path_uuid(request: Request, name: str) -> uuid.UUID:
    found, problems = parse_path_uuid(request.path_params[name], name)
    if found is None:
        raise InvalidInput(problems)
    return found
