"""Alembic migrations match the models on each backend; the schema check at start-up."""

from __future__ import annotations

import socket

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from evalql import cli
from evalql.db.engine import create_engine
from evalql.db.migrate import SchemaOutOfDate, ensure_schema, head_revision, schema_state, upgrade
from evalql.db.models import Base
from tests import databases


@pytest.fixture
async def empty_url(backend, tmp_path):
    url = await databases.new_empty_database(backend, tmp_path)
    yield url
    await databases.drop_database(url)


async def test_autogenerate_finds_no_difference(database_url):
    """The migrated schema (the test template is built by `upgrade`) equals the models."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata))
    finally:
        await engine.dispose()
    assert diff == []


async def test_upgrade_from_empty_reaches_head(empty_url):
    engine = create_engine(empty_url)
    try:
        assert (await schema_state(engine)).current is None
        await upgrade(engine)
        state = await schema_state(engine)
        assert state.current == head_revision() and state.up_to_date
        await upgrade(engine)  # idempotent
    finally:
        await engine.dispose()


async def test_sqlite_migrates_itself_postgresql_refuses(backend, empty_url):
    engine = create_engine(empty_url)
    try:
        if backend == "sqlite":
            await ensure_schema(engine)
            assert (await schema_state(engine)).up_to_date
        else:
            with pytest.raises(SchemaOutOfDate, match="evalql migrate"):
                await ensure_schema(engine)
            assert (await schema_state(engine)).current is None  # nothing was written
    finally:
        await engine.dispose()


@pytest.mark.backends("postgresql")
def test_serve_refuses_an_out_of_date_schema(empty_url, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli.main(["serve", "--database-url", empty_url, "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert "evalql migrate" in err and "Traceback" not in err
    assert cli.main(["migrate", "--database-url", empty_url]) == 0
    assert cli.main(["keys", "create", "--database-url", empty_url]) == 0
    assert capsys.readouterr().out.strip().startswith("evq_")
