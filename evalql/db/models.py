"""SQLAlchemy models. Every tenant table carries `workspace_id` and leads its keys with it.

Values that queries aggregate over are derived once, at write time (status, latency,
first-token latency, root flag, reported usage, normalised metadata entries), so the
group query never re-derives them per row.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from evalql.db.types import Cost, Json, JsonDocument, UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Signs presigned attachment URLs (evalql/rest/presign.py).
    url_signing_key: Mapped[str | None] = mapped_column(String(64), default=lambda: secrets.token_hex(32))


class ApiKey(Base):
    """Keys are stored as SHA-256 hashes: they are 256-bit random tokens, so a slow
    password hash buys nothing, and a hash lookup keeps auth to one indexed read."""

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class TenantMixin:
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class Dataset(TenantMixin, Base):
    __tablename__ = "datasets"
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    data_type: Mapped[str] = mapped_column(String(16), default="kv")
    inputs_schema_definition: Mapped[Any] = mapped_column(Json, nullable=True)
    outputs_schema_definition: Mapped[Any] = mapped_column(Json, nullable=True)
    transformations: Mapped[Any] = mapped_column(Json, nullable=True)
    metadata_: Mapped[Any] = mapped_column("metadata", Json, nullable=True)
    externally_managed: Mapped[bool] = mapped_column(Boolean, default=False)
    baseline_experiment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        # Names are unique among live datasets (spec §7.2); a deleted name can be reused.
        Index("ix_datasets_ws_name_live", "workspace_id", "name", unique=True,
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
    )


class Example(TenantMixin, Base):
    __tablename__ = "examples"
    dataset_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    inputs: Mapped[Any] = mapped_column(Json, default=dict)
    outputs: Mapped[Any] = mapped_column(Json, nullable=True)
    # Includes `dataset_split`, the example's split list (spec §7.3).
    metadata_: Mapped[Any] = mapped_column("metadata", Json, nullable=True)
    source_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        # Serves "examples of dataset D ordered by (created_at, id)".
        Index("ix_examples_ws_dataset_created", "workspace_id", "dataset_id", "created_at", "id"),
        # Covers the "live example of dataset D" check of the group query's candidate scan.
        Index("ix_examples_ws_id_live", "workspace_id", "id", "dataset_id", "deleted_at"),
        # `in_dataset` of a run: is some example made from it (migration 0007)?
        Index("ix_examples_ws_source_run", "workspace_id", "source_run_id"),
    )


class TracerSession(TenantMixin, Base):
    """A session, project or experiment: the three names mean the same resource."""

    __tablename__ = "sessions"
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    start_time: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    end_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    extra: Mapped[Any] = mapped_column(Json, nullable=True)
    reference_dataset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    default_dataset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    trace_tier: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_sessions_ws_name", "workspace_id", "name", unique=True),
        Index("ix_sessions_ws_refds_start", "workspace_id", "reference_dataset_id", "start_time", "id"),
    )


class Run(TenantMixin, Base):
    __tablename__ = "runs"
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    trace_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    parent_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    dotted_order: Mapped[str] = mapped_column(Text)
    is_root: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(Text)
    run_type: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(8))  # derived: error | success | pending
    error: Mapped[str | None] = mapped_column(Text)
    inputs: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    outputs: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    extra: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    events: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    tags: Mapped[Any] = mapped_column(Json, nullable=True)
    serialized: Mapped[Any] = mapped_column(JsonDocument, nullable=True)
    reference_example_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    first_token_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # Derived at write time, in seconds.
    latency: Mapped[float | None] = mapped_column(Float)
    first_token_latency: Mapped[float | None] = mapped_column(Float)
    # Own usage as reported on this run (null when it reported none) ...
    own_prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    own_completion_tokens: Mapped[int | None] = mapped_column(Integer)
    own_total_tokens: Mapped[int | None] = mapped_column(Integer)
    own_prompt_cost: Mapped[Decimal | None] = mapped_column(Cost)
    own_completion_cost: Mapped[Decimal | None] = mapped_column(Cost)
    own_total_cost: Mapped[Decimal | None] = mapped_column(Cost)
    # ... and reported usage: own usage if present, else the children's, rolled up (spec §2.4).
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    prompt_cost: Mapped[Decimal | None] = mapped_column(Cost)
    completion_cost: Mapped[Decimal | None] = mapped_column(Cost)
    total_cost: Mapped[Decimal | None] = mapped_column(Cost)
    prompt_token_details: Mapped[Any] = mapped_column(Json, nullable=True)
    completion_token_details: Mapped[Any] = mapped_column(Json, nullable=True)
    # What the merge rules of spec §7.5.2 need beyond the merged values: which fields
    # patches set (a repeated post must not override them), the merged patch `extra`,
    # and the usage/first-token fields as given (the columns above hold derived values).
    ingest_state: Mapped[Any] = mapped_column(JsonDocument, nullable=True)  # json, not jsonb: may hold NUL
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        # The group query's candidate scan: root runs of a session linked to examples.
        # It covers the metrics the stats block sums, so the scan never reads the wide
        # rows (inputs/outputs JSON) of the table itself.
        Index("ix_runs_group_scan", "workspace_id", "session_id", "is_root", "reference_example_id", "id",
              "latency", "first_token_latency", "total_tokens", "prompt_tokens", "completion_tokens",
              "total_cost", "prompt_cost", "completion_cost", "start_time", "status", "first_token_time"),
        Index("ix_runs_ws_trace", "workspace_id", "trace_id"),
        Index("ix_runs_ws_parent", "workspace_id", "parent_run_id"),
        Index("ix_runs_ws_example", "workspace_id", "reference_example_id"),
        Index("ix_runs_ws_session_start", "workspace_id", "session_id", "start_time", "id"),
        # A session's last root run start (`last_run_start_time`): the last entry of its range.
        Index("ix_runs_ws_session_root_start", "workspace_id", "session_id", "is_root", "start_time"),
        # POST /runs/query without a session (by trace, example or id): keyset pages in start order.
        Index("ix_runs_ws_start", "workspace_id", "start_time", "id"),
    )


class MetadataEntryMixin:
    """One normalised top-level metadata entry (spec §4.3 string forms).

    Written with its owner, so grouping and filtering compare indexed text instead of
    extracting and re-normalising JSON per row, identically on both databases.
    """

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # string | number | bool | json | null
    value: Mapped[str] = mapped_column(Text)
    num: Mapped[float | None] = mapped_column(Float)


class RunMetadata(MetadataEntryMixin, Base):
    __tablename__ = "run_metadata"
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid)

    __table_args__ = (
        PrimaryKeyConstraint("workspace_id", "run_id", "key"),
        # No `value` in the index: PostgreSQL refuses index rows over ~2.7 kB, and a
        # metadata value (a prompt, say) can be longer; lookups go by run and key anyway.
        Index("ix_run_metadata_ws_session_key", "workspace_id", "session_id", "key"),
    )


class ExampleMetadata(MetadataEntryMixin, Base):
    __tablename__ = "example_metadata"
    example_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(Uuid)

    __table_args__ = (
        PrimaryKeyConstraint("workspace_id", "example_id", "key"),
        Index("ix_example_metadata_ws_dataset_key", "workspace_id", "dataset_id", "key"),
    )


class Feedback(TenantMixin, Base):
    __tablename__ = "feedback"
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    trace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(180))
    # Booleans are stored as 1.0/0.0 for statistics, with `score_is_bool` so the API
    # can return the score as it was given.
    score: Mapped[float | None] = mapped_column(Float)
    score_is_bool: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[Any] = mapped_column(Json, nullable=True)
    value_label: Mapped[str | None] = mapped_column(Text)  # derived, spec §3.1 `values`
    comment: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[Any] = mapped_column(Json, nullable=True)
    feedback_source: Mapped[Any] = mapped_column(Json, nullable=True)
    feedback_config: Mapped[Any] = mapped_column(Json, nullable=True)
    feedback_group_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    comparative_experiment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    start_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    extra: Mapped[Any] = mapped_column(Json, nullable=True)
    error: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_feedback_ws_run", "workspace_id", "run_id", "key"),
        Index("ix_feedback_ws_session", "workspace_id", "session_id", "run_id"),
    )


class PendingRun(TenantMixin, Base):
    """An ingest record that cannot be applied yet (spec §7.5.2, §7.7): a patch whose
    post has not arrived, or a post whose parent run has not. Invisible to every query;
    applied, in arrival order, when what it waits for is stored."""

    __tablename__ = "pending_runs"
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(8))  # post | patch
    waits_for: Mapped[uuid.UUID] = mapped_column(Uuid)  # the run id (patch) or parent id (post)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # a post's session, for deleting it with the session
    record: Mapped[Any] = mapped_column(JsonDocument)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within one request

    __table_args__ = (
        Index("ix_pending_runs_ws_waits_for", "workspace_id", "waits_for"),
        Index("ix_pending_runs_ws_run", "workspace_id", "run_id"),  # every batch looks its ids up here
    )


class RunAttachment(Base):
    """Bytes of a run attachment (spec §7.5.4), served back by GET /runs/{id}/attachments/{name}."""

    __tablename__ = "run_attachments"
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DataVersionCounter(Base):
    """The data version of a workspace: a counter that every write to the tables a
    comparison reads (runs, feedback, examples, sessions, datasets and their metadata
    entries) raises, so a process caching derived state learns with one indexed read
    whether anything changed. Maintained by database triggers only (migration 0003),
    never by application code, so no write path can forget it; read through
    evalql/db/changes.py. No row: version 0 (nothing written since the log exists)."""

    __tablename__ = "data_versions"
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    # Log rows with version <= pruned_through are deleted: a reader that last saw an
    # older version cannot be told what changed and rebuilds from the tables.
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))

    # Both log tables are read and written by their key only: on SQLite, WITHOUT ROWID
    # stores each row once, in its key's B-tree (a rowid table adds a second one for the
    # key), which matters there because the triggers write them once per changed row.
    __table_args__ = {"sqlite_with_rowid": False}


class DataChange(Base):
    """The change log: which row (by kind and id) a write of data version `version`
    touched. Written by the same triggers as the counter, in the same transaction.
    No timestamp: pruning goes by version (evalql/db/changes.py::prune_changes), and
    a time-based policy needs only the (time, version) pairs its pruner observed."""

    __tablename__ = "data_changes"
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # run | feedback | example | session | dataset
    row_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)

    __table_args__ = {"sqlite_with_rowid": False}


# The tables whose rows belong to one workspace: every statement on them is scoped to
# it (evalql/db/tenant.py, checked by evalql/db/tenancy_check.py). `api_keys` carries
# a workspace_id too but is not one of them: authentication looks a key up by its
# hash before anyone knows the workspace.
TENANT_MODELS: tuple[type[Base], ...] = (
    Dataset, Example, TracerSession, Run, RunMetadata, ExampleMetadata, Feedback, PendingRun, RunAttachment,
    DataVersionCounter, DataChange,
)
