"""Indexes that keep single reads independent of the workspace's size

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:45:00.000000

Two reads of `GET /runs/{id}` and `GET /sessions/{id}` (and of their list forms) read
every row of the workspace, or of the session, to answer for one run or one session:

* `in_dataset` (is some live example made from this run?) looked `examples.source_run_id`
  up with no index on it: a scan of every example of the workspace, 178 ms at W(100k) on
  SQLite for one run. `ix_examples_ws_source_run` makes it one probe per run.
* `last_run_start_time` (the latest start of the session's root runs) read every root run
  of the session through the group scan's index, 25 ms at W(100k). On
  `ix_runs_ws_session_root_start` the maximum is the last entry of the session's root
  runs: one probe per session (evalql/rest/sessions.py asks for it per session).

Both databases build the indexes the same way; on a large PostgreSQL database the build
holds writes back for as long as it takes (seconds per million rows).
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_examples_ws_source_run", "examples", ["workspace_id", "source_run_id"])
    op.create_index("ix_runs_ws_session_root_start", "runs", ["workspace_id", "session_id", "is_root", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_runs_ws_session_root_start", table_name="runs")
    op.drop_index("ix_examples_ws_source_run", table_name="examples")
