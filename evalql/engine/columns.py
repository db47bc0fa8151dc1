"""Rows addressed by id, held as growable numpy columns.

The engine's state is a handful of these tables. A row keeps its position for life: an
update rewrites it in place and a delete only clears its `alive` flag, so positions held
elsewhere (a feedback row's run, a run's example) never move. Appends grow the columns
geometrically, so one new row costs amortised O(1), not a copy of the table.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

# What a column holds where a row has no value: NaN for floats, -1 for codes and integers.
FILL: dict[str, Any] = {"f": np.nan, "i": -1, "u": 0, "b": False}
TOUCH_LOG = 32  # the last changes whose rows a table remembers (`touched_since`)


class Table:
    """Rows keyed by UUID. The ids are one byte array, 16 bytes per row, so a snapshot writes
    and reads them as one string, not a million objects. The map from id to position is
    built from it the first time a row is looked up by id: a restored state answers requests
    on unchanged data (which only read ids by position) without building it at all."""

    def __init__(self, dtypes: Mapping[str, Any]) -> None:
        self.dtypes = {name: np.dtype(dtype) for name, dtype in dtypes.items()}
        self._position: dict[bytes, int] | None = {}
        self._keys = bytearray()
        self.size = 0
        self._columns = {name: np.empty(0, dtype) for name, dtype in self.dtypes.items()}
        self._alive = np.zeros(0, bool)
        # Raised by every change through this class (and so by every change: the views
        # `column()` hands out are read-only by convention): what is derived from the table
        # (engine/deltas.py's per-cell values) is reused while it stays the same, and
        # brought up to date from the rows the last changes touched.
        self.version = 0
        self._touched: deque[tuple[int, np.ndarray]] = deque(maxlen=TOUCH_LOG)

    def __len__(self) -> int:
        return self.size

    @property
    def position(self) -> dict[bytes, int]:
        if self._position is None:
            keys = bytes(self._keys)
            self._position = dict(zip([keys[i:i + 16] for i in range(0, len(keys), 16)], range(self.size),
                                      strict=True))
        return self._position

    def column(self, name: str) -> np.ndarray:
        """A view of the first `size` values (no copy; invalid after the next append)."""
        return self._columns[name][:self.size]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[:self.size]

    def add_column(self, name: str, dtype: Any) -> None:
        """A new column, filled for the rows already held."""
        dtype = np.dtype(dtype)
        self.dtypes[name] = dtype
        self.version += 1  # not in the touch log: every row changed
        self._columns[name] = np.full(len(self._alive), FILL[dtype.kind], dtype)

    def set(self, name: str, rows: Any, values: Any) -> None:
        self._changed(rows)
        self._columns[name][rows] = values

    def _changed(self, rows: Any) -> None:
        rows = np.asarray(rows, np.int64).ravel()
        if rows.size:  # a change to no row (e.g. another session's) is no change
            self.version += 1
            self._touched.append((self.version, rows))

    def touched_since(self, version: int) -> np.ndarray | None:
        """The rows changed since `version` (with repeats), or None if the log does not
        reach back that far."""
        parts = [rows for v, rows in self._touched if v > version]
        if len(parts) != self.version - version:
            return None
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._columns.values()) + self._alive.nbytes

    def _reserve(self, extra: int) -> None:
        needed = self.size + extra
        capacity = len(self._alive)
        if needed <= capacity:
            return
        capacity = max(needed, capacity * 2, 64)
        for name, old in self._columns.items():
            new = np.empty(capacity, old.dtype)
            new[:self.size] = old[:self.size]
            self._columns[name] = new
        alive = np.zeros(capacity, bool)
        alive[:self.size] = self._alive[:self.size]
        self._alive = alive

    def frozen(self) -> dict[str, Any]:
        """A copy to write away while the table goes on changing: trimmed columns (a memcpy
        each) and the keys as one bytes string."""
        return {"dtypes": self.dtypes, "columns": {n: c[:self.size].copy() for n, c in self._columns.items()},
                "alive": self.alive.copy(), "keys": bytes(self._keys)}

    @classmethod
    def thawed(cls, frozen: dict[str, Any]) -> Table:
        table = cls(frozen["dtypes"])
        table._columns, table._alive = frozen["columns"], frozen["alive"]
        table.size = len(table._alive)
        table._keys = bytearray(frozen["keys"])
        if len(table._keys) != 16 * table.size:
            raise ValueError(f"{len(table._keys)} bytes of ids for {table.size} rows")
        table._position = None
        return table

    def find(self, row_id: uuid.UUID) -> int | None:
        return self.position.get(row_id.bytes)

    def id_at(self, row: int) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(self._keys[16 * row:16 * row + 16]))

    def upsert(self, row_ids: Sequence[uuid.UUID], values: Mapping[str, Iterable[Any]]) -> np.ndarray:
        return self.upsert_keys([row_id.bytes for row_id in row_ids], values)

    def upsert_keys(self, ids: Sequence[bytes], values: Mapping[str, Iterable[Any]]) -> np.ndarray:
        """Write rows by their ids' 16 bytes (new ids are appended, known ids rewritten);
        every column not given gets its fill value. Returns the rows' positions."""
        rows = np.empty(len(ids), np.int64)
        fresh = []
        position = self.position
        for i, row_id in enumerate(ids):
            at = position.get(row_id)
            if at is None:
                fresh.append(i)
                at = self.size + len(fresh) - 1
            rows[i] = at
        self._reserve(len(fresh))
        for i in fresh:
            position[ids[i]] = int(rows[i])
            self._keys += ids[i]
        self.size += len(fresh)
        for name, dtype in self.dtypes.items():
            given = values.get(name)
            if given is None:
                self._columns[name][rows] = FILL[dtype.kind]
            else:
                self._columns[name][rows] = np.asarray(given, dtype=dtype)
        self._alive[rows] = True
        self._changed(rows)
        return rows

    def kill(self, row_ids: Iterable[uuid.UUID]) -> None:
        rows = self.rows_of(row_ids)
        self._changed(rows)
        self._alive[rows] = False

    def rows_of(self, row_ids: Iterable[uuid.UUID]) -> list[int]:
        position = self.position
        return [position[k] for k in (row_id.bytes for row_id in row_ids) if k in position]


class Interned:
    """Values numbered in order of first sight: codes are stable for the state's life."""

    def __init__(self) -> None:
        self.code: dict[Hashable, int] = {}
        self.values: list[Any] = []

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def of(cls, values: Iterable[Hashable]) -> Interned:
        interned = cls()
        for value in values:
            interned(value)
        return interned

    def __call__(self, value: Hashable) -> int:
        found = self.code.get(value)
        if found is None:
            found = self.code[value] = len(self.values)
            self.values.append(value)
        return found
