"""The candidate runs of the group query (spec §5.3 steps 1–4), as SQL.

`candidate_runs()` is step 1 itself, also the run set of `POST /datasets/{id}/runs` (§6);
`candidates()` yields one row per candidate root run with its group identity; the
intersection `E(g)` and the run set `R(g)` are built on top of it. Everything stays
in SQL so no Python work grows with the number of runs in a group.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CTE, ColumnElement, Row, Select, and_, case, func, or_, select
from sqlalchemy.sql import FromClause

from evalql.core.enums import GroupBy
from evalql.db.models import Example, ExampleMetadata, Run, RunMetadata
from evalql.db.tenant import Tenant, readable
from evalql.queries.results import GroupIdentity
from evalql.queries.run_stats import metric_columns


@dataclass(frozen=True)
class GroupQuery:
    dataset_id: uuid.UUID
    session_ids: Sequence[uuid.UUID]  # de-duplicated, request order
    group_by: GroupBy
    metadata_key: str
    offset: int = 0
    limit: int = 10
    per_group_limit: int = 5
    preview: bool = False
    # Per-session SQL conditions on `Run`, AND-ed (compiled from filter strings).
    run_conditions: Mapping[uuid.UUID, Sequence[ColumnElement[bool]]] = field(default_factory=dict)
    # Per-session filter strings, echoed into the session `filter` (spec §5.5).
    filter_strings: Mapping[uuid.UUID, Sequence[str]] = field(default_factory=dict)
    # With a baseline (one of `session_ids`), every other session of a group carries its
    # deltas against it (engine/deltas.py); the SQL evaluation leaves them out.
    baseline_session_id: uuid.UUID | None = None
    delta_tolerance: float = 0.0


def candidate_runs(tenant: Tenant, dataset_id: uuid.UUID, session_ids: Sequence[uuid.UUID],
                   run_conditions: Mapping[uuid.UUID, Sequence[ColumnElement[bool]]], *columns: Any) -> Select:
    """Spec §5.3 step 1, shared by the group query and §6: root runs of the sessions,
    linked to a live example of the dataset, passing every filter of their session.
    Selects `columns` (the `Run` entity when none are given)."""
    stmt: Select = (
        readable(tenant, Run, *columns)
        .join(Example, and_(Example.workspace_id == Run.workspace_id,
                            Example.id == Run.reference_example_id,
                            Example.dataset_id == dataset_id,
                            Example.deleted_at.is_(None)))
        .where(Run.session_id.in_(session_ids), Run.is_root.is_(True))
    )
    per_session = [
        and_(Run.session_id == session_id, *conditions)
        for session_id, conditions in run_conditions.items() if conditions
    ]
    if per_session:
        filtered = set(run_conditions)
        unfiltered = [s for s in session_ids if s not in filtered or not run_conditions[s]]
        stmt = stmt.where(or_(Run.session_id.in_(unfiltered), *per_session))
    return stmt


def candidates(tenant: Tenant, query: GroupQuery) -> Select:
    """Candidate runs with a non-null group value, the bit of their session, and their metrics."""
    entry = RunMetadata if query.group_by is GroupBy.RUN_METADATA else ExampleMetadata
    is_text = case((entry.kind == "number", 0), else_=1)
    # At most 10 sessions: session i is bit 2**i, so SUM(DISTINCT bit) over any set of
    # runs is the set of their sessions, as one integer (see `group_members`).
    bit = case(*[(Run.session_id == s, 1 << i) for i, s in enumerate(query.session_ids)])
    stmt = candidate_runs(
        tenant, query.dataset_id, query.session_ids, query.run_conditions,
        Run.id.label("run_id"), Run.session_id.label("session_id"), bit.label("bit"),
        Run.reference_example_id.label("example_id"), is_text.label("is_text"),
        entry.value.label("value"), entry.num.label("num"), *metric_columns(),
    )
    if entry is RunMetadata:
        stmt = stmt.join(RunMetadata, and_(RunMetadata.workspace_id == Run.workspace_id,
                                           RunMetadata.run_id == Run.id,
                                           RunMetadata.key == query.metadata_key))
    else:
        stmt = stmt.join(ExampleMetadata, and_(ExampleMetadata.workspace_id == Example.workspace_id,
                                               ExampleMetadata.example_id == Example.id,
                                               ExampleMetadata.key == query.metadata_key))
    return stmt.where(entry.kind != "null")


def group_members(cand: FromClause) -> Select:
    """R(g): candidate runs in g whose example every session of S(g) ran.

    The session set of a group and of each (group, example) is SUM(DISTINCT bit); an
    example is in E(g) when its set equals its group's. Two aggregations over the
    candidates (served by an index on the scratch table) and a join, instead of sorting
    every candidate once per window.
    """
    group = [cand.c.is_text, cand.c.value]
    groups = (select(*group, func.sum(cand.c.bit.distinct()).label("mask")).group_by(*group)
              .cte("group_sessions").prefix_with("MATERIALIZED"))
    examples = (select(*group, cand.c.example_id, func.sum(cand.c.bit.distinct()).label("mask"))
                .group_by(*group, cand.c.example_id).cte("example_sessions").prefix_with("MATERIALIZED"))
    return (
        select(cand)
        .select_from(examples)
        .join(groups, and_(groups.c.is_text == examples.c.is_text, groups.c.value == examples.c.value,
                           groups.c.mask == examples.c.mask))
        .join(cand, and_(cand.c.is_text == examples.c.is_text, cand.c.value == examples.c.value,
                         cand.c.example_id == examples.c.example_id))
    )


def intersection(members: FromClause) -> CTE:
    """E(g): the distinct examples of R(g)."""
    return (
        select(members.c.is_text, members.c.value, members.c.example_id, func.min(members.c.num).label("num"))
        .group_by(members.c.is_text, members.c.value, members.c.example_id)
        .cte("group_examples")
    )


def group_of(row: Row[Any]) -> GroupIdentity:
    return GroupIdentity(int(row.is_text), row.value)

