"""The group query of spec §5.3 over the engine's columns, vectorised with numpy.

Pure functions of arrays: no SQL, no awaits, so the whole computation can run in a worker
thread (numpy releases the GIL in its loops) while the event loop serves other requests.
Steps, for sessions s_0..s_k (k <= 10, session i is bit 2**i):
1. candidates of each session (live example of the dataset, a group value, the filters);
2. E(g): the (group, example) pairs whose set of sessions equals the group's;
3. the page: groups with a non-empty E(g) in §5.3 order, sliced;
4. for the page's groups only: run statistics, percentiles and feedback partials per
   (group, session), and the first examples of each E(g) with their runs.
Sums of integers (tokens, cost units) are exact: int64 where the bound allows, else Python ints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from evalql.engine import load
from evalql.engine.state import SessionState
from evalql.queries.feedback_stats import Partial, Partials

PERCENTILES = (0.5, 0.99)
Members = list[tuple[np.ndarray, np.ndarray]]  # per session: (run rows, page slots)
DENSE_CELLS = 1 << 22  # a (group × example) grid up to this size is cheap to scan


@dataclass
class SessionInput:
    state: SessionState
    group: np.ndarray  # group code of each run row (-1: no value)
    allowed: np.ndarray | None  # filter mask over run rows, or None when unfiltered


@dataclass
class RunStats:
    """Sums and counts of one (group, session) run set; costs in units, times in µs."""

    run_count: int
    tokens: dict[str, int]
    costs: dict[str, int | None]
    min_start_us: int
    max_start_us: int
    error_count: int
    streaming_count: int
    latency: tuple[float | None, float | None]
    first_token: tuple[float | None, float | None]


@dataclass
class PageGroup:
    code: int
    example_count: int
    latency: tuple[float | None, float | None] = (None, None)  # over every session's runs
    sessions: dict[int, RunStats] = field(default_factory=dict)  # by session index
    feedback: dict[int, Partials] = field(default_factory=dict)  # by session index
    # The first examples of E(g) (example rows), each with its runs as (session index, run row).
    examples: list[tuple[int, list[tuple[int, int]]]] = field(default_factory=list)


def candidate_mask(state: SessionState, live_example: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Step 1 over one session's run rows (root runs that reference an example, as held):
    alive, on a live example of the dataset, passing the session's filters."""
    runs = state.runs
    ok = runs.alive & live_example[runs.column("example")]
    if allowed is not None:
        ok &= allowed
    return ok


@dataclass
class Groups:
    """Steps 1–3 of §5.3 for every group: each session's candidate run rows with their
    (group, example) pairs coded `group * n_examples + example`, E(g), and the groups with
    a non-empty E(g) in §5.3 order. The page (`group_page`) and the export
    (`export.members`) both start here."""

    n_examples: np.int64
    rows: list[np.ndarray]
    pairs: list[np.ndarray]
    intersection: Intersection | None  # None: no candidate run at all
    ordered: np.ndarray  # group codes


def ordered_groups(inputs: list[SessionInput], live_example: np.ndarray, group_rank: np.ndarray) -> Groups:
    n_examples = np.int64(max(len(live_example), 1))
    rows, pairs = [], []
    for s in inputs:
        example = s.state.runs.column("example")
        where = np.flatnonzero(candidate_mask(s.state, live_example, s.allowed) & (s.group >= 0))
        rows.append(where)
        pairs.append(s.group[where].astype(np.int64) * n_examples + example[where])

    # Step 2: E(g), the (group, example) pairs whose set of sessions is the group's.
    n_groups = len(group_rank)
    total = sum(len(p) for p in pairs)
    if not total:
        return Groups(n_examples, rows, pairs, None, np.zeros(0, np.int64))
    dense = n_groups * int(n_examples) <= max(DENSE_CELLS, 4 * total)
    intersection = (DenseIntersection if dense else SparseIntersection)(pairs, n_groups, n_examples)

    # Step 3: the groups in order.
    present = np.flatnonzero(intersection.example_count)
    return Groups(n_examples, rows, pairs, intersection, present[np.argsort(group_rank[present], kind="stable")])


def group_page(inputs: list[SessionInput], live_example: np.ndarray, group_rank: np.ndarray,
               example_order: np.ndarray, feedback_keys: list[str], labels: list[str],
               offset: int, limit: int, per_group_limit: int) -> tuple[list[PageGroup], Members]:
    """The page's groups, and each session's member runs of them (R(g) ∩ runs(s)) as
    (run rows, page slots), which the baseline deltas pair (`deltas.py`)."""
    found = ordered_groups(inputs, live_example, group_rank)
    intersection, n_examples, rows, pairs = found.intersection, found.n_examples, found.rows, found.pairs
    page = found.ordered[offset:offset + limit]
    if intersection is None or not len(page):
        return [], []
    example_count = intersection.example_count
    n_groups = len(group_rank)
    slot_of = np.full(n_groups, -1, np.int64)
    slot_of[page] = np.arange(len(page))
    out = [PageGroup(code=int(g), example_count=int(example_count[g])) for g in page]

    # Step 4: members of the page's groups, per session.
    members: Members = []
    for i, s in enumerate(inputs):
        where, p = rows[i], pairs[i]
        slot = slot_of[p // n_examples]
        keep = slot >= 0
        where, p, slot = where[keep], p[keep], slot[keep]
        member = intersection.contains(p)
        members.append((where[member], slot[member]))
        _run_stats(out, i, s.state, where[member], slot[member])
        _feedback(out, i, s.state, where[member], slot[member], feedback_keys, labels)

    # Group latency percentiles, over every session's members.
    latency = np.concatenate([inputs[i].state.runs.column("latency")[w] for i, (w, _) in enumerate(members)])
    seg = Segments(np.concatenate([sl for _, sl in members]), len(page))
    for at, pcts in seg.percentiles(seg.ordered(latency)).items():
        out[at].latency = pcts

    _page_examples(out, page, intersection, n_examples, example_order, per_group_limit, inputs, members)
    return out, members


class Intersection:
    """E(g) over pairs coded `group * n_examples + example`, from each session's candidate pairs."""

    example_count: np.ndarray  # |E(g)| by group code

    def contains(self, pairs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def examples_of(self, group: int) -> np.ndarray:
        raise NotImplementedError


class DenseIntersection(Intersection):
    """A session-set bitmask per (group, example) cell: O(candidates + cells), no sorting.
    Used when the grid is small next to the candidates (few groups, the usual case)."""

    def __init__(self, pairs: list[np.ndarray], n_groups: int, n_examples: np.int64) -> None:
        cells = np.zeros(n_groups * int(n_examples), np.int16)
        groups = np.zeros(n_groups, np.int16)
        for i, p in enumerate(pairs):
            # Repeated indices all write the same value: each session ORs its bit once.
            cells[p] |= np.int16(1 << i)
            groups[p // n_examples] |= np.int16(1 << i)
        grid = cells.reshape(n_groups, int(n_examples))
        self._in_e = ((grid == groups[:, None]) & (grid != 0)).reshape(-1)
        self.example_count = self._in_e.reshape(n_groups, -1).sum(axis=1)
        self._n_examples = int(n_examples)

    def contains(self, pairs: np.ndarray) -> np.ndarray:
        return self._in_e[pairs]

    def examples_of(self, group: int) -> np.ndarray:
        n = self._n_examples
        return np.flatnonzero(self._in_e[group * n:(group + 1) * n])


class SparseIntersection(Intersection):
    """The same by sorting the distinct pairs: for many groups (a key unique per example)."""

    def __init__(self, pairs: list[np.ndarray], n_groups: int, n_examples: np.int64) -> None:
        per_session = [np.unique(p) for p in pairs]
        unique, inverse = np.unique(np.concatenate(per_session), return_inverse=True)
        bits = np.concatenate([np.full(len(p), 1 << i, np.int64) for i, p in enumerate(per_session)])
        pair_sessions = np.zeros(len(unique), np.int64)
        np.add.at(pair_sessions, inverse, bits)  # each session adds its bit once per pair
        pair_group = unique // n_examples
        group_sessions = np.zeros(n_groups, np.int64)
        for i, p in enumerate(per_session):
            group_sessions[np.unique(p // n_examples)] |= 1 << i
        in_e = pair_sessions == group_sessions[pair_group]
        self._pairs = unique[in_e]
        self._group = pair_group[in_e]
        self._n_examples = n_examples
        self.example_count = np.bincount(self._group, minlength=n_groups)

    def contains(self, pairs: np.ndarray) -> np.ndarray:
        if not len(self._pairs):
            return np.zeros(len(pairs), bool)
        at = np.searchsorted(self._pairs, pairs)
        at[at >= len(self._pairs)] = 0
        return self._pairs[at] == pairs

    def examples_of(self, group: int) -> np.ndarray:
        return self._pairs[self._group == group] % self._n_examples


class Segments:
    """Rows grouped by a small integer label (a page slot, or slot × feedback key): one
    stable sort, then each label's rows are one contiguous run [start, end), so every sum,
    count or extreme is one `reduceat` over them instead of a scatter (`ufunc.at`)."""

    def __init__(self, labels: np.ndarray, n: int) -> None:
        # int16 labels sort by radix: linear time.
        self.order = np.argsort(labels.astype(np.int16) if n < 2 ** 15 else labels, kind="stable")
        bounds = np.searchsorted(labels[self.order], np.arange(n + 1))
        self.starts, self.ends = bounds[:-1], bounds[1:]
        self.counts = self.ends - self.starts
        self.nonempty = np.flatnonzero(self.counts)
        self.n = n

    def ordered(self, values: np.ndarray) -> np.ndarray:
        return values[self.order]

    def reduce(self, ufunc: np.ufunc, ordered: np.ndarray, empty: float | int) -> np.ndarray:
        """`ufunc` over each label's values (given in segment order); `empty` where none."""
        out = np.full(self.n, empty, dtype=np.result_type(ordered.dtype, type(empty)))
        if len(self.nonempty):
            out[self.nonempty] = ufunc.reduceat(ordered, self.starts[self.nonempty])
        return out

    def exact_sums(self, ordered: np.ndarray) -> list[int]:
        """Sums of integers (already in segment order), exact: int64 while no sum can
        overflow it, else Python ints."""
        if not len(ordered):
            return [0] * self.n
        if int(np.abs(ordered).max()) * len(ordered) < 2 ** 63:
            return self.reduce(np.add, ordered.astype(np.int64), 0).tolist()
        values = ordered.tolist()
        return [sum(values[a:b]) for a, b in zip(self.starts.tolist(), self.ends.tolist(), strict=True)]

    def percentiles(self, ordered: np.ndarray) -> dict[int, tuple[float | None, float | None]]:
        """p50 and p99 of each label's non-null values, by linear interpolation between the
        closest ranks (spec §3.3; PostgreSQL's percentile_cont), each selected in linear
        time (np.partition), not by sorting."""
        out: dict[int, tuple[float | None, float | None]] = {}
        for s in self.nonempty.tolist():
            values = ordered[self.starts[s]:self.ends[s]]
            values = values[~np.isnan(values)]
            if not len(values):
                continue
            ranks = []
            for p in PERCENTILES:
                h = p * (len(values) - 1)
                lo = int(h)
                ranks.append((h, lo, lo + (h > lo)))
            chosen = np.partition(values, sorted({r for _, lo, hi in ranks for r in (lo, hi)}))
            found = [float(chosen[lo]) + (float(chosen[hi]) - float(chosen[lo])) * (h - lo) for h, lo, hi in ranks]
            out[s] = (found[0], found[1])
        return out


def _run_stats(out: list[PageGroup], i: int, state: SessionState, where: np.ndarray, slot: np.ndarray) -> None:
    runs = state.runs
    seg = Segments(slot, len(out))
    ordered_rows = seg.ordered(where)
    counts = seg.counts.tolist()
    tokens = {t: seg.exact_sums(runs.column(t)[ordered_rows]) for t in load.TOKENS}
    costs, has_costs = {}, {}
    for c in load.COSTS:
        costs[c] = seg.exact_sums(runs.column(c)[ordered_rows])
        has_costs[c] = seg.reduce(np.add, runs.column(f"has_{c}")[ordered_rows].astype(np.int64), 0).tolist()
    errors = seg.reduce(np.add, runs.column("is_error")[ordered_rows].astype(np.int64), 0).tolist()
    streaming = seg.reduce(np.add, runs.column("is_streaming")[ordered_rows].astype(np.int64), 0).tolist()
    start = runs.column("start_us")[ordered_rows]
    low, high = seg.reduce(np.minimum, start, 0).tolist(), seg.reduce(np.maximum, start, 0).tolist()
    latency = seg.percentiles(runs.column("latency")[ordered_rows])
    first_token = seg.percentiles(runs.column("first_token")[ordered_rows])
    for s, group in enumerate(out):
        if not counts[s]:
            continue
        group.sessions[i] = RunStats(
            run_count=counts[s], tokens={t: tokens[t][s] for t in load.TOKENS},
            costs={c: costs[c][s] if has_costs[c][s] else None for c in load.COSTS},
            min_start_us=low[s], max_start_us=high[s], error_count=errors[s], streaming_count=streaming[s],
            latency=latency.get(s, (None, None)), first_token=first_token.get(s, (None, None)),
        )


def _feedback(out: list[PageGroup], i: int, state: SessionState, where: np.ndarray, slot: np.ndarray,
              feedback_keys: list[str], labels: list[str]) -> None:
    """Per (group, key) partials of the run-level feedback on the members: the same numbers
    `queries/feedback_stats.py` computes in SQL (two-pass variance)."""
    feedback = state.feedback
    run_slot = np.full(len(state.runs), -1, np.int64)
    run_slot[where] = slot
    fslot = run_slot[feedback.column("run")]  # a feedback row always names a run row of its session
    alive = feedback.alive
    if not alive.all():
        fslot[~alive] = -1
    rows = np.flatnonzero(fslot >= 0)
    if not len(rows):
        return
    n_keys = max(len(feedback_keys), 1)
    seg = Segments(fslot[rows] * n_keys + feedback.column("key")[rows], len(out) * n_keys)
    rows = seg.ordered(rows)
    score = feedback.column("score")[rows]
    scored = ~np.isnan(score)
    entries = seg.counts
    n = seg.reduce(np.add, scored.astype(np.int64), 0)
    known = np.where(scored, score, 0.0)
    mean = np.divide(seg.reduce(np.add, known, 0.0), n, out=np.zeros(seg.n), where=n > 0)
    deviation = np.where(scored, score - np.repeat(mean, seg.counts), 0.0)
    m2 = seg.reduce(np.add, deviation * deviation, 0.0)
    low = seg.reduce(np.fmin, score, np.nan)  # fmin/fmax skip NaN (unscored) unless all are
    high = seg.reduce(np.fmax, score, np.nan)
    errors = seg.reduce(np.add, feedback.column("error")[rows].astype(np.int64), 0)
    label = feedback.column("label")[rows]
    labelled = label >= 0
    part = np.repeat(np.arange(seg.n), seg.counts)
    label_counts = Counter(zip(part[labelled].tolist(), label[labelled].tolist(), strict=True))
    fslot = np.full(len(fslot), -1, np.int64)
    fslot[rows] = part  # the partition of each feedback row, for the comments below

    partials: dict[int, Partial] = {}
    for p in np.flatnonzero(entries).tolist():
        has = n[p] > 0
        partials[p] = Partial(entries=int(entries[p]), n=int(n[p]), mean=float(mean[p]) if has else 0.0,
                              m2=float(m2[p]) if has else 0.0, min=float(low[p]) if has else None,
                              max=float(high[p]) if has else None, errors=int(errors[p]))
    for (p, code), count in label_counts.items():
        partials[p].values[labels[code]] = count
    for row in rows[np.isin(rows, list(state.comments))].tolist() if state.comments else []:
        partials[int(fslot[row])].comments.append(state.comments[row])
    for p, partial in partials.items():
        group = out[p // n_keys]
        group.feedback.setdefault(i, {})[feedback_keys[p % n_keys]] = partial


def _page_examples(out: list[PageGroup], page: np.ndarray, intersection: Intersection, n_examples: np.int64,
                   example_order: np.ndarray, per_group_limit: int,
                   inputs: list[SessionInput], members: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """The first `per_group_limit` examples of each page group's E(g) in (created_at, id)
    order, each with the member runs of every session on it."""
    chosen: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for slot, g in enumerate(page.tolist()):
        examples = intersection.examples_of(g)
        if len(examples) > per_group_limit:
            rank = example_order[examples]
            examples = examples[np.argpartition(rank, per_group_limit - 1)[:per_group_limit]]
        examples = examples[np.argsort(example_order[examples])]
        for e in examples.tolist():
            chosen[(slot, e)] = []
        out[slot].examples = [(e, chosen[(slot, e)]) for e in examples.tolist()]
    wanted = np.array([s * n_examples + e for s, e in chosen], np.int64)
    for i, (where, slots) in enumerate(members):
        key = slots * n_examples + inputs[i].state.runs.column("example")[where]
        hit = np.isin(key, wanted)
        for run, k in zip(where[hit].tolist(), key[hit].tolist(), strict=True):
            chosen[divmod(k, int(n_examples))].append((i, run))
