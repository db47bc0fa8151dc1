"""What the engine holds for one workspace: the compared sessions' root runs and their
feedback, the datasets' examples, and the metadata values they are grouped by, as columns.

Everything here is derived from the tables and can be dropped at any time: it is loaded
lazily (a session when it is first compared, a metadata key when it is first grouped by)
and then kept current from the change log (`sync.py`), never edited from a request.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evalql.core.enums import GroupBy
from evalql.engine import load
from evalql.engine.columns import Interned, Table
from evalql.engine.delta_memo import DeltaMemo
from evalql.engine.page import PageRows

RUN_DTYPES: dict[str, Any] = {
    "example": np.int32, "latency": np.float64, "first_token": np.float64,
    **{t: np.int64 for t in load.TOKENS},
    **{c: np.int64 for c in load.COSTS}, **{f"has_{c}": bool for c in load.COSTS},
    "start_us": np.int64, "is_error": bool, "is_streaming": bool,
}
FEEDBACK_DTYPES: dict[str, Any] = {"run": np.int32, "key": np.int32, "score": np.float64, "error": bool,
                                   "label": np.int32}
EXAMPLE_DTYPES: dict[str, Any] = {"dataset": np.int32, "created_us": np.int64, "live": bool,
                                  "id_hi": np.uint64, "id_lo": np.uint64}
ROW_ID_BYTES = 200  # a UUID object, its dict entry and list slot, measured with tracemalloc


def group_column(key: str) -> str:
    return f"group:{key}"


class Groups:
    """The groups of one grouping (a metadata key of runs or of examples), numbered in
    order of first sight, with their order of spec §5.3: numbers (by value; integers
    beyond a float's precision by their digits) before strings (by code point)."""

    def __init__(self) -> None:
        self.identity = Interned()  # (is_text, text)
        self.num: list[float | None] = []
        self._rank: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.identity)

    def code(self, kind: str, text: str, num: float | None) -> int:
        if kind == "null":
            return -1
        before = len(self.identity)
        found = self.identity((int(kind != "number"), text))
        if found == before:
            self.num.append(num)
            self._rank = None
        return found

    def rank(self) -> np.ndarray:
        """Position of each group code in the §5.3 order (recomputed after new groups)."""
        if self._rank is None or len(self._rank) != len(self.identity):
            order = sorted(range(len(self.identity)), key=self._key)
            # Among numbers of one float value and one length, positives compare their digits
            # ascending and negatives descending (spec §5.3; see queries/group_runs.numeric_order).
            out: list[int] = []
            for (is_text, num, _), tied in itertools.groupby(order, key=lambda c: self._key(c)[:3]):
                codes = list(tied)
                out += codes[::-1] if not is_text and num is not None and num < 0 else codes
            rank = np.empty(len(out), np.int64)
            rank[out] = np.arange(len(out))
            self._rank = rank
        return self._rank

    def _key(self, code: int) -> tuple:
        is_text, text = self.identity.values[code]
        num = self.num[code]
        if is_text:
            return (1, 0.0, 0, text)
        width = len(text) if num >= 0 else -len(text)  # type: ignore[operator]
        return (0, num, width, text)


@dataclass
class FilterMask:
    """Which of a session's run rows pass one of its filters: read from SQL once, then kept
    current by re-checking only the rows whose run, feedback, metadata or example the change
    log named since (`stale`), and the rows appended since (`len(allowed)` < the table)."""

    allowed: np.ndarray
    stale: set[int] = field(default_factory=set)


FILTERS_PER_SESSION = 16  # masks kept per session, least recently used dropped


@dataclass
class SessionState:
    runs: Table = field(default_factory=lambda: Table(RUN_DTYPES))
    feedback: Table = field(default_factory=lambda: Table(FEEDBACK_DTYPES))
    comments: dict[int, tuple[dt.datetime, uuid.UUID, str]] = field(default_factory=dict)
    run_keys: set[str] = field(default_factory=set)  # run metadata keys held as group columns
    # Feedback on the session itself (no run), by id: a handful of rows, kept whole.
    session_feedback: dict[uuid.UUID, Any] = field(default_factory=dict)
    # Per filter (the session's filter strings): not in snapshots, rebuilt on first use.
    filters: OrderedDict[tuple[str, ...], FilterMask] = field(default_factory=OrderedDict)
    # What the last requests' baseline deltas computed from this session (not in snapshots).
    delta_memo: DeltaMemo = field(default_factory=DeltaMemo)

    def nbytes(self) -> int:
        return (self.runs.nbytes() + self.feedback.nbytes() + sum(m.allowed.nbytes for m in self.filters.values())
                + self.delta_memo.nbytes())

    def touch(self, rows: Iterable[int]) -> None:
        """These run rows changed: every filter mask re-checks them on its next use."""
        rows = list(rows)
        if rows:
            for mask in self.filters.values():
                mask.stale.update(rows)


class WorkspaceState:
    def __init__(self, workspace_id: uuid.UUID, version: int) -> None:
        self.workspace_id = workspace_id
        self.version = version
        self.examples = Table(EXAMPLE_DTYPES)
        self.datasets = Interned()
        self.loaded_datasets: set[uuid.UUID] = set()
        self.example_keys: set[str] = set()  # example metadata keys held, for every loaded dataset
        self.sessions: dict[uuid.UUID, SessionState] = {}
        self.feedback_keys = Interned()
        self.labels = Interned()
        self.groups: dict[tuple[GroupBy, str], Groups] = {}
        self._example_order: np.ndarray | None = None
        self.page = PageRows()
        # Raised by every load (`builds` too) and every change applied: what a snapshot lags.
        self.generation = self.builds = 0
        self.saved_generation = self.saved_builds = 0

    def nbytes(self) -> int:
        """An estimate: the columns, plus what each row's id costs in the id maps."""
        rows = len(self.examples) + sum(len(s.runs) + len(s.feedback) for s in self.sessions.values())
        return self.examples.nbytes() + sum(s.nbytes() for s in self.sessions.values()) + ROW_ID_BYTES * rows

    def grouping(self, group_by: GroupBy, key: str) -> Groups:
        return self.groups.setdefault((group_by, key), Groups())

    # -- examples ------------------------------------------------------------------------

    def example_rows(self, example_keys: Sequence[bytes]) -> np.ndarray:
        """Rows of these examples (ids as bytes), made (not alive, of no dataset) for ones not
        seen yet."""
        position = self.examples.position
        unknown = list(dict.fromkeys(e for e in example_keys if e not in position))
        if unknown:
            rows = self.examples.upsert_keys(unknown, {"dataset": np.full(len(unknown), -1)})
            self.examples.alive[rows] = False
            self._example_order = None
        return np.fromiter((position[e] for e in example_keys), np.int64, len(example_keys))

    def dataset_code(self, dataset_id: uuid.UUID) -> int:
        """The dataset's code in the examples' `dataset` column; -2 (no row) if none is held."""
        return self.datasets.code.get(dataset_id.bytes, -2)

    def put_examples(self, rows: Sequence[Any]) -> None:
        """Rows of `load.EXAMPLE_COLUMNS` (ids as bytes)."""
        if not rows:
            return
        ids, dataset_ids, created, live = (list(c) for c in zip(*rows, strict=True))
        # The ids' two halves, big-endian, order examples as their UUIDs compare.
        halves = np.frombuffer(b"".join(ids), dtype=">u8").reshape(-1, 2)
        self.examples.upsert_keys(ids, {
            "dataset": [self.datasets(d) for d in dataset_ids], "created_us": created, "live": live,
            "id_hi": halves[:, 0], "id_lo": halves[:, 1],
        })
        self._example_order = None

    def live_examples(self, dataset_id: uuid.UUID) -> np.ndarray:
        """The examples a candidate run may reference (spec §5.3 step 1): the dataset's
        non-deleted ones, as a mask over example rows."""
        e = self.examples
        return e.alive & e.column("live") & (e.column("dataset") == self.dataset_code(dataset_id))

    def example_order(self) -> np.ndarray:
        """Each example row's position in (created_at, id) order."""
        if self._example_order is None or len(self._example_order) != len(self.examples):
            e = self.examples
            order = np.lexsort((e.column("id_lo"), e.column("id_hi"), e.column("created_us")))
            rank = np.empty(len(order), np.int64)
            rank[order] = np.arange(len(order))
            self._example_order = rank
        return self._example_order

    def put_example_groups(self, key: str, rows: Iterable[Any]) -> None:
        """Example metadata rows (example_id, key, kind, value, num) of held examples."""
        _put_groups(self.examples, self.grouping(GroupBy.EXAMPLE_METADATA, key), key,
                    ((r.example_id, r) for r in rows))

    # -- runs and feedback ---------------------------------------------------------------

    def put_runs(self, session: SessionState, rows: Sequence[Any]) -> None:
        """Root runs that reference an example (the rows of `load.RUN_COLUMNS`)."""
        if not rows:
            return
        cols = dict(zip(rows[0]._fields, zip(*rows, strict=True), strict=True))
        values: dict[str, Any] = {
            "example": self.example_rows(cols["reference_example_id"]),
            "latency": cols["latency"], "first_token": cols["first_token_latency"],
            "start_us": cols["start_us"], "is_error": cols["is_error"], "is_streaming": cols["is_streaming"],
            **{t: cols[t] for t in load.TOKENS},
        }
        for c in load.COSTS:
            values[c] = [0 if v is None else v for v in cols[c]]
            values[f"has_{c}"] = [v is not None for v in cols[c]]
        session.runs.upsert_keys(cols["id"], values)

    def put_run_groups(self, session: SessionState, key: str, rows: Iterable[Any]) -> None:
        """Run metadata rows (run_id, key, kind, value, num) of held runs."""
        _put_groups(session.runs, self.grouping(GroupBy.RUN_METADATA, key), key, ((r.run_id, r) for r in rows))

    def put_feedback(self, session: SessionState, rows: Sequence[Any]) -> None:
        """Feedback rows (`load.FEEDBACK_COLUMNS`, ids as bytes) on runs of this session."""
        if not rows:
            return
        position = session.runs.position
        # Column by column, each distinct key and label interned once: a session's feedback
        # is 10^5-10^6 rows on a first load.
        ids, run_ids, keys, scores, errors, labels = (list(c) for c in zip(
            *((r.id, r.run_id, r.key, r.score, r.error, r.value_label) for r in rows), strict=True))
        key_codes = {k: self.feedback_keys(k) for k in dict.fromkeys(keys)}
        label_codes = {v: -1 if v is None else self.labels(v) for v in dict.fromkeys(labels)}
        written = session.feedback.upsert_keys(ids, {
            "run": [position[r] for r in run_ids], "key": [key_codes[k] for k in keys],
            "score": [np.nan if v is None else v for v in scores], "error": [bool(e) for e in errors],
            "label": [label_codes[v] for v in labels],
        })
        for at, r in zip(written.tolist(), rows, strict=True):
            if r.comment:
                session.comments[at] = (r.created_at, uuid.UUID(bytes=r.id), r.comment)
            else:
                session.comments.pop(at, None)


def _put_groups(table: Table, grouping: Groups, key: str, entries: Iterable[tuple[bytes, Any]]) -> None:
    """Metadata entries (the owner's id as bytes, an entry with kind, value, num) written as
    group codes into the owners' rows of `table`; entries of rows not held are skipped."""
    position = table.position
    codes: dict[tuple, int] = {}  # each distinct entry coded once: a key has few values and many rows

    def code(e: Any) -> int:
        found = codes.get((e.kind, e.value, e.num))
        if found is None:
            found = codes[(e.kind, e.value, e.num)] = grouping.code(e.kind, e.value, e.num)
        return found

    found = [(position[owner], code(e)) for owner, e in entries if owner in position]
    if found:
        where, written = zip(*found, strict=True)
        table.set(group_column(key), list(where), list(written))
