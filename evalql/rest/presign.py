"""Presigned attachment URLs (spec §7.5.4 `s3_urls`).

The SDK downloads `presigned_url` with a bare GET, without its API key, as it would
from S3. So the URL carries its own credential: the workspace, an expiry and an
HMAC-SHA256 of both with the run and attachment name, keyed by a per-workspace secret
(`workspaces.url_signing_key`). It grants reading that one attachment until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db.models import Workspace
from evalql.db.tenant import Tenant

URL_LIFETIME_SECONDS = 24 * 3600
# Expiries are rounded up to the hour, so one attachment's URL stays the same for an
# hour (clients and caches see one URL, not a new one per response).
EXPIRY_STEP_SECONDS = 3600


def _signature(key: str, workspace_id: uuid.UUID, run_id: uuid.UUID, name: str, expires: int) -> str:
    message = f"{workspace_id}\n{run_id}\n{name}\n{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


async def signing_key(db: AsyncSession, workspace_id: uuid.UUID) -> str | None:
    return await db.scalar(select(Workspace.url_signing_key).where(Workspace.id == workspace_id))


class Signer:
    """Builds the presigned URLs of one response."""

    def __init__(self, base_url: str, tenant: Tenant, key: str, now: float | None = None) -> None:
        self.base, self.workspace_id, self.key = base_url.rstrip("/"), tenant.workspace_id, key
        now = int(now if now is not None else time.time())
        self.expires = -(-(now + URL_LIFETIME_SECONDS) // EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS

    def url(self, run_id: uuid.UUID, name: str) -> str:
        query = urlencode({"tenant": str(self.workspace_id), "expires": self.expires,
                           "signature": _signature(self.key, self.workspace_id, run_id, name, self.expires)})
        return f"{self.base}/runs/{run_id}/attachments/{quote(name, safe='')}?{query}"


def verified(key: str | None, workspace_id: uuid.UUID, run_id: uuid.UUID, name: str, expires: int,
             signature: str, now: float | None = None) -> bool:
    if key is None or expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(_signature(key, workspace_id, run_id, name, expires), signature)
