"""The metadata keys a comparison can group by, with how often each value occurs: of a
dataset's live examples, or of the root runs that compared sessions made on its live
examples (the runs the group query of spec §5.3 starts from, before filters).

It answers "why is my grouped answer empty?" (the key is not there, or only some rows have
it) and lets a page offer the keys that exist. One statement per question, whatever the
number of keys: the entries are counted per (key, value) and ranked per key by a window.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.sql import Select

from evalql.core.values import GroupKey, group_key
from evalql.db.dialect import CodePointOrder
from evalql.db.models import Example, ExampleMetadata, Run, RunMetadata
from evalql.db.tenant import Tenant, readable

MAX_VALUES_PER_KEY = 100


@dataclass(frozen=True, slots=True)
class ValueCount:
    value: GroupKey | None  # as a group key (spec §5.3 step 3); None for a null value
    count: int


@dataclass(slots=True)
class KeyCount:
    key: str
    count: int  # entries with the key (rows that have it), null values included
    distinct_values: int
    values: list[ValueCount] = field(default_factory=list)  # the most frequent first


async def example_metadata_keys(tenant: Tenant, dataset_id: uuid.UUID, values_per_key: int) -> list[KeyCount]:
    entries = (readable(tenant, ExampleMetadata, ExampleMetadata.key, ExampleMetadata.kind, ExampleMetadata.value)
               .join(Example, and_(Example.workspace_id == ExampleMetadata.workspace_id,
                                   Example.id == ExampleMetadata.example_id))
               .where(ExampleMetadata.dataset_id == dataset_id, Example.deleted_at.is_(None)))
    return await _counted(tenant, entries, values_per_key)


async def run_metadata_keys(tenant: Tenant, dataset_id: uuid.UUID, session_ids: Sequence[uuid.UUID],
                            values_per_key: int) -> list[KeyCount]:
    if not session_ids:
        return []
    entries = (readable(tenant, RunMetadata, RunMetadata.key, RunMetadata.kind, RunMetadata.value)
               .join(Run, and_(Run.workspace_id == RunMetadata.workspace_id, Run.id == RunMetadata.run_id))
               .join(Example, and_(Example.workspace_id == Run.workspace_id, Example.id == Run.reference_example_id))
               .where(RunMetadata.session_id.in_(list(dict.fromkeys(session_ids))), Run.is_root.is_(True),
                      Example.dataset_id == dataset_id, Example.deleted_at.is_(None)))
    return await _counted(tenant, entries, values_per_key)


async def _counted(tenant: Tenant, entries: Select[tuple[str, str, str]], values_per_key: int) -> list[KeyCount]:
    """Keys by how many entries have them (then by name), each with its `values_per_key`
    most frequent values (ties by kind and text). Names and texts in code-point order, as
    the group query orders its keys, the same on both databases."""
    rows_of = entries.subquery("entries")
    per_value = (select(rows_of.c.key, rows_of.c.kind, rows_of.c.value, func.count().label("n"))
                 .group_by(rows_of.c.key, rows_of.c.kind, rows_of.c.value).subquery("per_value"))
    by_key = per_value.c.key
    ranked = select(
        per_value.c.key, per_value.c.kind, per_value.c.value, per_value.c.n,
        func.row_number().over(partition_by=by_key, order_by=(per_value.c.n.desc(), CodePointOrder(per_value.c.kind),
                                                              CodePointOrder(per_value.c.value))).label("rank"),
        func.sum(per_value.c.n).over(partition_by=by_key).label("total"),
        func.count().over(partition_by=by_key).label("distinct_values"),
    ).subquery("ranked")
    stmt = (select(ranked.c.key, ranked.c.kind, ranked.c.value, ranked.c.n, ranked.c.total, ranked.c.distinct_values)
            .where(ranked.c.rank <= values_per_key)
            .order_by(ranked.c.total.desc(), CodePointOrder(ranked.c.key), ranked.c.rank))
    keys: dict[str, KeyCount] = {}
    for key, kind, value, n, total, distinct in await tenant.db.execute(stmt):
        found = keys.get(key)
        if found is None:
            found = keys[key] = KeyCount(key, int(total), int(distinct))
        found.values.append(ValueCount(None if kind == "null" else group_key(kind != "number", value), int(n)))
    return list(keys.values())


__all__ = ["MAX_VALUES_PER_KEY", "KeyCount", "ValueCount", "example_metadata_keys", "run_metadata_keys"]
