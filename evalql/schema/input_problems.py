"""GraphQL's spelling of the core's request problems (graphql.md §2: the message names the
argument, in the same words as REST).

The core validates a request in its own terms (`core/group_request.py` for §5,
`core/dataset_runs_request.py` for §6) and locates each problem there: `("per_group_limit",)`,
`("sort_params", "sort_by")`, `("filters", <session>, 0)`. A GraphQL caller wrote
`input.perGroupLimit`, `input.sortParams.sortBy`, and a list of SessionFilter entries,
several of which may name one session; this module maps one onto the other, for every
input that carries session filters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evalql.core.problems import Problem
from evalql.schema.errors import BadUserInput

T = TypeVar("T")


def camel(name: str) -> str:
    """A core field name as GraphQL spells it: `per_group_limit` -> `perGroupLimit`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass
class FilterEntries:
    """The `filters` entries as the core's request takes them, one list per session.

    Entries for one session AND their strings, as two spellings of one session do in REST:
    they become one list, and each string remembers where the caller wrote it."""

    merged: dict[str, list[str]] | None = None
    origin: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)  # (key, i) -> (entry, i)
    first_entry: dict[str, int] = field(default_factory=dict)
    arguments: frozenset[str] = frozenset()  # request fields that are arguments of the field, not of `input`

    @classmethod
    def of(cls, entries: Iterable[tuple[uuid.UUID, list[str]]] | None) -> FilterEntries:
        found = cls()
        if entries is None:
            return found
        found.merged = {}
        for e, (session_id, texts) in enumerate(entries):
            key = str(session_id)
            found.first_entry.setdefault(key, e)
            merged = found.merged.setdefault(key, [])
            for i, text in enumerate(texts):
                found.origin[(key, len(merged))] = (e, i)
                merged.append(text)
        return found

    def path(self, problem: Problem) -> str:
        """`input.<field>…` of a problem located in the core request's terms."""
        loc: list[Any] = list(problem["loc"])
        if loc and loc[0] in self.arguments:
            return camel(str(loc[0]))
        if loc[:1] == ["filters"] and len(loc) >= 2:
            key = str(loc[1])
            if len(loc) >= 3 and (key, loc[2]) in self.origin:
                entry, i = self.origin[(key, loc[2])]
                return f"input.filters[{entry}].filters[{i}]"
            return f"input.filters[{self.first_entry.get(key, 0)}].sessionId"
        text = "input"
        for part in loc:
            text += f"[{part}]" if isinstance(part, int) else f".{camel(str(part))}"
        return text


def validated(validate: Callable[[dict[str, Any]], tuple[T | None, list[Problem]]], raw: dict[str, Any],
              entries: Iterable[tuple[uuid.UUID, list[str]]] | None, arguments: frozenset[str] = frozenset()) -> T:
    """The core's request for `raw` (its fields in the core's names) with `entries` as its
    `filters`, or BAD_USER_INPUT naming every problem in GraphQL's spelling; `arguments`
    are the fields of `raw` the caller gave as arguments of the field itself."""
    filters = FilterEntries.of(entries)
    filters.arguments = arguments
    request, problems = validate({**raw, "filters": filters.merged})
    if request is None:
        raise BadUserInput("; ".join(f"{filters.path(p)}: {p['msg']}" for p in problems))
    return request
