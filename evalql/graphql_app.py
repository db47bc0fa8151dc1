"""`/graphql`: GraphiQL for browsers, authenticated GraphQL for everyone else.

Auth runs before Strawberry sees the request so that a missing or bad key is a plain
401/403 with a GraphQL-shaped body, and the per-request DB session is closed after
the response whatever happens inside execution.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from evalql.auth import AuthError, authenticate
from evalql.busy import PoolTimeout, is_outage, outage_response, pool_timeout_response
from evalql.core.json import dumps
from evalql.db.tenant import Tenant
from evalql.graphiql import graphiql_html
from evalql.loaders import Loaders
from evalql.schema.context import Context

MAX_GRAPHQL_BODY = 1024 * 1024
MAX_QUERY_CHARS = 15_000


def _error(status: int, message: str, code: str) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class EvalqlGraphQL(GraphQL[Context, None]):
    def encode_json(self, data: object) -> bytes:
        # The same encoder as REST answers (orjson; the stdlib for integers beyond 64 bits):
        # Strawberry's default, the stdlib's, costs a millisecond on a comparison page.
        return dumps(data)

    async def process_result(self, request: Any, result: Any) -> Any:
        # A database outage inside a resolver is the whole request's 503, as on REST, not
        # a field error in a 200 (`GraphQLEndpoint.__call__` answers it).
        for error in result.errors or ():
            if is_outage(error.original_error):
                raise error.original_error
        return await super().process_result(request, result)

    async def get_context(self, request: Any, response: Any) -> Context:
        tenant: Tenant = request.scope["evalql.tenant"]
        return Context(tenant=tenant, loaders=Loaders(tenant), comparisons=request.app.state.comparisons,
                       request=request, response=response)


class GraphQLEndpoint:
    def __init__(self, schema: Any, db_sessions: Any, *, graphiql: bool) -> None:
        self.graphql = EvalqlGraphQL(schema, graphql_ide=None, allow_queries_via_get=False)
        self.db_sessions = db_sessions
        self.graphiql = graphiql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_once_started(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._serve(scope, receive, send_once_started)
        except Exception as exc:
            if started or not is_outage(exc):  # evalql/busy.py
                raise
            await outage_response()(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            page = HTMLResponse(graphiql_html()) if self.graphiql else _error(404, "GraphiQL is disabled", "NOT_FOUND")
            await page(scope, receive, send)
            return
        response, body = await self._read_limited(request)
        if response is not None:
            await response(scope, receive, send)
            return
        async with self.db_sessions() as db:
            try:
                principal = await authenticate(db, request.headers)
            except AuthError as exc:
                await _error(exc.status, exc.detail, exc.code)(scope, receive, send)
                return
            except PoolTimeout:
                await pool_timeout_response()(scope, receive, send)
                return
            scope["evalql.tenant"] = Tenant(principal.workspace_id, principal.read_only, db)
            await self.graphql(scope, _replay(body), send)

    async def _read_limited(self, request: Request) -> tuple[Response | None, bytes]:
        if request.method not in ("POST", "GET"):
            return Response(status_code=405, headers={"Allow": "GET, POST"}), b""
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_GRAPHQL_BODY:
                return _error(413, f"Request body exceeds {MAX_GRAPHQL_BODY} bytes", "BAD_USER_INPUT"), b""
            chunks.append(chunk)
        body = b"".join(chunks)
        try:
            query = orjson.loads(body).get("query") if body else None
        except (orjson.JSONDecodeError, AttributeError):
            query = None
        if isinstance(query, str) and len(query) > MAX_QUERY_CHARS:
            return _error(400, f"Query exceeds {MAX_QUERY_CHARS} characters", "BAD_USER_INPUT"), b""
        return None, body


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
