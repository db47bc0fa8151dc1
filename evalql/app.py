"""The Starlette application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from evalql.auth import AuthError
from evalql.config import Settings
from evalql.db.engine import create_engine, session_factory
from evalql.db.migrate import ensure_schema
from evalql.graphiql import graphiql_static_app
from evalql.graphql_app import GraphQLEndpoint
from evalql.rest.errors import (
    ApiError, PoolTimeout, api_error_handler, auth_error_handler, http_error_handler, operational_error_handler,
    pool_timeout_handler,
)
from evalql.rest import dataset_runs, datasets, examples, feedback, runs_ingest, runs_read
from evalql.rest import sessions as session_routes
from evalql.rest.group_runs import group_runs_route
from evalql.rest.info import info_route
from evalql.schema import build_schema

API_PREFIX = "/api/v1"


class CanonicalPath:
    """Serve every REST path under `/api/v1/<path>` and `/<path>`, trailing slash
    ignored (spec §1.1), by rewriting to the unprefixed form before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                path = path[len(API_PREFIX):] or "/"
            if len(path) > 1 and path.endswith("/"):
                path = path.rstrip("/") or "/"
            if path != scope["path"]:
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app. Also a factory for running several workers:
    `uvicorn --factory evalql.app:create_app --workers 4` (settings from the environment)."""
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url, pool_size=settings.pool_size,
                           max_overflow=settings.max_overflow, pool_timeout=settings.pool_timeout)
    sessions = session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ensure_schema(engine)  # SQLite migrates itself; PostgreSQL refuses if behind
        yield
        await engine.dispose()

    graphql = GraphQLEndpoint(build_schema(introspection=settings.introspection), sessions,
                              graphiql=settings.graphiql)
    routes = [
        Route("/info", info_route, methods=["GET"]),
        Route("/datasets", datasets.create_dataset_route, methods=["POST"]),
        Route("/datasets", datasets.list_datasets_route, methods=["GET"]),
        Route("/datasets/{dataset_id}", datasets.read_dataset_route, methods=["GET"]),
        Route("/datasets/{dataset_id}", datasets.delete_dataset_route, methods=["DELETE"]),
        Route("/datasets/{dataset_id}/group/runs", group_runs_route, methods=["POST"]),
        Route("/examples/bulk", examples.bulk_create_route, methods=["POST"]),
        Route("/examples", examples.create_route, methods=["POST"]),
        Route("/examples", examples.list_route, methods=["GET"]),
        Route("/examples/{example_id}", examples.read_route, methods=["GET"]),
        Route("/examples/{example_id}", examples.patch_route, methods=["PATCH"]),
        Route("/examples/{example_id}", examples.delete_route, methods=["DELETE"]),
        *dataset_runs.ROUTES,
        *session_routes.ROUTES,
        *runs_ingest.ROUTES,
        *runs_read.ROUTES,
        *feedback.ROUTES,
        Mount("/graphql/static", graphiql_static_app()),
        Route("/graphql", graphql, methods=["GET", "POST"]),
    ]
    middleware = [Middleware(CanonicalPath)]
    if settings.cors_origins:
        middleware.insert(0, Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "X-Tenant-Id"], max_age=600))
    app = Starlette(
        routes=routes, middleware=middleware, lifespan=lifespan,
        exception_handlers={ApiError: api_error_handler, AuthError: auth_error_handler,
                            HTTPException: http_error_handler, PoolTimeout: pool_timeout_handler,
                            OperationalError: operational_error_handler},
    )
    app.state.settings, app.state.engine, app.state.sessions = settings, engine, sessions
    return app
