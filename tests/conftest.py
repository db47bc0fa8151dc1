"""Shared fixtures: a real SQLite database per test, the real ASGI app, real HTTP."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from evalql.app import create_app
from evalql.config import Settings
from evalql.db import tenancy_check, writes
from evalql.db.engine import create_engine, session_factory
from tests import databases

# Every statement of every engine the tests create (apps, migrations, seeders, the
# tests' own queries) is checked for its workspace condition: listening on the Engine
# class reaches engines made anywhere, including ones a future test adds.
tenancy_check.install(Engine)


# Property tests draw databases and run the app: generation and fixtures are slow by
# hypothesis's measure (too_slow fails a test on a loaded 2-core CI machine though nothing
# is wrong), and the function-scoped fixtures they use hold nothing an example changes.
settings.register_profile("evalql", suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("evalql")

# Engine snapshots of PostgreSQL test databases go to the user's cache dir by default
# (evalql/config.py): keep them, with everything else cached, out of the real one.
os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="evalql-test-cache-"))

@dataclass
class Api:
    """The app under test plus a workspace with a write key and a read-only key."""

    client: httpx.AsyncClient
    db_sessions: async_sessionmaker[AsyncSession]
    workspace_id: uuid.UUID
    key: str
    read_key: str
    # The app's own engine (on PostgreSQL the service's role); `db_sessions` are the test's,
    # as the server's superuser, for seeding and inspecting every workspace.
    app_engine: AsyncEngine | None = None
    app_read_engine: AsyncEngine | None = None  # its engine of single reads (evalql/db/engine.py)

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.key}

    async def group_runs(self, dataset_id: object, body: dict, key: str | None = None) -> httpx.Response:
        return await self.client.post(f"/api/v1/datasets/{dataset_id}/group/runs", json=body,
                                      headers=self.headers(key))

    async def graphql(self, query: str, variables: dict | None = None, key: str | None = None) -> httpx.Response:
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                      headers=self.headers(key))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default=os.environ.get("EVALQL_TEST_DB", "all"), choices=("sqlite", "postgresql", "all"),
                     help="database backends for database tests (default: all)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run this test only on these backends")
    config.addinivalue_line("markers", "needs_all_backends: compares backends; collected only with --db all")
    config.addinivalue_line("markers", "settings(**fields): Settings fields of the `api` fixture's app")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test comparing the backends cannot run when only one is selected, nor a test of
    one backend when another is selected: deselect them (reported as such) rather than
    skip them, so a green run has no skipped test."""
    selected = set(databases.BACKENDS) if config.getoption("--db") == "all" else {config.getoption("--db")}

    def runs(item: pytest.Item) -> bool:
        if item.get_closest_marker("needs_all_backends") is not None and len(selected) < len(databases.BACKENDS):
            return False
        marker = item.get_closest_marker("backends")
        return marker is None or bool(selected & set(marker.args))

    keep = [item for item in items if runs(item)]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that touches a database runs once per selected backend."""
    if "backend" not in metafunc.fixturenames:
        return
    chosen = databases.BACKENDS if metafunc.config.getoption("--db") == "all" else (metafunc.config.getoption("--db"),)
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None:
        chosen = tuple(b for b in chosen if b in marker.args)
    metafunc.parametrize("backend", chosen)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Runs in each xdist worker and in the controller: each drops only what its own process made.
    databases.drop_templates()


@pytest.fixture(autouse=True)
def tenancy_violations() -> Iterator[list[tenancy_check.UnscopedStatement]]:
    """Fails the test on an unscoped statement even if the code under test caught the
    error (a GraphQL field error, a suppressed exception). A test that provokes one on
    purpose takes this fixture and clears the list."""
    seen: list[tenancy_check.UnscopedStatement] = []
    tenancy_check.observers.append(seen.append)
    yield seen
    tenancy_check.observers.remove(seen.append)
    assert not seen, f"unscoped statements: {seen}"


@pytest.fixture
async def new_database(backend: str, tmp_path) -> AsyncIterator:
    """A factory of fresh, migrated databases of the test's backend (given back afterwards)."""
    made: list[str] = []

    async def make() -> str:
        url = await databases.new_database(backend, tmp_path)
        made.append(url)
        return url

    yield make
    for url in made:
        await databases.release_database(url)


@pytest.fixture
async def database_url(new_database) -> str:
    return await new_database()


@pytest.fixture
async def api(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    marker = request.node.get_closest_marker("settings")
    app = create_app(Settings(database_url=databases.app_url(database_url), **(marker.kwargs if marker else {})))
    # PostgreSQL: the test's own engine, as the superuser; SQLite (no roles): the app's.
    own = None if databases.app_url(database_url) == database_url else create_engine(database_url)
    try:
        async with app.router.lifespan_context(app):
            db_sessions = app.state.db_sessions if own is None else session_factory(own)
            async with db_sessions() as db:
                workspace = await writes.create_workspace(db, "tests")
                key = await writes.create_api_key(db, workspace.id)
                read_key = await writes.create_api_key(db, workspace.id, read_only=True)
                await db.commit()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as client:
                yield Api(client, db_sessions, workspace.id, key, read_key, app.state.engine,
                          app.state.single_read_engine)
    finally:
        if own is not None:
            await own.dispose()
