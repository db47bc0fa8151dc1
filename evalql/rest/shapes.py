"""JSON shapes of spec §2 (datasets, examples, sessions, feedback and its statistics), in the
value formats of `core.formats`. The run shapes are in `run_shape.py`, the group answer's in
`group_shape.py`."""

from __future__ import annotations

from typing import Any

from evalql.core.feedback import source_of
from evalql.core.formats import example_name, session_extra, ts, uid
from evalql.db.models import Dataset, Example, Feedback, TracerSession
from evalql.queries.datasets import DatasetCounts
from evalql.queries.results import FeedbackStats


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


def dataset_json(dataset: Dataset, counts: DatasetCounts) -> dict[str, Any]:
    """Dataset (spec §2.1); the counts cover live examples and sessions referencing it."""
    return {
        "id": uid(dataset.id), "name": dataset.name, "description": dataset.description,
        "data_type": dataset.data_type, "created_at": ts(dataset.created_at), "modified_at": ts(dataset.modified_at),
        "tenant_id": uid(dataset.workspace_id), "example_count": counts.example_count,
        "session_count": counts.session_count, "last_session_start_time": ts(counts.last_session_start_time),
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
    score: Any = feedback.score
    if feedback.score_is_bool and score is not None:
        score = bool(score)
    return {
        "id": uid(feedback.id), "run_id": uid(feedback.run_id), "trace_id": uid(feedback.trace_id),
        "session_id": uid(feedback.session_id), "key": feedback.key, "score": score, "value": feedback.value,
        "comment": feedback.comment, "correction": feedback.correction,
        "feedback_source": source_of(feedback.feedback_source),
        "feedback_config": feedback.feedback_config, "feedback_group_id": uid(feedback.feedback_group_id),
        "comparative_experiment_id": uid(feedback.comparative_experiment_id),
        "start_time": ts(feedback.start_time), "extra": feedback.extra, "error": feedback.error,
        "is_root": is_root, "created_at": ts(feedback.created_at), "modified_at": ts(feedback.modified_at),
    }
