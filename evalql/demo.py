"""A realistic, deterministic demo: one QA dataset and four experiments over it.

`build_demo` is pure: it returns the ingest records (spec §2, §7) that `load_demo` writes
through `evalql.db.writes`, so tests can recompute every expected number from the same
records. The world, all from one seeded `random.Random`:

| what | how many |
|---|---|
| dataset `qa-demo` | 50 examples, 5 topics x 10, metadata `difficulty`/`topic`, split train/test |
| sessions | 4: gpt-4o v1, gpt-4o v2, claude-3-5-sonnet v1, llama-3.1-70b v2 (staggered by 3 h) |
| root runs | one `qa_pipeline` chain per example and session, plus 5 repetitions |
| child runs | a `Retriever` (retriever) and a `ChatModel` (llm, carries tokens and cost) per root |
| errors | ~5% of roots (timeouts, where the LLM reports no usage, or parser errors) |
| pending | 2 roots of the llama session (no end_time, nor feedback) |
| metadata | `model`, `prompt_version`, `temperature` (number), `streaming` (bool); `model` missing on 2 claude runs |
| feedback | per finished root: `correctness` 0/1, `helpfulness` 0..1 (some with a comment), `tone` (categorical, no score) on ~1/3 |
| session feedback | one `accuracy_summary` per session (session_id set, no run_id) |
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import writes
from evalql.db.models import Dataset, Example, Feedback, Run, TracerSession
from evalql.db.tenant import readable

DATASET_NAME = "qa-demo"
DEMO_DATASET_ID = uuid.UUID("502bccf1-b1e3-59ca-b0d3-e0e6e9d7980c")  # uuid5(NAMESPACE_OID, "evalql.demo.qa-demo")
DATASET_DESCRIPTION = (
    "Short-answer questions over geography, math, science, history and coding, "
    "for comparing models and prompt versions."
)
SEED = 20261001
BASE_TIME = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
LATENCY_MEDIAN_S = 1.2

# topic -> (question, reference answer, a plausible wrong answer, difficulty)
QUESTIONS: dict[str, list[tuple[str, str, str, str]]] = {
    "geography": [
        ("What is the capital of Australia?", "Canberra", "Sydney", "easy"),
        ("Which river flows through Budapest?", "The Danube", "The Rhine", "easy"),
        ("What is the largest country in Africa by area?", "Algeria", "Sudan", "medium"),
        ("Which country has the most natural lakes?", "Canada", "Finland", "medium"),
        ("What is the highest mountain in South America?", "Aconcagua", "Chimborazo", "medium"),
        ("Which strait separates Europe from Africa at its narrowest?", "The Strait of Gibraltar", "The Bosphorus", "easy"),
        ("What is the capital of Bhutan?", "Thimphu", "Paro", "hard"),
        ("Which desert covers most of southern Mongolia?", "The Gobi Desert", "The Taklamakan Desert", "medium"),
        ("Which two countries share the longest international land border?", "Canada and the United States", "Russia and Kazakhstan", "hard"),
        ("What is the deepest lake in the world?", "Lake Baikal", "Lake Tanganyika", "hard"),
    ],
    "math": [
        ("What is 17 multiplied by 23?", "391", "381", "easy"),
        ("What is the derivative of x^3?", "3x^2", "x^2", "easy"),
        ("How many prime numbers are there below 50?", "15", "16", "medium"),
        ("What is the sum of the interior angles of a hexagon, in degrees?", "720", "540", "easy"),
        ("What is the integral of 1/x dx?", "ln|x| + C", "x^-2 + C", "medium"),
        ("What is 2 to the power of 20?", "1048576", "1024000", "medium"),
        ("How many ways can 5 distinct books be arranged on a shelf?", "120", "25", "medium"),
        ("What is the determinant of [[2, 1], [7, 4]]?", "1", "15", "hard"),
        ("What is the smallest number divisible by every integer from 1 to 10?", "2520", "5040", "hard"),
        ("What is the limit of (1 + 1/n)^n as n goes to infinity?", "e (about 2.71828)", "1", "hard"),
    ],
    "science": [
        ("What is the chemical symbol for gold?", "Au", "Ag", "easy"),
        ("How many bones are in the adult human body?", "206", "212", "medium"),
        ("What gas do plants absorb for photosynthesis?", "Carbon dioxide", "Oxygen", "easy"),
        ("What is the speed of light in vacuum, in km/s (approximately)?", "About 299,792 km/s", "About 150,000 km/s", "medium"),
        ("Which planet has the shortest day?", "Jupiter", "Mercury", "hard"),
        ("What is the most abundant protein in the human body?", "Collagen", "Keratin", "hard"),
        ("What particle mediates the electromagnetic force?", "The photon", "The gluon", "medium"),
        ("What is the pH of pure water at 25 °C?", "7", "6", "easy"),
        ("Which organelle produces most of a cell's ATP?", "The mitochondrion", "The ribosome", "easy"),
        ("What is the half-life of carbon-14, roughly?", "About 5,730 years", "About 1,600 years", "hard"),
    ],
    "history": [
        ("In which year did the Berlin Wall fall?", "1989", "1991", "easy"),
        ("Who was the first emperor of Rome?", "Augustus", "Julius Caesar", "medium"),
        ("Which treaty ended the Thirty Years' War?", "The Peace of Westphalia", "The Treaty of Utrecht", "hard"),
        ("In which year did the Apollo 11 Moon landing happen?", "1969", "1971", "easy"),
        ("Which empire built Machu Picchu?", "The Inca Empire", "The Aztec Empire", "easy"),
        ("Who wrote the Ninety-five Theses?", "Martin Luther", "John Calvin", "medium"),
        ("Which dynasty built most of the Great Wall that stands today?", "The Ming dynasty", "The Qin dynasty", "hard"),
        ("In which year did the Magna Carta get sealed?", "1215", "1265", "medium"),
        ("Which city was the capital of the Byzantine Empire?", "Constantinople", "Antioch", "easy"),
        ("Who was the first woman to win a Nobel Prize?", "Marie Curie", "Bertha von Suttner", "medium"),
    ],
    "coding": [
        ("What does HTTP status code 404 mean?", "Not Found", "Forbidden", "easy"),
        ("What is the time complexity of binary search?", "O(log n)", "O(n)", "easy"),
        ("Which Python keyword defines a generator function's yielded value?", "yield", "return", "easy"),
        ("What does the SQL clause HAVING filter?", "Groups, after aggregation", "Rows, before grouping", "medium"),
        ("What is the default isolation level in PostgreSQL?", "Read committed", "Serializable", "medium"),
        ("In Git, what does `git rebase -i` let you do?", "Rewrite, reorder, squash or drop commits interactively", "Merge two branches with a merge commit", "medium"),
        ("What is the worst-case time complexity of quicksort?", "O(n^2)", "O(n log n)", "medium"),
        ("What does the CAP theorem say a distributed store cannot guarantee all at once?", "Consistency, availability and partition tolerance", "Atomicity, consistency and durability", "hard"),
        ("Which data structure backs Python's dict?", "A hash table", "A balanced binary tree", "easy"),
        ("What does `Send + Sync` mean for a Rust type?", "It can be moved to and shared between threads safely", "It can be copied bitwise", "hard"),
    ],
}

# Prices in USD per million tokens (prompt, completion).
PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "claude-3-5-sonnet": (Decimal("3.00"), Decimal("15.00")),
    "llama-3.1-70b": (Decimal("0.88"), Decimal("0.88")),
}


@dataclass(frozen=True)
class Experiment:
    name: str
    model: str
    prompt_version: str
    temperature: float | int
    streaming: bool
    accuracy: float  # base probability of a correct answer
    speed: float  # latency multiplier
    verbosity: float  # completion-token multiplier


EXPERIMENTS = (
    Experiment("qa-demo gpt-4o v1", "gpt-4o", "v1", 0, True, 0.80, 1.0, 1.0),
    Experiment("qa-demo gpt-4o v2", "gpt-4o", "v2", 0.7, True, 0.86, 1.05, 1.3),
    Experiment("qa-demo claude-3-5-sonnet v1", "claude-3-5-sonnet", "v1", 0, False, 0.88, 1.15, 1.2),
    Experiment("qa-demo llama-3.1-70b v2", "llama-3.1-70b", "v2", 0.7, False, 0.70, 0.8, 0.9),
)
DIFFICULTY_SHIFT = {"easy": 0.10, "medium": 0.0, "hard": -0.25}
REPETITIONS = {1: 3, 2: 2}  # session index -> number of examples run twice
MISSING_MODEL = (2, 2)  # session index, number of runs without the `model` metadata key
PENDING = (3, 2)  # session index, number of roots still running
ERROR_RATE = 0.05
TONES = ("neutral", "friendly", "curt")
GOOD_COMMENTS = ("Concise and accurate.", "Correct, with a useful one-line explanation.", "Right answer, well sourced.")
BAD_COMMENTS = ("Confidently wrong.", "Missed the key detail in the question.", "Hedged instead of answering.")


@dataclass
class DemoData:
    dataset: dict[str, Any]
    examples: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    feedback: list[dict[str, Any]]

    @property
    def roots(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r.get("parent_run_id") is None]


@dataclass(frozen=True)
class DemoSummary:
    dataset_id: uuid.UUID
    session_ids: list[uuid.UUID]
    session_names: list[str]
    example_count: int
    run_count: int  # every run, roots and children
    root_run_count: int = 0
    feedback_count: int = 0  # run-level and session-level
    created: bool = field(default=False, compare=False)  # false when the demo was already there


def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _cost(tokens: int, per_million: Decimal) -> str:
    """A decimal string without exponent (spec §1.5)."""
    return format((Decimal(tokens) * per_million / 1_000_000).normalize(), "f")


def build_demo(dataset_id: uuid.UUID, name_suffix: str = "", seed: int = SEED) -> DemoData:
    """The demo's records. Ids are uuid5 under `dataset_id`, so one dataset id gives one world."""
    rng = random.Random(seed)

    def new_id(label: str) -> uuid.UUID:
        return uuid.uuid5(dataset_id, label)

    questions = [(topic, *row) for topic, rows in QUESTIONS.items() for row in rows]
    rng.shuffle(questions)
    examples = []
    for i, (topic, question, answer, wrong, difficulty) in enumerate(questions):
        examples.append({
            "id": new_id(f"example/{i}"), "dataset_id": dataset_id,
            "inputs": {"question": question}, "outputs": {"answer": answer},
            "metadata": {"difficulty": difficulty, "topic": topic},
            "split": "test" if rng.random() < 0.3 else "train",
            "created_at": _iso(BASE_TIME - dt.timedelta(days=7) + dt.timedelta(seconds=37 * i)),
            "_wrong": wrong,
        })

    sessions, runs, feedback = [], [], []
    for s, exp in enumerate(EXPERIMENTS):
        session_id = new_id(f"session/{s}")
        start = BASE_TIME + dt.timedelta(hours=3 * s)
        session = {
            "id": session_id, "name": exp.name + name_suffix, "reference_dataset_id": dataset_id,
            "description": f"{exp.model} with prompt {exp.prompt_version} on {DATASET_NAME}",
            "extra": {"metadata": {"model": exp.model, "prompt_version": exp.prompt_version}},
            "start_time": start,
        }
        plan = list(range(len(examples)))
        plan += sorted(rng.sample(plan, REPETITIONS.get(s, 0)))
        no_model = set(rng.sample(range(len(examples)), MISSING_MODEL[1])) if s == MISSING_MODEL[0] else set()
        cursor = start + dt.timedelta(seconds=2)
        correct_scores = []
        for k, e in enumerate(plan):
            is_pending = s == PENDING[0] and k >= len(plan) - PENDING[1]
            root_runs, root_feedback = _trace(
                rng, new_id, exp, session_id, examples[e], f"{s}/{k}", cursor,
                missing_model=(e in no_model and k < len(examples)), pending=is_pending,
            )
            runs += root_runs
            feedback += root_feedback
            correct_scores += [f["score"] for f in root_feedback if f["key"] == "correctness"]
            cursor += dt.timedelta(seconds=rng.uniform(0.4, 1.6))  # two workers in flight
        finished = [r for r in runs if r["session_id"] == session_id and r.get("end_time")]
        if not any(r["session_id"] == session_id and not r.get("end_time") for r in runs):
            session["end_time"] = max(dt.datetime.fromisoformat(r["end_time"].replace("Z", "+00:00")) for r in finished)
        accuracy = sum(correct_scores) / len(correct_scores)
        feedback.append({
            "id": new_id(f"feedback/session/{s}"), "session_id": session_id, "key": "accuracy_summary",
            "score": round(accuracy, 4), "comment": f"{sum(correct_scores)}/{len(correct_scores)} correct",
            "feedback_source": {"type": "api", "metadata": {"evaluator": "summary"}},
            "created_at": _iso(cursor + dt.timedelta(minutes=5)),
        })
        sessions.append(session)

    dataset = {"id": dataset_id, "name": DATASET_NAME, "description": DATASET_DESCRIPTION,
               "created_at": BASE_TIME - dt.timedelta(days=7, minutes=5)}
    clean = [{k: v for k, v in ex.items() if not k.startswith("_")} for ex in examples]
    return DemoData(dataset, clean, sessions, runs, feedback)


def _trace(rng: random.Random, new_id: Callable[[str], uuid.UUID], exp: Experiment, session_id: uuid.UUID,
           example: dict[str, Any], label: str, start: dt.datetime, *, missing_model: bool, pending: bool
           ) -> tuple[list[dict], list[dict]]:
    """One root `qa_pipeline` run with its retriever and LLM children, and its feedback."""
    difficulty = example["metadata"]["difficulty"]
    question, answer = example["inputs"]["question"], example["outputs"]["answer"]
    latency = rng.lognormvariate(math.log(LATENCY_MEDIAN_S * exp.speed), 0.35)
    if difficulty == "hard":
        latency *= 1.25
    failure = None if pending or rng.random() >= ERROR_RATE else rng.choice(("timeout", "parser"))
    correct = failure is None and not pending and rng.random() < exp.accuracy + DIFFICULTY_SHIFT[difficulty]
    root_id, retriever_id, llm_id = (new_id(f"run/{label}/{part}") for part in ("root", "retriever", "llm"))
    end = start + dt.timedelta(seconds=latency)

    metadata: dict[str, Any] = {"model": exp.model, "prompt_version": exp.prompt_version,
                                "temperature": exp.temperature, "streaming": exp.streaming}
    if missing_model:
        del metadata["model"]

    r_start = start + dt.timedelta(milliseconds=rng.randint(3, 12))
    r_end = r_start + dt.timedelta(seconds=min(latency * 0.2, rng.lognormvariate(math.log(0.08), 0.4)))
    retriever = {
        "id": retriever_id, "parent_run_id": root_id, "session_id": session_id, "name": "Retriever",
        "run_type": "retriever", "start_time": _iso(r_start), "end_time": _iso(r_end),
        "inputs": {"query": question},
        "outputs": {"documents": [{"page_content": f"Reference notes on {example['metadata']['topic']}: {answer}.",
                                   "metadata": {"source": f"kb/{example['metadata']['topic']}.md"}}]},
    }

    l_start = r_end + dt.timedelta(milliseconds=rng.randint(2, 8))
    l_end = end - dt.timedelta(milliseconds=rng.randint(2, 6))
    prompt_tokens = rng.randint(280, 520) + 4 * len(question.split())
    completion_tokens = int(rng.randint(12, 90) * exp.verbosity * (1.6 if difficulty == "hard" else 1.0))
    prompt_price, completion_price = PRICES[exp.model]
    llm: dict[str, Any] = {
        "id": llm_id, "parent_run_id": root_id, "session_id": session_id, "name": "ChatModel", "run_type": "llm",
        "start_time": _iso(l_start), "end_time": None if pending else _iso(l_end),
        "inputs": {"messages": [{"role": "system", "content": f"Answer briefly. (prompt {exp.prompt_version})"},
                                {"role": "user", "content": question}]},
        "extra": {"metadata": {"ls_provider": exp.model.split("-")[0], "ls_model_name": exp.model,
                               "ls_temperature": exp.temperature}},
    }
    first_token = l_start + (l_end - l_start) * rng.uniform(0.15, 0.35)
    if exp.streaming:
        llm["events"] = [{"name": "start", "time": _iso(l_start)}, {"name": "new_token", "time": _iso(first_token)}]
    text = answer if correct else example.get("_wrong", "I'm not sure.")
    if failure == "timeout":
        llm["end_time"] = _iso(l_end)
        llm["error"] = "TimeoutError: request to the model timed out after 30s"
    elif not pending:
        llm["outputs"] = {"generations": [{"text": text}]}
        prompt_cost, completion_cost = _cost(prompt_tokens, prompt_price), _cost(completion_tokens, completion_price)
        llm.update({
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens, "prompt_cost": prompt_cost,
            "completion_cost": completion_cost,
            "total_cost": format((Decimal(prompt_cost) + Decimal(completion_cost)).normalize(), "f"),
        })

    root: dict[str, Any] = {
        "id": root_id, "session_id": session_id, "name": "qa_pipeline", "run_type": "chain",
        "start_time": _iso(start), "end_time": None if pending else _iso(end),
        "inputs": {"question": question}, "reference_example_id": example["id"],
        "extra": {"metadata": metadata}, "tags": [DATASET_NAME, f"prompt:{exp.prompt_version}"],
    }
    if exp.streaming and failure != "timeout":
        root["events"] = [{"name": "new_token", "time": _iso(first_token)}]
    if failure == "timeout":
        root["error"] = "TimeoutError: request to the model timed out after 30s"
    elif failure == "parser":
        root["error"] = "OutputParserException: could not parse the model output as an answer"
    elif not pending:
        root["outputs"] = {"answer": text}
    runs = [root, retriever, llm]
    if pending:
        return runs, []

    fb_time = end + dt.timedelta(seconds=rng.uniform(2, 20))
    source = {"type": "model", "metadata": {"evaluator": "gpt-4o-judge"}}
    helpful = round(min(1.0, max(0.0, rng.gauss(0.8 if correct else 0.3, 0.12))), 2)
    feedback = [
        {"id": new_id(f"feedback/{label}/correctness"), "run_id": root_id, "trace_id": root_id, "key": "correctness",
         "score": int(correct), "feedback_source": source, "created_at": _iso(fb_time)},
        {"id": new_id(f"feedback/{label}/helpfulness"), "run_id": root_id, "trace_id": root_id, "key": "helpfulness",
         "score": helpful, "feedback_source": source, "created_at": _iso(fb_time + dt.timedelta(milliseconds=40)),
         "comment": rng.choice(GOOD_COMMENTS if correct else BAD_COMMENTS) if rng.random() < 0.15 else None},
    ]
    if rng.random() < 0.35:
        feedback.append({
            "id": new_id(f"feedback/{label}/tone"), "run_id": root_id, "trace_id": root_id, "key": "tone",
            "value": rng.choices(TONES, weights=(6, 3, 1 if exp.temperature else 3))[0],
            "feedback_source": source, "created_at": _iso(fb_time + dt.timedelta(milliseconds=80)),
            "feedback_config": {"type": "categorical",
                                "categories": [{"value": i, "label": t} for i, t in enumerate(TONES)]},
        })
    return runs, feedback


async def load_demo(db: AsyncSession, workspace_id: uuid.UUID) -> DemoSummary:
    """Write the demo into the workspace, unless a dataset named `qa-demo` is already there."""
    existing = await db.scalar(readable(workspace_id, Dataset, Dataset.id).where(
        Dataset.name == DATASET_NAME, Dataset.deleted_at.is_(None)))
    if existing is not None:
        return await summarize(db, workspace_id, existing)

    # A fixed id makes the README's curl work as printed; a soft-deleted demo keeps its
    # row, so a later demo in the same workspace takes a fresh id.
    taken = await db.scalar(readable(workspace_id, Dataset, Dataset.id).where(Dataset.id == DEMO_DATASET_ID))
    data = build_demo(DEMO_DATASET_ID if taken is None else uuid.uuid4(), await _free_suffix(db, workspace_id))
    await writes.insert_dataset(db, workspace_id, **data.dataset)
    await writes.insert_examples(db, workspace_id, data.examples)
    for session in data.sessions:
        await writes.insert_session(db, workspace_id, **session)
    await writes.insert_runs(db, workspace_id, data.runs)
    await writes.insert_feedback(db, workspace_id, data.feedback)
    await db.flush()
    summary = await summarize(db, workspace_id, data.dataset["id"])
    return replace(summary, created=True)


async def _free_suffix(db: AsyncSession, workspace_id: uuid.UUID) -> str:
    """Session names are unique per workspace: after a deleted demo, number the new one."""
    taken = set((await db.scalars(readable(workspace_id, TracerSession, TracerSession.name).where(
        TracerSession.name.like(f"{DATASET_NAME} %")))).all())
    n = 1
    while True:
        suffix = "" if n == 1 else f" ({n})"
        if not any(exp.name + suffix in taken for exp in EXPERIMENTS):
            return suffix
        n += 1


async def summarize(db: AsyncSession, workspace_id: uuid.UUID, dataset_id: uuid.UUID) -> DemoSummary:
    sessions = (await db.execute(
        readable(workspace_id, TracerSession, TracerSession.id, TracerSession.name)
        .where(TracerSession.reference_dataset_id == dataset_id)
        .order_by(TracerSession.start_time, TracerSession.id)
    )).all()
    session_ids = [sid for sid, _ in sessions]
    count = func.count()
    examples = await db.scalar(readable(workspace_id, Example, count).where(
        Example.dataset_id == dataset_id, Example.deleted_at.is_(None)))
    runs_of_sessions = readable(workspace_id, Run, count).where(Run.session_id.in_(session_ids))
    runs = await db.scalar(runs_of_sessions)
    roots = await db.scalar(runs_of_sessions.where(Run.is_root.is_(True)))
    run_feedback = await db.scalar(
        readable(workspace_id, Feedback, count).join(
            Run, (Run.workspace_id == Feedback.workspace_id) & (Run.id == Feedback.run_id))
        .where(Run.session_id.in_(session_ids)))
    session_feedback = await db.scalar(readable(workspace_id, Feedback, count).where(
        Feedback.run_id.is_(None), Feedback.session_id.in_(session_ids)))
    return DemoSummary(
        dataset_id=dataset_id, session_ids=session_ids, session_names=[name for _, name in sessions],
        example_count=examples or 0, run_count=runs or 0, root_run_count=roots or 0,
        feedback_count=(run_feedback or 0) + (session_feedback or 0),
    )
