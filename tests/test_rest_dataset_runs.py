"""`POST /datasets/{id}/runs` (spec §6): examples with their runs, paged by example.

Answers over the rich world (tests/worlds/rich.py) are compared field by field with a
plain-Python expectation built here from the world's records and the shape pieces of the
group/runs oracle (tests/oracle.py). Literal tests pin the spec's rules on the worked
example and on hand-computed sort orders; validation, error order, tenancy and the
statement count follow.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from evalql.config import Settings
from evalql.db import rls, writes
from evalql.engine.answer import ComparisonEngine
from tests import oracle
from tests.oracle import Derived, Records, as_dt, eval_filter, example_json, parse_filter, run_json, score_of
from tests.support.app import app_client, second_workspace
from tests.support.statements import counting
from tests.support.world import build_world
from tests.worlds import rich, worked_example

S = {name: str(rich.uid("session " + name)) for name in "ABCZXN"}
DATASET = str(rich.uid("D"))


def E(name: str) -> str:
    return str(rich.uid(name))


async def post(api, dataset_id: object, body: Any, key: str | None = None, prefix: str = "/api/v1"):
    return await api.client.post(f"{prefix}/datasets/{dataset_id}/runs", json=body, headers=api.headers(key))


# ---------------------------------------------------------------------------- the expectation

def expected_dataset_runs(rec: Records, dataset_id: str, body: dict[str, Any],
                          deleted: frozenset[uuid.UUID] = frozenset()) -> list[dict[str, Any]]:
    """Spec §6 from the records: candidate runs of §5.3 step 1, the examples they ran
    (restricted to example_ids), ordered or sorted by a feedback mean, paged."""
    dataset = uuid.UUID(dataset_id)
    order = list(dict.fromkeys(uuid.UUID(str(s)) for s in body["session_ids"]))
    position = {s: i for i, s in enumerate(order)}
    filters: dict[uuid.UUID, list[Any]] = {}
    for key, texts in (body.get("filters") or {}).items():
        filters.setdefault(uuid.UUID(key), []).extend(parse_filter(t) for t in texts)
    d = Derived(rec)
    examples = {uuid.UUID(str(e["id"])): e for e in rec.examples
                if uuid.UUID(str(e["dataset_id"])) == dataset and uuid.UUID(str(e["id"])) not in deleted}
    if body.get("example_ids") is not None:
        wanted = {uuid.UUID(str(i)) for i in body["example_ids"]}
        examples = {i: e for i, e in examples.items() if i in wanted}
    run_fb: dict[uuid.UUID, list[dict]] = {}
    for fb in rec.feedback:
        target = fb.get("run_id") or fb.get("trace_id")  # a trace id alone names the root run
        if target is not None:
            run_fb.setdefault(uuid.UUID(str(target)), []).append(fb)

    ran: dict[uuid.UUID, list[uuid.UUID]] = {}
    for rid, r in d.runs.items():
        sid, ex = uuid.UUID(str(r["session_id"])), r.get("reference_example_id")
        if sid not in position or r.get("parent_run_id") or ex is None or uuid.UUID(str(ex)) not in examples:
            continue
        if all(eval_filter(t, d, rid) for t in filters.get(sid, [])):
            ran.setdefault(uuid.UUID(str(ex)), []).append(rid)

    def created(e: uuid.UUID) -> tuple:
        return (as_dt(examples[e]["created_at"]), e)

    chosen = sorted(ran, key=created)
    sort = body.get("sort_params")
    if sort:
        key = sort["sort_by"].removeprefix("feedback.")
        descending = sort.get("sort_order", "DESC") == "DESC"

        def mean(e: uuid.UUID) -> float | None:
            scores = [score_of(f) for r in ran[e] for f in run_fb.get(r, []) if f["key"] == key]
            scores = [s for s in scores if s is not None]
            return sum(scores) / len(scores) if scores else None

        means = {e: mean(e) for e in chosen}
        chosen.sort(key=lambda e: (means[e] is None, 0 if means[e] is None else (-means[e] if descending else means[e]),
                                   *created(e)))
    offset, limit = body.get("offset", 0), body.get("limit", 10)
    return [
        {**example_json(examples[e]),
         "runs": [run_json(d, r, run_fb.get(r, []), rec.workspace_id, body.get("preview", False))
                  for r in sorted(ran[e], key=lambda r: (position[uuid.UUID(str(d.runs[r]["session_id"]))],
                                                         d.start(r), r))]}
        for e in chosen[offset:offset + limit]
    ]


@pytest.fixture
async def world(api) -> Records:
    async with api.db_sessions() as db:
        return await rich.load(db, api.workspace_id, rich.build())


async def check(api, world: Records, body: dict[str, Any], dataset: str = DATASET,
                deleted: frozenset[uuid.UUID] = frozenset()) -> list[dict[str, Any]]:
    response = await post(api, dataset, body)
    assert response.status_code == 200, response.text
    got = response.json()
    expected = expected_dataset_runs(world, dataset, body, deleted)
    problems = oracle.compare(expected, got)
    assert not problems, f"{len(problems)} mismatches for {body}:\n" + "\n".join(problems[:40])
    return got


def body_of(keys: str, **extra: Any) -> dict[str, Any]:
    return {"session_ids": [S[k] for k in keys], **extra}


def names(got: list[dict[str, Any]]) -> list[str]:
    by_id = {E(e[0]): e[0] for e in rich.EXAMPLES} | {E("f1"): "f1", E("f2"): "f2"}
    return [by_id[e["id"]] for e in got]


def run_names(example: dict[str, Any]) -> list[str]:
    by_id = {E(r[0]): r[0] for r in rich.ROWS}
    return [by_id[r["id"]] for r in example["runs"]]


BODIES = {
    "A": body_of("A"),
    "A-limit100": body_of("A", limit=100),
    "AB": body_of("AB", limit=100),
    "BA": body_of("BA", limit=100),
    "ABC-paged": body_of("ABC", offset=2, limit=3),
    "CAB-last-page": body_of("CAB", offset=10, limit=5),
    "duplicates-any-case": {"session_ids": [S["B"], S["A"].upper(), S["A"], S["B"].upper()], "limit": 100},
    "all-sessions": body_of("ABCZXN", limit=100),
    "X-other-dataset-session": body_of("X"),
    "N-no-reference": body_of("N"),
    "Z-zero-runs": body_of("Z"),
    "offset-past-end": body_of("AB", offset=50),
    "preview": body_of("AB", limit=100, preview=True),
    "example_ids": body_of("AB", example_ids=[E("e5"), E("e2"), E("f1"), str(uuid.uuid4()), E("e8"), E("e2")]),
    "example_ids-empty": body_of("AB", example_ids=[]),
    "example_ids-null": body_of("AB", example_ids=None, limit=100),
    "filter-success": body_of("AB", limit=100, filters={S["A"]: ['eq(status, "success")']}),
    "filter-both": body_of("AB", limit=100, filters={S["A"]: ["gt(latency, 1.5)"],
                                                     S["B"]: ["neq(error, null)"]}),
    "filter-anded": body_of("A", limit=100, filters={S["A"]: ["gt(latency, 0.5)", "lt(total_tokens, 30)"]}),
    "filter-upper-key": body_of("AB", limit=100, filters={S["A"].upper(): ['eq(status, "error")']}),
    "sort-correctness-desc": body_of("B", limit=100, sort_params={"sort_by": "feedback.correctness",
                                                                  "sort_order": "DESC"}),
    "sort-correctness-asc": body_of("B", limit=100, sort_params={"sort_by": "feedback.correctness",
                                                                 "sort_order": "ASC"}),
    "sort-default-order": body_of("A", limit=100, sort_params={"sort_by": "correctness"}),
    "sort-plain-key-asc": body_of("A", limit=100, sort_params={"sort_by": "helpfulness", "sort_order": "ASC"}),
    "sort-plain-key-desc": body_of("A", limit=100, sort_params={"sort_by": "helpfulness", "sort_order": "DESC"}),
    "sort-paged": body_of("B", offset=2, limit=3, sort_params={"sort_by": "feedback.correctness"}),
    "sort-unknown-key": body_of("A", limit=100, sort_params={"sort_by": "feedback.nope", "sort_order": "ASC"}),
    "sort-same-session-twice": {"session_ids": [S["C"], S["C"]], "limit": 100,
                                "sort_params": {"sort_by": "feedback.helpfulness"}},
    "sort-with-filter": body_of("A", limit=100, sort_params={"sort_by": "feedback.correctness", "sort_order": "ASC"},
                                filters={S["A"]: ['eq(status, "success")']}),
    "sort-null-params": body_of("AB", limit=100, sort_params=None, comparative_experiment_id=None),
}


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
async def test_rich_world_matches_expectation(api, world, body):
    await check(api, world, body)


async def test_other_dataset_view(api, world):
    """Dataset D2: only runs on D2 examples count (x1 and a12), whatever the sessions reference."""
    got = await check(api, world, body_of("AX"), dataset=str(rich.uid("D2")))
    assert names(got) == ["f1"]
    assert [r["id"] for r in got[0]["runs"]] == [E("a12"), E("x1")]  # session order: A before X


# ---------------------------------------------------------------------------- literal spec pins

async def test_examples_and_runs_order(api, world):
    """e1..e12 ordered by (created_at, id) — e5 and e6 share created_at; runs by (session
    position, start_time, id) — a1 and a8 share start_time; child and keyless runs never."""
    got = await check(api, world, body_of("BA", limit=100))
    tie = sorted(["e5", "e6"], key=rich.uid)
    assert names(got) == ["e1", "e2", "e3", "e4", *tie, "e7", "e8", "e9", "e10", "e11", "e12"]
    first = got[0]
    assert run_names(first) == ["b1", *sorted(["a1", "a8"], key=rich.uid)]
    assert all(r["parent_run_id"] is None for e in got for r in e["runs"])
    assert {r["session_id"] for e in got for r in e["runs"]} == {S["A"], S["B"]}
    assert run_names(got[-1]) == ["b10", "b11", "a15"]  # a repetition: both B runs, by start_time


async def test_paging_concatenates_to_the_whole(api, world):
    whole = (await post(api, DATASET, body_of("ABC", limit=100))).json()
    pages = []
    for offset in range(0, 14, 3):
        pages += (await post(api, DATASET, body_of("ABC", offset=offset, limit=3))).json()
    assert [e["id"] for e in pages] == [e["id"] for e in whole] and len(whole) == 12


async def test_sort_by_feedback_mean(api, world):
    """Session B's correctness means: e1 1.0 (true); e2 0.0 (false, and a score-less entry);
    e3 0.75; e6 0.75 (1 and 0.5); e12 0.2 (b10 0.1, b11 0.3). e3 and e6 tie: created_at.
    Examples without a correctness score come last, by (created_at, id), in both directions."""
    unscored = ["e4", "e5", "e7", "e10", "e11"]
    desc = await check(api, world, body_of("B", limit=100, sort_params={"sort_by": "feedback.correctness",
                                                                       "sort_order": "DESC"}))
    assert names(desc) == ["e1", "e3", "e6", "e12", "e2", *unscored]
    asc = await check(api, world, body_of("B", limit=100, sort_params={"sort_by": "feedback.correctness",
                                                                      "sort_order": "ASC"}))
    assert names(asc) == ["e2", "e12", "e3", "e6", "e1", *unscored]


async def test_sort_by_plain_key_and_default_order(api, world):
    """Session A: helpfulness a1 0.5 (e1), a5 2 (e5); correctness e1 0.5 (a1 1, a8 0), e3 0.25,
    e12 0.9, and a1's child's 0 never counts. sort_order defaults to DESC."""
    rest = ["e2", "e3", "e4", "e6", "e7", "e8", "e9", "e10", "e11", "e12"]
    got = await check(api, world, body_of("A", limit=100, sort_params={"sort_by": "helpfulness", "sort_order": "ASC"}))
    assert names(got) == ["e1", "e5", *rest]
    got = await check(api, world, body_of("A", limit=100, sort_params={"sort_by": "helpfulness", "sort_order": "DESC"}))
    assert names(got) == ["e5", "e1", *rest]
    got = await check(api, world, body_of("A", limit=100, sort_params={"sort_by": "correctness"}))
    assert names(got)[:3] == ["e12", "e1", "e3"]


async def test_sort_follows_writes(api, world):
    """The engine answers from state kept current by the change log, and caches answers per
    data version: after each write the same request is answered anew. Session B's
    correctness DESC (test_sort_by_feedback_mean), then 1 on b2 (e2: 0 and 1, mean 0.5,
    passes e12's 0.2), then 0.75 on b4 (e4 joins the tie of e3 and e6 at 0.75, between them
    by created_at), then that one deleted."""
    body = body_of("B", limit=100, sort_params={"sort_by": "feedback.correctness", "sort_order": "DESC"})
    unscored = ["e4", "e5", "e7", "e10", "e11"]
    assert names(await check(api, world, body)) == ["e1", "e3", "e6", "e12", "e2", *unscored]
    assert names(await check(api, world, body)) == ["e1", "e3", "e6", "e12", "e2", *unscored]  # cached
    added = []
    for run, score, minute in (("b2", 1, 70), ("b4", 0.75, 71)):
        record = {"id": uuid.uuid4(), "run_id": rich.uid(run), "key": "correctness", "score": score,
                  "created_at": rich.T0 + dt.timedelta(minutes=minute)}
        async with api.db_sessions() as db:
            await writes.insert_feedback(db, api.workspace_id, [record])
            await db.commit()
        world.feedback.append(record)
        added.append(record)
        got = names(await check(api, world, body))
        if run == "b2":
            assert got == ["e1", "e3", "e6", "e2", "e12", *unscored]
    assert got == ["e1", "e3", "e4", "e6", "e2", "e12", *unscored[1:]]
    response = await api.client.delete(f"/api/v1/feedback/{added[-1]['id']}", headers=api.headers())
    assert response.status_code == 200, response.text
    world.feedback.remove(added[-1])
    assert names(await check(api, world, body)) == ["e1", "e3", "e6", "e2", "e12", *unscored]


async def test_sort_params_needs_exactly_one_session(api, world):
    body = body_of("AB", sort_params={"sort_by": "feedback.correctness"})
    p = only_problem(await post(api, DATASET, body))
    assert (p["loc"], p["type"]) == (["body", "sort_params"], "value_error"), p
    assert "exactly one session" in p["msg"]
    # one session spelled twice is one session
    response = await post(api, DATASET, {**body, "session_ids": [S["A"], S["A"].upper()]})
    assert response.status_code == 200, response.text


async def test_example_ids_restrict_and_keep_dataset_order(api, world):
    got = await check(api, world, body_of("AB", example_ids=[E("e11"), E("e2"), E("f1"), E("e1")]))
    assert names(got) == ["e1", "e2", "e11"]  # f1 belongs to D2


async def test_preview_nulls_inputs_and_outputs(api, world):
    got = await check(api, world, body_of("A", limit=100, preview=True))
    runs = {r: x for e in got for r, x in zip(run_names(e), e["runs"], strict=True)}
    assert all(x["inputs"] is None and x["outputs"] is None and x["events"] is None and x["serialized"] is None
               for x in runs.values())
    assert runs["a1"]["inputs_preview"] == "question a1"
    assert runs["a2"]["inputs_preview"] == rich.LONG[:200]
    assert got[0]["inputs"] == {"q": "What is 2+2?"}  # examples are never truncated
    plain = await check(api, world, body_of("A", limit=100))
    assert plain[0]["runs"][0]["inputs"] is not None


async def test_deleted_example_is_gone(api, world):
    async with api.db_sessions() as db:
        await writes.soft_delete_example(db, api.workspace_id, rich.uid("e1"))
        await db.commit()
    got = await check(api, world, body_of("AB", limit=100), deleted=frozenset({rich.uid("e1")}))
    assert "e1" not in names(got)
    got = await check(api, world, body_of("AB", example_ids=[E("e1")]), deleted=frozenset({rich.uid("e1")}))
    assert got == []


async def test_comparative_experiment_id_ignored(api, world):
    plain = await post(api, DATASET, body_of("AB"))
    response = await post(api, DATASET, body_of("AB", comparative_experiment_id=str(uuid.uuid4())))
    assert response.status_code == 200 and response.json() == plain.json()


# ---------------------------------------------------------------------------- the worked example

@pytest.fixture
async def worked(api):
    async with api.db_sessions() as db:
        return await worked_example.load(db, api.workspace_id)


async def test_worked_example(api, worked):
    """§5.7's world: every example a session ran appears (e2 too, unlike group/runs), with
    all the candidate runs, A's before B's."""
    body = {"session_ids": [str(worked.sessions["A"]), str(worked.sessions["B"])]}
    got = (await post(api, worked.dataset_id, body)).json()
    runs = {v: k for k, v in worked.runs.items()}
    assert [(e["id"], [runs[uuid.UUID(r["id"])] for r in e["runs"]]) for e in got] == [
        (str(worked.examples["e1"]), ["a1", "b1"]),
        (str(worked.examples["e2"]), ["a2"]),
        (str(worked.examples["e3"]), ["a3", "b3"]),
    ]
    assert got[0]["runs"][0]["feedbacks"][0]["key"] == "correctness"
    assert got[0]["runs"][0]["feedback_stats"]["correctness"]["avg"] == 1.0


async def test_group_session_filter_selects_a_superset(api, worked):
    """§5.5: a session's `filter` from group/runs, sent here, returns a superset of
    R(g) ∩ runs(s), including runs of examples outside the intersection (a2 on e2)."""
    a = str(worked.sessions["A"])
    group_body = {"session_ids": [a, str(worked.sessions["B"])], "group_by": "example_metadata",
                  "metadata_key": "category"}
    groups = (await api.group_runs(worked.dataset_id, group_body)).json()["groups"]
    math = next(g for g in groups if g["group_key"] == "math")
    session_filter = next(s for s in math["sessions"] if s["id"] == a)["filter"]
    in_group = {r["id"] for e in math["examples"] for r in e["runs"] if r["session_id"] == a}
    got = (await post(api, worked.dataset_id, {"session_ids": [a], "filters": {a: [session_filter]}})).json()
    returned = {r["id"] for e in got for r in e["runs"]}
    assert in_group < returned
    assert returned == {str(worked.runs["a1"]), str(worked.runs["a2"])}


# ---------------------------------------------------------------------------- validation

def detail(response) -> list[dict]:
    assert response.status_code == 422, (response.status_code, response.text)
    problems = response.json()["detail"]
    assert isinstance(problems, list) and problems
    for p in problems:
        assert p["loc"][0] in ("path", "body") and p["msg"] and p["type"], p
    return problems


def only_problem(response) -> dict:
    problems = detail(response)
    assert len(problems) == 1, problems
    return problems[0]


def valid(worked, **extra) -> dict:
    return {"session_ids": [str(worked.sessions["A"]), str(worked.sessions["B"])], **extra}


VIOLATIONS = [
    # (id, patch, loc, type)
    ("session_ids-missing", {"session_ids": ...}, ["body", "session_ids"], "missing"),
    ("session_ids-empty", {"session_ids": []}, ["body", "session_ids"], "too_short"),
    ("session_ids-11", {"session_ids": [str(uuid.uuid4()) for _ in range(11)]}, ["body", "session_ids"], "too_long"),
    ("session_ids-null", {"session_ids": None}, ["body", "session_ids"], "list_type"),
    ("session_ids-bad-uuid", {"session_ids": ["nope"]}, ["body", "session_ids", 0], "uuid_parsing"),
    ("offset--1", {"offset": -1}, ["body", "offset"], "greater_than_equal"),
    ("offset-null", {"offset": None}, ["body", "offset"], "int_type"),
    ("offset-true", {"offset": True}, ["body", "offset"], "int_type"),
    ("limit-0", {"limit": 0}, ["body", "limit"], "greater_than_equal"),
    ("limit-101", {"limit": 101}, ["body", "limit"], "less_than_equal"),
    ("limit-ten", {"limit": "ten"}, ["body", "limit"], "int_parsing"),
    ("limit-fraction", {"limit": 2.5}, ["body", "limit"], "int_from_float"),
    ("preview-maybe", {"preview": "maybe"}, ["body", "preview"], "bool_parsing"),
    ("preview-null", {"preview": None}, ["body", "preview"], "bool_type"),
    ("filters-list", {"filters": []}, ["body", "filters"], "dict_type"),
    ("filters-value-not-list", {"filters": {"A": "x"}}, ["body", "filters", "A"], "list_type"),
    ("filters-key-not-uuid", {"filters": {"nope": []}}, ["body", "filters", "nope"], "uuid_parsing"),
    ("filters-key-not-in-session_ids", {"filters": {"STRANGER": []}}, ["body", "filters", "STRANGER"], "value_error"),
    ("filters-unparseable", {"filters": {"A": ["eq(latncy, 1)"]}}, ["body", "filters", "A", 0], "value_error"),
    ("example_ids-1001", {"example_ids": [str(uuid.uuid4()) for _ in range(1001)]}, ["body", "example_ids"],
     "too_long"),
    ("example_ids-bad-uuid", {"example_ids": [str(uuid.uuid4()), "nope"]}, ["body", "example_ids", 1],
     "uuid_parsing"),
    ("example_ids-not-list", {"example_ids": "x"}, ["body", "example_ids"], "list_type"),
    ("comparative_experiment_id-bad", {"comparative_experiment_id": "nope"}, ["body", "comparative_experiment_id"],
     "uuid_parsing"),
    ("sort_params-list", {"sort_params": [], "session_ids": "ONE"}, ["body", "sort_params"], "dict_type"),
    ("sort_params-no-sort_by", {"sort_params": {}, "session_ids": "ONE"}, ["body", "sort_params", "sort_by"],
     "missing"),
    ("sort_params-empty-sort_by", {"sort_params": {"sort_by": ""}, "session_ids": "ONE"},
     ["body", "sort_params", "sort_by"], "string_too_short"),
    ("sort_params-prefix-only", {"sort_params": {"sort_by": "feedback."}, "session_ids": "ONE"},
     ["body", "sort_params", "sort_by"], "value_error"),
    ("sort_params-lowercase-order", {"sort_params": {"sort_by": "x", "sort_order": "asc"}, "session_ids": "ONE"},
     ["body", "sort_params", "sort_order"], "enum"),
    ("sort_params-two-sessions", {"sort_params": {"sort_by": "x"}}, ["body", "sort_params"], "value_error"),
]


def resolve(worked, patch: dict) -> tuple[dict, Any]:
    """Spell the placeholders: "A" is session A's id, "STRANGER" a random id, "ONE" a
    single-session list."""
    a, stranger = str(worked.sessions["A"]), str(uuid.uuid4())
    body = valid(worked)
    for key, value in patch.items():
        if value is ...:
            del body[key]
        elif value == "ONE":
            body[key] = [a]
        elif key == "filters" and isinstance(value, dict):
            body[key] = {a if k == "A" else stranger if k == "STRANGER" else k: v for k, v in value.items()}
        else:
            body[key] = value
    return body, {"A": a, "STRANGER": stranger}


@pytest.mark.parametrize("patch,loc,type_", [v[1:] for v in VIOLATIONS], ids=[v[0] for v in VIOLATIONS])
async def test_single_violation(api, worked, patch, loc, type_):
    body, spelled = resolve(worked, patch)
    p = only_problem(await post(api, worked.dataset_id, body))
    assert (p["loc"], p["type"]) == ([spelled.get(part, part) for part in loc], type_), p


async def test_messages_name_the_problem(api, worked):
    p = only_problem(await post(api, worked.dataset_id, valid(worked, limit=500)))
    assert p["msg"] == "Input should be less than or equal to 100"
    stranger = str(uuid.uuid4())
    p = only_problem(await post(api, worked.dataset_id, valid(worked, filters={stranger: []})))
    assert p["msg"] == f"Session {stranger} is not in session_ids"
    a = str(worked.sessions["A"])
    p = only_problem(await post(api, worked.dataset_id, valid(worked, filters={a: ["eq(latncy, 1)"]})))
    assert p["msg"].startswith("Invalid filter: ") and "unknown field 'latncy' at offset 3" in p["msg"], p


async def test_defaults_boundaries_and_nulls_accepted(api, worked):
    a = str(worked.sessions["A"])
    for patch in ({"limit": 1}, {"limit": 100}, {"limit": "5", "offset": "1"}, {"offset": 0}, {"filters": None},
                  {"filters": {}}, {"filters": {a: []}}, {"example_ids": None}, {"example_ids": []},
                  {"example_ids": [str(uuid.uuid4())] * 1000}, {"sort_params": None},
                  {"comparative_experiment_id": None}, {"preview": True}, {"unknown_field": [1]},
                  {"session_ids": [a], "sort_params": {"sort_by": "x", "sort_order": "ASC"}}):
        response = await post(api, worked.dataset_id, valid(worked, **patch))
        assert response.status_code == 200, (patch, response.text)
        assert isinstance(response.json(), list)


async def test_several_violations_all_reported(api, worked):
    body = {"session_ids": [str(worked.sessions["A"]), "bad"], "offset": -1, "limit": 101, "preview": "maybe",
            "example_ids": "x", "sort_params": {"sort_by": "x", "sort_order": "up"}}
    found = {(tuple(p["loc"]), p["type"]) for p in detail(await post(api, "nope", body))}
    assert found == {
        (("path", "dataset_id"), "uuid_parsing"),
        (("body", "session_ids", 1), "uuid_parsing"),
        (("body", "offset"), "greater_than_equal"),
        (("body", "limit"), "less_than_equal"),
        (("body", "preview"), "bool_parsing"),
        (("body", "example_ids"), "list_type"),
        (("body", "sort_params", "sort_order"), "enum"),
    }
    # the session-count rule is reported with the others once session_ids parse
    body = valid(worked, limit=0, sort_params={"sort_by": "x"})
    found = {(tuple(p["loc"]), p["type"]) for p in detail(await post(api, worked.dataset_id, body))}
    assert found == {(("body", "limit"), "greater_than_equal"), (("body", "sort_params"), "value_error")}


@pytest.mark.parametrize("raw", [[], "string", 123, None, {"session_ids": {"a": 1}}, {"session_ids": [None]},
                                 {"filters": {"x": None}}, {"limit": [1]}, {"limit": 1e308}, {"offset": 10**30},
                                 {"sort_params": "x"}, {"sort_params": {"sort_by": 1}}, {"example_ids": [[]]}],
                         ids=lambda v: repr(v)[:40])
async def test_garbage_bodies_give_422_never_500(api, worked, raw):
    body = {**valid(worked), **raw} if isinstance(raw, dict) else raw
    detail(await post(api, worked.dataset_id, body))


async def test_body_not_json(api, worked):
    response = await api.client.post(f"/api/v1/datasets/{worked.dataset_id}/runs", content=b"{nope",
                                     headers={**api.headers(), "Content-Type": "application/json"})
    p = only_problem(response)
    assert (p["loc"], p["type"]) == (["body"], "json_invalid")


async def test_huge_offset_is_an_empty_page(api, worked):
    """Past the databases' 64-bit OFFSET too; group/runs shares the cap (MAX_OFFSET)."""
    for offset in (2**62, 2**63 - 1, 2**63):
        response = await post(api, worked.dataset_id, valid(worked, offset=offset))
        assert (response.status_code, response.json()) == (200, []), offset
        group_body = valid(worked, offset=offset, group_by="example_metadata", metadata_key="category")
        response = await api.group_runs(worked.dataset_id, group_body)
        assert (response.status_code, response.json()) == (200, {"groups": []}), offset


# ---------------------------------------------------------------------------- errors, tenancy, routes

async def test_unknown_dataset_then_unknown_session(api, worked):
    unknown, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    response = await post(api, unknown, valid(worked))
    assert (response.status_code, response.json()) == (404, {"detail": f"Dataset {unknown} not found"})
    response = await post(api, str(unknown).upper(), {"session_ids": [str(first)]})
    assert response.json() == {"detail": f"Dataset {unknown} not found"}  # dataset first, canonical id
    body = {"session_ids": [str(worked.sessions["A"]), str(first).upper(), str(second)]}
    response = await post(api, worked.dataset_id, body)
    assert (response.status_code, response.json()) == (404, {"detail": f"Session {first} not found"})


async def test_validation_before_not_found(api, worked):
    response = await post(api, uuid.uuid4(), {"session_ids": [str(uuid.uuid4())], "limit": 0})
    assert response.status_code == 422, response.text


async def test_deleted_dataset_404(api, worked):
    async with api.db_sessions() as db:
        await writes.soft_delete_dataset(db, api.workspace_id, worked.dataset_id)
        await db.commit()
    response = await post(api, worked.dataset_id, valid(worked))
    assert (response.status_code, response.json()) == (404, {"detail": f"Dataset {worked.dataset_id} not found"})


async def test_another_workspace_is_missing(api, worked):
    """§1.2: another workspace's dataset or session is a 404, never a 403."""
    other_ws, other_key, _ = await second_workspace(api.db_sessions)
    async with api.db_sessions() as db:
        their_dataset = await writes.insert_dataset(db, other_ws, name="theirs")
        their_session = await writes.insert_session(db, other_ws, name="theirs", reference_dataset_id=their_dataset.id)
        await db.commit()
    response = await post(api, worked.dataset_id, valid(worked), key=other_key)
    assert (response.status_code, response.json()) == (404, {"detail": f"Dataset {worked.dataset_id} not found"})
    response = await post(api, their_dataset.id, valid(worked))
    assert (response.status_code, response.json()) == (404, {"detail": f"Dataset {their_dataset.id} not found"})
    response = await post(api, worked.dataset_id, valid(worked, session_ids=[str(their_session.id)]))
    assert (response.status_code, response.json()) == (404, {"detail": f"Session {their_session.id} not found"})


async def test_auth(api, worked):
    """A read key is enough (a read-only POST, §1.2); no key 401; a foreign tenant id 403."""
    written = await post(api, worked.dataset_id, valid(worked))
    read = await post(api, worked.dataset_id, valid(worked), key=api.read_key)
    assert read.status_code == 200 and read.json() == written.json() and len(read.json()) == 3
    response = await api.client.post(f"/api/v1/datasets/{worked.dataset_id}/runs", json=valid(worked))
    assert response.status_code == 401
    response = await api.client.post(f"/api/v1/datasets/{worked.dataset_id}/runs", json=valid(worked),
                                     headers={"X-API-Key": "wrong"})
    assert response.status_code == 401
    response = await api.client.post("/api/v1/datasets/nope/runs", content=b"{garbage",
                                     headers={**api.headers(), "X-Tenant-Id": str(uuid.uuid4())})
    assert response.status_code == 403


@pytest.mark.parametrize("prefix,suffix", [("/api/v1", ""), ("", ""), ("/api/v1", "/"), ("", "/")])
async def test_both_prefixes_and_trailing_slash(api, worked, prefix, suffix):
    reference = await post(api, worked.dataset_id, valid(worked))
    response = await api.client.post(f"{prefix}/datasets/{worked.dataset_id}/runs{suffix}", json=valid(worked),
                                     headers=api.headers())
    assert response.status_code == 200 and response.json() == reference.json()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_wrong_method_405(api, worked, method):
    response = await api.client.request(method, f"/api/v1/datasets/{worked.dataset_id}/runs", headers=api.headers())
    assert response.status_code == 405


# ---------------------------------------------------------------------------- statement count

async def test_statement_count_is_constant(database_url):
    """The number of statements depends on neither the number of examples nor of runs
    returned: 20 examples × 2 sessions against 200 × 6, a page of 1 against a page of 100,
    with and without sorting and filters; for a new answer, for the answer after a write,
    and for a repeated one."""
    async with app_client(Settings(database_url=database_url)) as (client, app):
        async with app.state.db_sessions() as db:
            workspace = await writes.create_workspace(db, "counts")
            rls.bind(db, workspace.id)
            headers = {"X-API-Key": await writes.create_api_key(db, workspace.id)}
            await db.commit()
        worlds = {}
        for label, (n_examples, n_sessions) in {"small": (20, 2), "big": (200, 6)}.items():
            async with app.state.db_sessions() as db:
                rls.bind(db, workspace.id)
                worlds[label] = await build_world(db, workspace.id, n_examples=n_examples, n_sessions=n_sessions,
                                                  seed=3, name=label)
        for i in range(3):
            await check_count(client, app, headers, worlds, i)


def count_bodies(world, limit: int) -> list[dict]:
    """Plain; filtered and restricted to example ids; sorted (one session)."""
    sessions = [str(s) for s in world.session_ids]
    return [
        {"session_ids": sessions, "limit": limit},
        {"session_ids": sessions, "limit": limit, "filters": {sessions[0]: ['eq(status, "success")']},
         "example_ids": [str(e) for e in world.example_ids]},
        {"session_ids": sessions[:1], "limit": limit, "sort_params": {"sort_by": "feedback.correctness"}},
    ]


async def check_count(client, app, headers, worlds, i: int) -> None:
    """Per request, three answers (the engine, `engine/answer.py`):
    - new: a fresh engine whose state (the dataset's examples, the sessions' runs and
      feedback, which grow with the world's size and number of sessions) another request
      loaded; then the data version, the filters as run ids, and the page's examples and
      runs (with feedback and trace bounds) by key;
    - after a write (a feedback on a run of the page): the version, the change log, the
      feedback it names, the filters, and that run again;
    - repeated: the version, then the cached answer."""
    counts: dict[str, dict] = {"new": {}, "after a write": {}, "repeated": {}}
    sizes = {}
    for label, limit in (("small", 100), ("big", 1), ("big", 100)):
        body = count_bodies(worlds[label], limit)[i]
        path = f"/api/v1/datasets/{worlds[label].dataset_id}/runs"
        await app.state.comparisons.close()
        app.state.comparisons = ComparisonEngine()
        loading = await client.post(path, json={**body, "offset": 10**6}, headers=headers)  # an empty page
        assert (loading.status_code, loading.json()) == (200, [])
        with counting(app) as statements:
            response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        counts["new"][(label, limit)] = len(statements)
        sizes[(label, limit)] = (len(response.json()), sum(len(e["runs"]) for e in response.json()))

        run_id = response.json()[-1]["runs"][-1]["id"]
        written = await client.post("/api/v1/feedback", json={"run_id": run_id, "key": "counted", "score": 1},
                                    headers=headers)
        assert written.status_code == 200, written.text
        with counting(app) as statements:
            after = await client.post(path, json=body, headers=headers)
        counts["after a write"][(label, limit)] = len(statements)
        run = next(r for e in after.json() for r in e["runs"] if r["id"] == run_id)
        assert "counted" in {f["key"] for f in run["feedbacks"]}

        with counting(app) as statements:
            again = await client.post(path, json=body, headers=headers)
        assert again.content == after.content
        counts["repeated"][(label, limit)] = len(statements)
    print(f"\ndataset runs, body {i}: statements {counts}, (examples, runs) {sizes}")
    assert sizes[("big", 100)][0] == 100 and sizes[("big", 100)][1] > 2 * sizes[("small", 100)][1], sizes
    for regime, found in counts.items():
        assert len(set(found.values())) == 1, (regime, counts, sizes)
