"""Every group's runs R(g) (spec §5.3) in the order an export lists them, over the engine's
columns: the examples table of `rest/export.py` is read from this, a chunk at a time.

`members` is a pure function of arrays, like `compute.group_page`, and runs in a worker
thread: steps 1–3 of §5.3 for every group at once (no page; `compute.ordered_groups`), then each member run as four
integers (group slot, example row, session index, run row), sorted by (group in §5.3 order,
example in (created_at, id) order). That is 13 bytes a run, whatever the runs hold; their
ids are read from the state's tables a chunk at a time (`Plan.chunks`: a row keeps its
position and its id for life, so that is safe after the workspace's lock is released),
and their values (inputs, outputs, feedback) from SQL, by the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from evalql.engine.compute import SessionInput, ordered_groups
from evalql.engine.state import SessionState, WorkspaceState
from evalql.queries.results import GroupIdentity
from evalql.queries.sessions import SessionRow


@dataclass
class Members:
    """R(g) of every group with a non-empty E(g): `groups` holds the group codes in §5.3
    order (a member's `slot` indexes it); the other arrays have one entry per member run."""

    groups: np.ndarray
    example_count: np.ndarray  # |E(g)| per slot
    slot: np.ndarray
    example: np.ndarray  # example row
    session: np.ndarray  # index into the query's sessions
    run: np.ndarray  # run row of that session
    feedback_keys: list[int]  # codes of the feedback keys found on member runs


@dataclass
class Chunk:
    """Whole examples of the export, in order: each (group slot, example id, run ids by
    session index)."""

    examples: list[tuple[int, uuid.UUID, list[uuid.UUID]]]

    @property
    def example_ids(self) -> list[uuid.UUID]:
        return list(dict.fromkeys(e for _, e, _ in self.examples))

    @property
    def run_ids(self) -> list[uuid.UUID]:
        return [r for _, _, runs in self.examples for r in runs]


@dataclass
class Plan:
    """What the examples table lists, fixed at one data version (`version`)."""

    version: int
    sessions: dict[uuid.UUID, SessionRow]  # the query's sessions, in request order
    identities: list[GroupIdentity]  # per slot
    members: Members
    feedback_keys: list[str]  # sorted
    _examples: WorkspaceState
    _session_states: list[SessionState]

    def chunks(self, runs_per_chunk: int) -> Iterator[Chunk]:
        """The members a chunk of about `runs_per_chunk` runs at a time, never splitting an
        example of a group."""
        m = self.members
        n = len(m.slot)
        if not n:
            return
        # Where a new (group, example) starts.
        starts = np.flatnonzero(np.r_[True, (m.slot[1:] != m.slot[:-1]) | (m.example[1:] != m.example[:-1])])
        bounds = np.r_[starts, n]
        first = 0
        while first < len(starts):
            # The last example starting at or before first's start + runs_per_chunk.
            last = max(first + 1, int(np.searchsorted(starts, starts[first] + runs_per_chunk, "right")))
            examples = []
            for k in range(first, last):
                lo, hi = int(bounds[k]), int(bounds[k + 1])
                examples.append((int(m.slot[lo]), self._examples.examples.id_at(int(m.example[lo])),
                                 [self._session_states[s].runs.id_at(r)
                                  for s, r in zip(m.session[lo:hi].tolist(), m.run[lo:hi].tolist(), strict=True)]))
            yield Chunk(examples)
            first = last


def members(inputs: list[SessionInput], live_example: np.ndarray, group_rank: np.ndarray,
            example_order: np.ndarray) -> Members:
    """Steps 1–3 of §5.3 for every group (`compute.ordered_groups`), then the member runs
    in export order."""
    found = ordered_groups(inputs, live_example, group_rank)
    intersection, groups, n_examples = found.intersection, found.ordered, found.n_examples
    if intersection is None:
        empty = np.zeros(0, np.int64)
        return Members(empty, empty, empty, empty, empty, empty, [])
    slot_of = np.full(len(group_rank), -1, np.int64)
    slot_of[groups] = np.arange(len(groups))

    parts: list[tuple[np.ndarray, ...]] = []
    keys: set[int] = set()
    for i, (s, where, p) in enumerate(zip(inputs, found.rows, found.pairs, strict=True)):
        hit = intersection.contains(p)
        where, p = where[hit], p[hit]
        parts.append((slot_of[p // n_examples], p % n_examples, np.full(len(p), i, np.int64), where))
        keys |= _feedback_keys(s.state, where)
    slot, example, session, run = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = np.lexsort((session, example_order[example], slot))  # the last key sorts first
    return Members(groups, intersection.example_count[groups], slot[order].astype(np.int32),
                   example[order].astype(np.int32), session[order].astype(np.int8), run[order].astype(np.int32),
                   sorted(keys))


def _feedback_keys(state: SessionState, runs: np.ndarray) -> set[int]:
    """Codes of the keys of the live feedback on these run rows."""
    feedback = state.feedback
    member = np.zeros(len(state.runs), bool)
    member[runs] = True
    on = feedback.alive & member[feedback.column("run")]
    return set(np.unique(feedback.column("key")[on]).tolist())
