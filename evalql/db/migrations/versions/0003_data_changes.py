"""data versions and a change log, maintained by triggers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:00:00.000000

A process that caches derived state (the in-memory comparison engine) asks one cheap
question, "did the workspace's data change since version V?", then "which rows?". The
answer has to hold with several server processes on one PostgreSQL database and with
other processes (the CLI) writing to a SQLite file, so the bookkeeping lives in the
database: triggers on every table a comparison reads raise the workspace's counter in
`data_versions` and log (workspace, new version, kind, row id) in `data_changes`, in the
writing transaction. No write path can forget them.

What is logged (kind: rows):
* run: root runs (`is_root`) inserted, updated or deleted; an update that makes a root a
  child or a child a root logs it too (the engine must drop or add it). Child runs are
  not logged: the engine reads only roots, and what a child contributes to a root (its
  usage, rolled up) is written to the root's row, which is logged. A `run_metadata` entry
  inserted, updated or deleted logs its run when that run is a stored root at that moment
  (the entries of a root are written with it, so that row logs it anyway; the entries'
  own triggers make sure a write of entries alone is seen).
* feedback: every feedback row (any run it is attached to).
* example: every example row; an `example_metadata` entry logs its example.
* session, dataset: every row. Soft deletes are updates; deleting a session deletes its
  runs, their entries and feedback row by row (evalql/db/writes.py::delete_session), so
  those are logged by their own tables' triggers.
Not logged: pending runs (invisible to queries until applied, when they become runs),
attachments, workspaces and keys. An UPDATE logs every row it matched, changed or not.

PostgreSQL: statement-level AFTER triggers with transition tables, so one statement costs
one bump of the counter however many rows it touches (a statement that logs no row, e.g.
an update of child runs only, takes no version and no lock). Bulk INSERTs are multi-row
statements (evalql/db/engine.py); bulk UPDATEs by key are one statement per row. PostgreSQL
refuses transition tables on a trigger with more than one event, so each table has three
triggers (insert, update, delete) sharing one function that branches on TG_OP.
SQLite: row-level triggers (SQLite has no statement triggers), one bump per logged row,
with WHEN clauses so that rows that log nothing (child runs) cost only the test.

Primary keys are never updated by evalql, but the triggers do not rely on it: an update
logs the row under its old key and its new key.

Writers of one workspace now queue on its counter row from their first logged write to
their commit (on SQLite they queued for the database already). A later migration that
rebuilds one of these tables on SQLite (alembic's batch mode copies it into a new table)
drops its triggers and must create them again; tests/test_changes.py checks that every
logged table has its triggers at head.
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# SQLite's lookup of an entry's run (its planner takes the primary key, every column of
# which is given); PostgreSQL's is in _pg_run_metadata_function.
ROOT_RUN = "EXISTS (SELECT 1 FROM runs AS r WHERE r.workspace_id = {row}.workspace_id AND r.id = {row}.run_id " \
           "AND r.is_root)"

# table: (kind, id column, condition a row must meet to be logged; `{row}` names the row)
LOGGED: dict[str, tuple[str, str, str | None]] = {
    "runs": ("run", "id", "{row}.is_root"),
    "run_metadata": ("run", "run_id", ROOT_RUN),
    "feedback": ("feedback", "id", None),
    "examples": ("example", "id", None),
    "example_metadata": ("example", "example_id", None),
    "sessions": ("session", "id", None),
    "datasets": ("dataset", "id", None),
}
EVENTS = ("insert", "update", "delete")


# -- PostgreSQL --------------------------------------------------------------------------

def _pg_changed(source: str, id_column: str, condition: str | None) -> str:
    """The (workspace_id, row_id) pairs of `source` to log."""
    where = f" WHERE {condition.format(row='t')}" if condition else ""
    return f"SELECT DISTINCT t.workspace_id, t.{id_column} AS row_id FROM {source} AS t{where}"


def _pg_log(changed: str, kind: str) -> str:
    # The bump is an upsert on the workspace's counter row: it takes that row's lock,
    # held until the transaction ends, so a second writer of the workspace waits at its
    # own bump until the first commits, then reads the committed counter (READ COMMITTED
    # re-reads the latest row version on conflict). Versions are therefore handed out
    # in commit order: a reader that sees version V committed knows that every change
    # with version <= V is committed (a transaction holds the lock from its first bump
    # to its commit, so no other transaction's version falls between two of its own).
    # Statements that log nothing insert nothing into `bumped`: no bump, no lock.
    return f"""
        WITH changed AS ({changed}),
        bumped AS (
            INSERT INTO data_versions AS v (workspace_id, version)
            SELECT DISTINCT workspace_id, 1 FROM changed
            ON CONFLICT (workspace_id) DO UPDATE SET version = v.version + 1
            RETURNING v.workspace_id, v.version)
        INSERT INTO data_changes (workspace_id, version, kind, row_id)
        SELECT c.workspace_id, b.version, '{kind}', c.row_id FROM changed AS c JOIN bumped AS b USING (workspace_id)
        ON CONFLICT DO NOTHING"""


def _pg_function(table: str, log: Callable[[str, str], str] | None = None) -> str:
    log = log or _pg_log
    kind, id_column, condition = LOGGED[table]
    new, old = (_pg_changed(source, id_column, condition) for source in ("new_rows", "old_rows"))
    # Each branch names only the transition tables its trigger has (plpgsql plans a
    # statement when it first runs it, so the other branches' names do not matter).
    # Most statements that fire these log nothing (an update of a child run, the UPDATE
    # half of an upsert that inserted): an EXISTS probe ends those at about half the
    # cost of running the logging statement on no rows.
    branches = {op: f"IF EXISTS ({sql}) THEN {log(sql, kind)};\n        END IF;"
                for op, sql in (("INSERT", new), ("UPDATE", f"{old} UNION {new}"), ("DELETE", old))}
    return f"""
CREATE OR REPLACE FUNCTION evalql_log_{table}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {branches["INSERT"]}
    ELSIF TG_OP = 'UPDATE' THEN
        {branches["UPDATE"]}
    ELSE
        {branches["DELETE"]}
    END IF;
    RETURN NULL;
END
$fn$"""


# `runs` smaller than this is looked up with plans made for each call (see below).
RUNS_PLANNED_EACH_TIME_BELOW = 2 * 1024 * 1024  # bytes: ~256 pages; the primary key won from ~120 in tests


def _pg_run_metadata_function(log: Callable[[str, str], str] | None = None) -> str:
    """`run_metadata`: an entry logs its run when that run is a stored root, which takes a
    look at `runs`, by primary key, once per distinct run of the statement.

    Which index serves that lookup is the planner's choice, and every index of `runs`
    leads with workspace_id. While `runs` has no statistics (never analyzed: a new
    database, or autovacuum off) and is small, `workspace_id = $1 AND id = $2` ties or
    loses to (workspace_id, parent_run_id), which scans the whole workspace; semi-joins
    and `id = ANY(…)` keep choosing such a scan on large unanalyzed tables too. plpgsql
    keeps a statement's plan for the session (until the table is analyzed or altered), so
    a plan made on a small table would scan workspaces forever. Hence: while `runs` is
    under RUNS_PLANNED_EACH_TIME_BELOW, the lookup runs through EXECUTE, planned for each
    call (on a small table any plan is cheap); from then on, a lookup planned once, when
    the table is past the size where the primary key wins with or without statistics.
    `log` builds the logging statement (0004 gives its own; the default is this revision's)."""
    kind, id_column, _ = LOGGED["run_metadata"]
    sources = {"INSERT": f"SELECT DISTINCT workspace_id, {id_column} FROM new_rows",
               "UPDATE": f"SELECT workspace_id, {id_column} FROM old_rows UNION "
                         f"SELECT workspace_id, {id_column} FROM new_rows",
               "DELETE": f"SELECT DISTINCT workspace_id, {id_column} FROM old_rows"}
    loops = {op: f"""FOR ws, rid IN {sql} LOOP
            IF small THEN
                EXECUTE 'SELECT is_root FROM runs WHERE workspace_id = $1 AND id = $2' INTO root USING ws, rid;
            ELSE
                SELECT r.is_root INTO root FROM runs AS r WHERE r.workspace_id = ws AND r.id = rid;
            END IF;
            IF root THEN
                workspace_ids := workspace_ids || ws;
                row_ids := row_ids || rid;
            END IF;
        END LOOP;""" for op, sql in sources.items()}
    unnested = "SELECT * FROM unnest(workspace_ids, row_ids) AS c(workspace_id, row_id)"
    return f"""
CREATE OR REPLACE FUNCTION evalql_log_run_metadata() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    small boolean := pg_relation_size('runs') < {RUNS_PLANNED_EACH_TIME_BELOW};
    ws uuid;
    rid uuid;
    root boolean;
    workspace_ids uuid[] := '{{}}';
    row_ids uuid[] := '{{}}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        {loops["INSERT"]}
    ELSIF TG_OP = 'UPDATE' THEN
        {loops["UPDATE"]}
    ELSE
        {loops["DELETE"]}
    END IF;
    IF cardinality(row_ids) > 0 THEN {(log or _pg_log)(unnested, kind)};
    END IF;
    RETURN NULL;
END
$fn$"""


def _pg_trigger(table: str, event: str) -> str:
    referencing = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                   "delete": "OLD TABLE AS old_rows"}[event]
    return (f"CREATE TRIGGER {table}_log_{event} AFTER {event.upper()} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION evalql_log_{table}()")


# -- SQLite ------------------------------------------------------------------------------

def _sqlite_log(row: str, kind: str, id_column: str) -> str:
    # Writers are serialized by the database lock, so the counter needs no more to
    # follow commit order. UPSERT works in trigger bodies; the INSERT … SELECT below
    # has a WHERE, which SQLite needs before ON CONFLICT (without it, `ON` would parse
    # as a join constraint of the SELECT).
    return f"""
    INSERT INTO data_versions (workspace_id, version) VALUES ({row}.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1;
    INSERT INTO data_changes (workspace_id, version, kind, row_id)
        SELECT workspace_id, version, '{kind}', {row}.{id_column} FROM data_versions
        WHERE workspace_id = {row}.workspace_id
        ON CONFLICT DO NOTHING;"""


def _sqlite_triggers(table: str) -> list[str]:
    kind, id_column, condition = LOGGED[table]

    def when(*terms: str | None) -> str:
        kept = [f"({term})" for term in terms if term]
        return f" WHEN {' AND '.join(kept)}" if kept else ""

    def on(row: str) -> str | None:
        return condition.format(row=row) if condition else None

    same_key = f"NEW.workspace_id = OLD.workspace_id AND NEW.{id_column} = OLD.{id_column}"
    kept_as_is = f"({on('NEW')}) AND {same_key}" if condition else same_key
    bodies = {
        "insert": ("INSERT", when(on("NEW")), "NEW"),
        "delete": ("DELETE", when(on("OLD")), "OLD"),
        "update": ("UPDATE", when(on("NEW")), "NEW"),
        # The old key, when the row left it (its key changed) or stopped meeting the condition.
        "update_old": ("UPDATE", when(on("OLD"), f"NOT ({kept_as_is})"), "OLD"),
    }
    return [f"CREATE TRIGGER {table}_log_{name} AFTER {event} ON {table}{clause}\nBEGIN"
            f"{_sqlite_log(row, kind, id_column)}\nEND"
            for name, (event, clause, row) in bodies.items()]


SQLITE_TRIGGER_NAMES = ("insert", "delete", "update", "update_old")


def upgrade() -> None:
    op.create_table('data_versions',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('pruned_through', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id'),
    sqlite_with_rowid=False,
    )
    op.create_table('data_changes',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('row_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'version', 'kind', 'row_id'),
    sqlite_with_rowid=False,
    )
    # Which DDL to run at all differs, not one statement's spelling: migrations ask
    # the dialect directly (as 0002 does).
    if op.get_bind().dialect.name == "postgresql":
        for table in LOGGED:
            op.execute(_pg_run_metadata_function() if table == "run_metadata" else _pg_function(table))
            for event in EVENTS:
                op.execute(_pg_trigger(table, event))
    else:
        for table in LOGGED:
            for ddl in _sqlite_triggers(table):
                op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LOGGED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_log_{event} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS evalql_log_{table}()")
    else:
        for table in LOGGED:
            for name in SQLITE_TRIGGER_NAMES:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_log_{name}")
    op.drop_table('data_changes')
    op.drop_table('data_versions')
