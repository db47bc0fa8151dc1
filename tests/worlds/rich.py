"""A rich world for the group/runs oracle tests (spec §5), built as plain records.

Datasets: `D` (the dataset under test) and `D2` (another dataset).

Sessions (start_time order A < B < C < Z; X references D2; N references nothing):

| session | reference | runs | notes |
|---------|-----------|------|-------|
| X       | D2        | 2    | starts first; x2 runs on a D example, so it counts for D |
| A       | D         | 15   | extra = null (shape default), description set |
| B       | D         | 11   | |
| C       | D         | 5    | |
| Z       | D         | 0    | zero runs |
| N       | none      | 1    | test_run_number null |

Examples of D (created_at ascending; e5 and e6 share created_at, so the id breaks the tie):

| ex  | tier                       | difficulty | split   | inputs                         |
|-----|----------------------------|------------|---------|--------------------------------|
| e1  | "gold"                     | 1          | base    | {"q": "What is 2+2?"}          |
| e2  | 2                          | 1          | base    | {"q": 300-char text with emoji}|
| e3  | 2.0 (groups with 2)        | "1"        | train   | {"z": 1, "a": "é"} (2 keys)    |
| e4  | 0.5                        | 2          | train   | {"n": 5}                       |
| e5  | true (groups with "true")  | 2.5        | base    | {"q": "e5"}                    |
| e6  | "true"                     | true       | base    | {"q": "e6"}                    |
| e7  | {"b": 1, "a": [1, "x"]}    | null       | base    | {"q": "e7"}                    |
| e8  | (missing)                  | 3          | base    | {"q": "e8"}                    |
| e9  | null                       | 3          | base    | {"q": "e9"}                    |
| e10 | "gold"                     | -1         | base    | {"q": "e10"}                   |
| e11 | -3                         | 1          | train   | {"q": "e11"}                   |
| e12 | "été"                      | "o'neil\\" | base    | {"q": "e12"}                   |

e1..e12 also carry `"it's": <difficulty>` for quoting tests. D2 has f1, f2 (tier "gold").

Root runs (`model` is run metadata; latency None = pending; usage: own = explicit fields on
the root, child = an llm child carries it, grandchild = chain child -> llm grandchild,
both = own on root AND child (own wins), outputs = outputs.usage_metadata, meta = child's
extra.metadata.usage_metadata, none = no usage anywhere; stream: ftt = first_token_time,
evt = new_token event):

| run | sess | ex   | model               | temp  | lat  | error | usage      | stream |
|-----|------|------|---------------------|-------|------|-------|------------|--------|
| a1  | A    | e1   | "gpt-4"             | 0.0   | 1.0  |       | child      |        |
| a2  | A    | e2   | "gpt-4"             | 0.7   | 2.0  |       | both       | ftt    |
| a3  | A    | e3   | 1                   | "0.7" | 3.0  | boom  | own        |        |
| a4  | A    | e4   | "1"                 | 1     | —    |       | grandchild |        |
| a5  | A    | e5   | true                | 0.7   | 0.5  |       | outputs    | evt    |
| a6  | A    | e6   | {"v":2,"name":"m"}  | 0.0   | 1.5  |       | meta       |        |
| a7  | A    | e7   | "gpt-4"             | 0.7   | 2.5  |       | none       |        |
| a8  | A    | e1   | "gpt-4"             | 0.7   | 4.0  |       | own        | both   |  (same start as a1; ftt wins)
| a9  | A    | e8   | (missing)           | 0.7   | 1.0  |       | own        |        |
| a10 | A    | e9   | null                | 0.7   | 1.0  |       | own        |        |
| a11 | A    | e10  | 1.0                 | 0.0   | 0.25 |       | child      |        |
| a12 | A    | f1   | "gpt-4"             | 0.7   | 1.0  |       | own        |        |  (example of D2)
| a13 | A    | —    | "gpt-4"             | 0.7   | 1.0  |       | own        |        |  (no example)
| a14 | A    | e11  | "gpt-4"             | 0.7   | 0.75 |       | child      |        |
| a15 | A    | e12  | "claude"            | 0.7   | 1.25 |       | own        |        |
| b1  | B    | e1   | "gpt-4"             | 0.7   | 1.5  |       | own        | evt    |
| b2  | B    | e2   | "gpt-4"             | 0.0   | 3.5  | bad   | child      |        |
| b3  | B    | e3   | 1                   | "0.7" | 2.0  |       | own        |        |
| b4  | B    | e4   | "1"                 | 1     | 1.0  |       | own        |        |
| b5  | B    | e5   | false               | 0.7   | 1.0  |       | none       |        |
| b6  | B    | e6   | {"name":"m","v":2}  | 0.0   | 2.0  |       | own        | ftt    |
| b7  | B    | e7   | "gpt-4"             | 0.7   | —    |       | child      |        |
| b8  | B    | e11  | "gpt-4"             | 0.7   | 0.5  |       | own        |        |
| b9  | B    | e10  | 1                   | 0.0   | 0.1  |       | own        |        |
| b10 | B    | e12  | "claude"            | 0.7   | 0.9  |       | both       |        |
| b11 | B    | e12  | "claude"            | 0.7   | 1.1  | err   | own        |        |  (repetition)
| c1  | C    | e1   | "gpt-4"             | 0.7   | 3.0  |       | own        |        |
| c2  | C    | e3   | "gpt-4o"            | 0.7   | 1.0  |       | own        |        |
| c3  | C    | e2   | "gpt-4"             | 0.7   | 2.0  |       | outputs    |        |
| c4  | C    | e7   | "gpt-4"             | 0.7   | 1.0  |       | child      |        |
| c5  | C    | e9   | "claude"            | 0.7   | 2.0  |       | own        |        |
| x1  | X    | f1   | "gpt-4"             | 0.7   | 1.0  |       | own        |        |
| x2  | X    | e1   | "gpt-4"             | 0.7   | 2.0  |       | own        |        |
| n1  | N    | e1   | "gpt-4"             | 0.7   | 1.0  |       | own        |        |

Every child llm run also carries `reference_example_id` of its root and `model` "gpt-4" in
its metadata, and a1's child has feedback: child runs must never count.

Feedback (run-level; minutes after T0, deliberately out of order): see FEEDBACK, plus one
entry on c1 given by trace_id only. c5's timestamps are strings (+02:00 offset, naive end).
Session-level feedback (no run_id): A f1 0.8 and 0.6 (+comment), B pass_rate true, X f1 0.1.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from evalql.db import writes
from tests.oracle import MISSING, Records

T0 = dt.datetime(2024, 9, 19, 17, 0, 0, 123456, tzinfo=dt.UTC)
NS = uuid.UUID("6f1c1d8e-2b0a-4f55-9d3f-0a6c5b1e7a00")


def uid(name: str) -> uuid.UUID:
    return uuid.uuid5(NS, name)


LONG = "Explain this 😀 " + "x" * 300  # > 200 code points, with a non-BMP character
EXAMPLES = [  # name, tier, difficulty, split, inputs
    ("e1", "gold", 1, None, {"q": "What is 2+2?"}),
    ("e2", 2, 1, None, {"q": LONG}),
    ("e3", 2.0, "1", "train", {"z": 1, "a": "é"}),
    ("e4", 0.5, 2, ["train"], {"n": 5}),
    ("e5", True, 2.5, None, {"q": "e5"}),
    ("e6", "true", True, None, {"q": "e6"}),
    ("e7", {"b": 1, "a": [1, "x"]}, None, None, {"q": "e7"}),
    ("e8", MISSING, 3, None, {"q": "e8"}),
    ("e9", None, 3, None, {"q": "e9"}),
    ("e10", "gold", -1, None, {"q": "e10"}),
    ("e11", -3, 1, "train", {"q": "e11"}),
    ("e12", "été", "o'neil\\", None, {"q": "e12"}),
]
OBJ1 = {"v": 2, "name": "m"}
OBJ2 = {"name": "m", "v": 2}
ROWS = [  # run, session, example, model, temperature, latency, error, usage, stream
    ("a1", "A", "e1", "gpt-4", 0.0, 1.0, None, "child", None),
    ("a2", "A", "e2", "gpt-4", 0.7, 2.0, None, "both", "ftt"),
    ("a3", "A", "e3", 1, "0.7", 3.0, "boom", "own", None),
    ("a4", "A", "e4", "1", 1, None, None, "grandchild", None),
    ("a5", "A", "e5", True, 0.7, 0.5, None, "outputs", "evt"),
    ("a6", "A", "e6", OBJ1, 0.0, 1.5, None, "meta", None),
    ("a7", "A", "e7", "gpt-4", 0.7, 2.5, None, "none", None),
    ("a8", "A", "e1", "gpt-4", 0.7, 4.0, None, "own", "both"),
    ("a9", "A", "e8", MISSING, 0.7, 1.0, None, "own", None),
    ("a10", "A", "e9", None, 0.7, 1.0, None, "own", None),
    ("a11", "A", "e10", 1.0, 0.0, 0.25, None, "child", None),
    ("a12", "A", "f1", "gpt-4", 0.7, 1.0, None, "own", None),
    ("a13", "A", None, "gpt-4", 0.7, 1.0, None, "own", None),
    ("a14", "A", "e11", "gpt-4", 0.7, 0.75, None, "child", None),
    ("a15", "A", "e12", "claude", 0.7, 1.25, None, "own", None),
    ("b1", "B", "e1", "gpt-4", 0.7, 1.5, None, "own", "evt"),
    ("b2", "B", "e2", "gpt-4", 0.0, 3.5, "bad", "child", None),
    ("b3", "B", "e3", 1, "0.7", 2.0, None, "own", None),
    ("b4", "B", "e4", "1", 1, 1.0, None, "own", None),
    ("b5", "B", "e5", False, 0.7, 1.0, None, "none", None),
    ("b6", "B", "e6", OBJ2, 0.0, 2.0, None, "own", "ftt"),
    ("b7", "B", "e7", "gpt-4", 0.7, None, None, "child", None),
    ("b8", "B", "e11", "gpt-4", 0.7, 0.5, None, "own", None),
    ("b9", "B", "e10", 1, 0.0, 0.1, None, "own", None),
    ("b10", "B", "e12", "claude", 0.7, 0.9, None, "both", None),
    ("b11", "B", "e12", "claude", 0.7, 1.1, "err", "own", None),
    ("c1", "C", "e1", "gpt-4", 0.7, 3.0, None, "own", None),
    ("c2", "C", "e3", "gpt-4o", 0.7, 1.0, None, "own", None),
    ("c3", "C", "e2", "gpt-4", 0.7, 2.0, None, "outputs", None),
    ("c4", "C", "e7", "gpt-4", 0.7, 1.0, None, "child", None),
    ("c5", "C", "e9", "claude", 0.7, 2.0, None, "own", None),
    ("x1", "X", "f1", "gpt-4", 0.7, 1.0, None, "own", None),
    ("x2", "X", "e1", "gpt-4", 0.7, 2.0, None, "own", None),
    ("n1", "N", "e1", "gpt-4", 0.7, 1.0, None, "own", None),
]
SAME_START = {"a8": "a1"}  # a8 starts exactly when a1 does: the run id breaks the tie
FEEDBACK = [  # run, key, score, value, comment, error, minute
    ("a1", "correctness", 1, "good", "late comment", False, 50),
    ("a1", "helpfulness", 0.5, None, "early comment", False, 10),
    ("a8", "correctness", 0, "bad", "", False, 20),
    ("b1", "correctness", True, 1, "b1 says", False, 5),
    ("b1", "helpfulness", None, None, "comment only", False, 30),
    ("b2", "correctness", False, True, None, True, 7),
    ("b2", "correctness", None, None, None, True, 8),
    ("a3", "correctness", 0.25, 1.5, None, False, 9),
    ("b3", "correctness", 0.75, {"x": 1}, "obj value", False, 9),
    ("c1", "correctness", 1, "good", None, False, 1),
    ("a2", "note", None, "meh", None, False, 3),
    ("b6", "correctness", 1, "good", "tie one", False, 40),
    ("b6", "correctness", 0.5, "good", "tie two", False, 40),
    ("a15", "correctness", 0.9, False, None, False, 2),
    ("b10", "correctness", 0.1, None, "b10", False, 60),
    ("b11", "correctness", 0.3, None, "b11", False, 4),
    ("x2", "correctness", 1, None, None, False, 4),
    ("a1.child", "correctness", 0, "child!", "child comment", False, 1),
    ("a5", "helpfulness", 2, 2, None, False, 6),
]
SESSION_FEEDBACK = [  # session, key, score, comment, minute
    ("A", "f1", 0.8, None, 100),
    ("A", "f1", 0.6, "session comment", 90),
    ("B", "pass_rate", True, None, 100),
    ("X", "f1", 0.1, None, 100),
]


def usage_fields(i: int) -> dict[str, Any]:
    prompt, completion = Decimal(f"0.00{i + 1}"), Decimal(f"0.000{i + 2}")
    return {"prompt_tokens": 10 + i, "completion_tokens": 5 + i, "total_tokens": 15 + 2 * i,
            "prompt_cost": str(prompt), "completion_cost": float(completion), "total_cost": str(prompt + completion)}


def build() -> Records:
    rec = Records()
    rec.datasets = [{"id": uid("D"), "name": "rich"}, {"id": uid("D2"), "name": "other"}]
    for i, (name, tier, difficulty, split, inputs) in enumerate(EXAMPLES):
        metadata: dict[str, Any] = {"difficulty": difficulty, "it's": difficulty}
        if tier is not MISSING:
            metadata["tier"] = tier
        created = T0 + dt.timedelta(minutes=i if i < 5 else i - 1)  # e5 and e6 share created_at
        record = {"id": uid(name), "dataset_id": uid("D"), "inputs": inputs, "outputs": {"answer": f"A{i}"},
                  "metadata": metadata, "created_at": created}
        if split is not None:
            record["split"] = split
        rec.examples.append(record)
    for i, name in enumerate(("f1", "f2")):
        rec.examples.append({"id": uid(name), "dataset_id": uid("D2"), "inputs": {"q": name}, "outputs": None,
                             "metadata": {"tier": "gold"}, "created_at": T0 + dt.timedelta(minutes=i)})
    session_specs = [("X", uid("D2"), -1), ("A", uid("D"), 0), ("B", uid("D"), 1), ("C", uid("D"), 2),
                     ("Z", uid("D"), 3), ("N", None, 4)]
    for name, ref, hours in session_specs:
        s = {"id": uid("session " + name), "name": f"session {name}", "reference_dataset_id": ref,
             "start_time": T0 + dt.timedelta(hours=hours)}
        if name == "A":
            s["description"] = "first experiment"
        else:
            s["extra"] = {"metadata": {"who": name}}
        rec.sessions.append(s)

    starts: dict[str, dt.datetime] = {}
    for i, (run, session, example, model, temp, latency, error, usage, stream) in enumerate(ROWS):
        start = starts[SAME_START[run]] if run in SAME_START else T0 + dt.timedelta(hours=5, seconds=7 * i,
                                                                                       microseconds=1000 * i)
        starts[run] = start
        end = None if latency is None else start + dt.timedelta(seconds=latency)
        metadata: dict[str, Any] = {"temperature": temp, "ls_run": run}
        if model is not MISSING:
            metadata["model"] = model
        variant = i % 4
        inputs = [{"q": f"question {run}"}, {"question": LONG}, {"b": [1, 2], "a": "ü"}, {"n": i}][variant]
        outputs = None if end is None else [{"answer": f"answer {run}"}, {"a": 1, "b": "two"}, {"text": "é" * 250},
                                            {"answer": f"answer {run}"}][variant]
        root = {
            "id": uid(run), "name": f"target-{session}", "run_type": "chain", "start_time": start, "end_time": end,
            "error": error, "session_id": uid("session " + session),
            "reference_example_id": uid(example) if example else None,
            "inputs": inputs, "outputs": outputs, "extra": {"metadata": metadata, "runtime": {"sdk": "py"}},
            "events": [], "tags": ["t1", run] if i % 3 == 0 else [], "serialized": {"name": run} if i % 2 else None,
        }
        if stream in ("ftt", "both"):
            root["first_token_time"] = start + dt.timedelta(milliseconds=100 + 10 * i)
        if stream in ("evt", "both"):
            zulu = (start + dt.timedelta(milliseconds=200)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            root["events"] = [{"name": "start", "time": start.isoformat()},
                              {"name": "new_token", "time": (start + dt.timedelta(milliseconds=300)).isoformat()},
                              {"name": "new_token", "time": zulu},
                              {"name": "end", "time": start.isoformat()}]
        children = []
        child_end = start + dt.timedelta(milliseconds=50) if end is not None else None
        child = {"id": uid(run + ".child"), "name": "llm", "run_type": "llm", "parent_run_id": uid(run),
                 "start_time": start + dt.timedelta(milliseconds=10), "end_time": child_end,
                 "session_id": root["session_id"], "reference_example_id": root["reference_example_id"],
                 "inputs": {"prompt": "p"}, "outputs": {"text": "t"},
                 "extra": {"metadata": {"model": "gpt-4", "temperature": temp}}, "events": [], "tags": []}
        if usage == "own":
            root.update(usage_fields(i))
        elif usage == "child":
            child.update(usage_fields(i))
            children.append(child)
        elif usage == "both":
            root.update({"total_tokens": 7, "total_cost": "0.0007"})
            child.update(usage_fields(i))
            children.append(child)
        elif usage == "grandchild":
            child["run_type"] = "chain"
            grandchild = {**child, "id": uid(run + ".grandchild"), "parent_run_id": child["id"],
                          "start_time": start + dt.timedelta(milliseconds=20), "run_type": "llm",
                          **usage_fields(i)}
            sibling = {**child, "id": uid(run + ".sibling"), "run_type": "llm", "parent_run_id": uid(run),
                       "start_time": start + dt.timedelta(milliseconds=30), "total_tokens": 3}  # tokens only: costs stay null
            children += [child, grandchild, sibling]
        elif usage == "outputs":
            root["outputs"] = {"answer": "with usage",
                               "usage_metadata": {"input_tokens": 11, "output_tokens": 4,
                                                  "input_cost": 0.0011, "output_cost": "0.0004"}}
        elif usage == "meta":
            child["extra"]["metadata"]["usage_metadata"] = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 6,
                                                            "total_cost": "0.000006"}
            children.append(child)
        if run == "a1" and child not in children:
            children.append(child)
        if run == "c5":  # timestamps as strings: an offset, and a naive value (UTC)
            root["start_time"] = start.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()
            root["end_time"] = end.replace(tzinfo=None).isoformat()
        rec.runs += [root, *children]

    for i, (run, key, score, value, comment, error, minute) in enumerate(FEEDBACK):
        rec.feedback.append({"id": uid(f"fb{i}"), "run_id": uid(run), "key": key, "score": score, "value": value,
                             "comment": comment, "error": error, "created_at": T0 + dt.timedelta(minutes=minute)})
    # Feedback naming only the trace: it targets the trace's root run (c1).
    rec.feedback.append({"id": uid("fb-trace"), "trace_id": uid("c1"), "key": "helpfulness", "score": 0.4,
                         "comment": "via trace", "created_at": T0 + dt.timedelta(minutes=12)})
    for i, (session, key, score, comment, minute) in enumerate(SESSION_FEEDBACK):
        rec.feedback.append({"id": uid(f"sfb{i}"), "session_id": uid("session " + session), "key": key,
                             "score": score, "comment": comment, "created_at": T0 + dt.timedelta(minutes=minute)})
    return rec


async def load(db: AsyncSession, workspace_id: uuid.UUID, rec: Records) -> Records:
    """Write the records through evalql.db.writes; returns them with `workspace_id` set."""
    rec.workspace_id = workspace_id
    for ds in rec.datasets:
        await writes.insert_dataset(db, workspace_id, id=ds["id"], name=ds["name"])
    if rec.examples:
        await writes.insert_examples(db, workspace_id, rec.examples)
    for s in rec.sessions:
        await writes.insert_session(db, workspace_id, **{k: v for k, v in s.items()})
    if rec.runs:
        await writes.insert_runs(db, workspace_id, rec.runs)
    if rec.feedback:
        await writes.insert_feedback(db, workspace_id, rec.feedback)
    await db.commit()
    return rec
