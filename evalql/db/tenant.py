"""The tenant of a request (who is asking), and the one statement builder every read starts from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.models import Base

M = TypeVar("M", bound=Base)


@dataclass(frozen=True)
class Tenant:
    """Who is asking: the caller's workspace, whether its key may write, and the DB session."""

    workspace_id: uuid.UUID
    read_only: bool
    db: AsyncSession


def readable(tenant: Tenant, model: type[M], *columns: Any) -> Select[Any]:
    """`SELECT model (or columns) FROM model WHERE workspace_id = :tenant`.

    Every tenant read starts here so that no query can forget the workspace.
    """
    stmt = select(*columns) if columns else select(model)
    return stmt.select_from(model).where(model.workspace_id == tenant.workspace_id)  # type: ignore[attr-defined]


async def live(tenant: Tenant, model: type[M], row_id: Any) -> M | None:
    """The workspace's row with this id unless soft-deleted: deleted and foreign rows
    behave as missing (spec §1.2)."""
    stmt = readable(tenant, model).where(model.id == row_id, model.deleted_at.is_(None))  # type: ignore[attr-defined]
    return await tenant.db.scalar(stmt)
