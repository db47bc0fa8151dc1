"""Inputs of the group query (graphql.md §1), validated with the REST rules (spec §5.1)."""

from __future__ import annotations

import uuid

import strawberry

from evalql.schema.enums import GroupBy


@strawberry.input
class SessionFilter:
    session_id: uuid.UUID
    filters: list[str]


@strawberry.input
class GroupRunsInput:
    session_ids: list[uuid.UUID] = strawberry.field(description="1..10 sessions; duplicates dropped.")
    group_by: GroupBy
    metadata_key: str
    offset: int = 0
    limit: int = strawberry.field(default=10, description="1..20 groups")
    per_group_limit: int = strawberry.field(default=5, description="1..10 examples per group")
    preview: bool = False
    filters: list[SessionFilter] | None = None
