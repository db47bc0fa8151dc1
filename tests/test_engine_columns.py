"""The engine's id-keyed columns (`evalql/engine/columns.py`): positions are stable, and a
table thawed from a snapshot answers by position at once and by id once it needs to."""

from __future__ import annotations

import pickle
import uuid

import numpy as np
import pytest

from evalql.engine.columns import TOUCH_LOG, Table

DTYPES = {"score": "f8", "code": "i4"}


def _ids(n: int) -> list[uuid.UUID]:
    # Ids ending in zero bytes too: fixed-width byte strings must not lose them.
    return [uuid.UUID(int=i << 64) for i in range(1, n)] + [uuid.UUID(int=0)]


def test_positions_are_stable_through_updates_deletes_and_growth():
    table = Table(DTYPES)
    ids = _ids(100)
    rows = table.upsert(ids[:50], {"score": np.arange(50.0)})
    assert rows.tolist() == list(range(50))
    table.kill(ids[10:20])
    again = table.upsert(ids[40:], {"score": np.arange(60.0), "code": np.full(60, 7)})
    assert again.tolist() == list(range(40, 100))
    assert len(table) == 100 and table.alive.sum() == 90
    assert table.column("code")[:40].tolist() == [-1] * 40  # not given: the fill value
    assert [table.id_at(r) for r in range(100)] == ids
    assert table.rows_of([ids[99], uuid.uuid4(), ids[0]]) == [99, 0]


def test_thawed_table_needs_no_id_map_until_a_lookup():
    table = Table(DTYPES)
    ids = _ids(1000)
    table.upsert(ids, {"score": np.linspace(0, 1, 1000), "code": np.arange(1000)})
    table.kill(ids[:3])
    thawed = Table.thawed(pickle.loads(pickle.dumps(table.frozen())))
    assert thawed._position is None  # noqa: SLF001 - what a restart saves
    assert thawed.id_at(999) == ids[999] and thawed.id_at(0) == ids[0]
    assert thawed._position is None  # noqa: SLF001
    assert np.array_equal(thawed.column("code"), table.column("code"))
    assert thawed.alive.tolist() == table.alive.tolist()
    assert thawed.find(ids[500]) == 500  # builds the map
    new = uuid.uuid4()
    rows = thawed.upsert([ids[7], new], {"score": [9.0, 10.0]})
    assert rows.tolist() == [7, 1000]
    assert thawed.id_at(1000) == new and thawed.find(new) == 1000
    assert thawed.column("score")[[7, 1000]].tolist() == [9.0, 10.0]


def test_thawed_table_refuses_ids_that_do_not_match_its_rows():
    table = Table(DTYPES)
    table.upsert(_ids(4), {})
    frozen = table.frozen()
    frozen["keys"] = frozen["keys"][:-1]
    with pytest.raises(ValueError, match="bytes of ids"):
        Table.thawed(frozen)


def test_a_table_counts_its_changes_and_remembers_the_last_rows_they_touched():
    table = Table({"x": np.float64})
    ids = [uuid.uuid4() for _ in range(5)]
    table.upsert(ids, {"x": range(5)})
    start = table.version
    table.upsert(ids[:0], {"x": []})  # no row: no change
    table.kill([uuid.uuid4()])  # an id it does not hold: no change
    assert table.version == start and table.touched_since(start).tolist() == []
    table.set("x", [3], [9.0])
    table.kill([ids[1]])
    table.upsert([ids[4], uuid.uuid4()], {"x": [1, 2]})
    assert table.version == start + 3
    assert sorted(table.touched_since(start).tolist()) == [1, 3, 4, 5]
    assert table.touched_since(start + 2).tolist() == [4, 5]
    for i in range(TOUCH_LOG):
        table.set("x", [i % 5], [0.0])
    assert table.touched_since(start) is None  # older than the log: unknown
    assert len(table.touched_since(table.version - TOUCH_LOG)) == TOUCH_LOG
    table.add_column("y", np.int32)  # every row changed
    assert table.touched_since(table.version - 1) is None
