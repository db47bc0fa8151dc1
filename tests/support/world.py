"""A varied, deterministic world built with evalql.db.writes, for tests that need more
than the worked example: several groups of mixed key types, sessions with and without
a reference dataset, child runs with usage, errors, streaming, null costs, run-level
feedback with scores, labels, comments and errors, and session-level feedback."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import writes

T0 = dt.datetime(2024, 9, 19, 12, 0, tzinfo=dt.UTC)
CATEGORIES = ["math", "geo", 1, 2.5, True, "bio"]
MODELS = ["m1", "m2", "m3"]


@dataclass
class World:
    dataset_id: uuid.UUID
    session_ids: list[uuid.UUID]
    example_ids: list[uuid.UUID]
    root_run_ids: list[uuid.UUID] = field(default_factory=list)
    child_run_ids: list[uuid.UUID] = field(default_factory=list)
    feedback_ids: list[uuid.UUID] = field(default_factory=list)


async def build_world(db: AsyncSession, workspace_id: uuid.UUID, *, n_examples: int = 12, n_sessions: int = 3,
                      seed: int = 0, name: str = "D", skip_some: bool = True) -> World:
    """Every session runs (almost) every example once, some twice (repetitions); each
    root run has an llm child carrying the usage; feedback on most runs."""
    rnd = random.Random(seed)
    dataset = await writes.insert_dataset(db, workspace_id, name=name, description=f"dataset {name}")
    example_ids = await writes.insert_examples(db, workspace_id, [
        {"dataset_id": dataset.id, "inputs": {"question": f"q{i}"}, "outputs": {"answer": f"a{i}"},
         "metadata": {"category": CATEGORIES[i % len(CATEGORIES)], "difficulty": i % 3},
         "split": ["base", "test"] if i % 2 else "base", "created_at": T0 + dt.timedelta(minutes=i)}
        for i in range(n_examples)
    ])
    world = World(dataset.id, [], example_ids)
    for s in range(n_sessions):
        session = await writes.insert_session(
            db, workspace_id, name=f"{name}-session-{s}", description=f"experiment {s}",
            reference_dataset_id=dataset.id, start_time=T0 + dt.timedelta(hours=s),
            extra={"metadata": {"model": MODELS[s % len(MODELS)], "n": s}})
        world.session_ids.append(session.id)
    runs, feedback = [], []
    tick = 0
    for s, session_id in enumerate(world.session_ids):
        for e, example_id in enumerate(example_ids):
            if skip_some and (e + s) % 7 == 3:
                continue  # not every session ran every example: intersections matter
            reps = 2 if (e * 5 + s) % 9 == 0 else 1
            for _ in range(reps):
                tick += 1
                run_id, child_id = uuid.uuid4(), uuid.uuid4()
                start = T0 + dt.timedelta(days=1, seconds=tick * 10)
                latency = round(rnd.uniform(0.2, 8.0), 3)
                error = "boom" if rnd.random() < 0.2 else None
                streaming = rnd.random() < 0.5
                model = MODELS[(s // 2) % len(MODELS)]  # per experiment, shared by pairs
                runs.append({
                    "id": run_id, "name": "target", "run_type": "chain", "start_time": start,
                    "end_time": start + dt.timedelta(seconds=latency), "session_id": session_id,
                    "reference_example_id": example_id, "error": error,
                    "inputs": {"question": f"q{e}"} if e % 2 else {"question": f"q{e}", "ctx": [1, 2]},
                    "outputs": None if error else {"answer": f"s{s}-a{e}" * (1 + e % 4)},
                    "extra": {"metadata": {"model": model, "temperature": (e % 3) / 2}},
                    "tags": ["t1", f"s{s}"], "serialized": {"name": "target"},
                    "events": [{"name": "start", "time": start.isoformat()}],
                })
                usage = rnd.random() < 0.85
                child = {
                    "id": child_id, "name": "llm", "run_type": "llm", "parent_run_id": run_id,
                    "start_time": start + dt.timedelta(milliseconds=50),
                    "end_time": start + dt.timedelta(seconds=latency / 2), "session_id": session_id,
                    "inputs": {"prompt": f"p{e}"}, "outputs": {"text": "t"},
                }
                if usage:
                    prompt, completion = rnd.randint(1, 500), rnd.randint(1, 300)
                    child.update(prompt_tokens=prompt, completion_tokens=completion,
                                 total_tokens=prompt + completion,
                                 prompt_cost=f"{prompt * 0.000003:.6f}",
                                 completion_cost=f"{completion * 0.000015:.6f}")
                if streaming:
                    child["events"] = [{"name": "new_token",
                                        "time": (start + dt.timedelta(milliseconds=300)).isoformat()}]
                runs.append(child)
                world.root_run_ids.append(run_id)
                world.child_run_ids.append(child_id)
                roll = rnd.random()
                created = start + dt.timedelta(seconds=30)
                if roll < 0.85:
                    feedback.append({"run_id": run_id, "key": "correctness", "score": rnd.choice([0, 1, 0.5]),
                                     "created_at": created,
                                     "feedback_source": {"type": "model", "metadata": {"m": 1},
                                                         "user_id": str(uuid.UUID(int=s + 1)),
                                                         "user_name": "judge"}})
                if roll < 0.6:
                    feedback.append({"run_id": run_id, "key": "label", "value": rnd.choice(["good", "bad", 1.5, True]),
                                     "comment": rnd.choice(["nice", "", None, f"c{tick}"]),
                                     "created_at": created + dt.timedelta(seconds=1)})
                if roll < 0.3:
                    feedback.append({"run_id": run_id, "key": "helpful", "score": rnd.random() < 0.5,
                                     "error": rnd.random() < 0.3, "correction": {"fix": "x"},
                                     "created_at": created + dt.timedelta(seconds=2)})
                if roll > 0.9:
                    feedback.append({"run_id": child_id, "key": "child_only", "score": 1,
                                     "created_at": created})
        feedback.append({"session_id": session_id, "key": "summary", "score": 0.25 * (s + 1),
                         "comment": f"summary {s}", "created_at": T0 + dt.timedelta(days=2, seconds=s)})
    await writes.insert_runs(db, workspace_id, runs)
    world.feedback_ids = await writes.insert_feedback(db, workspace_id, feedback)
    await db.commit()
    return world
