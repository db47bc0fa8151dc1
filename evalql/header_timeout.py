"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for a request's headers.

uvicorn times out only an idle keep-alive connection, and any byte received cancels that
timer: a client that opens a connection and sends nothing, or sends its headers a byte at
a time, holds the connection (and a file descriptor, and a slot of any concurrency limit)
forever. Here a connection has `header_timeout` seconds, from when it opens or its last
response ends, to complete a request's headers; past that it is closed. The body is not
covered (the app bounds its reads, per request), nor a WebSocket once upgraded.

The head is bounded too: h11 refuses one that arrives in pieces past 16 KiB, but parses
whole whatever arrives in one read (up to 256 KiB), with any number of headers. So a head
of more than `MAX_HEAD_BYTES`, or more than `MAX_HEADERS` lines, is answered 431 and the
connection closed, before h11 sees it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("evalql.http")

MAX_HEAD_BYTES = 16 * 1024  # h11's own bound for a head that arrives in pieces
MAX_HEADERS = 100  # Apache's default (LimitRequestFields)
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
              b"connection: close\r\ncontent-length: %d\r\n\r\n%s")


class HeaderTimeoutH11Protocol(H11Protocol):
    """Passed to uvicorn as `http=`; reads `header_timeout` from the class, which
    `with_header_timeout` sets (uvicorn builds protocols from the class alone)."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow_headers()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            message = f"Request headers exceed {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} lines".encode()
            self.transport.write(_TOO_LARGE % (len(message), message))
            self.transport.close()
            return
        super().data_received(data)
        self._follow_headers()

    def _head_too_large(self, data: bytes) -> bool:
        """The head so far (what h11 holds, usually nothing, and `data`), up to its end."""
        buffered = self.conn.trailing_data[0]
        head = buffered + data if buffered else data
        end = head.find(b"\r\n\r\n")
        if end >= 0:
            head = head[:end]
        return len(head) > MAX_HEAD_BYTES or head.count(b"\n") > MAX_HEADERS

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def _follow_headers(self) -> None:
        """Armed while the connection waits for a request's headers (h11: the client is
        IDLE), never reset by the bytes of those headers; stopped once they are complete."""
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._header_deadline is None:
                self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)
        else:
            self._stop_deadline()

    def _stop_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.debug("closed a connection from %s: no complete request headers within %gs",
                      self.client, self.header_timeout)
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutH11Protocol]:
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout": seconds})


__all__ = ["HeaderTimeoutH11Protocol", "with_header_timeout"]
