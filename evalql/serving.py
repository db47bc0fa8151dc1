"""`evalql serve`'s uvicorn: graceful stop, exit status, header deadline, logging.

On SIGTERM or SIGINT uvicorn stops accepting, lets requests in flight finish for up to
`Settings.graceful_timeout` seconds, cancels what is left (each request's transaction
rolls back with its session; ingest workers still applying a batch are terminated, see
`Workers.close`), and runs the app's shutdown. It then raises the signal again so that the
process dies of it (exit status 143 for SIGTERM); for evalql such a stop is the normal
way to end, so it exits 0.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from evalql.config import Settings
from evalql.header_timeout import with_header_timeout
from evalql.logs import logging_config


class EvalqlServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # Handled: the shutdown it asked for is done. Not raised again (exit 0).
            self._captured_signals.clear()


def server_config(app: ASGIApp, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    # uvicorn types the grace as an int; it is handed to asyncio.wait_for, which takes any number.
    grace: int = settings.graceful_timeout  # type: ignore[assignment]
    return uvicorn.Config(app, host=host, port=port, http=with_header_timeout(settings.header_timeout),
                          timeout_graceful_shutdown=grace, log_config=logging_config(), log_level="info")


def serve(app: ASGIApp, settings: Settings, *, host: str, port: int) -> None:
    EvalqlServer(server_config(app, settings, host=host, port=port)).run()


__all__ = ["EvalqlServer", "serve", "server_config"]
