"""Where the benchmarks write: a SQLite file, or a PostgreSQL database made for the run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

POSTGRES_SERVER = os.environ.get("EVALQL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _connect(server: str) -> asyncpg.Connection:
    return await asyncpg.connect(make_url(server).set(drivername="postgresql").render_as_string(hide_password=False))


async def admin(server: str, *statements: str) -> None:
    """Statements outside any transaction (CREATE/DROP DATABASE) on the server's maintenance database."""
    conn = await _connect(server)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_database(server: str, name: str, *, keep: bool = False) -> AsyncIterator[str]:
    """The URL of database `name` on `server`: created fresh and dropped afterwards, or, with
    `keep`, created only if missing and left for the next run."""
    if keep:
        conn = await _connect(server)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        finally:
            await conn.close()
        if not exists:
            await admin(server, f'CREATE DATABASE "{name}"')
    else:
        await admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False)
    finally:
        if not keep:
            await admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
