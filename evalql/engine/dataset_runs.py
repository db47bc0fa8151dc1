"""Examples with runs, paged by example (spec §6), over the engine's columns.

Pure functions of arrays, like `compute.py`, so they run in a worker thread. The candidate
runs are the group query's step 1 (`compute.candidate_mask`); the examples are the ones
with at least one, in the order `queries/dataset_runs.page_of_examples` gives in SQL:
by (created_at, id) (`WorkspaceState.example_order`), or by the mean score of one feedback
key over their candidate runs — examples without a score last, then the mean ascending or
descending, then (created_at, id) ascending.

A mean is the float sum of the non-null scores divided by their count, as AVG computes it
on both databases. Sums of the usual scores (0, 1, halves, quarters, booleans) are exact,
so the means are the SQL path's, and so are their ties, which (created_at, id) breaks.
When a sum rounds, each database adds in the order its plan reads the rows, so SQL does
not fix the last bit of such a mean either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalql.engine.compute import candidate_mask
from evalql.engine.state import SessionState

# The page: each example row with its candidate runs as (session index, run row).
Page = list[tuple[int, list[tuple[int, int]]]]


@dataclass
class SessionRuns:
    state: SessionState
    allowed: np.ndarray | None  # filter mask over run rows, or None when unfiltered


def examples_page(inputs: list[SessionRuns], live_example: np.ndarray, example_order: np.ndarray,
                  sort_key: int | None, descending: bool, offset: int, limit: int) -> Page:
    """`live_example` is already restricted to the request's `example_ids`; `sort_key` is
    a feedback key code (None: no sort; a code no row has: every mean null)."""
    n = len(live_example)
    candidates = [candidate_mask(s.state, live_example, s.allowed) for s in inputs]
    ran = np.zeros(n, bool)
    for s, ok in zip(inputs, candidates, strict=True):
        ran[s.state.runs.column("example")[ok]] = True
    examples = np.flatnonzero(ran)
    if offset >= len(examples) or limit <= 0:
        return []
    rank = example_order[examples]
    if sort_key is None:
        ordered = examples[_smallest(rank, offset + limit)]
    else:
        mean = mean_scores(inputs, candidates, n, sort_key)[examples]
        null = np.isnan(mean)
        score = np.where(null, 0.0, -mean if descending else mean)
        ordered = examples[np.lexsort((rank, score, null))]  # the last key sorts first
    page = ordered[offset:offset + limit]

    slot = np.full(n, -1, np.int64)
    slot[page] = np.arange(len(page))
    out: Page = [(e, []) for e in page.tolist()]
    for i, (s, ok) in enumerate(zip(inputs, candidates, strict=True)):
        where = np.flatnonzero(ok)
        at = slot[s.state.runs.column("example")[where]]
        hit = at >= 0
        for run, p in zip(where[hit].tolist(), at[hit].tolist(), strict=True):
            out[p][1].append((i, run))
    return out


def mean_scores(inputs: list[SessionRuns], candidates: list[np.ndarray], n_examples: int, key: int) -> np.ndarray:
    """Per example row: the mean non-null score of feedback `key` on its candidate runs
    (NaN where there is none)."""
    total = np.zeros(n_examples)
    count = np.zeros(n_examples, np.int64)
    for s, ok in zip(inputs, candidates, strict=True):
        feedback = s.state.feedback
        score = feedback.column("score")
        rows = np.flatnonzero(feedback.alive & (feedback.column("key") == key) & ~np.isnan(score))
        run = feedback.column("run")[rows]
        on_candidate = ok[run]
        rows, run = rows[on_candidate], run[on_candidate]
        example = s.state.runs.column("example")[run]
        total += np.bincount(example, weights=score[rows], minlength=n_examples)
        count += np.bincount(example, minlength=n_examples)
    mean = np.full(n_examples, np.nan)
    np.divide(total, count, out=mean, where=count > 0)
    return mean


def _smallest(rank: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k smallest (distinct) ranks, in rank order: a partition first
    when k is below the count, so a first page does not sort every example."""
    if k < len(rank):
        part = np.argpartition(rank, k - 1)[:k]
        return part[np.argsort(rank[part])]
    return np.argsort(rank)
