"""The tenant of a request (who is asking), and the statement builders every tenant
read and write starts from, so that no statement can forget the workspace.

Builders take an `Owner`: the request's `Tenant`, or a bare workspace id where no
request is (ingest batches, seeders, the demo). evalql/db/tenancy_check.py verifies,
in the test suite, that every statement sent is scoped this way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Delete, Select, Update, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import rls
from evalql.db.models import Base

# Every tenant model has `workspace_id` (and `id`, `deleted_at` where `live` is used), but they
# come from two mixins, so mypy sees only `Base`: the attribute lookups below are unchecked.
M = TypeVar("M", bound=Base)


@dataclass(frozen=True)
class Tenant:
    """Who is asking: the caller's workspace, whether its key may write, and the DB session.
    Making one binds the session to the workspace: on PostgreSQL, row-level security then
    confines its transactions to that workspace (evalql/db/rls.py)."""

    workspace_id: uuid.UUID
    read_only: bool
    db: AsyncSession

    def __post_init__(self) -> None:
        if self.db is not None:  # None: a tenant that never reads (signing a URL)
            rls.bind(self.db, self.workspace_id)


Owner = Tenant | uuid.UUID


def workspace_of(owner: Owner) -> uuid.UUID:
    return owner.workspace_id if isinstance(owner, Tenant) else owner


def readable(owner: Owner, model: type[M], *columns: Any) -> Select[Any]:
    """`SELECT model (or columns) FROM model WHERE workspace_id = :tenant`."""
    stmt = select(*columns) if columns else select(model)
    return stmt.select_from(model).where(model.workspace_id == workspace_of(owner))  # type: ignore[attr-defined]


def updatable(owner: Owner, model: type[M]) -> Update:
    """`UPDATE model … WHERE workspace_id = :tenant`; add the row conditions and `.values()`."""
    return update(model).where(model.workspace_id == workspace_of(owner))  # type: ignore[attr-defined]


def deletable(owner: Owner, model: type[M]) -> Delete:
    """`DELETE FROM model WHERE workspace_id = :tenant`; add the row conditions."""
    return delete(model).where(model.workspace_id == workspace_of(owner))  # type: ignore[attr-defined]


def owned_rows(owner: Owner, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a bulk INSERT or a bulk UPDATE by primary key: each carries the owner's
    workspace id. A row that names another workspace is a bug, not data: it raises
    rather than being silently moved."""
    workspace_id = workspace_of(owner)
    out = []
    for row in rows:
        given = row.get("workspace_id")
        if given is None:
            row = {**row, "workspace_id": workspace_id}
        elif given != workspace_id:
            raise ValueError(f"a row of workspace {given} written for workspace {workspace_id}")
        out.append(row)  # already the owner's: written as it is, not copied
    return out


def owned(owner: Owner, model: type[M], **fields: Any) -> M:
    """A new ORM row of the owner's workspace (for `db.add`)."""
    return model(**fields, workspace_id=workspace_of(owner))


async def live(tenant: Tenant, model: type[M], row_id: Any) -> M | None:
    """The workspace's row with this id unless soft-deleted: deleted and foreign rows
    behave as missing (spec §1.2)."""
    stmt = readable(tenant, model).where(model.id == row_id, model.deleted_at.is_(None))  # type: ignore[attr-defined]
    return await tenant.db.scalar(stmt)
