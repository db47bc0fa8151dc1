"""Request bodies read whole, bounded in size and in time, before the app sees the request.

Routes authenticate (one pooled database connection) before they read their body, and a
body could take as long as its client liked: a few sockets that sent their headers and
then trickled or stalled took every connection of the pool. This middleware reads each
body first, so a route only starts once its body is here, and nothing the database owns
waits on a client. The body must arrive within `timeout` seconds plus one second per
`min_rate` bytes received so far: a stalled upload is answered 408 after `timeout`, a
trickle slower than `min_rate` soon after, and a large body at a decent rate never. Over
`max_bytes` (declared or received) it is 413 at once. Both answers close the connection
(the rest of the body is never read).

Then the app reads the buffered body as if from the socket; what the client sends later
(a disconnect) reaches the app as before, so streamed answers still see a hang-up.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evalql.core.json import dumps

log = logging.getLogger("evalql.http")


class BodyLimits:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float, min_rate: int,
                 encoded_allowance: int = 0) -> None:
        """`encoded_allowance`: extra bytes a compressed body (`Content-Encoding` other than
        identity) may take on the wire, as the route that decodes it allows."""
        self.app = app
        self.max_bytes, self.encoded_allowance = max_bytes, encoded_allowance
        self.timeout, self.min_rate = timeout, max(1, min_rate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _has_body(headers):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if content_encoding_of(headers) != "identity":
            limit += self.encoded_allowance
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refusal(413, f"Request body exceeds {limit} bytes")(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            deadline = start + self.timeout + size / self.min_rate
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                await _refusal(408, self._too_slow())(scope, receive, send)
                return
            if message["type"] == "http.disconnect":  # the client hung up mid-body: nobody to answer
                log.info("client disconnected before sending its whole body: %s %s", scope["method"], scope["path"])
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refusal(413, f"Request body exceeds {limit} bytes")(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _too_slow(self) -> str:
        return (f"The request body arrived too slowly: a body may take {self.timeout:g} s plus 1 s per "
                f"{self.min_rate} bytes")


def content_encoding_of(headers: Headers) -> str:
    """The body's declared `Content-Encoding`, lower-case; `identity` when none is declared."""
    return (headers.get("content-encoding") or "").strip().lower() or "identity"


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("0", "")
    return "transfer-encoding" in headers


def _refusal(status: int, detail: str) -> Response:
    # `Connection: close`: the unread rest of the body must not be taken for a next request.
    return Response(dumps({"detail": detail}), status, media_type="application/json",
                    headers={"Connection": "close"})


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body in one message, then the client's own messages (a later disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
