"""W(N): the benchmark workload for the group query.

| what | W(N) |
|---|---|
| dataset | 1, with N examples; example metadata `difficulty` ∈ {easy, medium, hard}, `topic` ∈ 8 values |
| sessions | 4, all referencing the dataset; run metadata `model` = `gpt-4o` on two, `claude-3-5` on two |
| root runs | 1 `chain` per example per session: 4N, ~5% of them errored |
| child runs | 1 `llm` per root, with prompt/completion/total tokens and costs: 4N |
| latency | log-normal, median 1.2 s (sigma 0.5); the child takes 85-95% of its root |
| feedback | 2 per root: `correctness` 0/1, `helpfulness` uniform in [0, 1]: 8N |

Everything is drawn from `random.Random(seed)`, so W(N) is the same data on every run.
Records are written through `evalql.db.writes` in chunks of `CHUNK` records, so the
derived columns (status, latency, trace fields, rolled-up usage) are computed as in ingest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import writes

CHUNK = 2000
BASE_TIME = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
DIFFICULTIES = ("easy", "medium", "hard")
TOPICS = ("geography", "math", "science", "history", "coding", "literature", "finance", "medicine")
SESSIONS = (("w-gpt-4o-a", "gpt-4o"), ("w-gpt-4o-b", "gpt-4o"),
            ("w-claude-3-5-a", "claude-3-5"), ("w-claude-3-5-b", "claude-3-5"))
PRICES = {  # USD / 1M tokens
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "claude-3-5": (Decimal("3.00"), Decimal("15.00")),
}
ERROR_RATE = 0.05
LATENCY_MEDIAN_S, LATENCY_SIGMA = 1.2, 0.5


@dataclass(frozen=True)
class Workload:
    dataset_id: uuid.UUID
    session_ids: list[uuid.UUID]
    n_examples: int
    run_count: int
    root_run_count: int
    errored_root_count: int
    feedback_count: int
    load_seconds: float


def _cost(tokens: int, per_million: Decimal) -> str:
    return format((Decimal(tokens) * per_million / 1_000_000).normalize(), "f")


def _null_pattern(record: dict[str, Any]) -> tuple[bool, bool]:
    """Roots first (parents must precede children), then by which fields are null.

    SQLAlchemy's bulk INSERT drops None values from each row and batches only *consecutive*
    rows with the same key set, so alternating root/child records cost one statement per
    row (8N statements for W(N)); sorted, a chunk takes a handful of statements.
    """
    return record.get("parent_run_id") is not None, record.get("error") is not None


def _chunks(items: list[Any], size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def workload_dataset_name(n_examples: int, seed: int = 7) -> str:
    return f"w-{n_examples}-{seed}"


@dataclass
class WorkloadRecords:
    """What W(N) writes, as the records given to `evalql.db.writes` (ids and times explicit, runs
    in insertion order: each root before its child), so that a test can compute expected answers
    from the same records (tests/oracle.py) or alter them before loading."""

    n_examples: int
    seed: int
    dataset: dict[str, Any]
    examples: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    feedback: list[dict[str, Any]]


def build_workload(n_examples: int, seed: int = 7) -> WorkloadRecords:
    """The records of W(n_examples), drawn from `random.Random(seed)`. The dataset, session and
    feedback ids are not drawn from it (the database would pick them), so they differ per call."""
    rng = random.Random(seed)
    dataset = {"id": uuid.uuid4(), "name": workload_dataset_name(n_examples, seed),
               "description": f"Benchmark workload W({n_examples})"}
    examples = [{
        "id": uuid.UUID(int=rng.getrandbits(128), version=4), "dataset_id": dataset["id"],
        "inputs": {"question": f"Question {i}?"}, "outputs": {"answer": f"Answer {i}"},
        "metadata": {"difficulty": rng.choice(DIFFICULTIES), "topic": rng.choice(TOPICS)},
        "created_at": BASE_TIME - dt.timedelta(days=1) + dt.timedelta(milliseconds=10 * i),
    } for i in range(n_examples)]

    sessions: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    for s, (name, model) in enumerate(SESSIONS):
        session_start = BASE_TIME + dt.timedelta(hours=s)
        session = {"id": uuid.uuid4(), "name": f"{name}-{n_examples}-{seed}", "reference_dataset_id": dataset["id"],
                   "start_time": session_start, "extra": {"metadata": {"model": model}}}
        sessions.append(session)
        prompt_price, completion_price = PRICES[model]
        for i, example in enumerate(examples):
            root_id, llm_id = (uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(2))
            start = session_start + dt.timedelta(milliseconds=500 * i)
            latency = rng.lognormvariate(math.log(LATENCY_MEDIAN_S), LATENCY_SIGMA)
            end = start + dt.timedelta(seconds=latency)
            error = "TimeoutError: model call timed out" if rng.random() < ERROR_RATE else None
            prompt_tokens, completion_tokens = rng.randint(200, 800), rng.randint(20, 400)
            prompt_cost = _cost(prompt_tokens, prompt_price)
            completion_cost = _cost(completion_tokens, completion_price)
            llm_start = start + dt.timedelta(seconds=latency * 0.02)
            runs.append({
                "id": root_id, "session_id": session["id"], "name": "qa_pipeline", "run_type": "chain",
                "start_time": start, "end_time": end, "error": error, "reference_example_id": example["id"],
                "inputs": example["inputs"], "outputs": None if error else {"answer": f"Answer {i}"},
                "extra": {"metadata": {"model": model}},
            })
            runs.append({
                "id": llm_id, "parent_run_id": root_id, "session_id": session["id"], "name": "ChatModel",
                "run_type": "llm", "start_time": llm_start,
                "end_time": llm_start + dt.timedelta(seconds=latency * rng.uniform(0.85, 0.95)),
                "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens, "prompt_cost": prompt_cost,
                "completion_cost": completion_cost,
                "total_cost": format((Decimal(prompt_cost) + Decimal(completion_cost)).normalize(), "f"),
            })
            scored_at = end + dt.timedelta(seconds=1)
            feedback.append({"id": uuid.uuid4(), "run_id": root_id, "key": "correctness", "created_at": scored_at,
                             "score": 0 if error else int(rng.random() < 0.75)})
            feedback.append({"id": uuid.uuid4(), "run_id": root_id, "key": "helpfulness", "created_at": scored_at,
                             "score": round(rng.uniform(0.0, 1.0), 4)})
    return WorkloadRecords(n_examples, seed, dataset, examples, sessions, runs, feedback)


async def load_records(db: AsyncSession, workspace_id: uuid.UUID, records: WorkloadRecords) -> Workload:
    """Write `records` (W(N) as built, or altered) into the workspace (the caller commits)."""
    started = time.perf_counter()
    dataset = await writes.insert_dataset(db, workspace_id, **records.dataset)
    for chunk in _chunks(records.examples):
        await writes.insert_examples(db, workspace_id, chunk)
    for session in records.sessions:
        await writes.insert_session(db, workspace_id, **session)
    for chunk in _chunks(records.runs):  # W(N) keeps a root and its child in one chunk (CHUNK is even)
        await writes.insert_runs(db, workspace_id, sorted(chunk, key=_null_pattern))
    for chunk in _chunks(records.feedback):
        await writes.insert_feedback(db, workspace_id, chunk)
    await db.flush()
    roots = [r for r in records.runs if r.get("parent_run_id") is None]
    return Workload(
        dataset_id=dataset.id, session_ids=[s["id"] for s in records.sessions], n_examples=len(records.examples),
        run_count=len(records.runs), root_run_count=len(roots),
        errored_root_count=sum(r.get("error") is not None for r in roots), feedback_count=len(records.feedback),
        load_seconds=time.perf_counter() - started,
    )


async def load_workload(db: AsyncSession, workspace_id: uuid.UUID, n_examples: int, seed: int = 7) -> Workload:
    """Write W(n_examples) into the workspace (the caller commits)."""
    started = time.perf_counter()
    workload = await load_records(db, workspace_id, build_workload(n_examples, seed))
    return dataclasses.replace(workload, load_seconds=time.perf_counter() - started)
