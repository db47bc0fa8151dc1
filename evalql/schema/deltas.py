"""Baseline deltas in GraphQL (`SessionStats.deltas`, with `groupRuns(baselineSessionId:)`):
the typed view of `queries.results.SessionDeltas`, computed by engine/deltas.py."""

from __future__ import annotations

import uuid

import strawberry

from evalql.queries import results


@strawberry.type(description="A session against the baseline on one metric, paired by example: each example's "
                             "value is the mean over its runs in the group; deltas are session minus baseline.")
class Delta:
    n_pairs: int = strawberry.field(description="Examples both sessions have a value for.")
    baseline_mean: float
    session_mean: float
    mean_delta: float
    ci_low: float = strawberry.field(description="95 % interval of meanDelta: low end.")
    ci_high: float
    ci_method: str = strawberry.field(description="`bootstrap`: percentile interval of 2,000 paired resamples, "
                                                  "seeded by the request; `normal`: above 200 pairs, the "
                                                  "normal approximation of that bootstrap distribution.")
    p_value: float = strawberry.field(description="Two-sided sign test of improved against regressed "
                                                  "(unchanged pairs left out).")
    improved: int = strawberry.field(description="Examples better than the baseline's by more than the "
                                                 "tolerance (scores: higher; latency, errors, cost: lower).")
    regressed: int
    unchanged: int
    baseline_p50: float | None = strawberry.field(description="Latency only: the median per-example value.")
    session_p50: float | None

    @classmethod
    def of(cls, delta: results.Delta | None) -> Delta | None:
        if delta is None:
            return None
        return cls(n_pairs=delta.n_pairs, baseline_mean=delta.baseline_mean, session_mean=delta.session_mean,
                   mean_delta=delta.mean_delta, ci_low=delta.ci_low, ci_high=delta.ci_high,
                   ci_method=delta.ci_method, p_value=delta.p_value, improved=delta.improved,
                   regressed=delta.regressed, unchanged=delta.unchanged, baseline_p50=delta.baseline_p50,
                   session_p50=delta.session_p50)


@strawberry.type(description="The delta of one numeric feedback key.")
class FeedbackDelta:
    key: str
    delta: Delta


@strawberry.type(description="A session of a group against the baseline session of the request.")
class SessionDeltas:
    baseline_session_id: uuid.UUID
    tolerance: float
    feedback: list[FeedbackDelta] = strawberry.field(description="Numeric feedback keys, in key order.")
    latency: Delta | None
    error_rate: Delta | None
    cost: Delta | None = strawberry.field(description="Total cost per example, in dollars.")

    @classmethod
    def of(cls, deltas: results.SessionDeltas | None) -> SessionDeltas | None:
        if deltas is None:
            return None
        return cls(baseline_session_id=deltas.baseline_session_id, tolerance=deltas.tolerance,
                   feedback=[FeedbackDelta(key=k, delta=Delta.of(d)) for k, d in deltas.feedback.items()],  # type: ignore[arg-type]
                   latency=Delta.of(deltas.latency), error_rate=Delta.of(deltas.error_rate),
                   cost=Delta.of(deltas.cost))
