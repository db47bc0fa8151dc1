"""The write path: ids given as strings (as JSON ingest sends them), batched INSERTs,
and values derived at write time (spec §2.4)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from decimal import Decimal

from sqlalchemy import event

from evalql.db import writes
from evalql.db.models import Feedback, Run
from evalql.db.tenant import readable

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def test_string_ids_everywhere(api):
    async with api.db_sessions() as db:
        ws = api.workspace_id
        dataset = await writes.insert_dataset(db, ws, name="d")
        [example] = await writes.insert_examples(db, ws, [{"dataset_id": str(dataset.id), "inputs": {}}])
        session = await writes.insert_session(db, ws, name="s", reference_dataset_id=str(dataset.id))
        run_id = uuid.uuid4()
        await writes.insert_runs(db, ws, [{
            "id": str(run_id), "name": "r", "run_type": "chain", "start_time": "2026-01-01T00:00:00Z",
            "session_id": str(session.id), "reference_example_id": str(example).upper()}])
        await writes.insert_feedback(db, ws, [{"run_id": str(run_id), "key": "k", "score": True,
                                               "session_id": str(session.id)}])
        await db.commit()
        run = await db.scalar(readable(ws, Run).where(Run.id == run_id))
        feedback = await db.scalar(readable(ws, Feedback).where(Feedback.run_id == run_id))
    assert run.reference_example_id == example and run.status == "pending" and run.latency is None
    assert (feedback.trace_id, feedback.session_id, feedback.score, feedback.score_is_bool) == (
        run_id, session.id, 1.0, True)


async def test_mixed_records_insert_in_few_statements(api):
    """Roots and children alternate and differ in which fields are null; the INSERTs
    must still be batched, not one statement per row."""
    statements: list[str] = []
    engine = api.client._transport.app.state.engine  # type: ignore[attr-defined]

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with api.db_sessions() as db:
            session = await writes.insert_session(db, api.workspace_id, name="s")
            records = []
            for i in range(50):
                root = uuid.uuid4()
                start = T0 + dt.timedelta(seconds=i)
                records.append({"id": root, "name": "root", "run_type": "chain", "start_time": start,
                                "end_time": start + dt.timedelta(seconds=2), "session_id": session.id,
                                "error": "boom" if i % 3 == 0 else None, "extra": {"metadata": {"i": i}}})
                records.append({"id": uuid.uuid4(), "parent_run_id": root, "name": "llm", "run_type": "llm",
                                "start_time": start, "end_time": start + dt.timedelta(seconds=1),
                                "session_id": session.id, "prompt_tokens": i, "completion_tokens": 1,
                                "total_cost": "0.000001"})
            statements.clear()
            await writes.insert_runs(db, api.workspace_id, records)
            await db.commit()
            roots = list(await db.scalars(readable(api.workspace_id, Run).where(Run.is_root.is_(True))
                                          .order_by(Run.start_time)))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO RUNS")]
    assert len(inserts) <= 4, len(inserts)
    # Reported usage rolled up from each root's one child (spec §2.4).
    assert [r.total_tokens for r in roots] == [i + 1 for i in range(50)]
    assert all(r.total_cost == Decimal("0.000001") for r in roots)


async def test_long_metadata_values_store_and_group(api):
    """A metadata value can be a whole prompt: no index may refuse it (PostgreSQL caps
    index rows near 2.7 kB), and it still groups."""
    prompt = "You are a careful assistant. " + secrets.token_hex(6000)  # 12 kB that barely compresses
    async with api.db_sessions() as db:
        ws = api.workspace_id
        dataset = await writes.insert_dataset(db, ws, name="long")
        [example] = await writes.insert_examples(db, ws, [{"dataset_id": dataset.id, "metadata": {"p": prompt}}])
        session = await writes.insert_session(db, ws, name="s", reference_dataset_id=dataset.id)
        await writes.insert_runs(db, ws, [{
            "id": uuid.uuid4(), "name": "r", "run_type": "chain", "start_time": T0, "end_time": T0,
            "session_id": session.id, "reference_example_id": example, "extra": {"metadata": {"prompt": prompt}}}])
        await db.commit()
    for group_by, key in (("run_metadata", "prompt"), ("example_metadata", "p")):
        response = await api.group_runs(dataset.id, {"session_ids": [str(session.id)], "group_by": group_by,
                                                     "metadata_key": key})
        assert response.status_code == 200, response.text
        assert [g["group_key"] for g in response.json()["groups"]] == [prompt]


async def test_feedback_is_idempotent_by_id(api):
    """The dialect upsert: a second create with the same id replaces the first (§7.6)."""
    feedback_id, run_id = uuid.uuid4(), uuid.uuid4()
    async with api.db_sessions() as db:
        await writes.insert_feedback(db, api.workspace_id, [
            {"id": feedback_id, "run_id": run_id, "key": "k", "score": 0.5, "comment": "first"}])
        await writes.insert_feedback(db, api.workspace_id, [
            {"id": feedback_id, "run_id": run_id, "key": "k", "score": 1, "value": "good"},
            {"id": uuid.uuid4(), "run_id": run_id, "key": "other", "score": None}])
        await db.commit()
        rows = list(await db.scalars(readable(api.workspace_id, Feedback).where(Feedback.run_id == run_id)
                                     .order_by(Feedback.key)))
    assert [(f.key, f.score, f.value, f.value_label) for f in rows] == [("k", 1.0, "good", "good"),
                                                                       ("other", None, None, None)]
    assert rows[0].id == feedback_id and rows[0].comment is None  # replaced, not merged


async def test_feedback_with_one_id_twice_in_one_write_keeps_the_last(api):
    """Rows go as one multi-row upsert, which cannot update a row twice on PostgreSQL: the
    outcome is that of applying them in order (the later replaces the earlier)."""
    feedback_id, run_id = uuid.uuid4(), uuid.uuid4()
    async with api.db_sessions() as db:
        await writes.insert_feedback(db, api.workspace_id, [
            {"id": feedback_id, "run_id": run_id, "key": "k", "score": 0.5, "comment": "first"},
            {"id": uuid.uuid4(), "run_id": run_id, "key": "other", "score": 0},
            {"id": feedback_id, "run_id": run_id, "key": "k", "score": 1, "comment": "second"}])
        await db.commit()
        rows = list(await db.scalars(readable(api.workspace_id, Feedback).where(Feedback.run_id == run_id)
                                     .order_by(Feedback.key)))
    assert [(f.id == feedback_id, f.key, f.score, f.comment) for f in rows] == [(True, "k", 1.0, "second"),
                                                                                 (False, "other", 0.0, None)]


def test_stored_json_reads_exactly():
    """orjson reads stored JSON for speed, except where it is not exact: long integers (it
    would give floats), NaN and numbers beyond a double (it refuses them)."""
    from evalql.db.engine import _json_loads

    big = 2**64 + 1
    assert _json_loads(f'{{"n": {big}, "m": [-{big}], "s": "x"}}') == {"n": big, "m": [-big], "s": "x"}
    assert type(_json_loads('{"f": 1.5, "i": 12345678901234567}')["i"]) is int
    assert str(_json_loads("[NaN]")) == "[nan]" and _json_loads("[1e400]") == [float("inf")]
