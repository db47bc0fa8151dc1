"""Baseline deltas (engine/deltas.py) in JSON: the `deltas` object of a grouped session,
present only when the request named a `baseline_session_id` (a LangSmith client that does
not send one sees exactly LangSmith's answer)."""

from __future__ import annotations

import dataclasses
from typing import Any

from evalql.queries.results import Delta, SessionDeltas


def delta_json(delta: Delta | None) -> dict[str, Any] | None:
    if delta is None:
        return None
    out = dataclasses.asdict(delta)
    if delta.baseline_p50 is None:  # only latency has medians
        del out["baseline_p50"], out["session_p50"]
    return out


def deltas_json(deltas: SessionDeltas | None) -> dict[str, Any] | None:
    """None for the baseline itself, and for every session of a group without the baseline."""
    if deltas is None:
        return None
    return {
        "baseline_session_id": str(deltas.baseline_session_id), "tolerance": deltas.tolerance,
        "feedback": {key: delta_json(d) for key, d in deltas.feedback.items()},
        "latency": delta_json(deltas.latency), "error_rate": delta_json(deltas.error_rate),
        "cost": delta_json(deltas.cost),
    }
