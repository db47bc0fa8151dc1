"""PostgreSQL: NOTIFY evalql_changes with the workspace id when its data version moves

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000

GraphQL subscriptions (evalql/graphql_ws.py) tell clients when a workspace's data changed,
and a change may be committed by any process: another server process, an ingest worker,
the CLI. On PostgreSQL each server process keeps one connection that LISTENs on the channel
`evalql_changes` (evalql/db/change_feed.py); this trigger sends the workspace id on it
whenever the workspace's counter in `data_versions` is inserted or its `version` raised,
which the logging statements of 0003/0004 do once per writing transaction and workspace.
A notification is delivered when the transaction commits (never for one rolled back), so
a listener that reads the version after it is woken sees the change; PostgreSQL folds
identical notifications of one transaction into one. Pruning (which sets only
`pruned_through`) notifies nothing.

SQLite has no notifications: a server process polls the version rows of the workspaces
its subscribers watch (one indexed read each), which also sees other processes' writes.
So this revision changes nothing on SQLite, and the two schemas keep the same tables.
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

CHANNEL = "evalql_changes"


def upgrade() -> None:
    # Which DDL to run at all differs, not one statement's spelling: migrations ask the
    # dialect directly (as 0002 to 0004 do).
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
CREATE OR REPLACE FUNCTION evalql_notify_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.workspace_id::text);
    RETURN NULL;
END
$fn$""")
    op.execute("CREATE TRIGGER data_versions_notify AFTER INSERT OR UPDATE OF version ON data_versions "
               "FOR EACH ROW EXECUTE FUNCTION evalql_notify_change()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS data_versions_notify ON data_versions")
    op.execute("DROP FUNCTION IF EXISTS evalql_notify_change()")
