"""JSON shapes of spec §2 and §5.4, built from the typed results.

Timestamps are UTC `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, costs decimal strings,
latencies seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


from evalql.db.models import Dataset, Example, Feedback, TracerSession
from evalql.core.formats import app_path, example_name, format_cost, preview_text, session_extra, ts, uid
from evalql.queries.results import (
    ExampleWithRuns, FeedbackStats, Group, RunSetStats, RunWithFeedback, SessionInGroup,
)

def feedback_stats_json(stats: FeedbackStats) -> dict[str, Any]:
    return {
        key: {"n": s.n, "avg": s.avg, "stdev": s.stdev, "min": s.min, "max": s.max, "errors": s.errors,
              "values": s.values, "comments": s.comments, "contains_thread_feedback": False}
        for key, s in stats.items()
    }


def session_json(session: TracerSession) -> dict[str, Any]:
    return {
        "id": uid(session.id), "name": session.name, "description": session.description,
        "tenant_id": uid(session.workspace_id), "start_time": ts(session.start_time),
        "end_time": ts(session.end_time), "extra": session_extra(session),
        "default_dataset_id": uid(session.default_dataset_id),
        "reference_dataset_id": uid(session.reference_dataset_id), "trace_tier": session.trace_tier,
        "last_run_start_time_live": None,
    }


def stats_block_json(stats: RunSetStats, session_feedback: FeedbackStats, test_run_number: int | None) -> dict[str, Any]:
    """The §3.2 stats block."""
    return {
        "run_count": stats.run_count,
        "latency_p50": stats.latency_p50, "latency_p99": stats.latency_p99,
        "first_token_p50": stats.first_token_p50, "first_token_p99": stats.first_token_p99,
        "total_tokens": stats.total_tokens, "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "total_cost": format_cost(stats.total_cost), "prompt_cost": format_cost(stats.prompt_cost),
        "completion_cost": format_cost(stats.completion_cost),
        "last_run_start_time": ts(stats.max_start_time), "last_run_start_time_live": ts(stats.max_start_time),
        "feedback_stats": feedback_stats_json(stats.feedback_stats),
        "session_feedback_stats": feedback_stats_json(session_feedback),
        "run_facets": [], "error_rate": stats.error_rate, "streaming_rate": stats.streaming_rate,
        "test_run_number": test_run_number,
    }


def grouped_session_json(item: SessionInGroup) -> dict[str, Any]:
    return {
        **session_json(item.session),
        **stats_block_json(item.stats, item.session_feedback_stats, item.test_run_number),
        "example_count": item.example_count,
        "min_start_time": ts(item.stats.min_start_time), "max_start_time": ts(item.stats.max_start_time),
        "filter": item.filter, "experiment_progress": None,
    }


def dataset_json(dataset: Dataset, example_count: int = 0, session_count: int = 0,
                 last_session_start_time: dt.datetime | None = None) -> dict[str, Any]:
    """Dataset (spec §2.1); the counts cover live examples and sessions referencing it."""
    return {
        "id": uid(dataset.id), "name": dataset.name, "description": dataset.description,
        "data_type": dataset.data_type, "created_at": ts(dataset.created_at), "modified_at": ts(dataset.modified_at),
        "tenant_id": uid(dataset.workspace_id), "example_count": example_count, "session_count": session_count,
        "last_session_start_time": ts(last_session_start_time),
        "inputs_schema_definition": dataset.inputs_schema_definition,
        "outputs_schema_definition": dataset.outputs_schema_definition,
        "transformations": dataset.transformations, "metadata": dataset.metadata_,
        "externally_managed": bool(dataset.externally_managed),
        "baseline_experiment_id": uid(dataset.baseline_experiment_id),
    }


def example_json(example: Example) -> dict[str, Any]:
    return {
        "id": uid(example.id), "dataset_id": uid(example.dataset_id), "name": example_name(example.id),
        "inputs": example.inputs, "outputs": example.outputs, "metadata": example.metadata_,
        "source_run_id": uid(example.source_run_id), "created_at": ts(example.created_at),
        "modified_at": ts(example.modified_at), "attachment_urls": None,
    }


def feedback_json(feedback: Feedback, is_root: bool | None) -> dict[str, Any]:
    source = feedback.feedback_source or {}
    score: Any = feedback.score
    if feedback.score_is_bool and score is not None:
        score = bool(score)
    return {
        "id": uid(feedback.id), "run_id": uid(feedback.run_id), "trace_id": uid(feedback.trace_id),
        "session_id": uid(feedback.session_id), "key": feedback.key, "score": score, "value": feedback.value,
        "comment": feedback.comment, "correction": feedback.correction,
        "feedback_source": {"type": source.get("type", "api"), "metadata": source.get("metadata") or {},
                            "user_id": source.get("user_id"), "user_name": source.get("user_name")},
        "feedback_config": feedback.feedback_config, "feedback_group_id": uid(feedback.feedback_group_id),
        "comparative_experiment_id": uid(feedback.comparative_experiment_id),
        "start_time": ts(feedback.start_time), "extra": feedback.extra, "error": feedback.error,
        "is_root": is_root, "created_at": ts(feedback.created_at), "modified_at": ts(feedback.modified_at),
    }


def run_comparison_json(item: RunWithFeedback, preview: bool) -> dict[str, Any]:
    """RunComparisonView (spec §5.4)."""
    run = item.run
    return {
        "id": uid(run.id), "name": run.name, "run_type": run.run_type, "status": run.status,
        "start_time": ts(run.start_time), "end_time": ts(run.end_time),
        "inputs": None if preview else run.inputs, "inputs_preview": preview_text(run.inputs),
        "outputs": None if preview else run.outputs, "outputs_preview": preview_text(run.outputs),
        "error": run.error, "extra": run.extra, "events": None if preview else run.events,
        "tags": run.tags or [], "serialized": None if preview else run.serialized, "execution_order": 1,
        "parent_run_id": uid(run.parent_run_id), "trace_id": uid(run.trace_id), "dotted_order": run.dotted_order,
        "session_id": uid(run.session_id), "reference_example_id": uid(run.reference_example_id),
        "total_tokens": run.total_tokens, "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens, "total_cost": format_cost(run.total_cost),
        "prompt_cost": format_cost(run.prompt_cost), "completion_cost": format_cost(run.completion_cost),
        "first_token_time": ts(run.first_token_time), "feedback_stats": feedback_stats_json(item.feedback_stats),
        "app_path": app_path(run), "manifest_id": None, "manifest_s3_id": None, "inputs_s3_urls": None,
        "outputs_s3_urls": None, "s3_urls": {}, "trace_min_start_time": ts(item.trace_min_start_time),
        "trace_max_start_time": ts(item.trace_max_start_time),
        "feedbacks": [feedback_json(f, run.is_root) for f in item.feedbacks],
    }


def example_with_runs_json(item: ExampleWithRuns, preview: bool) -> dict[str, Any]:
    return {**example_json(item.example), "runs": [run_comparison_json(r, preview) for r in item.runs]}


def group_json(group: Group, preview: bool) -> dict[str, Any]:
    s = group.stats
    return {
        "group_key": group.key, "filter": group.filter, "count": s.run_count, "example_count": group.example_count,
        "total_tokens": s.total_tokens, "prompt_tokens": s.prompt_tokens, "completion_tokens": s.completion_tokens,
        "total_cost": format_cost(s.total_cost), "prompt_cost": format_cost(s.prompt_cost),
        "completion_cost": format_cost(s.completion_cost),
        "min_start_time": ts(s.min_start_time), "max_start_time": ts(s.max_start_time),
        "latency_p50": s.latency_p50, "latency_p99": s.latency_p99, "error_rate": s.error_rate,
        "feedback_stats": feedback_stats_json(s.feedback_stats),
        "sessions": [grouped_session_json(item) for item in group.sessions],
        "examples": [example_with_runs_json(e, preview) for e in group.examples],
    }
