"""SQLite's bulk INSERTs and upserts as multi-row VALUES pages (`evalql/db/values_pages.py`):
the stored bytes are exactly those SQLAlchemy's own executemany stores, pages split at the
parameter limit, duplicate keys of an upsert keep the last row, and rows that leave a column
with a Python-side default fall back to SQLAlchemy."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.engine import make_url

from evalql.db import values_pages, writes
from evalql.db.engine import create_engine, session_factory
from evalql.db.models import Feedback, Run
from evalql.db.tenant import owned_rows
from evalql.db.upsert import upsert

pytestmark = pytest.mark.backends("sqlite")

T0 = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)


def run_rows(count: int, session_id: uuid.UUID) -> list[dict]:
    """Rows with every kind of value: UUIDs, aware datetimes (one not in UTC), JSON objects,
    lists and nested values, None, booleans, floats, costs, text with quotes and NUL-free
    unicode."""
    rows = []
    for i in range(count):
        run_id = uuid.uuid4()
        start = T0 + dt.timedelta(seconds=i)
        rows.append({
            "id": run_id, "session_id": session_id, "trace_id": run_id, "parent_run_id": None,
            "dotted_order": f"{start:%Y%m%dT%H%M%S%fZ}{run_id}", "is_root": i % 2 == 0, "name": f"r'{i}\"é",
            "run_type": "llm", "start_time": start if i % 3 else start.astimezone(dt.timezone(dt.timedelta(hours=5))),
            "end_time": None if i % 4 == 0 else start + dt.timedelta(seconds=1.5), "status": "success",
            "error": None, "inputs": {"q": i, "nested": {"list": [1, None, "x"]}}, "outputs": [i, {"a": None}],
            "extra": {"metadata": {"model": f"m{i % 2}"}}, "events": [] if i % 2 else None, "tags": ["t", str(i)],
            "serialized": None, "reference_example_id": None if i % 5 else uuid.uuid4(), "first_token_time": None,
            "latency": 1.5 if i % 4 else None, "first_token_latency": None, "own_prompt_tokens": i,
            "own_completion_tokens": None, "own_total_tokens": i, "own_prompt_cost": Decimal("0.000001") * i,
            "own_completion_cost": None, "own_total_cost": Decimal("1.5"), "prompt_tokens": i, "completion_tokens": 0,
            "total_tokens": i, "prompt_cost": Decimal("0.1"), "completion_cost": None, "total_cost": Decimal("0.1"),
            "prompt_token_details": {"cached": i}, "completion_token_details": None,
            "ingest_state": {"patched": [], "given": {}}, "created_at": T0,
        })
    return rows


def stored(url: str, table: str) -> list[tuple]:
    """The table's rows as SQLite stores them (text, integers, reals), in id order."""
    with sqlite3.connect(make_url(url).database) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608 (a test's own table name)


async def test_pages_store_what_sqlalchemy_stores(new_database, api, database_url):
    async with api.db_sessions() as db:
        session = await writes.insert_session(db, api.workspace_id, name="s")
        rows = run_rows(2000, session.id)  # more than one page of runs (840 rows of 39 columns)
        found = values_pages.shape(db.get_bind().dialect, insert(Run.__table__), {k: k for k in [*rows[0],
                                   "workspace_id"]}, ("insert", Run))
        assert found is not None and found.page_rows < len(rows)
        executed: list[str] = []
        listen = lambda *args: executed.append(args[2])  # noqa: E731
        event.listen(db.get_bind(), "before_cursor_execute", listen)
        await writes.bulk_insert(db, api.workspace_id, Run, rows)
        event.remove(db.get_bind(), "before_cursor_execute", listen)
        await db.commit()
    assert [sql.startswith("INSERT INTO runs") for sql in executed] == [True] * math.ceil(len(rows) / found.page_rows)

    # The same rows through SQLAlchemy's executemany, into a second database.
    reference_url = await new_database()
    engine = create_engine(reference_url)
    try:
        async with session_factory(engine)() as db:
            await writes.create_workspace(db, "tests")
            await db.execute(insert(Run.__table__), owned_rows(api.workspace_id, rows))
            await db.commit()
    finally:
        await engine.dispose()
    assert stored(database_url, "runs") == stored(reference_url, "runs")
    assert len(stored(database_url, "runs")) == 2000


async def test_upsert_pages_replace_and_keep_the_last_duplicate(api):
    async with api.db_sessions() as db:
        ws = api.workspace_id
        session = await writes.insert_session(db, ws, name="s")
        [run] = run_rows(1, session.id)
        await writes.bulk_insert(db, ws, Run, [run])
        ids = [uuid.uuid4() for _ in range(3)]

        def feedback(feedback_id: uuid.UUID, score: float, comment: str) -> dict:
            return {"id": feedback_id, "run_id": run["id"], "trace_id": run["id"], "session_id": session.id,
                    "key": "k", "score": score, "score_is_bool": False, "value": None, "value_label": None,
                    "comment": comment, "correction": None, "feedback_source": {"type": "api"},
                    "feedback_config": None, "feedback_group_id": None, "comparative_experiment_id": None,
                    "start_time": None, "extra": None, "error": False, "created_at": T0, "modified_at": T0}

        await upsert(db, ws, Feedback, [feedback(ids[0], 1, "first"), feedback(ids[1], 2, "kept")],
                     key=("workspace_id", "id"))
        # Replaces a stored row, and of two rows with one key in the same call keeps the last.
        await upsert(db, ws, Feedback, [feedback(ids[0], 5, "replaced"), feedback(ids[2], 0, "dup-first"),
                                        feedback(ids[2], 9, "dup-last")], key=("workspace_id", "id"))
        await db.commit()
        found = dict((await db.execute(select(Feedback.id, Feedback.comment).where(
            Feedback.workspace_id == ws))).all())
    assert found == {ids[0]: "replaced", ids[1]: "kept", ids[2]: "dup-last"}


async def test_rows_without_a_defaulted_column_fall_back_to_sqlalchemy(api):
    async with api.db_sessions() as db:
        session = await writes.insert_session(db, api.workspace_id, name="s")
        rows = [{k: v for k, v in row.items() if k not in ("created_at", "prompt_tokens")}
                for row in run_rows(3, session.id)]
        assert values_pages.shape(db.get_bind().dialect, insert(Run.__table__), {k: k for k in [*rows[0],
                                  "workspace_id"]}, ("insert", Run)) is None
        await writes.bulk_insert(db, api.workspace_id, Run, rows)
        await db.commit()
        made = (await db.execute(select(Run.created_at, Run.prompt_tokens).where(
            Run.workspace_id == api.workspace_id))).all()
    assert len(made) == 3 and all(created is not None and tokens == 0 for created, tokens in made)
