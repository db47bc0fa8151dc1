"""`/graphql`: GraphiQL for browsers, authenticated GraphQL for everyone else.

The body is read (bounded) and checked as a GraphQL-over-HTTP request (`graphql_http.py`)
before a database connection is taken; auth then runs before the schema sees the request, so
that a missing or bad key is a plain 401/403 with a GraphQL-shaped body. The operation runs
under a deadline (`Settings.graphql_timeout`): past it the work is cancelled, its statement
with it (`db/interrupt.py`), and the answer is a 504 with code TIMEOUT. The per-request
session is closed, and its connection back in the pool, whatever happens inside execution.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from evalql.after_response import close_later
from evalql.auth import AuthError, authenticate
from evalql.busy import (
    PoolTimeout,
    is_outage,
    is_statement_timeout,
    outage_response,
    pool_timeout_response,
    statement_timeout_detail,
)
from evalql.db.interrupt import deadline
from evalql.db.tenant import Tenant
from evalql.graphiql import graphiql_html
from evalql.graphql_http import (
    Params,
    RequestError,
    answer_response,
    check_content_type,
    coded_response,
    error_response,
    parse_body,
    response_media_type,
)
from evalql.loaders import Loaders
from evalql.schema.context import Context

MAX_GRAPHQL_BODY = 1024 * 1024
MAX_QUERY_CHARS = 15_000
DEFAULT_TIMEOUT = 30.0  # seconds; Settings.graphql_timeout

log = logging.getLogger("evalql.graphql")

# Over HTTP: queries and mutations (subscriptions are served over WebSocket, graphql_ws.py).
HTTP_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class GraphQLEndpoint:
    def __init__(self, schema: object, db_sessions: object, *, graphiql: bool,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.schema = schema
        self.db_sessions = db_sessions
        self.graphiql = graphiql
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_once_started(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._serve(scope, receive, send_once_started)
        except Exception as exc:
            if started or not is_outage(exc):  # evalql/db/outage.py
                raise
            await outage_response()(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        media_type = response_media_type(request.headers.get("accept"))
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            page = (HTMLResponse(graphiql_html()) if self.graphiql
                    else error_response(404, "GraphiQL is disabled", "NOT_FOUND", media_type))
            await page(scope, receive, send)
            return
        try:
            params = await self._read(request)
        except RequestError as exc:
            log.info("GraphQL request refused: %s %s", exc.status, exc.message)
            await error_response(exc.status, exc.message, exc.code, media_type, exc.headers)(scope, receive, send)
            return
        response = await self._answer(request, params, media_type)
        await response(scope, receive, send)

    async def _answer(self, request: Request, params: Params, media_type: str) -> Response:
        # Closed once the response is out (evalql/after_response.py): what a mutation wrote, it
        # committed itself; what is left to end is a read's transaction.
        db = self.db_sessions()  # type: ignore[operator]
        try:
            return await self._answer_in(db, request, params, media_type)
        finally:
            await close_later(request.scope, db)

    async def _answer_in(self, db: AsyncSession, request: Request, params: Params, media_type: str) -> Response:
        try:
            principal = await authenticate(db, request.headers)
        except AuthError as exc:
            return error_response(exc.status, exc.detail, exc.code, media_type)
        except PoolTimeout:
            return pool_timeout_response()
        tenant = Tenant(principal.workspace_id, principal.read_only, db)
        context = Context(tenant=tenant, loaders=Loaders(tenant), comparisons=request.app.state.comparisons,
                          request=request)
        try:
            async with deadline(db, self.timeout):
                result = await self.schema.execute(  # type: ignore[attr-defined]
                    params.query, variable_values=params.variables, context_value=context,
                    operation_name=params.operation_name, allowed_operation_types=HTTP_OPERATIONS,
                    operation_extensions=params.extensions)
        except TimeoutError:
            log.warning("GraphQL operation cancelled after %g s (operationName %r)", self.timeout,
                        params.operation_name)
            return coded_response("TIMEOUT", f"The operation took longer than {self.timeout:g} s and was "
                                             "cancelled: ask for less (smaller pages, fewer fields)", media_type)
        except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError) as exc:
            return error_response(400, _operation_problem(exc), "BAD_USER_INPUT", media_type)
        # A database outage inside a resolver is the whole request's 503, as on REST, not a
        # field error in a 200 (`__call__` answers it).
        for error in result.errors or ():
            if is_outage(error.original_error):
                raise error.original_error
            # A statement cancelled past the statement timeout: the whole request's 504, as
            # its own deadline would be (`TIMEOUT`), not a field error.
            if is_statement_timeout(error.original_error):
                return coded_response("TIMEOUT", statement_timeout_detail(
                    request.app.state.settings.statement_timeout), media_type)
        return answer_response(dict(process_result(result)), media_type)

    @staticmethod
    async def _read(request: Request) -> Params:
        if request.method != "POST":
            # GraphiQL is the only GET; operations (mutations above all) are never sent by GET.
            raise RequestError(405, "Send GraphQL operations with POST and a JSON body (GET serves GraphiQL to "
                                    "browsers)", headers={"Allow": "POST"})
        check_content_type(request.headers.get("content-type"))
        body = await request.body()  # already read whole and bounded (body_limits.py): this bound is tighter
        if len(body) > MAX_GRAPHQL_BODY:
            raise RequestError(413, f"Request body exceeds {MAX_GRAPHQL_BODY} bytes")
        return parse_body(body, MAX_QUERY_CHARS)


def _operation_problem(exc: Exception) -> str:
    """Strawberry's words for a document without the operation to run over HTTP."""
    if isinstance(exc, InvalidOperationTypeError):
        return (exc.as_http_error_reason("POST")
                + "; subscriptions are served over WebSocket (graphql-transport-ws) at /graphql")
    if isinstance(exc, CannotGetOperationTypeError):
        return exc.as_http_error_reason()
    return "No GraphQL query found in the request"
