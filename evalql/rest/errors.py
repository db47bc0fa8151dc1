"""REST error bodies (spec §1.4): `{"detail": "..."}` or a 422 list of problems."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeout  # re-exported for the app
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from evalql.auth import AuthError
from evalql.rest.json import json_response

Problem = dict[str, Any]


class ApiError(Exception):
    def __init__(self, status: int, detail: str | list[Problem], headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def problem(loc: list[Any], msg: str, type_: str, input_: Any = None) -> Problem:
    found: Problem = {"loc": loc, "msg": msg, "type": type_}
    if input_ is not None:
        found["input"] = input_
    return found


def problems_from(exc: ValidationError, prefix: list[Any]) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False, include_context=False):
        item = problem([*prefix, *err["loc"]], err["msg"], err["type"])
        if "input" in err and _jsonable(err["input"]):
            item["input"] = err["input"]
        out.append(item)
    return out


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


async def api_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response({"detail": exc.detail}, exc.status, headers=exc.headers)


async def auth_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return json_response({"detail": exc.detail}, exc.status)


async def http_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"detail": exc.detail}, exc.status_code, headers=exc.headers)


RETRY_AFTER_SECONDS = 1


def busy_response(detail: str) -> Response:
    """503 with Retry-After: the client should come back rather than be queued forever."""
    return json_response({"detail": detail}, 503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def pool_timeout_response() -> Response:
    """Every database connection of this process stayed busy past the pool timeout."""
    return busy_response("The server is busy: no database connection is free. Retry shortly.")


async def pool_timeout_handler(_request: Request, _exc: Exception) -> Response:
    return pool_timeout_response()


async def operational_error_handler(_request: Request, exc: Exception) -> Response:
    """SQLite's writer lock stayed taken past the busy timeout (another process writing:
    writers of one process queue in `SerializedSession`): busy, retry. Anything else
    stays a server error."""
    if "database is locked" in str(getattr(exc, "orig", exc)):
        return busy_response("The database is busy with another writer. Retry shortly.")
    raise exc
