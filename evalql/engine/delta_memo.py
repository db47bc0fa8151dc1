"""What one request's baseline deltas leave for the next (engine/deltas.py).

A page that follows a running experiment asks the same comparison after every write, and a
write touches one session: its runs, or the feedback of one key. So each session keeps

- its per-cell values (the means of `deltas._cell_values`) for the last few cell layouts
  (its member runs and their cells), with the versions of its run and feedback tables they
  were read at: an unchanged table is not read again, and a recomputed array equal to the
  one held is replaced by the one held, so that its identity says "unchanged";
- the deltas of each metric against the baseline, keyed by the identity of the two arrays
  they pair (held here, so the identity cannot be reused), the slots' bounds, the tolerance
  and the request's seeds: a metric whose arrays are the same objects as last time is not
  paired again.

Everything is a function of its key, so a stale entry can only be unused, never wrong.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

LAYOUTS = 4  # cell layouts kept per session (e.g. a page's two groupings, with and without a filter)
PAIRS = 64  # metrics' deltas kept per session


@dataclass(eq=False)
class _Layout:
    where: np.ndarray
    cell: np.ndarray
    n_cells: int
    runs_version: int
    feedback_version: int
    runs_part: dict[str, np.ndarray]
    feedback_part: dict[int, np.ndarray]


class DeltaMemo:
    def __init__(self) -> None:
        self._layouts: list[_Layout] = []
        self._pairs: OrderedDict[Hashable, tuple[np.ndarray, np.ndarray, Any]] = OrderedDict()

    def nbytes(self) -> int:
        return sum(e.where.nbytes + e.cell.nbytes + 8 * e.n_cells * (len(e.runs_part) + len(e.feedback_part))
                   for e in self._layouts)

    def cell_values(self, versions: tuple[int, int], where: np.ndarray, cell: np.ndarray, n_cells: int,
                    runs_part: Callable[[], dict[str, np.ndarray]],
                    feedback_part: Callable[[], dict[int, np.ndarray]]) -> tuple[dict[str, np.ndarray],
                                                                                  dict[int, np.ndarray]]:
        """The session's (run metrics, feedback by key) per cell for this layout, each part
        recomputed only if its table changed since it was computed."""
        runs_version, feedback_version = versions
        for at, entry in enumerate(self._layouts):
            if entry.n_cells == n_cells and _same(entry.where, where) and _same(entry.cell, cell):
                del self._layouts[at]
                break
        else:
            entry = _Layout(where.copy(), cell.copy(), n_cells, -1, -1, {}, {})
        if entry.runs_version != runs_version:
            entry.runs_part = _keep_equal(entry.runs_part, runs_part())
            entry.runs_version = runs_version
        if entry.feedback_version != feedback_version:
            entry.feedback_part = _keep_equal(entry.feedback_part, feedback_part())
            entry.feedback_version = feedback_version
        self._layouts.insert(0, entry)
        del self._layouts[LAYOUTS:]
        return entry.runs_part, entry.feedback_part

    def paired(self, key: Hashable, base: np.ndarray, other: np.ndarray) -> Any | None:
        """The deltas stored for these very arrays under `key`, or None."""
        found = self._pairs.get((key, id(base), id(other)))
        if found is None:
            return None
        self._pairs.move_to_end((key, id(base), id(other)))
        return found[2]

    def store_pair(self, key: Hashable, base: np.ndarray, other: np.ndarray, deltas: Any) -> None:
        self._pairs[(key, id(base), id(other))] = (base, other, deltas)
        while len(self._pairs) > PAIRS:
            self._pairs.popitem(last=False)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _keep_equal(old: dict[Any, np.ndarray], new: dict[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """`new`, with each array equal to `old`'s (NaN equal to NaN) replaced by `old`'s."""
    out = {}
    for name, values in new.items():
        held = old.get(name)
        out[name] = held if held is not None and held.shape == values.shape and bool(
            np.array_equal(held, values, equal_nan=True)) else values
    return out
