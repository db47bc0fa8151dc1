"""Who the caller is: the workspace its key opens and whether it may write.

A page needs the workspace id to build links of the shape the SDK prints
(`/o/{tenant_id}/datasets/{id}/compare`), and the scope to hide what a read-only key
cannot do. Both come from the authenticated key: no statement is issued."""

from __future__ import annotations

import uuid

import strawberry


@strawberry.type(description="The caller: the workspace its API key opens, and whether the key is read-only.")
class Viewer:
    workspace_id: uuid.UUID
    read_only: bool
