"""The group answer (spec §5.4) and the §3.2 stats block, in JSON.

Each statistic of a run set is written once (`METRICS`); the group and the session blocks
list the ones they carry, in the order and under the names the spec gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from evalql.core.formats import format_cost, ts
from evalql.queries.results import ExampleWithRuns, FeedbackStats, Group, RunSetStats, SessionInGroup
from evalql.rest.deltas_shape import deltas_json
from evalql.rest.run_shape import run_comparison_json
from evalql.rest.shapes import example_json, feedback_stats_json, session_json

METRICS: dict[str, Callable[[RunSetStats], Any]] = {
    "run_count": lambda s: s.run_count,
    "latency_p50": lambda s: s.latency_p50,
    "latency_p99": lambda s: s.latency_p99,
    "first_token_p50": lambda s: s.first_token_p50,
    "first_token_p99": lambda s: s.first_token_p99,
    "total_tokens": lambda s: s.total_tokens,
    "prompt_tokens": lambda s: s.prompt_tokens,
    "completion_tokens": lambda s: s.completion_tokens,
    "total_cost": lambda s: format_cost(s.total_cost),
    "prompt_cost": lambda s: format_cost(s.prompt_cost),
    "completion_cost": lambda s: format_cost(s.completion_cost),
    "min_start_time": lambda s: ts(s.min_start_time),
    "max_start_time": lambda s: ts(s.max_start_time),
    "error_rate": lambda s: s.error_rate,
    "streaming_rate": lambda s: s.streaming_rate,
    "feedback_stats": lambda s: feedback_stats_json(s.feedback_stats),
}
USAGE = ("total_tokens", "prompt_tokens", "completion_tokens", "total_cost", "prompt_cost", "completion_cost")
GROUP_METRICS = (*USAGE, "min_start_time", "max_start_time", "latency_p50", "latency_p99", "error_rate",
                 "feedback_stats")
SESSION_METRICS = ("run_count", "latency_p50", "latency_p99", "first_token_p50", "first_token_p99", *USAGE)


def metrics_json(stats: RunSetStats, names: Iterable[str]) -> dict[str, Any]:
    return {name: METRICS[name](stats) for name in names}


def stats_block_json(stats: RunSetStats, session_feedback: FeedbackStats, test_run_number: int | None
                     ) -> dict[str, Any]:
    """The §3.2 stats block."""
    last = ts(stats.max_start_time)
    return {
        **metrics_json(stats, SESSION_METRICS),
        "last_run_start_time": last, "last_run_start_time_live": last,
        **metrics_json(stats, ("feedback_stats",)),
        "session_feedback_stats": feedback_stats_json(session_feedback),
        "run_facets": [], **metrics_json(stats, ("error_rate", "streaming_rate")),
        "test_run_number": test_run_number,
    }


def grouped_session_json(item: SessionInGroup, with_deltas: bool = False) -> dict[str, Any]:
    out = {
        **session_json(item.session),
        **stats_block_json(item.stats, item.session_feedback_stats, item.test_run_number),
        "example_count": item.example_count,
        **metrics_json(item.stats, ("min_start_time", "max_start_time")),
        "filter": item.filter, "experiment_progress": None,
    }
    if with_deltas:
        out["deltas"] = deltas_json(item.deltas)
    return out


def example_with_runs_json(item: ExampleWithRuns, preview: bool) -> dict[str, Any]:
    return {**example_json(item.example), "runs": [run_comparison_json(r, preview) for r in item.runs]}


def group_json(group: Group, preview: bool, with_deltas: bool = False) -> dict[str, Any]:
    """`with_deltas`: the request named a baseline, so each session says `deltas`."""
    return {
        "group_key": group.key, "filter": group.filter, "count": group.stats.run_count,
        "example_count": group.example_count, **metrics_json(group.stats, GROUP_METRICS),
        "sessions": [grouped_session_json(item, with_deltas) for item in group.sessions],
        "examples": [example_with_runs_json(e, preview) for e in group.examples],
    }
