"""Alembic environment. evalql runs migrations itself (`evalql migrate`, or on start for
the SQLite default) and hands the connection in through `config.attributes`."""

from __future__ import annotations

from alembic import context

from evalql.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `evalql migrate`, which passes the connection in")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
