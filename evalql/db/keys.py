"""API keys across workspaces, for the operator (`evalql keys list | revoke`).

Keys are read before any workspace is known (authentication finds the workspace by the key),
so `api_keys` and `workspaces` are not tenant tables. A revoked key keeps its row, with the
time it was revoked: authentication refuses it from the next request on (`evalql/auth.py`
reads the key on every request), and `keys list --all` still shows what it was.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import Boolean, Uuid, bindparam, column, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import rls
from evalql.db.backend import is_postgresql
from evalql.db.models import ApiKey, Workspace
from evalql.db.tenant import probe
from evalql.db.types import utcnow


@dataclass(frozen=True)
class KeyInfo:
    id: uuid.UUID
    workspace: str
    prefix: str  # the key's first characters: enough to recognise it, never enough to use it
    read_only: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def scope(self) -> str:
        return "read-only" if self.read_only else "read-write"


class KeyNotFound(LookupError):
    """No key, or more than one, answers to what was given; the message says which."""


_COLUMNS = (ApiKey.id, Workspace.name, ApiKey.prefix, ApiKey.read_only, ApiKey.created_at, ApiKey.revoked_at)


@dataclass(frozen=True)
class FoundKey:
    workspace_id: uuid.UUID
    read_only: bool


# Every request's first statement, so built once, the hash a parameter (as evalql/db/tenant.py
# does for hot reads), and on SQLite run without a thread hand-over (a probe of a unique index).
# PostgreSQL's: {None (binds nothing), or binds the transaction (True) or the connection (False): statement}.
_LOOKUP = probe(select(ApiKey.workspace_id, ApiKey.read_only).where(ApiKey.key_hash == bindparam("key_hash"),
                                                                    ApiKey.revoked_at.is_(None)))
_KEY_FUNCTION = func.evalql_key_lookup(bindparam("key_hash")).table_valued(column("workspace_id", Uuid),
                                                                          column("read_only", Boolean))
_POSTGRESQL_LOOKUP = {
    local: select(_KEY_FUNCTION.c.workspace_id, _KEY_FUNCTION.c.read_only,
                  *([] if local is None else [rls.set_workspace_column(_KEY_FUNCTION.c.workspace_id, local=local)])
                  ).execution_options(**{rls.BINDS: local is not None})
    for local in (None, True, False)
}


async def key_by_hash(db: AsyncSession, key_hash: str) -> FoundKey | None:
    """The unrevoked key with this hash. On PostgreSQL the lookup goes
    through `evalql_key_lookup` (migration 0006): row-level security hides every key
    from the service's role until a workspace is bound, and that function (its owner's
    rights) answers for the one key presented, and nothing else. A session bound to no
    workspace yet (a request's, at authentication) is bound to the key's by the same
    statement: `set_config` in its select list tells the transaction (or, for a session
    without one, the connection), which saves the round trip that binding would otherwise
    cost on every request (evalql/db/rls.py)."""
    if is_postgresql(db):
        binds = rls.bound_workspace(db) is None
        local = None if not binds else not rls.each_statement(db)
        found = (await db.execute(_POSTGRESQL_LOOKUP[local], {"key_hash": key_hash})).first()
        if found is not None and binds:
            rls.bound_by_statement(db, found.workspace_id)
    else:
        found = (await db.execute(_LOOKUP, {"key_hash": key_hash})).first()
    return None if found is None else FoundKey(found.workspace_id, found.read_only)


async def workspace_names(db: AsyncSession) -> list[str]:
    return list((await db.scalars(select(Workspace.name).order_by(Workspace.name))).all())


async def list_keys(db: AsyncSession, workspace: str | None = None, *, include_revoked: bool = False
                    ) -> list[KeyInfo]:
    """Keys by workspace name, then creation time."""
    stmt = select(*_COLUMNS).join(Workspace, Workspace.id == ApiKey.workspace_id)
    if workspace is not None:
        stmt = stmt.where(Workspace.name == workspace)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    rows = await db.execute(stmt.order_by(Workspace.name, ApiKey.created_at, ApiKey.id))
    return [KeyInfo(*row) for row in rows]


async def revoke_key(db: AsyncSession, reference: str) -> KeyInfo:
    """Revoke the key whose id, or whose printed prefix, is `reference` (the caller commits).
    An unknown or ambiguous reference, or a key revoked already, raises KeyNotFound."""
    reference = reference.strip().removesuffix("…").removesuffix("...")
    stmt = select(*_COLUMNS).join(Workspace, Workspace.id == ApiKey.workspace_id)
    try:
        stmt = stmt.where(ApiKey.id == uuid.UUID(reference))
    except ValueError:
        stmt = stmt.where(ApiKey.prefix == reference)
    found = [KeyInfo(*row) for row in await db.execute(stmt)]
    if not found:
        raise KeyNotFound(f"No API key has the id or prefix {reference!r}: `evalql keys list --all` shows them")
    if len(found) > 1:
        ids = ", ".join(str(key.id) for key in found)
        raise KeyNotFound(f"{len(found)} API keys start with {reference!r}: revoke one by its id ({ids})")
    key = found[0]
    if key.revoked_at is not None:
        raise KeyNotFound(f"The API key {key.prefix}… (id {key.id}) was revoked already, "
                          f"at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    now = utcnow()
    await db.execute(update(ApiKey).where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None)).values(revoked_at=now))
    return KeyInfo(key.id, key.workspace, key.prefix, key.read_only, key.created_at, now)


__all__ = ["FoundKey", "KeyInfo", "key_by_hash", "KeyNotFound", "list_keys", "revoke_key", "workspace_names"]
