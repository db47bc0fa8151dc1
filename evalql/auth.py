"""API-key authentication and tenancy (spec §1.2)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers

from evalql.db.keys import key_by_hash
from evalql.db.writes import hash_api_key


@dataclass(frozen=True, slots=True)
class Principal:
    workspace_id: uuid.UUID
    read_only: bool


class AuthError(Exception):
    def __init__(self, status: int, detail: str, code: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


def presented_key(headers: Headers) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def authenticate(db: AsyncSession, headers: Headers) -> Principal:
    key = presented_key(headers)
    if not key:
        raise AuthError(401, "Missing API key: send the X-API-Key header", "UNAUTHENTICATED")
    found = await key_by_hash(db, hash_api_key(key))
    if found is None:
        raise AuthError(401, "Invalid API key", "UNAUTHENTICATED")
    tenant = headers.get("x-tenant-id")
    if tenant is not None and _uuid_or_none(tenant) != found.workspace_id:
        raise AuthError(403, f"API key has no access to workspace {tenant.strip()}", "FORBIDDEN")
    return Principal(found.workspace_id, found.read_only)


def require_write(principal: Principal) -> None:
    if principal.read_only:
        raise AuthError(403, "API key is read-only", "FORBIDDEN")


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None
