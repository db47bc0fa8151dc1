"""Writes with their derived columns. The seeders and tests use these today; the
LangSmith ingest routes build on the same functions so that derivations live once.

Every statement on a tenant table starts from a builder of evalql/db/tenant.py
(`readable`, `updatable`, `deletable`, `owned_rows`, `owned`); the helpers here take
the workspace as `(db, workspace_id)`, the form that ingest, seeders and tests have."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.core.values import normalize, value_label
from evalql.db import arrays, derive, values_pages
from evalql.db.backend import is_postgresql
from evalql.db.lookups import rows_by_keys
from evalql.db.models import (
    ApiKey,
    Dataset,
    Example,
    ExampleMetadata,
    Feedback,
    PendingRun,
    Run,
    RunAttachment,
    RunMetadata,
    TracerSession,
    Workspace,
)
from evalql.db.tenant import Owner, deletable, owned, owned_rows, readable, updatable
from evalql.db.types import utcnow
from evalql.db.upsert import upsert

KEY_PREFIX = "evq_"
DEFAULT_WORKSPACE = "default"


def as_uuid(value: Any) -> uuid.UUID | None:
    """JSON ingest carries ids as strings; columns want UUIDs."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    return _parsed_uuid(str(value))


# Ids read from text recently: a batch names each trace, parent and session many times
# (four runs of a trace share its trace id), and parsing one costs more than the lookup.
_UUIDS: dict[str, uuid.UUID] = {}
_MAX_UUIDS = 65_536


def _parsed_uuid(text: str) -> uuid.UUID:
    found = _UUIDS.get(text)
    if found is None:
        if len(_UUIDS) >= _MAX_UUIDS:
            _UUIDS.clear()
        found = _UUIDS[text] = uuid.UUID(text)
    return found


async def bulk_insert(db: AsyncSession, owner: Owner, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT of the owner's rows: every row binds every column that any row gives (None
    where it gives none), as one statement per page of rows, not one per row. Keys are
    attribute names, as for the ORM. PostgreSQL takes the rows as one array per column
    (`db/arrays.py`), SQLite as multi-row VALUES pages (`db/values_pages.py`); rows that
    leave a column with a Python-side default to SQLAlchemy take its executemany. (The
    ORM's bulk insert left None values out, so it split rows that differ in which values
    are None into separate statements, and it kept per-row bookkeeping of its own.)"""
    if not rows:
        return
    names = _column_names(model)
    keys = list(dict.fromkeys(key for row in rows for key in row))
    if "workspace_id" not in keys:
        keys.append("workspace_id")
    rows = owned_rows(owner, rows)
    if is_postgresql(db):
        columns = tuple(names[key] for key in keys)
        source = arrays.source(model, columns)
        await db.execute(_array_insert(model, columns), arrays.parameters(source, rows, keys))
        return
    pages = values_pages.shape(db.get_bind().dialect, insert(model.__table__), {key: names[key] for key in keys},
                               ("insert", model))
    if pages is not None:
        await values_pages.insert_pages(db, pages, rows)
        return
    await db.execute(insert(model.__table__), [{names[key]: row.get(key) for key in keys} for row in rows])


_COLUMN_NAMES: dict[Any, dict[str, str]] = {}
_ARRAY_INSERTS: dict[tuple[Any, ...], Any] = {}


def _array_insert(model: Any, columns: tuple[str, ...]) -> Any:
    statement = _ARRAY_INSERTS.get((model, columns))
    if statement is None:
        statement = _ARRAY_INSERTS[(model, columns)] = insert(model.__table__).from_select(
            list(columns), arrays.source(model, columns).select)
    return statement


def _column_names(model: Any) -> dict[str, str]:
    """Attribute name -> column name (they differ for `metadata_`)."""
    if model not in _COLUMN_NAMES:
        _COLUMN_NAMES[model] = {attr.key: attr.columns[0].name for attr in model.__mapper__.column_attrs}
    return _COLUMN_NAMES[model]


async def bulk_update(db: AsyncSession, owner: Owner, model: Any, rows: list[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key (one executemany). The key is (workspace_id, id)
    and every row carries the owner's workspace id, so `WHERE workspace_id = :workspace_id
    AND id = :id` confines each row; no extra condition (SQLAlchemy cannot synchronize
    the session's loaded rows under one)."""
    if rows:
        await db.execute(update(model), owned_rows(owner, rows))


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_workspace(db: AsyncSession, name: str) -> Workspace:
    workspace = Workspace(id=uuid.uuid4(), name=name, created_at=utcnow())
    db.add(workspace)
    await db.flush()
    return workspace


async def workspace_named(db: AsyncSession, name: str) -> Workspace | None:
    return await db.scalar(select(Workspace).where(Workspace.name == name))


async def get_or_create_workspace(db: AsyncSession, name: str) -> tuple[Workspace, bool]:
    found = await workspace_named(db, name)
    if found is not None:
        return found, False
    return await create_workspace(db, name), True


async def create_api_key(db: AsyncSession, workspace_id: uuid.UUID, *, read_only: bool = False) -> str:
    """Returns the key in clear; only its hash is stored, so this is the one time it is seen."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiKey(workspace_id=workspace_id, key_hash=hash_api_key(key), prefix=key[:10], read_only=read_only))
    await db.flush()
    return key


def metadata_entries(metadata: Any) -> list[tuple[str, Any]]:
    return list(metadata.items()) if isinstance(metadata, dict) else []


def _entry_row(workspace_id: uuid.UUID, key: str, value: Any) -> dict[str, Any]:
    norm = normalize(value)
    return {"workspace_id": workspace_id, "key": key, "kind": norm.kind, "value": norm.text, "num": norm.num}


async def insert_dataset(db: AsyncSession, workspace_id: uuid.UUID, **fields: Any) -> Dataset:
    now = utcnow()
    dataset = owned(workspace_id, Dataset, id=fields.pop("id", None) or uuid.uuid4(),
                    created_at=fields.pop("created_at", None) or now, modified_at=now, **fields)
    db.add(dataset)
    await db.flush()
    return dataset


def split_list(split: str | list[str] | None) -> list[str]:
    if split is None:
        return ["base"]
    if isinstance(split, str):
        return [split]
    return list(dict.fromkeys(split))


def _example_metadata_rows(workspace_id: uuid.UUID, example_id: uuid.UUID, dataset_id: uuid.UUID,
                           metadata: Any) -> list[dict[str, Any]]:
    return [_entry_row(workspace_id, k, v) | {"example_id": example_id, "dataset_id": dataset_id}
            for k, v in metadata_entries(metadata)]


async def insert_examples(db: AsyncSession, workspace_id: uuid.UUID, records: Iterable[dict[str, Any]]
                          ) -> list[uuid.UUID]:
    """Records: dataset_id, inputs, outputs, metadata, split, id, created_at, source_run_id."""
    rows, entries, ids = [], [], []
    now = utcnow()
    for record in records:
        example_id = uuid.UUID(str(record["id"])) if record.get("id") else uuid.uuid4()
        metadata = dict(record.get("metadata") or {})
        if "split" in record or "dataset_split" not in metadata:
            metadata["dataset_split"] = split_list(record.get("split"))
        created = derive.parse_timestamp(record.get("created_at")) or now
        dataset_id = uuid.UUID(str(record["dataset_id"]))  # required of every example
        rows.append({
            "workspace_id": workspace_id, "id": example_id, "dataset_id": dataset_id,
            "inputs": record.get("inputs") or {}, "outputs": record.get("outputs"), "metadata_": metadata,
            "source_run_id": as_uuid(record.get("source_run_id")), "created_at": created, "modified_at": created,
        })
        entries += _example_metadata_rows(workspace_id, example_id, dataset_id, metadata)
        ids.append(example_id)
    await bulk_insert(db, workspace_id, Example, rows)
    await bulk_insert(db, workspace_id, ExampleMetadata, entries)
    return ids


async def update_example(db: AsyncSession, example: Example, *, inputs: Any = None, outputs: Any = None,
                         metadata: Any = None, split: str | list[str] | None = None) -> None:
    """PATCH semantics (spec §7.3): None leaves a field unchanged. The split list stays in
    `metadata.dataset_split` (an explicit `split` wins over one in `metadata`), and the
    normalised `example_metadata` rows are rewritten to match."""
    if inputs is not None:
        example.inputs = inputs
    if outputs is not None:
        example.outputs = outputs
    if metadata is not None or split is not None:
        current = example.metadata_ if isinstance(example.metadata_, dict) else {}
        new = dict(metadata if metadata is not None else current)
        if split is not None:
            new["dataset_split"] = split_list(split)
        elif "dataset_split" not in new:
            new["dataset_split"] = current.get("dataset_split") or ["base"]
        example.metadata_ = new
        await db.execute(deletable(example.workspace_id, ExampleMetadata)
                         .where(ExampleMetadata.example_id == example.id))
        await bulk_insert(db, example.workspace_id, ExampleMetadata,
                          _example_metadata_rows(example.workspace_id, example.id, example.dataset_id, new))
    example.modified_at = utcnow()
    await db.flush()


async def soft_delete_dataset(db: AsyncSession, workspace_id: uuid.UUID, dataset_id: uuid.UUID) -> None:
    """Marks the dataset and its live examples deleted (spec §7.2)."""
    now = utcnow()
    await db.execute(updatable(workspace_id, Dataset).where(Dataset.id == dataset_id)
                     .values(deleted_at=now, modified_at=now))
    await db.execute(updatable(workspace_id, Example).where(Example.dataset_id == dataset_id,
                                                            Example.deleted_at.is_(None)).values(deleted_at=now))


async def soft_delete_example(db: AsyncSession, workspace_id: uuid.UUID, example_id: uuid.UUID) -> None:
    await db.execute(updatable(workspace_id, Example).where(Example.id == example_id).values(deleted_at=utcnow()))


async def insert_session(db: AsyncSession, workspace_id: uuid.UUID, **fields: Any) -> TracerSession:
    for name in ("reference_dataset_id", "default_dataset_id"):
        if name in fields:
            fields[name] = as_uuid(fields[name])
    session = owned(workspace_id, TracerSession, id=fields.pop("id", None) or uuid.uuid4(),
                    start_time=fields.pop("start_time", None) or utcnow(), **fields)
    db.add(session)
    await db.flush()
    return session


async def session_ids_by_name(db: AsyncSession, workspace_id: uuid.UUID, names: set[str]) -> dict[str, uuid.UUID]:
    found = {session.name: session.id for session in await rows_by_keys(
        db, workspace_id, TracerSession, TracerSession.name, names, TracerSession.name, TracerSession.id)}
    for name in names - found.keys():
        found[name] = (await insert_session(db, workspace_id, name=name)).id
    return found


async def insert_runs(db: AsyncSession, workspace_id: uuid.UUID, records: list[dict[str, Any]]) -> None:
    """Insert post records (spec §7.5.1) with derived columns, then roll usage up.

    Parents may come earlier in the same list or already be stored.
    """
    names = {r["session_name"] for r in records if not r.get("session_id") and r.get("session_name")}
    if any(not r.get("session_id") and not r.get("session_name") for r in records):
        names.add("default")
    session_by_name = await session_ids_by_name(db, workspace_id, names) if names else {}

    parsed = [run_row(workspace_id, record, session_by_name) for record in records]
    by_id = {row["id"]: row for row in parsed}
    missing_parents = {
        row["parent_run_id"] for row in parsed
        if row["parent_run_id"] is not None and row["parent_run_id"] not in by_id and row["trace_id"] is None
    }
    stored = {run.id: (run.trace_id, run.dotted_order) for run in await rows_by_keys(
        db, workspace_id, Run, Run.id, missing_parents, Run.id, Run.trace_id, Run.dotted_order)}
    for row in parsed:
        fill_trace_fields(row, by_id, stored)

    await roll_up_usage(db, workspace_id, parsed, stored_ids=set())
    # The metadata entries go first. Written after their runs, each entry of a root run
    # would log that run in the change log again (its trigger logs the entries of stored
    # roots, migration 0003), although the run's own insert logs it in the same
    # transaction; before them, the entries find no stored run and log nothing, and the
    # runs' insert logs each root once. Readers see the same: every root of the write.
    await bulk_insert(db, workspace_id, RunMetadata, run_metadata_rows(parsed))
    await bulk_insert(db, workspace_id, Run, parsed)


def run_metadata_rows(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The normalised `run_metadata` entries of run rows (top-level `extra.metadata`).
    The runs of a batch repeat a few entries (model, SDK method, revision) many times:
    each distinct scalar entry is normalised once."""
    normalised: dict[tuple[Any, Any], tuple[str, str | None, float | None]] = {}
    rows = []
    for row in runs:
        for key, value in metadata_entries((row["extra"] or {}).get("metadata")):
            scalar = value is None or isinstance(value, (str, int, float))  # noqa: UP038 (bool is an int)
            # By class (True is 1) and a float by its repr (-0.0 equals 0.0, nan nothing).
            memo = (value.__class__, repr(value) if value.__class__ is float else value) if scalar else None
            found = normalised.get(memo) if memo is not None else None
            if found is None:
                norm = normalize(value)
                found = (norm.kind, norm.text, norm.num)
                if memo is not None:
                    normalised[memo] = found
            rows.append({"workspace_id": row["workspace_id"], "key": key, "kind": found[0], "value": found[1],
                         "num": found[2], "run_id": row["id"], "session_id": row["session_id"]})
    return rows


# Given values that the row stores only in derived form; kept as given so that a later
# merge (spec §7.5.2) can re-derive from the record rather than from derived values.
GIVEN_FIELDS = ("first_token_time", *derive.TOKEN_FIELDS, *derive.COST_FIELDS,
                "prompt_token_details", "completion_token_details")


def as_given(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value) if isinstance(value, Decimal) else value


def run_row(workspace_id: uuid.UUID, record: dict[str, Any], session_by_name: dict[str, uuid.UUID],
            ingest_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run row of a (merged) post record, with every derived column. Trace fields
    stay None when the record does not give them (see `fill_trace_fields`)."""
    run_id = as_uuid(record["id"])
    start = derive.parse_timestamp(record["start_time"])
    end = derive.parse_timestamp(record.get("end_time"))
    first_token = derive.first_token_time(derive.parse_timestamp(record.get("first_token_time")), record.get("events"))
    usage = derive.own_usage(record)
    parent = record.get("parent_run_id")
    session_id = record.get("session_id") or session_by_name[record.get("session_name") or "default"]
    return {
        "workspace_id": workspace_id, "id": run_id, "session_id": as_uuid(session_id),
        "trace_id": as_uuid(record["trace_id"]) if record.get("trace_id") else None,
        "dotted_order": record.get("dotted_order"),
        "parent_run_id": as_uuid(parent) if parent else None, "is_root": not parent,
        "name": record["name"], "run_type": record["run_type"], "start_time": start, "end_time": end,
        "status": derive.run_status(record.get("error"), end), "error": record.get("error"),
        "inputs": record.get("inputs"), "outputs": record.get("outputs"), "extra": record.get("extra"),
        "events": record.get("events"), "tags": record.get("tags"), "serialized": record.get("serialized"),
        "reference_example_id": as_uuid(record.get("reference_example_id")),
        "first_token_time": first_token,
        "latency": derive.seconds_between(start, end),
        "first_token_latency": derive.seconds_between(start, first_token),
        **{f"own_{f}": getattr(usage, f) for f in derive.TOKEN_FIELDS + derive.COST_FIELDS},
        # Reported usage starts as the run's own; roll_up_usage then rewrites only the
        # runs whose subtree changes it (ancestors without usage of their own).
        **{f: getattr(usage, f) or 0 for f in derive.TOKEN_FIELDS},
        **{f: getattr(usage, f) for f in derive.COST_FIELDS},
        "prompt_token_details": usage.prompt_token_details,
        "completion_token_details": usage.completion_token_details,
        "ingest_state": ingest_state or {
            "patched": [], "given": {f: as_given(record[f]) for f in GIVEN_FIELDS if record.get(f) is not None}},
        "created_at": utcnow(),
    }


def fill_trace_fields(row: dict[str, Any], by_id: dict[uuid.UUID, dict[str, Any]],
                       stored: dict[uuid.UUID, tuple[uuid.UUID, str]]) -> None:
    if row["trace_id"] is not None and row["dotted_order"]:
        return
    segment = derive.dotted_segment(row["start_time"], row["id"])
    parent_id = row["parent_run_id"]
    if parent_id is None:
        row["trace_id"], row["dotted_order"] = row["id"], segment
        return
    if parent_id in by_id:
        parent = by_id[parent_id]
        fill_trace_fields(parent, by_id, stored)
        trace_id, parent_order = parent["trace_id"], parent["dotted_order"]
    elif parent_id in stored:
        trace_id, parent_order = stored[parent_id]
    else:
        raise ValueError(f"Run {row['id']}: parent run {parent_id} is unknown")
    row["trace_id"], row["dotted_order"] = trace_id, f"{parent_order}.{segment}"


USAGE_FIELDS = derive.TOKEN_FIELDS + derive.COST_FIELDS


def _reported(own: derive.Usage, children: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A run's reported usage (spec §2.4): its own when it has any, else the sum of its
    children's reported usage (tokens default 0, costs stay null if no child has one)."""
    if own.present:
        return {**{f: getattr(own, f) or 0 for f in derive.TOKEN_FIELDS},
                **{f: getattr(own, f) for f in derive.COST_FIELDS}}
    totals: dict[str, Any] = {f: 0 for f in derive.TOKEN_FIELDS} | {f: None for f in derive.COST_FIELDS}
    for sub in children:
        for f in derive.TOKEN_FIELDS:
            totals[f] += sub[f]
        for f in derive.COST_FIELDS:
            if sub[f] is not None:
                totals[f] = (totals[f] or Decimal(0)) + sub[f]
    return totals


async def roll_up_usage(db: AsyncSession, workspace_id: uuid.UUID, rows: list[dict[str, Any]],
                        stored_ids: set[uuid.UUID]) -> None:
    """Reported usage (spec §2.4) of run rows about to be written, and of their ancestors.

    Sets the reported columns of `rows` (new and changed runs, with their own usage and trace
    fields) and updates the stored ancestors whose reported usage changes. `stored_ids` says
    which of `rows` are stored already; the others are new, and so are their children (a run
    is stored only once its parent is).

    Only the write's own ids are looked up, by index: its stored ancestors (named by dotted
    orders) by id, and the stored children of the changed runs without usage of their own by
    parent. A run's reported usage depends on nothing else, so no trace is read whole, and no
    statement's plan depends on how big the table is or what the planner knows of it.
    """
    by_id = {row["id"]: row for row in rows}
    depth = {run_id: row["dotted_order"].count(".") for run_id, row in by_id.items()}
    for row in rows:  # ancestors outside the write, from the first run whose parent is outside it
        if row["parent_run_id"] is not None and row["parent_run_id"] not in by_id:
            for level, segment in enumerate(row["dotted_order"].split(".")[:-1]):
                ancestor = uuid.UUID(segment[-36:])
                if ancestor not in by_id:
                    depth[ancestor] = level
    own = {run_id: derive.Usage(*(row[f"own_{f}"] for f in USAGE_FIELDS)) for run_id, row in by_id.items()}
    before: dict[uuid.UUID, dict[str, Any]] = {}  # stored ancestors: their reported usage now
    ancestors = [run_id for run_id in depth if run_id not in by_id]
    for run in await rows_by_keys(db, workspace_id, Run, Run.id, ancestors, Run.id,
                                  *(getattr(Run, f"own_{f}") for f in USAGE_FIELDS),
                                  *(getattr(Run, f) for f in USAGE_FIELDS)):
        own[run.id] = derive.Usage(*run[1:1 + len(USAGE_FIELDS)])
        before[run.id] = dict(zip(USAGE_FIELDS, run[1 + len(USAGE_FIELDS):], strict=True))

    # Children within the computation (rows and stored ancestors) are recomputed; the other
    # stored children of a run count with the reported usage they have.
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for run_id, row in by_id.items():
        if row["parent_run_id"] is not None:
            children[row["parent_run_id"]].append(run_id)
    stored_children: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    summing = [run_id for run_id in (*(i for i in by_id if i in stored_ids), *before) if not own[run_id].present]
    for child in await rows_by_keys(db, workspace_id, Run, Run.parent_run_id, summing, Run.id, Run.parent_run_id,
                                    *(getattr(Run, f) for f in USAGE_FIELDS)):
        if child.id in before:
            children[child.parent_run_id].append(child.id)
        elif child.id not in by_id:
            stored_children[child.parent_run_id].append(dict(zip(USAGE_FIELDS, child[2:], strict=True)))

    reported: dict[uuid.UUID, dict[str, Any]] = {}
    updates = []
    for run_id in sorted(own, key=depth.__getitem__, reverse=True):  # children before parents
        reported[run_id] = totals = _reported(
            own[run_id], [*stored_children[run_id], *(reported[c] for c in children[run_id] if c in reported)])
        if run_id in by_id:
            by_id[run_id].update(totals)
        elif totals != before[run_id]:
            updates.append({"id": run_id, **totals})
    await bulk_update(db, workspace_id, Run, updates)


async def insert_feedback(db: AsyncSession, workspace_id: uuid.UUID, records: list[dict[str, Any]]) -> list[uuid.UUID]:
    """Create bodies of spec §7.6. A trace_id without run_id targets the trace's root run,
    whose id is the trace id."""
    rows, now = [], utcnow()
    for record in records:
        score = record.get("score")
        run_id = as_uuid(record.get("run_id") or record.get("trace_id"))
        created = derive.parse_timestamp(record.get("created_at")) or now
        rows.append({
            "workspace_id": workspace_id, "id": uuid.UUID(str(record["id"])) if record.get("id") else uuid.uuid4(),
            "run_id": run_id, "trace_id": as_uuid(record.get("trace_id") or record.get("run_id")),
            "session_id": as_uuid(record.get("session_id")), "key": record["key"],
            "score": None if score is None else float(score), "score_is_bool": isinstance(score, bool),
            "value": record.get("value"), "value_label": value_label(record.get("value")),
            "comment": record.get("comment"), "correction": record.get("correction"),
            "feedback_source": record.get("feedback_source") or {"type": "api", "metadata": {}},
            "feedback_config": record.get("feedback_config"),
            "feedback_group_id": as_uuid(record.get("feedback_group_id")),
            "comparative_experiment_id": as_uuid(record.get("comparative_experiment_id")),
            "start_time": derive.parse_timestamp(record.get("start_time")), "extra": record.get("extra"),
            "error": bool(record.get("error") or False), "created_at": created,
            "modified_at": derive.parse_timestamp(record.get("modified_at")) or created,
        })
    # Idempotent by id (spec §7.6): creating an id that exists replaces it.
    await upsert(db, workspace_id, Feedback, rows, key=("workspace_id", "id"))
    return [row["id"] for row in rows]


async def update_feedback(db: AsyncSession, feedback: Feedback, changes: dict[str, Any]) -> None:
    """PATCH of spec §7.6: every field in `changes` is set, None included (there an explicit
    null clears). The derived `score_is_bool` and `value_label` follow their fields."""
    for name, value in changes.items():
        if name == "score":
            feedback.score = None if value is None else float(value)
            feedback.score_is_bool = isinstance(value, bool)
        elif name == "value":
            feedback.value, feedback.value_label = value, value_label(value)
        else:
            setattr(feedback, name, value)
    feedback.modified_at = utcnow()
    await db.flush()


async def delete_feedback(db: AsyncSession, workspace_id: uuid.UUID, feedback_id: uuid.UUID) -> bool:
    """DELETE of spec §7.6, one statement: whether the workspace had that feedback."""
    result = await db.execute(deletable(workspace_id, Feedback).where(Feedback.id == feedback_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_session(db: AsyncSession, workspace_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Hard delete (spec §7.4): the session, its runs with their metadata entries, pending
    records and attachments, the feedback of those runs and the feedback naming the session.
    Posts still waiting for a parent in the session go too, with the patches waiting for them.
    Runs go last: the other deletes find their rows through them."""
    held = readable(workspace_id, PendingRun, PendingRun.run_id).where(PendingRun.session_id == session_id)
    await db.execute(deletable(workspace_id, PendingRun).where(PendingRun.run_id.in_(held)))
    runs = readable(workspace_id, Run, Run.id).where(Run.session_id == session_id)
    for model in (RunMetadata, PendingRun, RunAttachment):
        await db.execute(deletable(workspace_id, model).where(model.run_id.in_(runs)))
    await db.execute(deletable(workspace_id, Feedback).where(or_(Feedback.run_id.in_(runs),
                                                                 Feedback.session_id == session_id)))
    await db.execute(deletable(workspace_id, Run).where(Run.session_id == session_id))
    await db.execute(deletable(workspace_id, TracerSession).where(TracerSession.id == session_id))
