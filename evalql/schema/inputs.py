"""Inputs of the group query (graphql.md §1), mapped onto the core's group request and
validated by its rules (spec §5.1); problems are reported in GraphQL's own field names
(`input.perGroupLimit`, `input.filters[1].filters[0]`)."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from evalql.core.group_request import GroupRequest, validate_group_request
from evalql.core.problems import Problem
from evalql.schema.enums import GroupBy
from evalql.schema.errors import BadUserInput


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

    def request(self) -> GroupRequest:
        """The core's group request, or BAD_USER_INPUT naming every problem."""
        # Entries for one session AND their strings, as two spellings of one session do in
        # REST: they become one list, and each string remembers where the caller wrote it.
        filters: dict[str, list[str]] | None = None
        origin: dict[tuple[str, int], tuple[int, int]] = {}
        first_entry: dict[str, int] = {}
        if self.filters is not None:
            filters = {}
            for e, entry in enumerate(self.filters):
                key = str(entry.session_id)
                first_entry.setdefault(key, e)
                merged = filters.setdefault(key, [])
                for i, text in enumerate(entry.filters):
                    origin[(key, len(merged))] = (e, i)
                    merged.append(text)
        raw = {"session_ids": [str(s) for s in self.session_ids], "group_by": self.group_by.value,
               "metadata_key": self.metadata_key, "offset": self.offset, "limit": self.limit,
               "per_group_limit": self.per_group_limit, "preview": self.preview, "filters": filters}
        request, problems = validate_group_request(raw, session_ids_name="sessionIds")
        if request is None:
            raise BadUserInput("; ".join(f"{_path(p, origin, first_entry)}: {p['msg']}" for p in problems))
        return request


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _path(problem: Problem, origin: dict[tuple[str, int], tuple[int, int]], first_entry: dict[str, int]) -> str:
    """`input.<field>…` of a problem located in the group request's terms."""
    loc: list[Any] = list(problem["loc"])
    if loc[:1] == ["filters"] and len(loc) >= 2:
        key = str(loc[1])
        if len(loc) >= 3 and (key, loc[2]) in origin:
            entry, i = origin[(key, loc[2])]
            return f"input.filters[{entry}].filters[{i}]"
        return f"input.filters[{first_entry.get(key, 0)}].sessionId"
    text = "input"
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{_camel(str(part))}"
    return text
