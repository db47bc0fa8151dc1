"""Pure derivations done once at write time (spec §2.4): status, latency, trace
fields, first-token time and a run's own usage."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload


@overload
def parse_timestamp(value: None) -> None: ...
@overload
def parse_timestamp(value: dt.datetime | str) -> dt.datetime: ...
@overload
def parse_timestamp(value: Any) -> dt.datetime | None: ...
def parse_timestamp(value: Any) -> dt.datetime | None:
    """Any ISO-8601 date-time (or datetime); naive means UTC (spec §1.5)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def dotted_segment(start_time: dt.datetime, run_id: uuid.UUID) -> str:
    return start_time.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + str(run_id)


def run_status(error: str | None, end_time: dt.datetime | None) -> str:
    if error is not None:
        return "error"
    return "success" if end_time is not None else "pending"


def seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def first_token_time(explicit: dt.datetime | None, events: Any) -> dt.datetime | None:
    if explicit is not None:
        return explicit
    times = [
        parse_timestamp(str(event["time"]))
        for event in events or []
        if isinstance(event, dict) and event.get("name") == "new_token" and event.get("time")
    ]
    return min(times) if times else None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_cost: Decimal | None = None
    completion_cost: Decimal | None = None
    total_cost: Decimal | None = None
    prompt_token_details: Any = None
    completion_token_details: Any = None

    @property
    def present(self) -> bool:
        return (self.prompt_tokens is not None or self.completion_tokens is not None
                or self.total_tokens is not None or self.prompt_cost is not None
                or self.completion_cost is not None or self.total_cost is not None)


def _int(value: Any) -> int | None:
    return None if value is None or isinstance(value, bool) else int(value)


def _dec(value: Any) -> Decimal | None:
    return None if value is None or isinstance(value, bool) else Decimal(str(value))


def _from_usage_metadata(meta: Any) -> Usage:
    if not isinstance(meta, dict):
        return Usage()
    prompt, completion = _int(meta.get("input_tokens")), _int(meta.get("output_tokens"))
    total = _int(meta.get("total_tokens"))
    if total is None and (prompt is not None or completion is not None):
        total = (prompt or 0) + (completion or 0)
    in_cost, out_cost = _dec(meta.get("input_cost")), _dec(meta.get("output_cost"))
    total_cost = _dec(meta.get("total_cost"))
    if total_cost is None and in_cost is not None and out_cost is not None:
        total_cost = in_cost + out_cost
    return Usage(prompt, completion, total, in_cost, out_cost, total_cost,
                 meta.get("input_token_details"), meta.get("output_token_details"))


def own_usage(record: dict[str, Any]) -> Usage:
    """The first available of: explicit fields, outputs.usage_metadata, extra.metadata.usage_metadata."""
    # The explicit fields complete their totals like usage_metadata does. Most runs give
    # none of them (their usage, if any, is in outputs): then there is nothing to complete.
    if any(record.get(name) is not None for name in EXPLICIT_FIELDS):
        explicit = _from_usage_metadata({
            "input_tokens": record.get("prompt_tokens"), "output_tokens": record.get("completion_tokens"),
            "total_tokens": record.get("total_tokens"), "input_cost": record.get("prompt_cost"),
            "output_cost": record.get("completion_cost"), "total_cost": record.get("total_cost"),
            "input_token_details": record.get("prompt_token_details"),
            "output_token_details": record.get("completion_token_details"),
        })
        if explicit.present:
            return explicit
    outputs = record.get("outputs")
    from_outputs = _from_usage_metadata(outputs.get("usage_metadata") if isinstance(outputs, dict) else None)
    if from_outputs.present:
        return from_outputs
    extra = record.get("extra")
    metadata = extra.get("metadata") if isinstance(extra, dict) else None
    return _from_usage_metadata(metadata.get("usage_metadata") if isinstance(metadata, dict) else None)


TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
COST_FIELDS = ("prompt_cost", "completion_cost", "total_cost")
EXPLICIT_FIELDS = TOKEN_FIELDS + COST_FIELDS  # a record's own usage fields; `present` asks of these
