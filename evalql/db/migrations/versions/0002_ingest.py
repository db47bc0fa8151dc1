"""ingest: pending runs, attachments, run ingest state, live dataset names unique

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:59:52.445978
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import evalql.db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pending_runs',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('waits_for', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=True),
    sa.Column('record', sa.JSON(none_as_null=True), nullable=False),
    sa.Column('received_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'id')
    )
    with op.batch_alter_table('pending_runs', schema=None) as batch_op:
        batch_op.create_index('ix_pending_runs_ws_waits_for', ['workspace_id', 'waits_for'], unique=False)
        batch_op.create_index('ix_pending_runs_ws_run', ['workspace_id', 'run_id'], unique=False)

    op.create_table('run_attachments',
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'run_id', 'name')
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_ws_name'))
        batch_op.create_index('ix_datasets_ws_name_live', ['workspace_id', 'name'], unique=True, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))

    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('url_signing_key', sa.String(length=64), nullable=True))
    # Existing workspaces get a random key each (new ones get theirs from the model).
    random_hex = ("replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')"
                  if op.get_bind().dialect.name == "postgresql"
                  else "lower(hex(randomblob(32)))")
    op.execute(f"UPDATE workspaces SET url_signing_key = {random_hex} WHERE url_signing_key IS NULL")

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ingest_state', sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_index('ix_runs_ws_start', ['workspace_id', 'start_time', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_column('url_signing_key')

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_ws_start')
        batch_op.drop_column('ingest_state')

    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index('ix_datasets_ws_name_live', sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_datasets_ws_name'), ['workspace_id', 'name'], unique=False)

    op.drop_table('run_attachments')
    with op.batch_alter_table('pending_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_pending_runs_ws_waits_for')
        batch_op.drop_index('ix_pending_runs_ws_run')

    op.drop_table('pending_runs')
