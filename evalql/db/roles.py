"""The service's own PostgreSQL role, made by `evalql migrate` (evalql/cli.py).

`evalql migrate` runs as the tables' owner (an admin URL); the server connects as a second
role that owns nothing, is no superuser and has no BYPASSRLS, so the row-level security
policies of migration 0006 bind it (evalql/db/rls.py). This module makes that role if it
is missing (LOGIN, with a password only if one is given: trust and peer set-ups need
none) and grants it exactly what the service does: SELECT, INSERT, UPDATE, DELETE on the
tables, SELECT only on `alembic_version` (the schema check at start), USAGE on the
schema and its sequences, CONNECT and TEMPORARY (scratch tables) on the database. Never
ownership: a table's owner is not bound by its policies.

Roles belong to the whole server, not to one database, and several `migrate` runs (test
processes, one per database) may make the same role at once: a CREATE ROLE that loses
that race is taken as done. Everything here is safe to run again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from evalql.db.backend import is_postgresql
from evalql.db.models import Base
from evalql.db.tenancy_check import ALL_WORKSPACES

DEFAULT_APP_ROLE = "evalql_app"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# CREATE ROLE racing another: the name is taken (duplicate_object), or the catalog's unique
# index refused the second row (unique_violation).
_ALREADY_EXISTS = {"42710", "23505"}


class RoleError(Exception):
    """The service's role cannot be made or is unsafe; the message says what to do."""


@dataclass(frozen=True)
class AppRole:
    name: str
    created: bool


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


async def _ddl(conn: Any, template: str, *args: str) -> None:
    """DDL takes no bind parameters: `format()` quotes names (%I) and literals (%L)."""
    placeholders = ", ".join(f"CAST(:a{i} AS text)" for i in range(len(args)))
    statement = (await conn.execute(text(f"SELECT format('{template}', {placeholders})"),
                                    {f"a{i}": arg for i, arg in enumerate(args)})).scalar()
    await conn.execute(text(statement))


async def ensure_app_role(engine: AsyncEngine, name: str, password: str | None = None) -> AppRole | None:
    """Make the service's role (if missing) and grant it what the service needs in the
    database `engine` connects to. None on SQLite (no roles)."""
    if not is_postgresql(engine):
        return None
    if not _NAME.fullmatch(name):
        raise RoleError(f"EVALQL_APP_ROLE {name!r} is not a plain role name (lower-case letters, digits, _)")
    created = False
    async with engine.connect() as conn:
        # Grants name every table: deliberately all workspaces' (evalql/db/tenancy_check.py).
        conn = await conn.execution_options(**{ALL_WORKSPACES: True})
        me = (await conn.execute(text("SELECT current_user"))).scalar()
        if me == name:
            raise RoleError(f"The service's role {name!r} is the role running the migration: migrate as the "
                            "tables' owner (EVALQL_ADMIN_DATABASE_URL) and serve as the service's role")
        found = (await conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :name"),
                                    {"name": name})).first()
        await conn.commit()  # each step below is a transaction of its own
        if found is None:
            try:
                async with conn.begin():
                    attributes = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION"
                    if password:
                        await _ddl(conn, f"CREATE ROLE %I {attributes} PASSWORD %L", name, password)
                    else:
                        await _ddl(conn, f"CREATE ROLE %I {attributes}", name)
                created = True
            except DBAPIError as exc:
                if _sqlstate(exc) == "42501":
                    raise RoleError(f"The role running the migration may not create roles: create {name!r} "
                                    f"(LOGIN NOSUPERUSER NOBYPASSRLS) as an administrator and migrate again") from None
                if _sqlstate(exc) not in _ALREADY_EXISTS:
                    raise
        elif found.rolsuper or found.rolbypassrls:
            raise RoleError(f"The service's role {name!r} bypasses row-level security (superuser or BYPASSRLS): "
                            f"ALTER ROLE {name} NOSUPERUSER NOBYPASSRLS, or choose another with EVALQL_APP_ROLE")
        elif password:
            async with conn.begin():
                await _ddl(conn, "ALTER ROLE %I PASSWORD %L", name, password)
        async with conn.begin():
            await _grant(conn, name)
    return AppRole(name, created)


async def _grant(conn: Any, name: str) -> None:
    owned = (await conn.execute(text(
        "SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_tables "
        "WHERE schemaname = current_schema() AND tableowner = :name"), {"name": name})).scalar()
    if owned:
        raise RoleError(f"The service's role {name!r} owns {owned}: an owner is not bound by row-level "
                        "security; give the tables to the role that migrates (ALTER TABLE … OWNER TO …)")
    await _ddl(conn, "GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I",
               (await conn.execute(text("SELECT current_database()"))).scalar(), name)
    schema = (await conn.execute(text("SELECT current_schema()"))).scalar()
    await _ddl(conn, "GRANT USAGE ON SCHEMA %I TO %I", schema, name)
    for table in Base.metadata.sorted_tables:
        await _ddl(conn, "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I.%I TO %I", schema, table.name, name)
    await _ddl(conn, "GRANT SELECT ON TABLE %I.alembic_version TO %I", schema, name)
    await _ddl(conn, "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I", schema, name)


__all__ = ["DEFAULT_APP_ROLE", "AppRole", "RoleError", "ensure_app_role"]
