"""What one request's baseline deltas leave for the next (engine/deltas.py).

A page that follows a running experiment asks the same comparison after every write, and a
write touches one session: its runs, or a few feedback rows. So each session keeps

- for its last few cell layouts (its member runs and slots, and the baseline's cells they
  are numbered by), each metric's per-cell means, with the versions of its run and feedback
  tables they were read at: an unchanged table is not read again; a feedback table that
  changed is read again only for the cells whose runs the changed rows are (or were) on;
  and an array a write left equal is kept, so that its identity says "unchanged";
- the deltas of each metric against the baseline, keyed by the identity of the two arrays
  they pair (held here, so the identity cannot be reused), the slots' bounds, the tolerance
  and the request's seeds: a metric whose arrays are the same objects as last time is not
  paired again.

Everything is a function of its key, so a stale entry can only be unused, never wrong.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

LAYOUTS = 4  # cell layouts kept per session (e.g. a page's two groupings, with and without a filter)
PAIRS = 64  # metrics' deltas kept per session


@dataclass(eq=False)
class Layout:
    """One session's member runs numbered by the baseline's cells, and its means there."""

    members: np.ndarray  # the session's member run rows and their slots, as the request gave them
    slots: np.ndarray
    cells: np.ndarray  # the baseline's cells (grid positions) they are numbered by
    n_examples: int
    where: np.ndarray  # the members in those cells, and their cell numbers
    cell: np.ndarray
    runs_version: int = -1
    runs_part: dict[str, np.ndarray] | None = None
    feedback_version: int = -1
    feedback_runs: np.ndarray | None = None  # the feedback table's run column when last read
    feedback_part: dict[int, np.ndarray] | None = None

    def nbytes(self) -> int:
        arrays = [self.members, self.slots, self.where, self.cell,
                  *(self.runs_part or {}).values(), *(self.feedback_part or {}).values()]
        return sum(a.nbytes for a in arrays) + (0 if self.feedback_runs is None else self.feedback_runs.nbytes)


class DeltaMemo:
    def __init__(self) -> None:
        self._layouts: list[Layout] = []
        self._cells: list[np.ndarray] = []  # the baselines' cells, one array per distinct value
        self._pairs: OrderedDict[Hashable, tuple[np.ndarray, np.ndarray, Any]] = OrderedDict()

    def nbytes(self) -> int:
        return sum(e.nbytes() for e in self._layouts) + sum(c.nbytes for c in self._cells)

    def interned_cells(self, cells: np.ndarray) -> np.ndarray:
        """The array held equal to `cells` (so layouts compare it by identity), else `cells`."""
        for held in self._cells:
            if _same(held, cells):
                return held
        self._cells = [cells, *self._cells[:LAYOUTS - 1]]
        return cells

    def layout(self, members: np.ndarray, slots: np.ndarray, cells: np.ndarray, n_examples: int) -> Layout | None:
        for at, entry in enumerate(self._layouts):
            if (entry.n_examples == n_examples and (entry.cells is cells or _same(entry.cells, cells))
                    and _same(entry.members, members) and _same(entry.slots, slots)):
                del self._layouts[at]
                self._layouts.insert(0, entry)
                return entry
        return None

    def keep(self, entry: Layout) -> None:
        self._layouts = [entry, *(e for e in self._layouts if e is not entry)][:LAYOUTS]

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


def keep_equal(old: dict[Any, np.ndarray] | None, new: dict[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """`new`, with each array equal to `old`'s (NaN equal to NaN) replaced by `old`'s."""
    old = old or {}
    out = {}
    for name, values in new.items():
        held = old.get(name)
        out[name] = held if held is not None and held.shape == values.shape and bool(
            np.array_equal(held, values, equal_nan=True)) else values
    return out
