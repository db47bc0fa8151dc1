"""The demo loader (evalql.demo) and the benchmark workload W(N) (bench/workload.py).

Expected numbers come from the generator's own records (`build_demo`), recomputed here
in plain Python, and are compared with what the write API stored.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evalql.db import writes
from evalql.db.engine import create_engine, session_factory
from evalql.db.models import Dataset, Example, ExampleMetadata, Feedback, Run, RunMetadata, TracerSession
from evalql.demo import DATASET_NAME, EXPERIMENTS, REPETITIONS, DemoData, build_demo, load_demo

ROOT = Path(__file__).resolve().parents[1]


def _workload_module():
    """bench/ is a folder of scripts, not a package: load workload.py by path."""
    if "bench_workload" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_workload", ROOT / "bench" / "workload.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_workload"] = module  # dataclasses resolve annotations through it
        spec.loader.exec_module(module)
    return sys.modules["bench_workload"]


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
async def workspace_id(db):
    workspace, _ = await writes.get_or_create_workspace(db, "default")
    await db.commit()
    return workspace.id


@pytest.fixture
async def loaded(db, workspace_id):
    summary = await load_demo(db, workspace_id)
    await db.commit()
    # Ids are uuid5 under the dataset id, so this rebuilds exactly the records that were written.
    return summary, build_demo(summary.dataset_id)


async def _count(db, model, *where) -> int:
    return await db.scalar(select(func.count()).select_from(model).where(*where))


def test_build_demo_is_deterministic():
    dataset_id = uuid.uuid4()
    assert build_demo(dataset_id) == build_demo(dataset_id)
    other = build_demo(uuid.uuid4())
    first = build_demo(dataset_id)
    assert [e["inputs"] for e in other.examples] == [e["inputs"] for e in first.examples]
    assert [r.get("error") for r in other.runs] == [r.get("error") for r in first.runs]


async def test_counts_match_the_generator(db, workspace_id, loaded):
    summary, data = loaded
    roots = data.roots
    assert summary.created
    assert summary.example_count == len(data.examples) == 50
    assert summary.session_names == [exp.name for exp in EXPERIMENTS]
    assert summary.session_ids == [s["id"] for s in data.sessions]
    assert summary.run_count == len(data.runs) == 3 * len(roots)
    assert summary.root_run_count == len(roots) == 4 * 50 + sum(REPETITIONS.values())
    assert summary.feedback_count == len(data.feedback)

    dataset = await db.scalar(select(Dataset).where(Dataset.workspace_id == workspace_id, Dataset.name == DATASET_NAME))
    assert dataset.id == summary.dataset_id and dataset.description
    stored_examples = (await db.scalars(select(Example).where(Example.workspace_id == workspace_id))).all()
    assert len(stored_examples) == 50
    splits = Counter(e.metadata_["dataset_split"][0] for e in stored_examples)
    assert set(splits) == {"train", "test"}
    assert splits == Counter(e["split"] for e in data.examples)
    assert {e.metadata_["difficulty"] for e in stored_examples} == {"easy", "medium", "hard"}
    assert len({e.metadata_["topic"] for e in stored_examples}) == 5
    assert await _count(db, ExampleMetadata, ExampleMetadata.workspace_id == workspace_id,
                        ExampleMetadata.key == "difficulty") == 50

    sessions = (await db.scalars(select(TracerSession).where(TracerSession.workspace_id == workspace_id)
                                 .order_by(TracerSession.start_time))).all()
    assert [s.id for s in sessions] == summary.session_ids
    assert all(s.reference_dataset_id == summary.dataset_id for s in sessions)
    assert [s.extra["metadata"] for s in sessions] == [
        {"model": exp.model, "prompt_version": exp.prompt_version} for exp in EXPERIMENTS]
    assert len({s.start_time for s in sessions}) == 4

    # Root runs per session (repetitions included), each with a retriever and an llm child.
    expected_roots = Counter(r["session_id"] for r in roots)
    stored_roots = dict((await db.execute(
        select(Run.session_id, func.count()).where(Run.workspace_id == workspace_id, Run.is_root.is_(True))
        .group_by(Run.session_id))).all())
    assert stored_roots == dict(expected_roots)
    assert sorted(expected_roots.values()) == sorted([50, 50] + [50 + n for n in REPETITIONS.values()])
    children = (await db.execute(select(Run.parent_run_id, Run.run_type, Run.name).where(
        Run.workspace_id == workspace_id, Run.is_root.is_(False)))).all()
    by_parent = defaultdict(set)
    for parent, run_type, name in children:
        by_parent[parent].add((run_type, name))
    assert set(by_parent) == {r["id"] for r in roots}
    assert all(kinds == {("retriever", "Retriever"), ("llm", "ChatModel")} for kinds in by_parent.values())
    repeated = Counter((r["session_id"], r["reference_example_id"]) for r in roots)
    assert sum(n - 1 for n in repeated.values()) == sum(REPETITIONS.values())

    statuses = Counter((await db.scalars(select(Run.status).where(
        Run.workspace_id == workspace_id, Run.is_root.is_(True)))).all())
    assert statuses["pending"] == sum(1 for r in roots if r.get("end_time") is None) == 2
    assert statuses["error"] == sum(1 for r in roots if r.get("error")) >= 1
    assert 0.02 <= statuses["error"] / len(roots) <= 0.1
    assert await _count(db, Run, Run.workspace_id == workspace_id, Run.first_token_time.is_not(None),
                        Run.run_type == "llm") > 0

    # Run metadata: typed values, and `model` missing on exactly two runs of one session.
    kinds = dict((await db.execute(select(RunMetadata.key, RunMetadata.kind).where(
        RunMetadata.workspace_id == workspace_id, RunMetadata.key.in_(["temperature", "streaming", "model"]))
        .distinct())).all())
    assert kinds == {"temperature": "number", "streaming": "bool", "model": "string"}
    with_model = dict((await db.execute(
        select(RunMetadata.session_id, func.count()).join(
            Run, (Run.workspace_id == RunMetadata.workspace_id) & (Run.id == RunMetadata.run_id))
        .where(RunMetadata.workspace_id == workspace_id, RunMetadata.key == "model", Run.is_root.is_(True))
        .group_by(RunMetadata.session_id))).all())
    missing = {sid: expected_roots[sid] - with_model.get(sid, 0) for sid in expected_roots}
    assert sorted(missing.values()) == [0, 0, 0, 2]


async def test_feedback_matches_the_generator(db, workspace_id, loaded):
    summary, data = loaded
    finished_roots = [r for r in data.roots if r.get("end_time")]
    stored = Counter((await db.scalars(select(Feedback.key).where(
        Feedback.workspace_id == workspace_id, Feedback.run_id.is_not(None)))).all())
    assert stored == Counter(f["key"] for f in data.feedback if f.get("run_id"))
    assert stored["correctness"] == stored["helpfulness"] == len(finished_roots)
    assert 0 < stored["tone"] < len(finished_roots)

    tones = (await db.execute(select(Feedback.score, Feedback.value_label).where(
        Feedback.workspace_id == workspace_id, Feedback.key == "tone"))).all()
    assert all(score is None for score, _ in tones)
    assert {label for _, label in tones} <= {"neutral", "friendly", "curt"}
    scores = (await db.scalars(select(Feedback.score).where(
        Feedback.workspace_id == workspace_id, Feedback.key == "correctness"))).all()
    assert set(scores) == {0.0, 1.0}
    assert await _count(db, Feedback, Feedback.workspace_id == workspace_id, Feedback.key == "helpfulness",
                        Feedback.comment.is_not(None)) > 0

    session_level = (await db.execute(select(Feedback.session_id, Feedback.key, Feedback.score).where(
        Feedback.workspace_id == workspace_id, Feedback.run_id.is_(None)))).all()
    assert sorted(sid for sid, _, _ in session_level) == sorted(summary.session_ids)
    assert {key for _, key, _ in session_level} == {"accuracy_summary"}
    for sid, _, score in session_level:
        correct = [f["score"] for f in data.feedback if f["key"] == "correctness"
                   and any(r["id"] == f["run_id"] and r["session_id"] == sid for r in finished_roots)]
        assert score == pytest.approx(sum(correct) / len(correct), abs=1e-4)


async def test_loading_twice_changes_nothing(db, workspace_id, loaded):
    summary, _ = loaded
    counts = [await _count(db, model, model.workspace_id == workspace_id)
              for model in (Dataset, Example, TracerSession, Run, RunMetadata, Feedback)]
    again = await load_demo(db, workspace_id)
    await db.commit()
    assert again == summary and not again.created
    assert [await _count(db, model, model.workspace_id == workspace_id)
            for model in (Dataset, Example, TracerSession, Run, RunMetadata, Feedback)] == counts


def _expected_usage(data: DemoData) -> dict[uuid.UUID, tuple[int, int, int, Decimal | None]]:
    """Reported usage of each root, recomputed from the records: the roots report none of
    their own, so it is the sum over their children (tokens 0 and cost None without any)."""
    expected = {r["id"]: [0, 0, 0, None] for r in data.roots}
    for run in data.runs:
        parent = run.get("parent_run_id")
        if parent is None or "total_tokens" not in run:
            continue
        totals = expected[parent]
        totals[0] += run["prompt_tokens"]
        totals[1] += run["completion_tokens"]
        totals[2] += run["total_tokens"]
        totals[3] = (totals[3] or Decimal(0)) + Decimal(run["total_cost"])
    return {k: tuple(v) for k, v in expected.items()}


async def test_root_usage_is_the_sum_of_child_usage(db, workspace_id, loaded):
    _, data = loaded
    expected = _expected_usage(data)
    assert any(cost is None for *_, cost in expected.values())  # timeouts and pending roots report none
    assert all(r["prompt_tokens"] + r["completion_tokens"] == r["total_tokens"] for r in data.runs if "total_tokens" in r)
    stored = {row[0]: tuple(row[1:]) for row in await db.execute(
        select(Run.id, Run.prompt_tokens, Run.completion_tokens, Run.total_tokens, Run.total_cost)
        .where(Run.workspace_id == workspace_id, Run.is_root.is_(True)))}
    assert stored == expected


async def test_two_workspaces_get_separate_demos(db, workspace_id, loaded):
    summary, _ = loaded
    other = await writes.create_workspace(db, "other")
    second = await load_demo(db, other.id)
    await db.commit()
    # The demo's ids are fixed (the README prints them); keys are per workspace, so
    # each workspace holds its own copy under the same ids.
    from evalql.demo import DEMO_DATASET_ID

    assert second.dataset_id == summary.dataset_id == DEMO_DATASET_ID
    assert (second.example_count, second.run_count, second.root_run_count) == (
        summary.example_count, summary.run_count, summary.root_run_count)


async def test_workload_shape(db, workspace_id):
    workload_module = _workload_module()
    n = 30
    w = await workload_module.load_workload(db, workspace_id, n)
    await db.commit()
    assert len(w.session_ids) == 4
    assert (w.run_count, w.root_run_count, w.feedback_count) == (8 * n, 4 * n, 8 * n)

    assert await _count(db, Example, Example.workspace_id == workspace_id, Example.dataset_id == w.dataset_id) == n
    entries = (await db.execute(select(ExampleMetadata.key, ExampleMetadata.value).where(
        ExampleMetadata.workspace_id == workspace_id))).all()
    assert {v for k, v in entries if k == "difficulty"} <= set(workload_module.DIFFICULTIES)
    assert {v for k, v in entries if k == "topic"} <= set(workload_module.TOPICS)

    roots = dict((await db.execute(select(Run.session_id, func.count()).where(
        Run.workspace_id == workspace_id, Run.is_root.is_(True)).group_by(Run.session_id))).all())
    assert roots == {sid: n for sid in w.session_ids}
    models = Counter((await db.scalars(select(RunMetadata.value).where(
        RunMetadata.workspace_id == workspace_id, RunMetadata.key == "model"))).all())
    assert models == {"gpt-4o": 2 * n, "claude-3-5": 2 * n}

    llm = (await db.execute(select(Run.parent_run_id, Run.own_total_tokens, Run.own_total_cost).where(
        Run.workspace_id == workspace_id, Run.run_type == "llm"))).all()
    assert len(llm) == 4 * n and len({parent for parent, _, _ in llm}) == 4 * n
    assert all(tokens > 0 and cost > 0 for _, tokens, cost in llm)
    root_tokens = dict((await db.execute(select(Run.id, Run.total_tokens).where(
        Run.workspace_id == workspace_id, Run.is_root.is_(True)))).all())
    assert {parent: tokens for parent, tokens, _ in llm} == root_tokens

    feedback = (await db.execute(select(Feedback.run_id, Feedback.key, Feedback.score).where(
        Feedback.workspace_id == workspace_id))).all()
    per_root = Counter(run_id for run_id, _, _ in feedback)
    assert set(per_root) == set(root_tokens) and set(per_root.values()) == {2}
    assert {score for _, key, score in feedback if key == "correctness"} <= {0.0, 1.0}
    assert all(0.0 <= score <= 1.0 for _, key, score in feedback if key == "helpfulness")
