"""Initial schema: workspaces, keys, datasets, examples, sessions, runs, metadata entries, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 16:17:23.841814
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import evalql.db.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('datasets',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('data_type', sa.String(length=16), nullable=False),
    sa.Column('inputs_schema_definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('outputs_schema_definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('transformations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('externally_managed', sa.Boolean(), nullable=False),
    sa.Column('baseline_experiment_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('modified_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', evalql.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'id')
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index('ix_datasets_ws_name', ['workspace_id', 'name'], unique=False)

    op.create_table('example_metadata',
    sa.Column('example_id', sa.Uuid(), nullable=False),
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('num', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('workspace_id', 'example_id', 'key')
    )
    with op.batch_alter_table('example_metadata', schema=None) as batch_op:
        batch_op.create_index('ix_example_metadata_ws_dataset_key', ['workspace_id', 'dataset_id', 'key'], unique=False)

    op.create_table('examples',
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('inputs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('outputs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('source_run_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('modified_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', evalql.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'id')
    )
    with op.batch_alter_table('examples', schema=None) as batch_op:
        batch_op.create_index('ix_examples_ws_dataset_created', ['workspace_id', 'dataset_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_examples_ws_id_live', ['workspace_id', 'id', 'dataset_id', 'deleted_at'], unique=False)

    op.create_table('feedback',
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('trace_id', sa.Uuid(), nullable=True),
    sa.Column('session_id', sa.Uuid(), nullable=True),
    sa.Column('key', sa.String(length=180), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('score_is_bool', sa.Boolean(), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('value_label', sa.Text(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('correction', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('feedback_source', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('feedback_config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('feedback_group_id', sa.Uuid(), nullable=True),
    sa.Column('comparative_experiment_id', sa.Uuid(), nullable=True),
    sa.Column('start_time', evalql.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Boolean(), nullable=False),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('modified_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'id')
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_ws_run', ['workspace_id', 'run_id', 'key'], unique=False)
        batch_op.create_index('ix_feedback_ws_session', ['workspace_id', 'session_id', 'run_id'], unique=False)

    op.create_table('run_metadata',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('num', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('workspace_id', 'run_id', 'key')
    )
    with op.batch_alter_table('run_metadata', schema=None) as batch_op:
        batch_op.create_index('ix_run_metadata_ws_session_key', ['workspace_id', 'session_id', 'key'], unique=False)

    op.create_table('runs',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('trace_id', sa.Uuid(), nullable=False),
    sa.Column('parent_run_id', sa.Uuid(), nullable=True),
    sa.Column('dotted_order', sa.Text(), nullable=False),
    sa.Column('is_root', sa.Boolean(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('run_type', sa.String(length=16), nullable=False),
    sa.Column('start_time', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('end_time', evalql.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('inputs', sa.JSON(), nullable=True),
    sa.Column('outputs', sa.JSON(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.Column('events', sa.JSON(), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('serialized', sa.JSON(), nullable=True),
    sa.Column('reference_example_id', sa.Uuid(), nullable=True),
    sa.Column('first_token_time', evalql.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('latency', sa.Float(), nullable=True),
    sa.Column('first_token_latency', sa.Float(), nullable=True),
    sa.Column('own_prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('own_completion_tokens', sa.Integer(), nullable=True),
    sa.Column('own_total_tokens', sa.Integer(), nullable=True),
    sa.Column('own_prompt_cost', evalql.db.types.Cost(), nullable=True),
    sa.Column('own_completion_cost', evalql.db.types.Cost(), nullable=True),
    sa.Column('own_total_cost', evalql.db.types.Cost(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('total_tokens', sa.Integer(), nullable=False),
    sa.Column('prompt_cost', evalql.db.types.Cost(), nullable=True),
    sa.Column('completion_cost', evalql.db.types.Cost(), nullable=True),
    sa.Column('total_cost', evalql.db.types.Cost(), nullable=True),
    sa.Column('prompt_token_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('completion_token_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'id')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_group_scan', ['workspace_id', 'session_id', 'is_root', 'reference_example_id', 'id', 'latency', 'first_token_latency', 'total_tokens', 'prompt_tokens', 'completion_tokens', 'total_cost', 'prompt_cost', 'completion_cost', 'start_time', 'status', 'first_token_time'], unique=False)
        batch_op.create_index('ix_runs_ws_example', ['workspace_id', 'reference_example_id'], unique=False)
        batch_op.create_index('ix_runs_ws_parent', ['workspace_id', 'parent_run_id'], unique=False)
        batch_op.create_index('ix_runs_ws_session_start', ['workspace_id', 'session_id', 'start_time', 'id'], unique=False)
        batch_op.create_index('ix_runs_ws_trace', ['workspace_id', 'trace_id'], unique=False)

    op.create_table('sessions',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('start_time', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('end_time', evalql.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('extra', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reference_dataset_id', sa.Uuid(), nullable=True),
    sa.Column('default_dataset_id', sa.Uuid(), nullable=True),
    sa.Column('trace_tier', sa.String(length=32), nullable=True),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', 'id')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_ws_name', ['workspace_id', 'name'], unique=True)
        batch_op.create_index('ix_sessions_ws_refds_start', ['workspace_id', 'reference_dataset_id', 'start_time', 'id'], unique=False)

    op.create_table('workspaces',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workspace_id', sa.Uuid(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=False),
    sa.Column('created_at', evalql.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', evalql.db.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_workspace_id'), ['workspace_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_workspace_id'))

    op.drop_table('api_keys')
    op.drop_table('workspaces')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_ws_refds_start')
        batch_op.drop_index('ix_sessions_ws_name')

    op.drop_table('sessions')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_ws_trace')
        batch_op.drop_index('ix_runs_ws_session_start')
        batch_op.drop_index('ix_runs_ws_parent')
        batch_op.drop_index('ix_runs_ws_example')
        batch_op.drop_index('ix_runs_group_scan')

    op.drop_table('runs')
    with op.batch_alter_table('run_metadata', schema=None) as batch_op:
        batch_op.drop_index('ix_run_metadata_ws_session_key')

    op.drop_table('run_metadata')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_ws_session')
        batch_op.drop_index('ix_feedback_ws_run')

    op.drop_table('feedback')
    with op.batch_alter_table('examples', schema=None) as batch_op:
        batch_op.drop_index('ix_examples_ws_id_live')
        batch_op.drop_index('ix_examples_ws_dataset_created')

    op.drop_table('examples')
    with op.batch_alter_table('example_metadata', schema=None) as batch_op:
        batch_op.drop_index('ix_example_metadata_ws_dataset_key')

    op.drop_table('example_metadata')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index('ix_datasets_ws_name')

    op.drop_table('datasets')

