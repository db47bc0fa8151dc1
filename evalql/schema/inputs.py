"""Inputs of the comparison queries (graphql.md §1): `groupRuns` (spec §5) and `datasetRuns`
(spec §6), mapped onto the core's requests and validated by their rules; problems are
reported in GraphQL's own field names (`input.perGroupLimit`, `input.filters[1].filters[0]`,
`input.sortParams`) by `schema/input_problems.py`."""

from __future__ import annotations

import uuid

import strawberry

from evalql.core.dataset_runs_request import DatasetRunsRequest, validate_dataset_runs_request
from evalql.core.group_request import GroupRequest, validate_group_request
from evalql.schema.enums import GroupBy, SortOrder
from evalql.schema.input_problems import camel, validated


@strawberry.input
class SessionFilter:
    session_id: uuid.UUID
    filters: list[str]


def _entries(filters: list[SessionFilter] | None) -> list[tuple[uuid.UUID, list[str]]] | None:
    return None if filters is None else [(f.session_id, f.filters) for f in filters]


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

    def request(self, baseline_session_id: uuid.UUID | None = None, delta_tolerance: float = 0.0) -> GroupRequest:
        """The core's group request, or BAD_USER_INPUT naming every problem. The baseline
        and its tolerance are arguments of `groupRuns` beside `input`."""
        raw = {"session_ids": [str(s) for s in self.session_ids], "group_by": self.group_by.value,
               "metadata_key": self.metadata_key, "offset": self.offset, "limit": self.limit,
               "per_group_limit": self.per_group_limit, "preview": self.preview,
               "baseline_session_id": None if baseline_session_id is None else str(baseline_session_id),
               "delta_tolerance": delta_tolerance}
        return validated(lambda r: validate_group_request(r, session_ids_name=camel("session_ids")), raw,
                         _entries(self.filters), DELTA_ARGUMENTS)


DELTA_ARGUMENTS = frozenset({"baseline_session_id", "delta_tolerance"})


@strawberry.input(description="How §6 orders examples instead of by creation: by the mean score of one "
                              "feedback key over the session's runs, nulls last.")
class SortParams:
    sort_by: str = strawberry.field(description='"feedback.<key>" or "<key>": a feedback key.')
    sort_order: SortOrder = SortOrder.DESC


@strawberry.input
class DatasetRunsInput:
    session_ids: list[uuid.UUID] = strawberry.field(description="1..10 sessions; duplicates dropped.")
    offset: int = strawberry.field(default=0, description="Over examples; >= 0.")
    limit: int = strawberry.field(default=10, description="1..100 examples")
    preview: bool = False
    filters: list[SessionFilter] | None = None
    example_ids: list[uuid.UUID] | None = strawberry.field(default=None, description="At most 1000.")
    sort_params: SortParams | None = strawberry.field(default=None, description="Only with exactly one session.")

    def request(self) -> DatasetRunsRequest:
        """The core's request of spec §6, or BAD_USER_INPUT naming every problem."""
        raw = {"session_ids": [str(s) for s in self.session_ids], "offset": self.offset, "limit": self.limit,
               "preview": self.preview,
               "example_ids": None if self.example_ids is None else [str(e) for e in self.example_ids],
               "sort_params": None if self.sort_params is None else {
                   "sort_by": self.sort_params.sort_by, "sort_order": self.sort_params.sort_order.value}}
        return validated(lambda r: validate_dataset_runs_request(r, spell=camel), raw, _entries(self.filters))
