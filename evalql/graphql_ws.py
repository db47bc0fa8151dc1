"""`/graphql` over WebSocket: GraphQL subscriptions (evalql/schema/subscription.py).

The protocol is `graphql-transport-ws` (the `graphql-ws` library's), spoken by Strawberry's
own implementation; evalql adds the caller, tenancy and limits of HTTP queries:

* Handshake: subprotocol `graphql-transport-ws` (any other: close 4406). The client sends
  `connection_init` within CONNECTION_INIT_TIMEOUT seconds (else 4408) with the API key in
  its payload, `{"X-API-Key": "<key>"}`, `{"headers": {"X-API-Key": "<key>"}}` or the same
  with `Authorization: Bearer <key>` (an `X-Tenant-Id` is checked as over HTTP); without
  one there, the upgrade request's own headers are used. A missing, invalid or revoked key
  or a foreign tenant: close 4403 (reason says which). `connection_ack`'s payload names the
  workspace and whether the key is read-only. A second `connection_init`: 4429.
* Operations: `subscribe` before the ack: 4401; an id in use: 4409; a message that is not
  JSON or not of the protocol, or larger than MAX_MESSAGE_BYTES: 4400. A query longer than
  MAX_QUERY_CHARS, or a subscribe past MAX_OPERATIONS operations running on the
  connection: an `error` message for that id (BAD_USER_INPUT), the connection stays. The
  depth, alias and token limits and error codes are the schema's (graphql.md §2), as over
  HTTP; errors before the stream starts (bad input, NOT_FOUND) come as `error`, errors of
  a running stream in `next` followed by `complete`. `ping` gets `pong`. Queries and
  mutations may be sent too (one `next`, then `complete`).
* The key is checked again before every event and every KEY_RECHECK_SECONDS: once revoked,
  the connection closes with 4403.
* Connections: at most MAX_CONNECTIONS per server process (more are refused at the
  handshake, HTTP 403) and MAX_CONNECTIONS_PER_KEY per API key per process (close 1013,
  try again later).

No database session is held between events: each event, query or key check opens its own
(evalql/schema/live.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import NonTextMessageReceived
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from evalql.auth import AuthError, authenticate, presented_key
from evalql.busy import PoolTimeout, is_outage
from evalql.core.json import dumps
from evalql.db.writes import hash_api_key
from evalql.graphql_app import MAX_GRAPHQL_BODY, MAX_QUERY_CHARS
from evalql.schema.live import Caller, LiveContext

log = logging.getLogger("evalql.graphql")

CONNECTION_INIT_TIMEOUT = 10.0  # seconds
MAX_OPERATIONS = 10  # running operations (subscriptions) per connection
MAX_CONNECTIONS = 1000  # per server process
MAX_CONNECTIONS_PER_KEY = 20  # per API key per server process
MAX_MESSAGE_BYTES = MAX_GRAPHQL_BODY
KEY_RECHECK_SECONDS = 10.0  # a revoked key's connections close within about this long
CLOSE_REASON_BYTES = 123

# Headers a connection_init payload may carry, as HTTP would.
AUTH_HEADERS = ("x-api-key", "authorization", "x-tenant-id")


def auth_headers(params: Mapping[str, Any], upgrade: Headers) -> Headers:
    """The auth headers of a connection: the connection_init payload's (top level or under
    "headers", names in any case), else the upgrade request's."""
    given: dict[str, str] = {}
    for source in (params.get("headers"), params):
        if isinstance(source, Mapping):
            given.update({k.lower(): v for k, v in source.items()
                          if isinstance(k, str) and k.lower() in AUTH_HEADERS and isinstance(v, str)})
    if "x-api-key" not in given and "authorization" not in given:
        given.update({name: upgrade[name] for name in AUTH_HEADERS if name in upgrade and name not in given})
    return Headers(given)


class _Socket(ASGIWebSocketAdapter):
    """Messages as text frames of at most MAX_MESSAGE_BYTES; `close` once, with the reason
    the connection was refused with (Strawberry's own is a bare "Forbidden")."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    raise NonTextMessageReceived
                if len(text) > MAX_MESSAGE_BYTES or len(text.encode()) > MAX_MESSAGE_BYTES:
                    await self.close(4400, f"Message exceeds {MAX_MESSAGE_BYTES} bytes")
                    return
                try:
                    decoded = self.view.decode_json(text)
                except ValueError:
                    if ignore_parsing_errors:
                        continue
                    await self.close(4400, "WebSocket message must be valid JSON")
                    return
                yield decoded
        except WebSocketDisconnect:
            return

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            return
        refusal = getattr(self.ws.state, "evalql_refusal", None)
        if code == 4403 and refusal is not None:
            code, reason = refusal
        reason = reason.encode()[:CLOSE_REASON_BYTES].decode(errors="ignore")  # the most a close frame holds
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await self.ws.close(code=code, reason=reason)


class _Handler(BaseGraphQLTransportWSHandler[LiveContext, None]):
    view: GraphQLWebSocket
    context: LiveContext
    _key_check: asyncio.Task | None = None

    async def handle_connection_init(self, message: Any) -> None:
        self.context.close = self.websocket.close
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._key_check is None:
            self._key_check = asyncio.create_task(self._check_key_periodically())

    async def _check_key_periodically(self) -> None:
        while True:
            await asyncio.sleep(KEY_RECHECK_SECONDS)
            try:
                async with self.context.db_sessions() as db:
                    valid = await self.context.key_is_valid(db)
            except Exception as exc:  # the database is busy or away: check again later
                log.warning("re-checking a subscription connection's API key failed: %s", exc,
                            exc_info=not is_outage(exc))
                continue
            if not valid:
                await self.context.revoked()
                return

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message.get("payload")
        if not isinstance(message.get("id"), str) or not isinstance(payload, dict) \
                or not isinstance(payload.get("query"), str):
            await self.handle_invalid_message("Invalid subscribe message")
            return
        if self.connection_acknowledged and message["id"] not in self.operations:
            problem = None
            if len(payload["query"]) > MAX_QUERY_CHARS:
                problem = f"Query exceeds {MAX_QUERY_CHARS} characters"
            elif len(self.operations) >= MAX_OPERATIONS:
                problem = f"Subscription limit reached: at most {MAX_OPERATIONS} operations per connection"
            if problem is not None:
                await self.send_message({"id": message["id"], "type": "error", "payload": [
                    {"message": problem, "extensions": {"code": "BAD_USER_INPUT"}}]})
                return
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[LiveContext, None]) -> None:
        # A scope for queries and mutations sent over the socket; subscriptions enter their own per event.
        async with self.context.scope():
            await super().run_operation(operation)

    async def shutdown(self) -> None:
        if self._key_check is not None:
            self._key_check.cancel()
        await super().shutdown()
        self.view.forget(self.context)


class GraphQLWebSocket(GraphQL[LiveContext, None]):
    """The WebSocket side of /graphql (app.py routes HTTP to graphql_app.GraphQLEndpoint)."""

    graphql_transport_ws_handler_class = _Handler
    websocket_adapter_class = _Socket

    def __init__(self, schema: Any, db_sessions: Any, *, allowed_origins: tuple[str, ...] = ()) -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=False,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         connection_init_wait_timeout=timedelta(seconds=CONNECTION_INIT_TIMEOUT),
                         max_subscriptions_per_connection=None,  # _Handler's own check, with a code
                         allowed_origins=allowed_origins)
        self.db_sessions = db_sessions
        self.connections = 0
        self.per_key: Counter[str] = Counter()

    def encode_json(self, data: object) -> str:
        # Text frames: graphql-ws clients read JSON text (bytes would reach a browser as a Blob).
        return dumps(data).decode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError("GraphQLWebSocket serves WebSocket connections only")
        if self.connections >= MAX_CONNECTIONS:
            await WebSocket(scope, receive, send).close(code=1013)  # before accepting: HTTP 403
            return
        self.connections += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.connections -= 1

    async def get_context(self, request: Any, response: Any) -> LiveContext:
        state = request.app.state
        return LiveContext(db_sessions=self.db_sessions, comparisons=state.comparisons, changes=state.changes,
                           request=request)

    async def on_ws_connect(self, context: LiveContext) -> dict[str, object]:
        socket: WebSocket = context.request
        headers = auth_headers(context.connection_params, socket.headers)
        try:
            async with self.db_sessions() as db:
                principal = await authenticate(db, headers)
        except AuthError as exc:
            socket.state.evalql_refusal = (4403, f"Forbidden: {exc.detail}")
            raise ConnectionRejectionError from None
        except PoolTimeout:
            socket.state.evalql_refusal = (1013, "The server is busy: no database connection is free")
            raise ConnectionRejectionError from None
        except Exception as exc:
            if not is_outage(exc):  # evalql/busy.py: answered as a 503 is on HTTP
                raise
            socket.state.evalql_refusal = (1013, "The database is unavailable (down or restarting)")
            raise ConnectionRejectionError from None
        key = hash_api_key(presented_key(headers) or "")
        if self.per_key[key] >= MAX_CONNECTIONS_PER_KEY:
            socket.state.evalql_refusal = (1013, f"Too many connections: at most {MAX_CONNECTIONS_PER_KEY} per "
                                                 "API key; try again later")
            raise ConnectionRejectionError
        self.per_key[key] += 1
        socket.state.evalql_key = key
        context.caller = Caller(principal.workspace_id, principal.read_only, headers)
        return {"workspaceId": str(principal.workspace_id), "readOnly": principal.read_only}

    def forget(self, context: LiveContext) -> None:
        """A connection ended: it no longer counts against its key."""
        key = getattr(context.request.state, "evalql_key", None)
        if key is not None:
            self.per_key[key] -= 1
            if self.per_key[key] <= 0:
                del self.per_key[key]
            del context.request.state.evalql_key


__all__ = ["GraphQLWebSocket", "auth_headers"]
