"""Baseline deltas: each session of a group against the baseline session, paired by example.

"Did B beat A, and can I trust it?" On the examples of a group (E(g), spec §5.3), each
session's value for an example is the mean over its runs there (repetitions averaged
first): a feedback key's score (a run's own score is the mean of its scored feedback of
that key), the latency, whether it errored (0/1, so the mean is the example's error
rate) and the total cost. Pairs are the examples where both the session and the
baseline have a value; `delta = session - baseline` per pair. For each metric:

- `improved` / `regressed` / `unchanged`: pairs better / worse than the baseline by more
  than the tolerance (feedback scores: higher is better; latency, error rate and cost:
  lower is better, counted with no tolerance, since the tolerance is in score units);
- `p_value`: the two-sided **sign test** on improved against regressed, unchanged pairs
  left out (`scipy.stats.binomtest(improved, improved + regressed, 0.5)`): it assumes
  nothing about the shape of the differences, and on 0/1 scores it is what Wilcoxon's
  test reduces to once its zeros are dropped;
- `ci_low`, `ci_high`: a 95 % interval of the mean delta by **paired bootstrap**:
  RESAMPLES resamples of the pairs (percentile interval), drawn from a generator seeded
  by the request's identity of the cell (dataset, group, session, baseline, metric,
  tolerance), so the same data gives the same interval on every server. Above
  EXACT_MAX pairs the bootstrap distribution of a mean is normal to within its own
  Monte-Carlo noise (tests compare both with `scipy.stats.bootstrap`), and resampling would
  cost RESAMPLES x n per cell: there the interval is the percentile interval of that
  normal approximation, with the bootstrap distribution's exact mean and variance
  (`ci_method: "normal"`).

Pure functions of arrays, like `compute.py`, so they run in the engine's worker thread.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from evalql.db.types import COST_SCALE
from evalql.engine.delta_memo import Layout, keep_equal
from evalql.engine.state import SessionState
from evalql.queries.results import Delta

RESAMPLES = 2000
EXACT_MAX = 200  # pairs; above, the normal approximation of the bootstrap distribution
Z_975 = 1.959963984540054  # the standard normal's 97.5th percentile
RUN_METRICS = ("latency", "error_rate", "cost")  # lower is better

Totals = tuple[np.ndarray, np.ndarray]  # sums and counts per cell


@dataclass
class CellDeltas:
    feedback: dict[str, Delta]
    metrics: dict[str, Delta | None]


def session_deltas(members: list[tuple[np.ndarray, np.ndarray]], states: list[SessionState], baseline: int,
                   n_slots: int, n_examples: int, feedback_keys: list[str], tolerance: float,
                   seed_of: Callable[..., int], seed_key: Hashable) -> dict[tuple[int, int], CellDeltas]:
    """Deltas of every (page slot, session) against session `baseline`, over the group
    members (`compute.group_page`'s run rows and slots per session); `seed_of(slot,
    session=, metric=)` seeds each cell's bootstrap, and `seed_key` identifies all those
    seeds (the request's identity). Groups without the baseline have none.

    The cells are the (slot, example) pairs the baseline has member runs on, numbered in
    grid order (so by slot): by E(g)'s definition every session of a group has runs on
    each of its examples, so these are all the cells a pair can be on. Each session's
    values are sums and counts per cell, every step a `bincount` or a mask: no sort. What
    an earlier request computed from the same inputs is reused (engine/delta_memo.py)."""
    grid = n_slots * n_examples
    where, slot = members[baseline]
    on = np.zeros(grid, bool)
    on[slot.astype(np.int64) * n_examples + states[baseline].runs.column("example")[where]] = True
    cells = np.flatnonzero(on)
    number = np.full(grid, -1, np.int64)
    number[cells] = np.arange(len(cells))
    bounds = np.searchsorted(cells // n_examples, np.arange(n_slots + 1))  # each slot's cells
    cells = states[baseline].delta_memo.interned_cells(cells)
    per_session = [_cell_values(states[i], where, slot, cells, number, n_examples)
                   for i, (where, slot) in enumerate(members)]
    base = per_session[baseline]
    out: dict[tuple[int, int], CellDeltas] = {}
    layout = (bounds.tobytes(), seed_key, tolerance)
    for i, values in enumerate(per_session):
        if i == baseline:
            continue
        # The slots of the groups both sessions are in (both have runs in them).
        shared = (np.bincount(members[i][1], minlength=n_slots) > 0) & (np.diff(bounds) > 0)
        cells_of = {(s, i): CellDeltas({}, {m: None for m in RUN_METRICS}) for s in np.flatnonzero(shared).tolist()}
        if not cells_of:
            continue
        metrics = [Metric(m, base[0][m], values[0][m], True, 0.0, m == "latency") for m in RUN_METRICS]
        metrics += [Metric(f"feedback.{feedback_keys[c]}", base[1][c], values[1][c], False, tolerance)
                    for c in sorted(set(base[1]) & set(values[1]), key=lambda c: feedback_keys[c])]
        memo = states[i].delta_memo
        by_metric: dict[str, dict[int, Delta]] = {}
        todo = []
        for m in metrics:
            found = memo.paired((layout, i, m.name), m.base, m.other)
            if found is None:
                todo.append(m)
            else:
                by_metric[m.name] = found
        fresh: dict[str, dict[int, Delta]] = {m.name: {} for m in todo}
        for (name, s), delta in _paired(todo, bounds, functools.partial(seed_of, session=i)).items():
            fresh[name][s] = delta
        for m in todo:
            memo.store_pair((layout, i, m.name), m.base, m.other, fresh[m.name])
        by_metric.update(fresh)
        for name, by_slot in by_metric.items():
            for s, delta in by_slot.items():
                if (s, i) not in cells_of:
                    continue
                if name.startswith("feedback."):
                    cells_of[(s, i)].feedback[name.removeprefix("feedback.")] = delta
                else:
                    cells_of[(s, i)].metrics[name] = delta
        out.update(cells_of)
    return out


def _totals(cell: np.ndarray, values: np.ndarray, size: int) -> Totals:
    return np.bincount(cell, weights=values, minlength=size), np.bincount(cell, minlength=size)


def _means(cell: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Each cell's mean of `values`; NaN where the cell has none."""
    sums, counts = _totals(cell, values, size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _median(values: np.ndarray) -> float:
    """np.median's value (the mean of the two middle ones for an even count), by one
    partition: np.median costs ten times as much on a few thousand values."""
    n = len(values)
    k = n // 2
    if n % 2:
        return float(np.partition(values, k)[k])
    low, high = np.partition(values, [k - 1, k])[k - 1:k + 1]
    return float((low + high) / 2)


def _cell_values(state: SessionState, members: np.ndarray, slots: np.ndarray, cells: np.ndarray,
                 number: np.ndarray, n_examples: int) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
    """Each metric's mean per cell over the session's member runs there (NaN: none): (run
    metrics, feedback by key code). `number` numbers the grid's `cells` (-1 elsewhere: a
    run outside the baseline's cells is left out). What the session's memo holds for the
    same layout is reused, or brought up to date (engine/delta_memo.py)."""
    memo, runs, feedback = state.delta_memo, state.runs, state.feedback
    n_cells = len(cells)
    entry = memo.layout(members, slots, cells, n_examples)
    if entry is None or entry.runs_version != runs.version:
        cell = number[slots.astype(np.int64) * n_examples + runs.column("example")[members]]
        keep = cell >= 0
        where, cell = members[keep], cell[keep]
        if entry is None or not (np.array_equal(entry.where, where) and np.array_equal(entry.cell, cell)):
            entry = Layout(members.copy(), slots.copy(), cells, n_examples, where, cell)
        entry.runs_part = keep_equal(entry.runs_part, _run_values(state, entry.where, entry.cell, n_cells))
        entry.runs_version = runs.version
    if entry.feedback_version != feedback.version or entry.feedback_part is None:
        touched = None if entry.feedback_part is None else feedback.touched_since(entry.feedback_version)
        if touched is None:
            entry.feedback_part = keep_equal(entry.feedback_part,
                                              _feedback_values(state, entry.where, entry.cell, n_cells))
        else:
            entry.feedback_part = _feedback_update(state, entry, touched, n_cells)
        entry.feedback_runs = feedback.column("run").copy()
        entry.feedback_version = feedback.version
    memo.keep(entry)
    assert entry.runs_part is not None and entry.feedback_part is not None
    return entry.runs_part, entry.feedback_part


def _feedback_update(state: SessionState, entry: Layout, touched: np.ndarray, n_cells: int
                     ) -> dict[int, np.ndarray]:
    """The layout's feedback means after changes to the feedback rows `touched`: only the
    cells of the runs those rows are on, or were on when last read, are computed again (over
    all their feedback), and only the keys whose values there changed get a new array."""
    assert entry.feedback_part is not None and entry.feedback_runs is not None
    on_run = state.feedback.column("run")
    before = entry.feedback_runs
    runs_hit = np.concatenate([before[touched[touched < len(before)]], on_run[touched]])
    position = np.full(len(state.runs), -1, np.int64)
    position[entry.where] = np.arange(len(entry.where))
    hit = position[runs_hit[runs_hit >= 0]]
    hit = hit[hit >= 0]
    if not len(hit):
        return entry.feedback_part
    hit_cells = np.unique(entry.cell[hit])
    in_hit = np.zeros(n_cells, bool)
    in_hit[hit_cells] = True
    members = np.flatnonzero(in_hit[entry.cell])
    fresh = _feedback_values(state, entry.where[members], np.searchsorted(hit_cells, entry.cell[members]),
                             len(hit_cells))
    out = dict(entry.feedback_part)
    for key in set(out) | set(fresh):
        values = fresh.get(key)
        if values is None:
            values = np.full(len(hit_cells), np.nan)
        held = out.get(key)
        if held is None:
            held = np.full(n_cells, np.nan)
        elif np.array_equal(held[hit_cells], values, equal_nan=True):
            continue
        else:
            held = held.copy()
        held[hit_cells] = values
        if np.isnan(held).all():  # no scored feedback of this key left on these runs
            out.pop(key, None)
        else:
            out[key] = held
    return out


def _run_values(state: SessionState, where: np.ndarray, cell: np.ndarray, n_cells: int) -> dict[str, np.ndarray]:
    runs = state.runs
    latency = runs.column("latency")[where]
    timed = ~np.isnan(latency)
    costed = runs.column("has_total_cost")[where]
    return {
        "latency": _means(cell[timed], latency[timed], n_cells),
        "error_rate": _means(cell, runs.column("is_error")[where].astype(np.float64), n_cells),
        "cost": _means(cell[costed], runs.column("total_cost")[where][costed].astype(np.float64) / COST_SCALE,
                       n_cells),
    }


def _feedback_values(state: SessionState, where: np.ndarray, cell: np.ndarray, n_cells: int
                     ) -> dict[int, np.ndarray]:
    """A run's score for a key is the mean of its scored feedback of that key; a cell's, the
    mean over its runs that have one. Keys are numbered among the few these runs have."""
    out: dict[int, np.ndarray] = {}
    feedback = state.feedback
    position = np.full(len(state.runs), -1, np.int64)
    position[where] = np.arange(len(where))
    at = position[feedback.column("run")]
    score = feedback.column("score")
    rows = np.flatnonzero(feedback.alive & (at >= 0) & ~np.isnan(score))
    if not len(rows):
        return out
    keys = feedback.column("key")[rows]
    present = np.flatnonzero(np.bincount(keys))
    n_keys = len(present)
    local = np.zeros(int(present[-1]) + 1, np.int64)
    local[present] = np.arange(n_keys)
    run_sums, run_counts = _totals(at[rows] * n_keys + local[keys], score[rows], len(where) * n_keys)
    scored = np.flatnonzero(run_counts)
    means = _means(cell[scored // n_keys] * n_keys + scored % n_keys, run_sums[scored] / run_counts[scored],
                   n_cells * n_keys).reshape(n_cells, n_keys)
    for k, key_code in enumerate(present.tolist()):
        out[key_code] = np.ascontiguousarray(means[:, k])
    return out


@dataclass
class Metric:
    name: str  # "latency", "error_rate", "cost", or "feedback.<key>"
    base: np.ndarray  # per cell: the baseline's mean, NaN where it has none
    other: np.ndarray
    lower_is_better: bool
    tolerance: float
    medians: bool = False


def _paired(metrics: list[Metric], bounds: np.ndarray, seed: Callable[..., int]) -> dict[tuple[str, int], Delta]:
    """The delta of each (metric, slot) with pairs: the cells both sessions have a value in,
    in cell order (so by slot). All metrics' pairs go into one array of (metric, slot)
    segments, so each sum and count is one `reduceat` for the session; only the bootstrap
    and the medians go segment by segment."""
    b_parts, o_parts, sign_parts, tolerance_parts, segments = [], [], [], [], []
    offset = 0
    for m in metrics:
        both = np.flatnonzero(~np.isnan(m.base + m.other))
        if not len(both):
            continue
        b_parts.append(m.base[both])
        o_parts.append(m.other[both])
        # Signed so that positive is better; the tolerance applies to the signed difference.
        sign_parts.append(np.full(len(both), -1.0 if m.lower_is_better else 1.0))
        tolerance_parts.append(np.full(len(both), m.tolerance))
        slot_bounds = np.searchsorted(both, bounds)
        for s in np.flatnonzero(np.diff(slot_bounds)).tolist():
            segments.append((m, s, offset + int(slot_bounds[s]), int(slot_bounds[s + 1] - slot_bounds[s])))
        offset += len(both)
    if not segments:
        return {}
    b, o = np.concatenate(b_parts), np.concatenate(o_parts)
    d = o - b
    signed = d * np.concatenate(sign_parts)
    tolerance = np.concatenate(tolerance_parts)
    starts = np.array([start for _, _, start, _ in segments])
    n = np.array([count for _, _, _, count in segments])
    improved = np.add.reduceat((signed > tolerance).astype(np.int64), starts).tolist()
    regressed = np.add.reduceat((signed < -tolerance).astype(np.int64), starts).tolist()
    mean_b = (np.add.reduceat(b, starts) / n).tolist()
    mean_o = (np.add.reduceat(o, starts) / n).tolist()
    mean_d = np.add.reduceat(d, starts) / n
    deviation = d - np.repeat(mean_d, n)
    variance = (np.add.reduceat(deviation * deviation, starts) / n).tolist()
    mean_d_list = mean_d.tolist()
    out = {}
    for j, (m, s, start, count) in enumerate(segments):
        if count <= EXACT_MAX:
            low, high, method = mean_interval(d[start:start + count], seed(s, metric=m.name))
        else:
            low, high, method = normal_interval(mean_d_list[j], variance[j], count)
        out[(m.name, s)] = Delta(
            n_pairs=count, baseline_mean=mean_b[j], session_mean=mean_o[j], mean_delta=mean_d_list[j],
            ci_low=low, ci_high=high, ci_method=method, p_value=sign_test(improved[j], regressed[j]),
            improved=improved[j], regressed=regressed[j], unchanged=count - improved[j] - regressed[j],
            baseline_p50=_median(b[start:start + count]) if m.medians else None,
            session_p50=_median(o[start:start + count]) if m.medians else None,
        )
    return out


def mean_interval(d: np.ndarray, seed: int) -> tuple[float, float, str]:
    """The 95 % percentile interval of the bootstrap distribution of `d`'s mean."""
    n = len(d)
    if n <= EXACT_MAX:
        return _bootstrap(np.ascontiguousarray(d, np.float64).tobytes(), seed)
    return normal_interval(float(d.mean()), float(d.var()), n)


@functools.lru_cache(maxsize=4096)
def _bootstrap(deltas: bytes, seed: int) -> tuple[float, float, str]:
    """Kept by value: after a write, the cells the write did not touch have the same pairs
    and seed as before, so only the touched ones resample again."""
    d = np.frombuffer(deltas, np.float64)
    n = len(d)
    # The resamples as scipy.stats.bootstrap draws them: RESAMPLES rows of n indices.
    rng = np.random.Generator(np.random.PCG64(seed))
    means = d[rng.integers(0, n, size=(RESAMPLES, n))].mean(axis=-1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high), "bootstrap"


def normal_interval(mean: float, variance: float, n: int) -> tuple[float, float, str]:
    """The percentile interval of the bootstrap distribution's normal approximation: that
    distribution's mean is `mean` and its variance `variance / n` (the population variance
    of the deltas over n)."""
    half = Z_975 * math.sqrt(variance / n)
    return mean - half, mean + half, "normal"


# log(k!) for k < len, grown on demand; in extended precision, so that the difference of
# two large entries keeps float64's relative precision in the p-value.
_log_factorial = np.zeros(1, np.longdouble)


@functools.lru_cache(maxsize=4096)
def sign_test(improved: int, regressed: int) -> float:
    """Two-sided exact binomial test of improved against regressed at p = 1/2: twice the
    smaller tail, P(X <= min), from a table of log factorials, summed in log space so large
    counts neither under- nor overflow."""
    global _log_factorial
    n = improved + regressed
    m = min(improved, regressed)
    if n == 0 or 2 * m == n:
        return 1.0
    if len(_log_factorial) <= n:
        size = max(n + 1, 2 * len(_log_factorial))
        _log_factorial = np.concatenate([np.zeros(1, np.longdouble),
                                         np.cumsum(np.log(np.arange(1, size, dtype=np.longdouble)))])
    table = _log_factorial
    i = np.arange(m + 1)
    log_choose = table[n] - table[i] - table[n - i]  # log C(n, 0..m)
    terms = log_choose.astype(np.float64)
    top = float(terms[-1])  # the largest: C(n, i) grows up to i = m < n / 2
    tail = top + math.log(float(np.exp(terms - top).sum())) - n * math.log(2)
    return min(1.0, 2 * math.exp(tail))
