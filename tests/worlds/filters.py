"""A small world for the filter language tests (spec §4), as plain records.

One session S on dataset D. Examples: e1 {category: "geo", rank: 1}, e2 {category: "math", n: 2.0}.

| run | parent | type      | name        | latency | error             | tags          | metadata                                   | example |
|-----|--------|-----------|-------------|---------|-------------------|---------------|--------------------------------------------|---------|
| r1  | —      | chain     | ChatOpenAI  | 6 s     |                   | prod, v2      | {conversation_id: X, user: Y}              | e1      |
| r2  | r1     | llm       | llm         | 2 s     |                   | —             | {thread_id: t-1, model: gpt-4}             | —       |
| r3  | r2     | tool      | tool        | 0.25 s  | Boom: 100%_done   | —             | {}                                         | —       |
| r4  | —      | chain     | Chain       | pending |                   | beta          | {session_id: t-1, model: 1}                | e2      |
| r5  | —      | llm       | ChatOpenAI  | 250 ms  |                   | v2, "it's"    | {model: "1", thread_id: null, conversation_id: c-9} | e1 |
| r6  | —      | retriever | retriever   | 12 s    | rate limit        | —             | (none)                                     | e2      |

r1→r2→r3 is one three-level trace. Feedback: r1 star_rating 5 and other 1; r4 correctness
0.0 (value "wrong") and Correctness 0; r5 correctness true (value 1.0) and 0.5 (value 2);
r6 exact 1 (value "yes"); r3 exact 0.
"""

from __future__ import annotations

import datetime as dt
import uuid

from tests.oracle import Records

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def uid(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "filters/" + name)


def build() -> Records:
    rec = Records()
    ds, s = uid("D"), uid("S")
    rec.datasets = [{"id": ds, "name": "D"}]
    rec.examples = [
        {"id": uid("e1"), "dataset_id": ds, "inputs": {"q": 1}, "outputs": None,
         "metadata": {"category": "geo", "rank": 1}, "created_at": T0},
        {"id": uid("e2"), "dataset_id": ds, "inputs": {"q": 2}, "outputs": None,
         "metadata": {"category": "math", "n": 2.0}, "created_at": T0 + dt.timedelta(minutes=1)},
    ]
    rec.sessions = [{"id": s, "name": "S", "reference_dataset_id": ds, "start_time": T0}]

    def run(key: str, minute: int, latency: float | None, **fields):
        start = T0 + dt.timedelta(minutes=minute)
        out = {"id": uid(key), "session_id": s, "start_time": start,
               "end_time": None if latency is None else start + dt.timedelta(seconds=latency), **fields}
        if "parent_run_id" in out:
            out["parent_run_id"] = uid(out["parent_run_id"])
        if "reference_example_id" in out:
            out["reference_example_id"] = uid(out["reference_example_id"])
        return out

    rec.runs = [
        run("r1", 1, 6.0, name="ChatOpenAI", run_type="chain", tags=["prod", "v2"],
            extra={"metadata": {"conversation_id": "X", "user": "Y"}}, reference_example_id="e1",
            inputs={"question": "What is Été?", "ctx": {"docs": [{"t": "a"}, {"t": "b"}], "k": 3}},
            outputs={"answer": "Paris", "score": 1.0}),
        run("r2", 2, 2.0, name="llm", run_type="llm", parent_run_id="r1",
            extra={"metadata": {"thread_id": "t-1", "model": "gpt-4"}},
            inputs={"prompt": "hi"}, outputs={"text": "HELLO world"},
            prompt_tokens=60, completion_tokens=40, total_tokens=100, total_cost="0.002",
            first_token_time=(T0 + dt.timedelta(minutes=2, seconds=1)).isoformat()),
        run("r3", 3, 0.25, name="tool", run_type="tool", parent_run_id="r2", error="Boom: 100%_done",
            extra={"metadata": {}}, inputs={"q": "1"}),
        run("r4", 4, None, name="Chain", run_type="chain", tags=["beta"],
            extra={"metadata": {"session_id": "t-1", "model": 1}}, reference_example_id="e2",
            inputs={"n": 1, "flag": True, "nil": None, "empty": {}, "lst": [], "f": 0.5}),
        run("r5", 5, 0.25, name="ChatOpenAI", run_type="llm", tags=["v2", "it's"],
            extra={"metadata": {"model": "1", "thread_id": None, "conversation_id": "c-9"}},
            reference_example_id="e1", inputs={"a.b": "dot", "list": ["x", ["y", {"z": "deep"}]]},
            outputs={"a": {"b": "nested"}}, total_tokens=5000, prompt_tokens=4000, completion_tokens=1000,
            total_cost="0.5", prompt_cost="0.4", completion_cost="0.1"),
        run("r6", 6, 12.0, name="retriever", run_type="retriever", error="rate limit",
            reference_example_id="e2", inputs={"question": "quote ' and \" and \\ (x), [y]"},
            outputs={"docs": [{"page_content": "Paris is big", "metadata": {"p": 1}}]}),
    ]
    rec.feedback = [
        fb("f1", "r1", "star_rating", 5), fb("f2", "r1", "other", 1),
        fb("f3", "r4", "correctness", 0.0, value="wrong"), fb("f4", "r4", "Correctness", 0),
        fb("f5", "r5", "correctness", True, value=1.0), fb("f6", "r5", "correctness", 0.5, value=2),
        fb("f7", "r6", "exact", 1, value="yes"), fb("f8", "r3", "exact", 0),
    ]
    return rec


def fb(name: str, run: str, key: str, score, value=None) -> dict:
    return {"id": uid(name), "run_id": uid(run), "key": key, "score": score, "value": value,
            "created_at": T0 + dt.timedelta(hours=1)}


NAMES = {uid(n): n for n in ("r1", "r2", "r3", "r4", "r5", "r6")}
