"""REST error bodies (spec §1.4): `{"detail": "..."}`, or a 422 list of problems; one
handler per exception, registered by the app, so routes raise instead of answering."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from evalql.admission import Overloaded
from evalql.auth import AuthError
from evalql.busy import (
    OUTAGE_TYPES,
    PoolTimeout,
    busy_response,
    is_outage,
    is_statement_timeout,
    outage_response,
    pool_timeout_response,
    statement_timeout_response,
)
from evalql.core.errors import NotFoundError
from evalql.core.problems import InvalidInput, Problem
from evalql.ingest.workers import WorkerLost
from evalql.rest.responses import json_response

log = logging.getLogger("evalql.http")


class ApiError(Exception):
    def __init__(self, status: int, detail: str | list[Problem], headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


async def api_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_response({"detail": exc.detail}, exc.status, headers=exc.headers)


async def invalid_input_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    return json_response({"detail": exc.problems}, 422)


async def not_found_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotFoundError)
    return json_response({"detail": exc.detail}, 404)


async def auth_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return json_response({"detail": exc.detail}, exc.status)


async def http_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"detail": exc.detail}, exc.status_code, headers=exc.headers)


async def pool_timeout_handler(_request: Request, _exc: Exception) -> Response:
    return pool_timeout_response()


async def operational_error_handler(request: Request, exc: Exception) -> Response:
    """SQLite's writer lock stayed taken past the busy timeout (another process writing:
    writers of one process queue in `SerializedSession`): busy, retry. Anything else
    stays a server error."""
    if "database is locked" in str(getattr(exc, "orig", exc)):
        return busy_response("The database is busy with another writer. Retry shortly.")
    return await database_error_handler(request, exc)


async def database_error_handler(request: Request, exc: Exception) -> Response:
    """The database is down or restarting (evalql/busy.py): 503, and the next request
    after it is back is served as usual (the pool's pre-ping replaces dead connections).
    A statement the database stopped past the service's statement timeout: 504. Any other
    error of these types stays a server error."""
    if is_outage(exc):
        return outage_response()
    if is_statement_timeout(exc):
        seconds = request.app.state.settings.statement_timeout
        log.warning("statement cancelled after %g s: %s %s", seconds, request.method, request.url.path)
        return statement_timeout_response(seconds)
    raise exc


async def client_disconnect_handler(request: Request, _exc: Exception) -> Response:
    """The client hung up before its body arrived whole: nobody to answer, nothing wrong
    with the server. Noted at INFO (uvicorn would log it as "Exception in ASGI application")."""
    log.info("client disconnected before sending its whole body: %s %s", request.method, request.url.path)
    return Response(status_code=400)  # never sent: uvicorn drops what is sent to a closed connection


async def overloaded_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Overloaded)
    return busy_response(exc.detail)


async def worker_lost_handler(_request: Request, exc: Exception) -> Response:
    return busy_response(str(exc))


HANDLERS: dict[type[Exception], Any] = {
    **dict.fromkeys(OUTAGE_TYPES, database_error_handler),
    ApiError: api_error_handler, InvalidInput: invalid_input_handler, NotFoundError: not_found_handler,
    AuthError: auth_error_handler, HTTPException: http_error_handler, PoolTimeout: pool_timeout_handler,
    OperationalError: operational_error_handler, WorkerLost: worker_lost_handler,
    ClientDisconnect: client_disconnect_handler,
    Overloaded: overloaded_handler,
}
