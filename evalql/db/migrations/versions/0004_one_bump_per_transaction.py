"""PostgreSQL: one data version per workspace per transaction

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:00:00.000000

0003's statement triggers raise the workspace's counter row in `data_versions` once per
logged statement. Within one transaction every raise leaves a new version of that one row,
and none of them can be pruned before the transaction ends, so each raise walks the chain
of the versions before it: a transaction of n logged statements costs O(n²). Loading
W(100k) in one transaction (1,200 statements of 2,000 rows) spent most of its time there
(`heap_hot_search_buffer` under `index_fetch_heap` in a profile of the backend), and ran
several times slower per row than W(10k).

Now a transaction raises each workspace's counter once, at its first logged statement, and
notes the version in a transaction-local setting (`set_config(…, true)`:
`evalql.version_<workspace hex>`); its later statements log their rows under that version.
Readers lose nothing: the transaction holds the counter row's lock from that first raise to
its commit, as before, so versions still follow commit order, and all of a transaction's
changes become visible together under its one version. A savepoint rolled back after the
raise rolls back the setting with the counter, so the next statement raises again.

SQLite is unchanged: its row triggers raise a counter row in place, which costs the same
whatever the transaction did before.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _revision_0003() -> ModuleType:
    """0003's trigger definitions (LOGGED, the function builders), loaded as a private copy."""
    path = Path(__file__).with_name("0003_data_changes.py")
    spec = importlib.util.spec_from_file_location("evalql_migration_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _setting(workspace_id: str) -> str:
    return f"'evalql.version_' || replace({workspace_id}::text, '-', '')"


def _pg_log_once(changed: str, kind: str) -> str:
    """0003's logging statement, raising a workspace's counter only in the transaction's
    first logged statement for it (see the module docstring)."""
    return f"""
        WITH changed AS ({changed}),
        workspaces AS (
            SELECT DISTINCT workspace_id,
                   nullif(current_setting({_setting('workspace_id')}, true), '')::bigint AS taken
            FROM changed),
        bumped AS (
            INSERT INTO data_versions AS v (workspace_id, version)
            SELECT workspace_id, 1 FROM workspaces WHERE taken IS NULL
            ON CONFLICT (workspace_id) DO UPDATE SET version = v.version + 1
            RETURNING v.workspace_id, v.version, set_config({_setting('v.workspace_id')}, v.version::text, true)),
        versions AS (
            SELECT workspace_id, version FROM bumped
            UNION ALL SELECT workspace_id, taken FROM workspaces WHERE taken IS NOT NULL)
        INSERT INTO data_changes (workspace_id, version, kind, row_id)
        SELECT c.workspace_id, x.version, '{kind}', c.row_id FROM changed AS c JOIN versions AS x USING (workspace_id)
        ON CONFLICT DO NOTHING"""


def _functions(log: object | None) -> list[str]:
    base = _revision_0003()
    return [base._pg_run_metadata_function(log) if table == "run_metadata" else base._pg_function(table, log)
            for table in base.LOGGED]


def upgrade() -> None:
    # Which DDL to run at all differs, not one statement's spelling: migrations ask the
    # dialect directly (as 0002 and 0003 do). The triggers stay; their functions change.
    if op.get_bind().dialect.name == "postgresql":
        for ddl in _functions(_pg_log_once):
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for ddl in _functions(None):
            op.execute(ddl)
