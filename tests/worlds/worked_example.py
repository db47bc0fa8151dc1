"""The normative worked example of spec §5.7.

| run | session | example | latency s | total_tokens | total_cost | error  | correctness |
|-----|---------|---------|-----------|--------------|------------|--------|-------------|
| a1  | A       | e1      | 1.0       | 10           | 0.001      | —      | 1           |
| a2  | A       | e2      | 2.0       | 20           | 0.002      | —      | 0           |
| a3  | A       | e3      | 3.0       | 30           | 0.003      | "boom" | 1           |
| b1  | B       | e1      | 4.0       | 40           | 0.004      | —      | 1           |
| b3  | B       | e3      | 5.0       | 50           | 0.005      | —      | 0           |

e1, e2 have category "math", e3 "geo"; created_at e1 < e2 < e3.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import writes

T0 = dt.datetime(2024, 9, 19, 17, 0, tzinfo=dt.UTC)
ROWS = [  # run, session, example, latency, tokens, cost, error, correctness
    ("a1", "A", "e1", 1.0, 10, "0.001", None, 1),
    ("a2", "A", "e2", 2.0, 20, "0.002", None, 0),
    ("a3", "A", "e3", 3.0, 30, "0.003", "boom", 1),
    ("b1", "B", "e1", 4.0, 40, "0.004", None, 1),
    ("b3", "B", "e3", 5.0, 50, "0.005", None, 0),
]


@dataclass
class WorkedExample:
    dataset_id: uuid.UUID
    sessions: dict[str, uuid.UUID]
    examples: dict[str, uuid.UUID]
    runs: dict[str, uuid.UUID] = field(default_factory=dict)


async def load(db: AsyncSession, workspace_id: uuid.UUID) -> WorkedExample:
    dataset = await writes.insert_dataset(db, workspace_id, name="D")
    categories = {"e1": "math", "e2": "math", "e3": "geo"}
    ids = await writes.insert_examples(db, workspace_id, [
        {"dataset_id": dataset.id, "inputs": {"q": name}, "metadata": {"category": cat},
         "created_at": T0 + dt.timedelta(minutes=i)}
        for i, (name, cat) in enumerate(categories.items())
    ])
    world = WorkedExample(dataset.id, {}, dict(zip(categories, ids, strict=True)))
    for i, name in enumerate("AB"):
        session = await writes.insert_session(db, workspace_id, name=name, reference_dataset_id=dataset.id,
                                              start_time=T0 + dt.timedelta(hours=i))
        world.sessions[name] = session.id
    runs, feedback = [], []
    for i, (run, session, example, latency, tokens, cost, error, correct) in enumerate(ROWS):
        run_id = uuid.uuid4()
        world.runs[run] = run_id
        start = T0 + dt.timedelta(hours=2, seconds=i)
        runs.append({"id": run_id, "name": "target", "run_type": "chain", "start_time": start,
                     "end_time": start + dt.timedelta(seconds=latency), "session_id": world.sessions[session],
                     "reference_example_id": world.examples[example], "total_tokens": tokens,
                     "total_cost": cost, "error": error, "inputs": {"q": example}, "outputs": {"a": run}})
        feedback.append({"run_id": run_id, "key": "correctness", "score": correct})
    await writes.insert_runs(db, workspace_id, runs)
    await writes.insert_feedback(db, workspace_id, feedback)
    await db.commit()
    return world
