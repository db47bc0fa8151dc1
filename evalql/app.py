"""The Starlette application factory."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from evalql import api_docs, gc_tuning, web
from evalql.admission import Admission, Limits
from evalql.after_response import AfterResponse
from evalql.body_limits import BodyLimits
from evalql.config import Settings
from evalql.db.change_feed import ChangeFeed
from evalql.db.engine import create_engine, session_factory, single_read_engine
from evalql.db.migrate import ensure_schema
from evalql.engine.answer import ComparisonEngine
from evalql.engine.log_pruner import LogPruner
from evalql.graphiql import graphiql_static_app
from evalql.graphql_app import GraphQLEndpoint
from evalql.graphql_ws import GraphQLWebSocket
from evalql.in_flight import CountRequests, RequestsInFlight
from evalql.ingest.workers import ingest_for
from evalql.rest.body import MAX_BODY_BYTES
from evalql.rest.encoding import FRAMING_ALLOWANCE
from evalql.rest.errors import HANDLERS
from evalql.rest.routes import API_PREFIX
from evalql.rest.routes import ROUTES as REST_ROUTES
from evalql.schema import build_schema


class CanonicalPath:
    """Serve every REST path under `/api/v1/<path>` and `/<path>`, trailing slash
    ignored (spec §1.1), by rewriting to the unprefixed form before routing. `/api/v1`
    itself stays as it is (it redirects to the reference, evalql/api_docs.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/") or "/"
            if path.startswith(API_PREFIX + "/"):
                path = path[len(API_PREFIX):]
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app. Also a factory for running several workers:
    `uvicorn --factory evalql.app:create_app --workers 4` (settings from the environment)."""
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url, pool_size=settings.pool_size, max_overflow=settings.max_overflow,
                           pool_timeout=settings.pool_timeout, check_tenancy=settings.check_tenancy,
                           statement_timeout=settings.statement_timeout)
    db_sessions = session_factory(engine)
    reads_engine = single_read_engine(engine, pool_size=settings.pool_size, max_overflow=settings.max_overflow,
                                      pool_timeout=settings.pool_timeout, check_tenancy=settings.check_tenancy,
                                      statement_timeout=settings.statement_timeout)
    single_read_sessions = session_factory(reads_engine, single_reads=True)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ensure_schema(engine)  # SQLite migrates itself; PostgreSQL refuses if behind
        pruner = asyncio.create_task(LogPruner(db_sessions, horizon=settings.change_log_horizon).run())
        await app.state.ingest.start()
        if settings.gc_tuning:
            gc_tuning.tune()  # last: what start-up made is frozen with the rest
        yield
        pruner.cancel()
        await app.state.changes.close()
        await app.state.ingest.close()
        await app.state.comparisons.close()
        await engine.dispose()
        await reads_engine.dispose()

    schema = build_schema(introspection=settings.introspection, max_cost=settings.graphql_max_cost)
    graphql = GraphQLEndpoint(schema, db_sessions, graphiql=settings.graphiql, timeout=settings.graphql_timeout)
    # Subscriptions (graphql-transport-ws) on the same path.
    graphql_ws = GraphQLWebSocket(schema, db_sessions, allowed_origins=tuple(settings.cors_origins))
    routes = [
        *REST_ROUTES,
        *api_docs.ROUTES,
        Mount("/graphql/static", graphiql_static_app()),
        *web.ROUTES,
        Route("/graphql", graphql),  # every method: the endpoint answers 405 in JSON itself
        WebSocketRoute("/graphql", graphql_ws),
    ]
    in_flight = RequestsInFlight()
    middleware = [
        # Outermost: REST's and GraphQL's sessions close once the response is out.
        Middleware(AfterResponse),
        Middleware(CanonicalPath),
        # Bodies read whole (bounded in size and time) before any route draws a connection.
        Middleware(BodyLimits, max_bytes=MAX_BODY_BYTES, encoded_allowance=FRAMING_ALLOWANCE,
                   timeout=settings.body_timeout, min_rate=settings.body_min_rate),
        # A request counts as in flight once its body is here (an upload still arriving
        # takes no CPU) until its last byte is sent (evalql/in_flight.py).
        Middleware(CountRequests, counter=in_flight),
    ]
    if settings.cors_origins:
        middleware.insert(0, Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "X-Tenant-Id"], max_age=600))
    app = Starlette(
        routes=routes, middleware=middleware, lifespan=lifespan,
        exception_handlers=dict(HANDLERS),
    )
    app.state.settings, app.state.engine, app.state.db_sessions = settings, engine, db_sessions
    app.state.in_flight = in_flight
    app.state.single_read_engine, app.state.single_read_sessions = reads_engine, single_read_sessions
    # Wakes GraphQL subscriptions when a workspace's data changed (evalql/db/change_feed.py).
    app.state.changes = ChangeFeed(engine, db_sessions)
    # The group query's in-memory state and answers (evalql/engine): one per process.
    app.state.comparisons = ComparisonEngine(max_bytes=settings.engine_memory_mb * 2**20,
                                             snapshots=settings.snapshot_directory())
    # Slots for comparisons and for exports (evalql/admission.py), so cheap requests never
    # queue behind them, and a workspace's export never holds up its comparisons.
    queues = Limits(waiting=settings.comparison_queue, waiting_per_workspace=settings.comparison_workspace_queue,
                    wait=settings.comparison_wait)
    # Comparisons' slots rest while other requests are served; exports' do not (an export's
    # slot is held while a client downloads, which takes no CPU to speak of), and requests of
    # exports are not "other" requests.
    app.state.export_admission = Admission(dataclasses.replace(
        queues, running=settings.exports, running_per_workspace=settings.exports_per_workspace), kind="export")
    app.state.admission = Admission(dataclasses.replace(
        queues, running=settings.comparisons, running_per_workspace=settings.comparisons_per_workspace,
        rest=settings.comparison_rest), in_flight=in_flight, alongside=(app.state.export_admission,))
    app.state.ingest = ingest_for(settings.database_url, settings.ingest_workers, db_sessions,
                                  check_tenancy=settings.check_tenancy, statement_timeout=settings.statement_timeout,
                                  nice=settings.ingest_nice)
    return app
