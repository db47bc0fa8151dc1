"""The real LangSmith SDK end to end (spec §9 item 6), in each ingest mode.

uvicorn serves evalql on a free local port; the pinned `langsmith` SDK creates a
dataset and examples, runs `evaluate()` for two targets (`metadata={"model": ...}`)
with a row and a summary evaluator, and flushes. The test then checks what landed and
asks `group/runs` for the comparison, against values computed here from what was sent.
A recorder in front of the app proves which ingest route each mode really used.
"""

from __future__ import annotations

import asyncio
import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest

from tests.test_langsmith_sdk import ServerThread

langsmith = pytest.importorskip("langsmith")
from langsmith import traceable  # noqa: E402
from langsmith import utils as ls_utils  # noqa: E402

INFO_BATCH_CONFIG = {"use_multipart_endpoint": False, "scale_up_qsize_trigger": 1000, "scale_up_nthreads_limit": 16,
                     "scale_down_nempty_trigger": 4, "size_limit": 100, "size_limit_bytes": 20971520}
MODES = ("multipart-zstd", "multipart", "json-batch")
QUESTIONS = [("q0", "0", "easy", "train"), ("q1", "2", "hard", "train"), ("q2", "4", "easy", "test"),
             ("q3", "6", "hard", "test"), ("q4", "8", "medium", None), ("q5", "10", "hard", ["train", "test"])]
LAST = ("q6", "12", "easy")  # added with create_example
USAGE = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}


class Recorder:
    """ASGI middleware noting (method, path, Content-Encoding) of every request."""

    def __init__(self, app) -> None:
        self.app, self.seen = app, []

    def __getattr__(self, name):  # uvicorn reads the app's attributes (state, router…)
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            self.seen.append((scope["method"], scope["path"], headers.get(b"content-encoding", b"").decode()))
        await self.app(scope, receive, send)


def answer(question: str) -> str:
    return str(int(question[1:]) * 2)


def targets():
    @traceable(run_type="llm", name="fake_llm")
    def fake_llm(question: str, wrong: bool) -> dict:
        text = "wrong" if wrong else answer(question)
        return {"answer": text, "usage_metadata": USAGE}

    def m1(inputs: dict) -> dict:
        return {"answer": fake_llm(inputs["question"], False)["answer"]}

    def m2(inputs: dict) -> dict:  # wrong on odd questions
        return {"answer": fake_llm(inputs["question"], int(inputs["question"][1:]) % 2 == 1)["answer"]}

    return {"m1": m1, "m2": m2}


def exact(outputs: dict, reference_outputs: dict) -> dict:
    return {"key": "exact", "score": outputs["answer"] == reference_outputs["answer"]}


def accuracy(outputs: list[dict], reference_outputs: list[dict]) -> dict:
    hits = [o["answer"] == r["answer"] for o, r in zip(outputs, reference_outputs, strict=True)]
    return {"key": "accuracy", "score": sum(hits) / len(hits)}


@dataclass
class Sent:
    dataset_id: uuid.UUID | None = None
    examples: dict[str, dict] = field(default_factory=dict)  # example id -> {question, answer, difficulty}
    experiments: dict[str, object] = field(default_factory=dict)  # model -> TracerSession (SDK schema)


def client_for(url: str, key: str, mode: str):
    if mode == "json-batch":
        info = {"version": "0.10.0", "batch_ingest_config": INFO_BATCH_CONFIG}
        return langsmith.Client(api_url=url, api_key=key, info=info)
    return langsmith.Client(api_url=url, api_key=key)


def drive(url: str, key: str, mode: str) -> Sent:
    sent = Sent()
    client = client_for(url, key, mode)
    name = f"qa-{mode}"
    dataset = client.create_dataset(name, description="two models, one dataset")
    sent.dataset_id = dataset.id
    client.create_examples(dataset_id=dataset.id, examples=[
        {"inputs": {"question": q}, "outputs": {"answer": a}, "metadata": {"difficulty": d}, "split": s}
        for q, a, d, s in QUESTIONS
    ])
    client.create_example(inputs={"question": LAST[0]}, outputs={"answer": LAST[1]},
                          metadata={"difficulty": LAST[2]}, dataset_id=dataset.id)
    examples = list(client.list_examples(dataset_id=dataset.id))
    assert len(examples) == len(QUESTIONS) + 1
    sent.examples = {str(e.id): {"question": e.inputs["question"], "answer": e.outputs["answer"],
                                 "difficulty": e.metadata["difficulty"]} for e in examples}
    assert sorted(len(list(client.list_examples(dataset_id=dataset.id, splits=[s]))) for s in ("train", "test")) == [3, 3]

    for model, target in targets().items():
        results = client.evaluate(target, data=name, evaluators=[exact], summary_evaluators=[accuracy],
                                  metadata={"model": model}, experiment_prefix=f"{mode}-{model}",
                                  max_concurrency=2, blocking=True)
        client.flush()
        sent.experiments[model] = client.read_project(project_name=results.experiment_name)
    client.flush()
    return sent


def expected_exact(model: str, question: str) -> bool:
    return model == "m1" or int(question[1:]) % 2 == 0


def check_landed(url: str, key: str, mode: str, sent: Sent) -> None:
    """What the SDK reads back: the session, its runs and feedback, its stats."""
    client = client_for(url, key, mode)
    for model, experiment in sent.experiments.items():
        project = client.read_project(project_id=experiment.id, include_stats=True)
        assert project.reference_dataset_id == sent.dataset_id
        metadata = project.metadata
        assert metadata["model"] == model and metadata["dataset_splits"] and "dataset_version" in metadata
        roots = list(client.list_runs(project_id=experiment.id, is_root=True))
        assert len(roots) == len(sent.examples)
        assert sorted(str(r.reference_example_id) for r in roots) == sorted(sent.examples)
        assert all(r.extra["metadata"]["model"] == model for r in roots)
        assert all(r.total_tokens == USAGE["total_tokens"] for r in roots)  # rolled up from the child LLM run
        children = list(client.list_runs(project_id=experiment.id, is_root=False))
        assert {c.name for c in children} == {"fake_llm"} and len(children) == len(roots)
        feedback = list(client.list_feedback(run_ids=[r.id for r in roots]))
        by_run = {f.run_id: f for f in feedback if f.key == "exact"}
        assert len(by_run) == len(roots)
        for run in roots:
            question = sent.examples[str(run.reference_example_id)]["question"]
            assert by_run[run.id].score == expected_exact(model, question)
        hits = [expected_exact(model, e["question"]) for e in sent.examples.values()]
        assert project.run_count == len(roots)
        assert project.feedback_stats["exact"]["n"] == len(roots)
        assert project.feedback_stats["exact"]["avg"] == pytest.approx(sum(hits) / len(hits))
        summary = [f for f in client.list_feedback() if f.key == "accuracy" and f.session_id == experiment.id]
        assert len(summary) == 1 and summary[0].run_id is None  # session-level (summary evaluator)
        assert summary[0].score == pytest.approx(sum(hits) / len(hits), abs=1e-4)  # the SDK rounds to 4 places
    evaluator_runs = list(client.list_runs(project_name="evaluators"))
    assert len([r for r in evaluator_runs if r.name == "exact"]) == 2 * len(sent.examples)


def oracle_groups(sent: Sent, by: str) -> dict[str, dict]:
    """group key -> {count, example_count, exact avg, per-session avg} from what was sent."""
    hits: dict[str, list[bool]] = defaultdict(list)
    per_session: dict[tuple[str, str], list[bool]] = defaultdict(list)
    examples: dict[str, set[str]] = defaultdict(set)
    for model in sent.experiments:
        for example_id, example in sent.examples.items():
            key = model if by == "model" else example["difficulty"]
            hit = expected_exact(model, example["question"])
            hits[key].append(hit)
            per_session[(key, model)].append(hit)
            examples[key].add(example_id)
    return {key: {"count": len(values), "example_count": len(examples[key]), "avg": sum(values) / len(values),
                  "sessions": {m: statistics.fmean(per_session[(key, m)]) for m in sent.experiments
                               if per_session[(key, m)]}}
            for key, values in hits.items()}


async def check_group_runs(api, sent: Sent) -> None:
    ids = {str(e.id): model for model, e in sent.experiments.items()}
    for group_by, key, by in (("run_metadata", "model", "model"), ("example_metadata", "difficulty", "difficulty")):
        response = await api.group_runs(sent.dataset_id, {"session_ids": list(ids), "group_by": group_by,
                                                           "metadata_key": key, "per_group_limit": 10})
        assert response.status_code == 200, response.text
        expected = oracle_groups(sent, by)
        groups = {g["group_key"]: g for g in response.json()["groups"]}
        assert set(groups) == set(expected)
        for group_key, want in expected.items():
            got = groups[group_key]
            assert (got["count"], got["example_count"]) == (want["count"], want["example_count"])
            assert got["feedback_stats"]["exact"]["avg"] == pytest.approx(want["avg"])
            assert got["total_tokens"] == USAGE["total_tokens"] * want["count"]
            assert {ids[s["id"]]: s["feedback_stats"]["exact"]["avg"] for s in got["sessions"]} == pytest.approx(
                want["sessions"])
            assert len(got["examples"]) == want["example_count"]


@pytest.mark.parametrize("mode", MODES)
async def test_evaluate_end_to_end(api, database_url, monkeypatch, mode):
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT",
                 "LANGSMITH_PROJECT", "LANGCHAIN_PROJECT", "LANGSMITH_DISABLE_RUN_COMPRESSION"):
        monkeypatch.delenv(name, raising=False)
    if mode == "multipart":
        monkeypatch.setenv("LANGSMITH_DISABLE_RUN_COMPRESSION", "true")
    ls_utils.get_env_var.cache_clear()  # the SDK caches environment lookups
    try:
        recorder: list[Recorder] = []

        def wrap(app):
            recorder.append(Recorder(app))
            return recorder[0]

        with ServerThread(database_url, wrap=wrap) as url:
            sent = await asyncio.to_thread(drive, url, api.key, mode)
            await asyncio.to_thread(check_landed, url, api.key, mode, sent)
        await check_group_runs(api, sent)
    finally:
        ls_utils.get_env_var.cache_clear()

    ingest = Counter((path, encoding) for method, path, encoding in recorder[0].seen
                     if path.startswith("/runs") and method in ("POST", "PATCH") and path != "/runs/query")
    used = {path for path, _ in ingest}
    if mode == "json-batch":
        assert used == {"/runs/batch"}
        assert any(m == "POST" and p == "/feedback" for m, p, _ in recorder[0].seen)
    else:
        assert used == {"/runs/multipart"}
        assert {encoding for _, encoding in ingest} == ({"zstd"} if mode == "multipart-zstd" else {""})
