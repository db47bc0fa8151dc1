"""The run JSON, written once: the Run of spec §2.4 and the RunComparisonView of §5.4 are two
field lists over one table of values (`VALUES`), built from a stored row and what other
rows say about it.

Pure: the caller loads the related values (feedback, examples, attachments, trace
bounds) in batches and hands them over as `Related`; nothing here touches the database.
`select` (spec §7.5.5) restricts the fields; the required ones are always present.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalql.core.formats import app_path, format_cost, preview_text, ts, uid
from evalql.core.values import thread_id
from evalql.db.models import Feedback, Run
from evalql.queries.results import FeedbackStats, RunWithFeedback
from evalql.rest.shapes import feedback_json, feedback_stats_json

REQUIRED_FIELDS = frozenset({"id", "name", "run_type", "start_time", "trace_id", "dotted_order", "status",
                             "session_id", "app_path"})


@dataclass(frozen=True, slots=True)
class Related:
    """What a run's JSON needs from other rows."""

    feedback_stats: FeedbackStats = field(default_factory=dict)
    in_dataset: bool = False
    s3_urls: dict[str, Any] = field(default_factory=dict)
    trace_bounds: tuple[dt.datetime | None, dt.datetime | None] = (None, None)
    reference_dataset_id: uuid.UUID | None = None
    feedbacks: Sequence[Feedback] = ()  # the comparison view lists them


def parent_run_ids(dotted_order: str) -> list[str]:
    """Ancestors, root first: the uuids of every segment but the last. A segment is
    `<%Y%m%dT%H%M%S%fZ><uuid>`; the timestamp holds no other `Z`."""
    return [str(uuid.UUID(segment.partition("Z")[2])) for segment in dotted_order.split(".")[:-1]]


def attachment_urls(url_for: Callable[[uuid.UUID, str], str], run_id: uuid.UUID, names: Iterable[str]
                    ) -> dict[str, Any]:
    """`s3_urls` (spec §7.5.4): each attachment's presigned URL on this server."""
    return {f"attachment.{name}": {"presigned_url": url_for(run_id, name)} for name in names}


Value = Callable[[Run, Related], Any]

# Every field of §2.4 and §5.4, written once, so the two views never disagree on a run.
VALUES: dict[str, Value] = {
    "id": lambda r, _: uid(r.id),
    "name": lambda r, _: r.name,
    "run_type": lambda r, _: r.run_type,
    "start_time": lambda r, _: ts(r.start_time),
    "end_time": lambda r, _: ts(r.end_time),
    "status": lambda r, _: r.status,  # derived at write time from error and end_time
    "inputs": lambda r, _: r.inputs,
    "outputs": lambda r, _: r.outputs,
    "error": lambda r, _: r.error,
    "extra": lambda r, _: r.extra,
    "events": lambda r, _: r.events,
    "tags": lambda r, _: r.tags or [],
    "serialized": lambda r, _: r.serialized,
    "trace_id": lambda r, _: uid(r.trace_id),
    "dotted_order": lambda r, _: r.dotted_order,
    "parent_run_id": lambda r, _: uid(r.parent_run_id),
    "parent_run_ids": lambda r, _: parent_run_ids(r.dotted_order),
    "child_run_ids": lambda r, _: None,
    "direct_child_run_ids": lambda r, _: None,
    "session_id": lambda r, _: uid(r.session_id),
    "reference_example_id": lambda r, _: uid(r.reference_example_id),
    "reference_dataset_id": lambda _, x: uid(x.reference_dataset_id),
    "execution_order": lambda r, _: 1,
    "manifest_id": lambda r, _: None,
    "manifest_s3_id": lambda r, _: None,
    "inputs_s3_urls": lambda r, _: None,
    "outputs_s3_urls": lambda r, _: None,
    "s3_urls": lambda _, x: x.s3_urls,
    "total_tokens": lambda r, _: r.total_tokens,
    "prompt_tokens": lambda r, _: r.prompt_tokens,
    "completion_tokens": lambda r, _: r.completion_tokens,
    "prompt_token_details": lambda r, _: r.prompt_token_details,
    "completion_token_details": lambda r, _: r.completion_token_details,
    "total_cost": lambda r, _: format_cost(r.total_cost),
    "prompt_cost": lambda r, _: format_cost(r.prompt_cost),
    "completion_cost": lambda r, _: format_cost(r.completion_cost),
    "prompt_cost_details": lambda r, _: None,
    "completion_cost_details": lambda r, _: None,
    "first_token_time": lambda r, _: ts(r.first_token_time),
    "feedback_stats": lambda _, x: feedback_stats_json(x.feedback_stats),
    "in_dataset": lambda _, x: x.in_dataset,
    "app_path": lambda r, _: app_path(r),
    "trace_min_start_time": lambda _, x: ts(x.trace_bounds[0]),
    "trace_max_start_time": lambda _, x: ts(x.trace_bounds[1]),
    "thread_id": lambda r, _: thread_id(r.extra),
    "inputs_preview": lambda r, _: preview_text(r.inputs),
    "outputs_preview": lambda r, _: preview_text(r.outputs),
    "feedbacks": lambda r, x: [feedback_json(f, r.is_root) for f in x.feedbacks],
}
# Run (spec §2.4), in the spec's order.
RUN_FIELDS: tuple[str, ...] = (
    "id", "name", "run_type", "start_time", "end_time", "status", "inputs", "outputs", "error", "extra", "events",
    "tags", "serialized", "trace_id", "dotted_order", "parent_run_id", "parent_run_ids", "child_run_ids",
    "direct_child_run_ids", "session_id", "reference_example_id", "reference_dataset_id", "execution_order",
    "manifest_id", "manifest_s3_id", "inputs_s3_urls", "outputs_s3_urls", "s3_urls", "total_tokens",
    "prompt_tokens", "completion_tokens", "prompt_token_details", "completion_token_details", "total_cost",
    "prompt_cost", "completion_cost", "prompt_cost_details", "completion_cost_details", "first_token_time",
    "feedback_stats", "in_dataset", "app_path", "trace_min_start_time", "trace_max_start_time", "thread_id",
)
# RunComparisonView (spec §5.4), in the spec's order; `preview` nulls the heavy fields (§5.6).
COMPARISON_FIELDS: tuple[str, ...] = (
    "id", "name", "run_type", "status", "start_time", "end_time", "inputs", "inputs_preview", "outputs",
    "outputs_preview", "error", "extra", "events", "tags", "serialized", "execution_order", "parent_run_id",
    "trace_id", "dotted_order", "session_id", "reference_example_id", "total_tokens", "prompt_tokens",
    "completion_tokens", "total_cost", "prompt_cost", "completion_cost", "first_token_time", "feedback_stats",
    "app_path", "manifest_id", "manifest_s3_id", "inputs_s3_urls", "outputs_s3_urls", "s3_urls",
    "trace_min_start_time", "trace_max_start_time", "feedbacks",
)
PREVIEW_NULLED = frozenset({"inputs", "outputs", "events", "serialized"})

# The wide JSON columns and the fields that read them: a selection without those fields
# need not load them (list_runs(select=["id"]) over traces with large payloads).
WIDE_COLUMNS: dict[str, tuple[str, ...]] = {
    "inputs": ("inputs",), "outputs": ("outputs",), "events": ("events",), "serialized": ("serialized",),
    "extra": ("extra", "thread_id"),
}


def selected_fields(select: Collection[str] | None) -> tuple[str, ...]:
    """The fields to return, in §2.4 order: all without a selection, else the selected
    ones plus the required ones. Names must be known (see `unknown_field`)."""
    if select is None:
        return RUN_FIELDS
    wanted = REQUIRED_FIELDS | set(select)
    return tuple(name for name in RUN_FIELDS if name in wanted)


def unknown_field(name: str) -> bool:
    return name not in RUN_FIELDS


def unneeded_columns(fields: Collection[str]) -> list[str]:
    """Wide `runs` columns that none of `fields` reads."""
    return [column for column, readers in WIDE_COLUMNS.items() if not any(f in fields for f in readers)]


def run_json(run: Run, related: Related, fields: Iterable[str] = RUN_FIELDS) -> dict[str, Any]:
    """Run (spec §2.4) restricted to `fields`; reads only the columns those fields need."""
    return {name: VALUES[name](run, related) for name in fields}


def run_comparison_json(item: RunWithFeedback, preview: bool) -> dict[str, Any]:
    """RunComparisonView (spec §5.4) of a run the group query handed over with its feedback."""
    related = Related(feedback_stats=item.feedback_stats, feedbacks=item.feedbacks,
                      trace_bounds=(item.trace_min_start_time, item.trace_max_start_time))
    shape = run_json(item.run, related, COMPARISON_FIELDS)
    if preview:
        shape.update(dict.fromkeys(PREVIEW_NULLED))
    return shape


__all__ = [
    "COMPARISON_FIELDS",
    "REQUIRED_FIELDS",
    "RUN_FIELDS",
    "Related",
    "attachment_urls",
    "parent_run_ids",
    "run_comparison_json",
    "run_json",
    "selected_fields",
    "unknown_field",
    "unneeded_columns",
]
