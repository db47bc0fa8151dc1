"""PostgreSQL: row-level security keyed on the transaction's workspace

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:00:00.000000

The application confines every statement to one workspace (evalql/db/tenant.py); this is
the database's line behind it (evalql/db/rls.py). Every table with a `workspace_id` gets
row-level security and one policy for all commands: a row is seen, updated, deleted and
written only if its `workspace_id` is the transaction's workspace, the transaction-local
setting `evalql.workspace_id` (unset: no row at all).

The policies bind the service's role, which owns nothing and is no superuser
(`evalql migrate` makes it, evalql/db/roles.py). They do not bind the tables' owner (the
role that runs the migrations, `keys list|revoke`, maintenance): FORCE ROW LEVEL SECURITY
is left off on purpose, so the owner's cross-workspace work needs no bypass of its own.

Two reads happen before any workspace is known, or across all of them:
* authentication finds a key by its hash: `evalql_key_lookup(hash)`, a SECURITY DEFINER
  function owned by the owner, answers (workspace, read_only) for an unrevoked key and
  nothing else; its search_path is pinned to the schema the tables live in.
* the change-log triggers (0003/0004) run as the writer and write `data_versions` and
  `data_changes` rows of the workspace whose rows the statement wrote, which under the
  policies is the bound one: they need no privileges of their own.

`workspaces` has no `workspace_id` and no policy: names and ids only (the CLI and
`serve` find a workspace by name). SQLite has no roles nor policies: this revision does
nothing there, and the two schemas keep the same tables.
"""
from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Every table with a workspace_id column (evalql/db/models.py: TENANT_MODELS and api_keys).
TABLES = ("datasets", "examples", "sessions", "runs", "run_metadata", "example_metadata", "feedback",
          "pending_runs", "run_attachments", "data_versions", "data_changes", "api_keys")
POLICY = "evalql_workspace"
# '' after a transaction that set it ended in the same connection; NULL if never set.
WORKSPACE = "nullif(current_setting('evalql.workspace_id', true), '')::uuid"


def upgrade() -> None:
    # Which DDL to run at all differs, not one statement's spelling: migrations ask the
    # dialect directly (as 0002 to 0005 do).
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING (workspace_id = {WORKSPACE}) "
                   f"WITH CHECK (workspace_id = {WORKSPACE})")
    schema = op.get_bind().execute(text("SELECT quote_ident(current_schema())")).scalar()
    op.execute(f"""
CREATE OR REPLACE FUNCTION evalql_key_lookup(hash text) RETURNS TABLE (workspace_id uuid, read_only boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $fn$
    SELECT k.workspace_id, k.read_only FROM api_keys AS k WHERE k.key_hash = hash AND k.revoked_at IS NULL
$fn$""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS evalql_key_lookup(text)")
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
