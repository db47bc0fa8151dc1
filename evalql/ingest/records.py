"""Run ingest records (spec §7.5.1), validated by pydantic.

A record is reduced to the JSON-able dict of the fields it gives (nulls dropped:
in both posts and patches a null means "not given", spec §1.5 and §7.5.2). That dict
is what the merge rules work on and what a pending record stores.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from evalql.core.enums import RunType
from evalql.core.fields import JsonObject, Name, RunName, Text, Timestamp, without_nul
from evalql.core.problems import Problem, problems_from

MAX_TOKENS = 2**31 - 1  # the token columns are 32-bit integers on PostgreSQL
# Costs are summed as integers of 1e-12 in 64 bits; a per-run bound keeps the sums of
# millions of runs far from overflow while no real model call costs this much.
MAX_COST = Decimal(1_000_000)
MAX_METADATA_KEY = 1024  # metadata keys are part of an index key (PostgreSQL caps index rows near 2.7 kB)


Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Cost = Annotated[Decimal, Field(ge=0, lt=MAX_COST, allow_inf_nan=False)]


class RunRecord(BaseModel):
    """One post or patch record. `status`, `address` and the attachment lists are
    accepted and ignored (status is always derived); unknown fields are ignored."""

    id: uuid.UUID
    name: RunName | None = None
    run_type: RunType | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    error: Text | None = None
    extra: dict[str, Any] | None = None
    events: list[Any] | None = None
    tags: list[Text] | None = None
    serialized: dict[str, Any] | None = None
    parent_run_id: uuid.UUID | None = None
    trace_id: uuid.UUID | None = None
    dotted_order: Annotated[str, Field(max_length=65_536)] | None = None
    session_id: uuid.UUID | None = None
    session_name: Name | None = None
    reference_example_id: uuid.UUID | None = None
    first_token_time: Timestamp | None = None
    prompt_tokens: Tokens | None = None
    completion_tokens: Tokens | None = None
    total_tokens: Tokens | None = None
    prompt_cost: Cost | None = None
    completion_cost: Cost | None = None
    total_cost: Cost | None = None
    prompt_token_details: JsonObject | None = None  # stored as JSONB on PostgreSQL: no NUL
    completion_token_details: JsonObject | None = None

    @field_validator("extra")
    @classmethod
    def _metadata(cls, extra: dict[str, Any] | None) -> dict[str, Any] | None:
        metadata = (extra or {}).get("metadata")
        if metadata is None:
            return extra
        if not isinstance(metadata, dict):
            raise ValueError("extra.metadata must be an object")
        for key in metadata:
            if len(key) > MAX_METADATA_KEY:
                raise ValueError(f"extra.metadata key {key[:40]!r}… is longer than {MAX_METADATA_KEY} characters")
        # Top-level metadata becomes indexed text rows (run_metadata), which cannot hold NUL.
        without_nul({key: value for key, value in metadata.items() if isinstance(value, str)})
        return extra

    def given(self) -> dict[str, Any]:
        """The fields this record sets, JSON-able (uuids and timestamps as strings), as
        `model_dump(mode="json", exclude_none=True)` writes them. Built by hand: the dump
        walked every value of inputs, outputs and events again, which came from JSON and
        are JSON-able as they are, and cost as much as validating the record."""
        given = {}
        for name, value in self.__dict__.items():
            if value is None:
                continue
            if isinstance(value, (uuid.UUID, Decimal)):  # noqa: UP038 (a tuple is the faster test)
                value = str(value)
            elif isinstance(value, dt.datetime):  # UTC (Timestamp), written with Z like pydantic
                value = value.isoformat().removesuffix("+00:00") + "Z"
            elif isinstance(value, enum.Enum):
                value = value.value
            given[name] = value
        return given


POST_REQUIRED = ("name", "run_type", "start_time")


def validate_record(raw: Any, kind: str, loc: list[Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
    """(given fields, problems) of one post or patch record; `loc` prefixes problem locations."""
    try:
        record = RunRecord.model_validate(raw)
    except ValidationError as exc:
        return None, problems_from(exc, loc)
    given = record.given()
    if kind == "post":
        missing = [name for name in POST_REQUIRED if name not in given]
        if missing:
            return None, [{"loc": [*loc, name], "msg": f"Field required: a post record needs `{name}`",
                           "type": "missing"} for name in missing]
    return given, []
