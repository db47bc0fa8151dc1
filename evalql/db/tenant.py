"""The tenant of a request (who is asking), and the statement builders every tenant
read and write starts from, so that no statement can forget the workspace.

Builders take an `Owner`: the request's `Tenant`, or a bare workspace id where no
request is (ingest batches, seeders, the demo). evalql/db/tenancy_check.py verifies,
in the test suite, that every statement sent is scoped this way.

Hot reads (a run, a session, a dataset by id) build their statement once per process,
with `EACH_EXECUTION` as the owner: the workspace is then a bound parameter that
`execute` fills from the tenant on every run. Building a statement of a few correlated
subqueries costs SQLAlchemy more than a millisecond of Python each time, and a rebuilt
statement's cache key is computed again on every execution; a built one is reused as
it is. The parameter has no default: a built statement run other than through
`execute` is refused by SQLAlchemy, so it cannot read without a workspace.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Delete, Result, Select, Update, Uuid, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from evalql.db import rls
from evalql.db.models import Base
from evalql.db.sqlite_driver import INLINE

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


class _EachExecution:
    """The owner of a statement built once: its workspace is bound when it runs (`execute`)."""

    def __repr__(self) -> str:
        return "EACH_EXECUTION"


EACH_EXECUTION = _EachExecution()
WORKSPACE_PARAMETER = "tenant_workspace_id"

Owner = Tenant | uuid.UUID


def workspace_of(owner: Owner) -> uuid.UUID:
    return owner.workspace_id if isinstance(owner, Tenant) else owner


def _workspace_value(owner: Owner | _EachExecution) -> uuid.UUID | BindParameter[uuid.UUID]:
    if isinstance(owner, _EachExecution):
        return bindparam(WORKSPACE_PARAMETER, type_=Uuid(), required=True)
    return workspace_of(owner)


def readable(owner: Owner | _EachExecution, model: type[M], *columns: Any) -> Select[Any]:
    """`SELECT model (or columns) FROM model WHERE workspace_id = :tenant`."""
    stmt = select(*columns) if columns else select(model)
    return stmt.select_from(model).where(model.workspace_id == _workspace_value(owner))  # type: ignore[attr-defined]


async def execute(tenant: Tenant, built: Any, **parameters: Any) -> Result[*tuple[Any, ...]]:
    """A statement built once with `EACH_EXECUTION` as its owner, run for the tenant's
    workspace with the given parameters."""
    return await tenant.db.execute(built, {**parameters, WORKSPACE_PARAMETER: tenant.workspace_id})


def bound(tenant: Tenant, built: Any, **parameters: Any) -> Any:
    """A statement built once, with the tenant's workspace and `parameters` bound into a copy:
    for code that builds on it further (a CTE over it), where `execute` cannot pass them."""
    return built.params(**parameters, **{WORKSPACE_PARAMETER: tenant.workspace_id})


def probe(stmt: Any) -> Any:
    """Marks a built-once statement as an index probe: a few rows found by index, whatever
    the data's size (tests/test_single_read_work.py measures that), built once (or a key
    lookup, which no workspace scopes). On SQLite it then runs
    on the event loop's thread, without a hand-over (evalql/db/sqlite_driver.py). Run it
    through a session (`execute`, `db.execute`), as every hot read is: SQLAlchemy's
    `AsyncConnection.execute` refuses a statement that completes without awaiting."""
    return stmt.execution_options(**{INLINE: True})


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
    return (await execute(tenant, _live_statement(model), row_id=row_id)).scalar()


async def by_id(tenant: Tenant, model: type[M], row_id: Any) -> M | None:
    """The workspace's row with this id, deleted or not (models without soft deletion)."""
    return (await execute(tenant, by_id_statement(model), row_id=row_id)).scalar()


@functools.cache
def by_id_statement(model: type[M]) -> Select[Any]:
    """`by_id`'s statement (parameter `row_id`), built once: a probe to add columns to."""
    return probe(readable(EACH_EXECUTION, model).where(model.id == bindparam("row_id")))  # type: ignore[attr-defined]


@functools.cache
def _live_statement(model: type[M]) -> Select[Any]:
    return by_id_statement(model).where(model.deleted_at.is_(None))  # type: ignore[attr-defined]
