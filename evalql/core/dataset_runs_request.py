"""The examples-with-runs request (spec §6): its rules in domain terms and its mapping onto
the dataset-runs query. REST maps its JSON body onto it, GraphQL its input (as both do for
the group request, `core/group_request.py`, whose session and filter rules §6 shares);
each reports the problems found here in its own spelling of the fields.

`loc` below is a path in the request's own terms (`("sort_params", "sort_by")`); `spell`
turns a field name into the caller's spelling for messages that name a field.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, Field, ValidationError
from typing_extensions import TypedDict

from evalql.core.enums import SortOrder
from evalql.core.fields import Int
from evalql.core.group_request import SESSION_IDS, SessionFilters, SessionIds, compile_filters, filter_problems
from evalql.core.problems import Problem, problem, problems_from
from evalql.queries.dataset_runs import DatasetRunsQuery, FeedbackSort

FEEDBACK_PREFIX = "feedback."
Spelling = Callable[[str], str]


def as_sent(name: str) -> str:
    return name


# A TypedDict rather than a model so that a non-object is reported as `dict_type` (§1.4).
class SortParams(TypedDict):
    sort_by: Annotated[str, Field(min_length=1)]  # "feedback.<key>" or "<key>": a feedback key
    sort_order: NotRequired[SortOrder]  # LangSmith's default: DESC


DEFAULT_EXAMPLES, MAX_EXAMPLES = 10, 100  # examples per page (also GraphQL's cost estimate)


class DatasetRunsRequest(BaseModel):
    session_ids: SessionIds
    offset: Annotated[Int, Field(ge=0)] = 0
    limit: Annotated[Int, Field(ge=1, le=MAX_EXAMPLES)] = DEFAULT_EXAMPLES
    preview: bool = False
    filters: SessionFilters | None = None
    example_ids: Annotated[list[uuid.UUID], Field(max_length=1000)] | None = None
    comparative_experiment_id: uuid.UUID | None = None  # accepted and ignored (spec §6)
    sort_params: SortParams | None = None


def validate_dataset_runs_request(raw: Any, loc: Sequence[Any] = (), spell: Spelling = as_sent
                                  ) -> tuple[DatasetRunsRequest | None, list[Problem]]:
    """The request, or every problem with it (located under `loc`), in §5.2's order: the
    fields' own rules, then the filter rules (§5.1), then the sort rules (§6)."""
    try:
        request, problems = DatasetRunsRequest.model_validate(raw), []
    except ValidationError as exc:
        request, problems = None, problems_from(exc, list(loc))
    problems += filter_problems(raw, loc, spell("session_ids"))
    problems += sort_problems(raw, loc, spell)
    return (None if problems else request), problems


def sort_key(sort_by: str) -> str:
    return sort_by[len(FEEDBACK_PREFIX):] if sort_by.startswith(FEEDBACK_PREFIX) else sort_by


def sort_problems(raw: Any, loc: Sequence[Any] = (), spell: Spelling = as_sent) -> list[Problem]:
    """Rules on `sort_params` beyond its shape: it names a key, and it needs exactly one
    session (after duplicates are dropped: `[A, A]` is one session). Checked on the raw
    request so they are reported together with every other problem."""
    if not isinstance(raw, dict) or raw.get("sort_params") is None:
        return []
    out = []
    params = raw["sort_params"]
    sort_by = params.get("sort_by") if isinstance(params, dict) else None
    if isinstance(sort_by, str) and sort_by and not sort_key(sort_by):
        out.append(problem([*loc, "sort_params", "sort_by"], f"{spell('sort_by')} {sort_by!r} names no feedback key",
                           "value_error", sort_by))
    try:
        sessions = dict.fromkeys(SESSION_IDS.validate_python(raw.get("session_ids")))
    except ValidationError:
        return out  # reported by the model
    if len(sessions) != 1:
        out.append(problem([*loc, "sort_params"],
                           f"{spell('sort_params')} needs exactly one session id, got {len(sessions)}", "value_error"))
    return out


def to_query(dataset_id: uuid.UUID, request: DatasetRunsRequest) -> DatasetRunsQuery:
    """The dataset-runs query of a valid request (session duplicates dropped, spec §5.1)."""
    conditions, strings = compile_filters(request.filters)
    sort = None
    if request.sort_params is not None:
        order = request.sort_params.get("sort_order", SortOrder.DESC)
        sort = FeedbackSort(sort_key(request.sort_params["sort_by"]), descending=order is SortOrder.DESC)
    return DatasetRunsQuery(
        dataset_id=dataset_id, session_ids=list(dict.fromkeys(request.session_ids)), offset=request.offset,
        limit=request.limit, run_conditions=conditions, filter_strings=strings, example_ids=request.example_ids,
        sort=sort,
    )
