"""`make bench` keeps working: the group/runs benchmark and its naive SQL floor run end to end
on a small W(N) (on SQLite, as `make bench` does by default) and print their table; and the
naive floor's numbers are group/runs's, checked against the oracle on both databases."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import re
import sys
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from evalql.db import writes
from evalql.db.engine import create_engine, session_factory

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench_module():
    sys.path.insert(0, str(BENCH))  # bench/ scripts import their neighbours by name
    try:
        spec = importlib.util.spec_from_file_location("bench_group_runs", BENCH / "group_runs.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_group_runs"] = module  # dataclasses resolve annotations through it
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


async def test_bench_prints_evalql_beside_the_naive_floor(capsys, backend):
    # On PostgreSQL the bench makes (and drops) its own database on the server.
    await _bench_module().main(["--databases", backend, "--sizes", "60", "--requests", "2"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if re.match(rf"^{backend}\s+60\s", line)]
    assert [(r[2], r[3]) for r in rows] == [("run_metadata:model", "2"), ("example_metadata:difficulty", "3")]
    for row in rows:
        build, cold, write, write_p90, repeat, repeat_p90, graphql, filtered, deltas = map(float, row[4:13])
        added, (naive, load, rss) = row[13], map(float, row[14:17])
        assert 0 < write <= write_p90 and 0 < repeat <= repeat_p90, row
        assert min(build, cold, graphql, filtered, deltas, naive, load) > 0 and rss > 50, row
        assert re.fullmatch(r"[+-]\d+%", added), row  # what deltas add, beside the same request without


def _bench_import(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def _altered_workload(workload) -> tuple:
    """W(40) with what the intersection rule (§5.3) and the statistics (§3) must handle, which
    W(N) itself lacks: the last session skips five examples, a repetition, a run without an end
    (no latency), a run whose `model` is null, a feedback without a score, an example without
    runs, and an example soft-deleted after the load. Returns (records, soft-deleted example)."""
    records = workload.build_workload(40)
    sessions = [s["id"] for s in records.sessions]
    examples = [e["id"] for e in records.examples]
    roots = {(r["session_id"], r["reference_example_id"]): r for r in records.runs if r.get("parent_run_id") is None}
    dropped = {roots[(sessions[3], e)]["id"] for e in examples[:5]}
    records.runs = [r for r in records.runs if r["id"] not in dropped and r.get("parent_run_id") not in dropped]
    records.feedback = [f for f in records.feedback if f["run_id"] not in dropped]

    def extra_root(session: int, example: int, **changes) -> dict:
        run = {**roots[(sessions[session], examples[example])], "id": uuid.uuid4(), **changes}
        records.runs.append(run)
        return run

    again = extra_root(0, 10, start_time=roots[(sessions[0], examples[10])]["start_time"] + dt.timedelta(hours=2),
                       end_time=roots[(sessions[0], examples[10])]["start_time"] + dt.timedelta(hours=2, seconds=9))
    records.feedback += [{"id": uuid.uuid4(), "run_id": again["id"], "key": "correctness", "score": 1,
                          "created_at": again["end_time"]},
                         {"id": uuid.uuid4(), "run_id": again["id"], "key": "note", "comment": "no score",
                          "created_at": again["end_time"]}]
    extra_root(1, 11, end_time=None, error=None, outputs=None)
    extra_root(0, 12, extra={"metadata": {"model": None}})
    records.examples.append({**records.examples[0], "id": uuid.uuid4(), "metadata": {"difficulty": "hard"}})
    return records, examples[13]


def _expected(oracle, records, deleted: uuid.UUID, workspace_id: uuid.UUID, session_ids: list, group_by: str,
              key: str) -> dict:
    """The oracle's group/runs answer, reduced to naive_group_stats's shape."""
    world = oracle.Records(
        workspace_id=workspace_id, datasets=[{"id": records.dataset["id"], "name": records.dataset["name"]}],
        examples=[e for e in records.examples if e["id"] != deleted], sessions=records.sessions,
        runs=records.runs, feedback=records.feedback)
    answer = oracle.expected_group_runs(world, records.dataset["id"], {
        "session_ids": [str(s) for s in session_ids], "group_by": group_by, "metadata_key": key, "limit": 100,
        "per_group_limit": 1})
    return {(group["group_key"], uuid.UUID(s["id"])): {
        "runs": s["run_count"], "tokens": s["total_tokens"],
        "cost": None if s["total_cost"] is None else Decimal(s["total_cost"]), "error_rate": s["error_rate"],
        "latency_p50": s["latency_p50"], "latency_p99": s["latency_p99"],
        "feedback": {k: {f: v[f] for f in ("n", "avg", "stdev")} for k, v in s["feedback_stats"].items()},
    } for group in answer["groups"] for s in group["sessions"]}


def _mismatches(expected, got, path: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(got, dict):
        if expected.keys() != got.keys():
            return [f"{path}: keys {sorted(map(str, expected))} != {sorted(map(str, got))}"]
        return [m for k in expected for m in _mismatches(expected[k], got[k], f"{path}[{k}]")]
    if isinstance(expected, float) and isinstance(got, float):
        return [] if abs(expected - got) <= 1e-6 else [f"{path}: expected {expected}, got {got}"]
    return [] if expected == got and type(expected) is type(got) else [f"{path}: expected {expected!r}, got {got!r}"]


async def test_naive_floor_matches_the_oracle(database_url):
    """bench/naive.py computes what group/runs answers (tests/oracle.py, straight from the spec),
    on both databases, for both groupings, all sessions or some (one named twice), twice on one
    connection (its temporary tables and settings are gone after each call)."""
    from tests import oracle

    workload, naive = _bench_import("workload"), _bench_import("naive")
    records, deleted = _altered_workload(workload)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db:
            workspace = await writes.create_workspace(db, "naive")
            loaded = await workload.load_records(db, workspace.id, records)
            await writes.soft_delete_example(db, workspace.id, deleted)
            await db.commit()
        sessions = loaded.session_ids
        checked = 0
        async with engine.connect() as conn:
            for session_ids in (sessions, [sessions[3], sessions[1], sessions[3]]):
                for group_by, key in (("run_metadata", "model"), ("example_metadata", "difficulty")):
                    expected = _expected(oracle, records, deleted, workspace.id, session_ids, group_by, key)
                    for _ in range(2):
                        got = await naive.naive_group_stats(conn, workspace.id, loaded.dataset_id, session_ids,
                                                            group_by, key)
                        problems = _mismatches(expected, got)
                        assert not problems, f"{group_by}/{key}, {len(session_ids)} sessions:\n" + "\n".join(
                            problems[:20])
                    checked += len(expected)
            if conn.dialect.name == "postgresql":
                assert await conn.scalar(text("SHOW enable_nestloop")) == "on"
        assert checked == 2 * 2 + 3 * 4 + 2 * 1 + 3 * 2  # (group, session) parts compared
    finally:
        await engine.dispose()
