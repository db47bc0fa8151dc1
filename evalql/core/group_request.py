"""The group request (spec §5.1): its rules in domain terms, the filter checks, and its
mapping onto the group query. REST maps its JSON body onto it, GraphQL its input; each
reports the problems found here in its own spelling of the fields (`loc` below is a path
in the request's own terms: `("per_group_limit",)`, `("filters", <session as sent>, 0)`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import ColumnElement

from evalql.core.enums import GroupBy
from evalql.core.fields import NO_NUL, Int
from evalql.core.problems import Problem, problem, problems_from
from evalql.filters.errors import FilterError
from evalql.filters.runs import run_condition, validate_run_filter
from evalql.queries.candidates import GroupQuery

# Keys stay strings here: two spellings of one session (case) must AND their lists,
# which a UUID-keyed dict would silently collapse to the last one.
SessionFilters = dict[str, list[str]]

# The length is checked on the request as sent, before duplicates are dropped (spec §5.1).
MAX_SESSIONS = 10
SessionIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_SESSIONS)]
SESSION_IDS = TypeAdapter(list[uuid.UUID])
# Groups per page and examples per group: defaults and maxima (also GraphQL's cost estimate).
DEFAULT_GROUPS, MAX_GROUPS = 10, 20
DEFAULT_PER_GROUP, MAX_PER_GROUP = 5, 10


class GroupRequest(BaseModel):
    session_ids: SessionIds
    group_by: GroupBy
    metadata_key: Annotated[str, Field(min_length=1, max_length=1024), NO_NUL]  # text in SQL: no NUL
    offset: Annotated[Int, Field(ge=0)] = 0
    limit: Annotated[Int, Field(ge=1, le=MAX_GROUPS)] = DEFAULT_GROUPS
    per_group_limit: Annotated[Int, Field(ge=1, le=MAX_PER_GROUP)] = DEFAULT_PER_GROUP
    preview: bool = False
    filters: SessionFilters | None = None
    # Baseline deltas (engine/deltas.py): off unless a baseline is named. Not LangSmith's:
    # a client that does not send them gets exactly the LangSmith answer.
    baseline_session_id: uuid.UUID | None = None
    delta_tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


def validate_group_request(raw: Any, loc: Sequence[Any] = (), session_ids_name: str = "session_ids"
                           ) -> tuple[GroupRequest | None, list[Problem]]:
    """The request, or every problem with it (located under `loc`; messages call the
    session list `session_ids_name`): the fields' own rules first, then the filter rules."""
    try:
        request, problems = GroupRequest.model_validate(raw), []
    except ValidationError as exc:
        request, problems = None, problems_from(exc, list(loc))
    problems += filter_problems(raw, loc, session_ids_name)
    problems += baseline_problems(raw, loc, session_ids_name)
    return (None if problems else request), problems


def baseline_problems(raw: Any, loc: Sequence[Any] = (), session_ids_name: str = "session_ids") -> list[Problem]:
    """The baseline must be one of the compared sessions (checked when both parse)."""
    if not isinstance(raw, dict) or raw.get("baseline_session_id") is None:
        return []
    try:
        baseline = uuid.UUID(str(raw["baseline_session_id"]))
        session_ids = set(SESSION_IDS.validate_python(raw.get("session_ids")))
    except (ValueError, ValidationError):
        return []  # reported by the model
    if baseline in session_ids:
        return []
    return [problem([*loc, "baseline_session_id"], f"Session {baseline} is not in {session_ids_name}", "value_error")]


def filter_problems(raw: Any, loc: Sequence[Any] = (), session_ids_name: str = "session_ids") -> list[Problem]:
    """Rules on `filters` that need `session_ids` too; checked whenever both parse, so they
    are reported together with every other problem."""
    if not isinstance(raw, dict) or not isinstance(raw.get("filters"), dict):
        return []
    try:
        session_ids: set[uuid.UUID] | None = set(SESSION_IDS.validate_python(raw.get("session_ids")))
    except ValidationError:
        session_ids = None  # reported by the model; filter strings are still checked
    out = []
    for raw_key, strings in raw["filters"].items():
        try:
            session_id = uuid.UUID(str(raw_key))
        except ValueError:
            out.append(problem([*loc, "filters", raw_key], "Input should be a valid UUID", "uuid_parsing", raw_key))
            continue
        if session_ids is not None and session_id not in session_ids:
            out.append(problem([*loc, "filters", raw_key], f"Session {session_id} is not in {session_ids_name}",
                               "value_error"))
            continue
        if not isinstance(strings, list):
            continue  # list_type, reported by the model
        for i, text in enumerate(strings):
            if not isinstance(text, str):
                continue  # string_type, reported by the model
            try:
                validate_run_filter(text)
            except FilterError as exc:
                out.append(problem([*loc, "filters", str(session_id), i], exc.message, "value_error", text))
    return out


RunConditions = dict[uuid.UUID, list[ColumnElement[bool]]]


def compile_filters(filters: SessionFilters | None) -> tuple[RunConditions, dict[uuid.UUID, list[str]]]:
    """(conditions, strings) per session: the filter strings (already checked by
    `filter_problems`) compiled into SQL conditions on runs (spec §5.3 step 1), and the
    non-empty string lists themselves. Spellings of one session AND their lists."""
    strings: dict[uuid.UUID, list[str]] = {}
    for key, texts in (filters or {}).items():
        strings.setdefault(uuid.UUID(key), []).extend(texts)  # keys compare as UUIDs
    conditions = {
        session_id: [run_condition(text, prefix=f"s{n}_{i}") for i, text in enumerate(texts)]
        for n, (session_id, texts) in enumerate(strings.items()) if texts
    }
    return conditions, {s: t for s, t in strings.items() if t}


def to_query(dataset_id: uuid.UUID, request: GroupRequest) -> GroupQuery:
    """The group query of a valid request."""
    conditions, strings = compile_filters(request.filters)
    return GroupQuery(
        dataset_id=dataset_id, session_ids=list(dict.fromkeys(request.session_ids)),
        group_by=request.group_by, metadata_key=request.metadata_key, offset=request.offset,
        limit=request.limit, per_group_limit=request.per_group_limit, preview=request.preview,
        run_conditions=conditions, filter_strings=strings,
        baseline_session_id=request.baseline_session_id, delta_tolerance=request.delta_tolerance,
    )
