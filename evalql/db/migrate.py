"""Schema migrations (alembic), run against an async engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from evalql.db.backend import is_sqlite
from evalql.db.sqlite_driver import UNBOUNDED
from evalql.db.tenancy_check import ALL_WORKSPACES

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


async def schema_state(engine: AsyncEngine) -> SchemaState:
    async with engine.connect() as conn:
        current = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    return SchemaState(current, head_revision())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def run(sync_connection: Any) -> None:
        # Migrations rewrite whole tables (SQLite batch mode copies every row): they
        # span all workspaces by design, so the tenancy check lets them through, and on a
        # large file they may rightly take minutes, so no statement timeout stops them (the
        # server migrates SQLite at start-up, on its own engine).
        sync_connection.execution_options(**{ALL_WORKSPACES: True, UNBOUNDED: True})
        command.upgrade(alembic_config(sync_connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


class SchemaOutOfDate(Exception):
    """The database schema is behind this version of evalql."""


async def ensure_schema(engine: AsyncEngine) -> None:
    """Bring the embedded SQLite database up to date; on a shared server database, only
    check, because upgrading under running workers must be a deliberate step."""
    state = await schema_state(engine)
    if state.up_to_date:
        return
    if is_sqlite(engine):
        await upgrade(engine)
        return
    where = engine.url.render_as_string(hide_password=True)
    found = f"at revision {state.current}" if state.current else "empty"
    raise SchemaOutOfDate(
        f"The database schema of {where} is {found}; this evalql needs revision {state.head}. "
        f"Run: evalql migrate --database-url '{where}'"
    )
