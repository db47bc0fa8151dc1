"""How many HTTP requests the app is serving at this moment.

Admission (evalql/admission.py) asks it whether requests other than comparisons are being
served, and if so rests a comparison slot before the next comparison starts. The count
is of requests from the moment their body has arrived (the middleware sits inside
evalql/body_limits.py: an upload still arriving takes no CPU) until their last byte is
answered: requests whose answer is being computed, read from the database or sent.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RequestsInFlight:
    """The count, shared by the middleware that keeps it and those who read it."""

    def __init__(self) -> None:
        self.count = 0


class CountRequests:
    def __init__(self, app: ASGIApp, *, counter: RequestsInFlight) -> None:
        self.app, self.counter = app, counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.counter.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.counter.count -= 1
