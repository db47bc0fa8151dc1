"""Baseline deltas (engine/deltas.py) in JSON: the `deltas` object of a grouped session,
present only when the request named a `baseline_session_id` (a LangSmith client that does
not send one sees exactly LangSmith's answer)."""

from __future__ import annotations

import dataclasses
from typing import Any

from evalql.queries.results import Delta, SessionDeltas

FIELDS = tuple(f.name for f in dataclasses.fields(Delta))
WITHOUT_MEDIANS = tuple(n for n in FIELDS if n not in ("baseline_p50", "session_p50"))  # only latency has them


def delta_json(delta: Delta | None) -> dict[str, Any] | None:
    if delta is None:
        return None
    # Read field by field: `dataclasses.asdict` deep-copies, ten times the cost, per cell.
    names = FIELDS if delta.baseline_p50 is not None else WITHOUT_MEDIANS
    return {name: getattr(delta, name) for name in names}


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
