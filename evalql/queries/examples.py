"""Example selection helpers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, exists, func, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB, array

from evalql.db.models import Example
from evalql.db.tenant import Tenant


def in_any_split(tenant: Tenant, splits: Sequence[str]) -> ColumnElement[bool]:
    """The example lists one of `splits` in `metadata.dataset_split` (spec §7.3).

    PostgreSQL tests JSONB membership with `?|`; SQLite has no such operator, so the
    list is expanded with `json_each` and compared element by element.
    """
    if tenant.db.bind.dialect.name == "postgresql":
        metadata = type_coerce(Example.metadata_, JSONB)
        return metadata["dataset_split"].has_any(array(list(splits)))
    elements = func.json_each(Example.metadata_, "$.dataset_split").table_valued("value")
    return exists(select(1).select_from(elements).where(elements.c.value.in_(list(splits))))
