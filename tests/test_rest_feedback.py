"""Feedback over REST (spec §1, §2.5, §7.6), through real HTTP on both databases."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from evalql.core.feedback import FeedbackCreate, validated_feedback
from evalql.db import writes
from evalql.db.models import Feedback
from evalql.db.tenant import readable
from tests.support.app import second_workspace
from tests.support.rest import locs_types
from tests.support.whole_database import everywhere

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
UTC = dt.UTC
T0 = dt.datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
FEEDBACK_KEYS = {"id", "run_id", "trace_id", "session_id", "key", "score", "value", "comment", "correction",
                 "feedback_source", "feedback_config", "feedback_group_id", "comparative_experiment_id",
                 "start_time", "extra", "error", "is_root", "created_at", "modified_at"}
API_SOURCE = {"type": "api", "metadata": {}, "user_id": None, "user_name": None}


async def post(api, body, key: str | None = None, prefix: str = "/api/v1"):
    return await api.client.post(f"{prefix}/feedback", json=body, headers=api.headers(key))


async def made(api, **body) -> dict:
    response = await post(api, body)
    assert response.status_code == 200, response.text
    return response.json()


async def read(api, feedback_id, key: str | None = None):
    return await api.client.get(f"/feedback/{feedback_id}", headers=api.headers(key))


async def patch(api, feedback_id, body, key: str | None = None):
    return await api.client.patch(f"/feedback/{feedback_id}", json=body, headers=api.headers(key))


async def delete(api, feedback_id, key: str | None = None):
    return await api.client.delete(f"/feedback/{feedback_id}", headers=api.headers(key))


async def listing(api, params=None, key: str | None = None):
    return await api.client.get("/api/v1/feedback", params=params, headers=api.headers(key))


async def stored(api, feedback_id) -> Feedback | None:
    async with api.db_sessions() as db:
        return await db.scalar(readable(api.workspace_id, Feedback).where(Feedback.id == uuid.UUID(str(feedback_id))))


async def row_count(api) -> int:
    async with api.db_sessions() as db:
        return await db.scalar(everywhere(select(func.count()).select_from(Feedback)))


async def add_runs(api, runs: list[dict]) -> None:
    async with api.db_sessions() as db:
        await writes.insert_runs(db, api.workspace_id, runs)
        await db.commit()


def run(run_id, session_id, parent=None) -> dict:
    return {"id": run_id, "name": "r", "run_type": "chain", "session_id": session_id, "start_time": T0,
            "parent_run_id": parent}


async def new_session(api, name: str = "s") -> uuid.UUID:
    async with api.db_sessions() as db:
        session = await writes.insert_session(db, api.workspace_id, name=name)
        await db.commit()
    return session.id


# --- POST /feedback -----------------------------------------------------------------------

async def test_create_minimal(api):
    run_id = uuid.uuid4()
    before = dt.datetime.now(UTC)
    body = await made(api, key="k", run_id=str(run_id).upper())
    assert set(body) == FEEDBACK_KEYS
    assert (body["run_id"], body["trace_id"], body["session_id"]) == (str(run_id), str(run_id), None)
    assert body["key"] == "k" and body["score"] is None and body["value"] is None and body["comment"] is None
    assert body["correction"] is None and body["feedback_config"] is None and body["extra"] is None
    assert body["feedback_source"] == API_SOURCE and body["error"] is False
    assert body["feedback_group_id"] is None and body["comparative_experiment_id"] is None
    assert body["start_time"] is None
    # the run is not known yet: a run whose trace is itself is a root run
    assert body["is_root"] is True
    assert TS.match(body["created_at"]) and body["modified_at"] == body["created_at"]
    assert before - dt.timedelta(seconds=1) <= dt.datetime.fromisoformat(body["created_at"]) <= dt.datetime.now(UTC)
    for prefix in ("", "/api/v1"):
        again = await api.client.get(f"{prefix}/feedback/{body['id'].upper()}/", headers=api.headers())
        assert again.status_code == 200 and again.json() == body


async def test_create_all_fields(api):
    given, run_id, trace_id, session_id = (uuid.uuid4() for _ in range(4))
    group, comparative, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    body = await made(api, id=str(given), key="quality", run_id=str(run_id), trace_id=str(trace_id),
                      session_id=str(session_id), start_time="2024-01-01T00:00:00", score=0.75, value="good",
                      comment="fine", correction={"answer": 4},
                      feedback_source={"type": "model", "metadata": {"judge": "gpt"}, "user_id": str(user),
                                       "user_name": "ann"},
                      feedback_config={"type": "continuous", "min": 0, "max": 1},
                      feedback_group_id=str(group), comparative_experiment_id=str(comparative), extra={"e": [1]},
                      error=True, created_at="2024-02-02T10:00:00+01:00", modified_at="2024-02-03T00:00:00Z",
                      extend_trace_retention=True, unknown=1)
    assert body == {
        "id": str(given), "run_id": str(run_id), "trace_id": str(trace_id), "session_id": str(session_id),
        "key": "quality", "score": 0.75, "value": "good", "comment": "fine", "correction": {"answer": 4},
        "feedback_source": {"type": "model", "metadata": {"judge": "gpt"}, "user_id": str(user), "user_name": "ann"},
        "feedback_config": {"type": "continuous", "min": 0, "max": 1}, "feedback_group_id": str(group),
        "comparative_experiment_id": str(comparative), "start_time": "2024-01-01T00:00:00.000000+00:00",
        "extra": {"e": [1]}, "error": True, "is_root": False,  # unknown run, not its own trace
        "created_at": "2024-02-02T09:00:00.000000+00:00", "modified_at": "2024-02-03T00:00:00.000000+00:00",
    }
    assert (await read(api, given)).json() == body


@pytest.mark.parametrize("score,shown,stored_score,is_bool", [
    (True, True, 1.0, True), (False, False, 0.0, True), (1, 1.0, 1.0, False), (-2.5, -2.5, -2.5, False),
    (1e300, 1e300, 1e300, False), (None, None, None, False),
])
async def test_scores(api, score, shown, stored_score, is_bool):
    body = await made(api, key="k", run_id=str(uuid.uuid4()), score=score)
    assert body["score"] == shown and type(body["score"]) is type(shown)
    row = await stored(api, body["id"])
    assert (row.score, row.score_is_bool) == (stored_score, is_bool)


@pytest.mark.parametrize("value,label", [
    ("good", "good"), (1.5, "1.5"), (2, "2"), (True, "true"), (False, "false"), ({"a": [1]}, None), (None, None),
    ("", ""),
])
async def test_values_and_labels(api, value, label):
    body = await made(api, key="k", session_id=str(uuid.uuid4()), value=value)
    assert body["value"] == value
    assert (await stored(api, body["id"])).value_label == label


async def test_correction_may_be_a_string(api):
    assert (await made(api, key="k", trace_id=str(uuid.uuid4()), correction="4"))["correction"] == "4"


async def test_targets_and_is_root(api):
    """is_root follows the stored run when there is one; before the run arrives, a run
    whose trace is itself counts as a root run."""
    session_id = await new_session(api)
    root, child = uuid.uuid4(), uuid.uuid4()
    await add_runs(api, [run(root, session_id), run(child, session_id, parent=root)])
    on_root = await made(api, key="k", run_id=str(root))
    assert (on_root["run_id"], on_root["trace_id"], on_root["is_root"]) == (str(root), str(root), True)
    on_child = await made(api, key="k", run_id=str(child))
    # the trace id comes from the stored run, not from a guess
    assert (on_child["run_id"], on_child["trace_id"], on_child["is_root"]) == (str(child), str(root), False)
    by_trace = await made(api, key="k", trace_id=str(root))
    assert (by_trace["run_id"], by_trace["trace_id"], by_trace["is_root"]) == (str(root), str(root), True)
    explicit = await made(api, key="k", run_id=str(child), trace_id=str(root))
    assert explicit["is_root"] is False
    session_level = await made(api, key="k", session_id=str(uuid.uuid4()))
    assert (session_level["run_id"], session_level["trace_id"], session_level["is_root"]) == (None, None, False)
    unknown, other = uuid.uuid4(), uuid.uuid4()
    not_own_trace = await made(api, key="k", run_id=str(unknown), trace_id=str(other))
    assert not_own_trace["is_root"] is False
    early = await made(api, key="k", run_id=str(unknown))
    assert early["is_root"] is True
    # the run arrives, as a child: now the stored run decides
    await add_runs(api, [run(other, session_id), run(unknown, session_id, parent=other)])
    assert (await read(api, early["id"])).json()["is_root"] is False
    listed = {f["id"]: f["is_root"] for f in (await listing(api)).json()}
    assert listed == {on_root["id"]: True, on_child["id"]: False, by_trace["id"]: True, explicit["id"]: False,
                      session_level["id"]: False, not_own_trace["id"]: False, early["id"]: False}


async def test_create_is_an_upsert_by_id(api):
    given = uuid.uuid4()
    first = await made(api, id=str(given), key="k", run_id=str(uuid.uuid4()), score=1)
    second = await made(api, id=str(given), key="k2", session_id=str(uuid.uuid4()), score=0, comment="again")
    assert second["id"] == first["id"] and (second["key"], second["score"], second["comment"]) == ("k2", 0.0, "again")
    assert (second["run_id"], second["trace_id"]) == (None, None)
    assert (await read(api, given)).json() == second
    assert await row_count(api) == 1


TARGET_LOC = (("body",), "value_error")


@pytest.mark.parametrize("body,expected", [
    ({"run_id": "R"}, {(("body", "key"), "missing")}),
    ({"key": "k"}, {TARGET_LOC}),
    ({"key": "k", "run_id": None, "trace_id": None, "session_id": None}, {TARGET_LOC}),
    ({}, {(("body", "key"), "missing"), TARGET_LOC}),
    ({"key": "", "run_id": "R"}, {(("body", "key"), "string_too_short")}),
    ({"key": "k" * 181, "run_id": "R"}, {(("body", "key"), "string_too_long")}),
    ({"key": 3, "run_id": "R"}, {(("body", "key"), "string_type")}),
    ({"key": "a\u0000", "run_id": "R"}, {(("body", "key"), "value_error")}),
    ({"key": "k", "run_id": "nope"}, {(("body", "run_id"), "uuid_parsing")}),
    ({"key": "k", "trace_id": 5}, {(("body", "trace_id"), "uuid_type")}),
    ({"key": "k", "session_id": "x", "id": "y"},
     {(("body", "session_id"), "uuid_parsing"), (("body", "id"), "uuid_parsing")}),
    ({"key": "k", "run_id": "R", "score": "high"}, {(("body", "score"), "value_error")}),
    ({"key": "k", "run_id": "R", "score": "0.5"}, {(("body", "score"), "value_error")}),
    ({"key": "k", "run_id": "R", "score": [1]}, {(("body", "score"), "value_error")}),
    ({"key": "k", "run_id": "R", "score": {"v": 1}}, {(("body", "score"), "value_error")}),
    ({"key": "k", "run_id": "R", "value": [1]}, {(("body", "value"), "value_error")}),
    ({"key": "k", "run_id": "R", "value": {"a": "\u0000"}}, {(("body", "value"), "value_error")}),
    ({"key": "k", "run_id": "R", "correction": 5}, {(("body", "correction"), "value_error")}),
    ({"key": "k", "run_id": "R", "comment": ["x"]}, {(("body", "comment"), "string_type")}),
    ({"key": "k", "run_id": "R", "comment": "a\u0000b"}, {(("body", "comment"), "value_error")}),
    ({"key": "k", "run_id": "R", "extra": []}, {(("body", "extra"), "dict_type")}),
    ({"key": "k", "run_id": "R", "error": "maybe"}, {(("body", "error"), "bool_parsing")}),
    ({"key": "k", "run_id": "R", "created_at": "later"}, {(("body", "created_at"), "datetime_from_date_parsing")}),
    ({"key": "k", "run_id": "R", "feedback_source": "api"}, {(("body", "feedback_source"), "model_type")}),
    ({"key": "k", "run_id": "R", "feedback_source": {}}, {(("body", "feedback_source", "type"), "missing")}),
    ({"key": "k", "run_id": "R", "feedback_source": {"type": "human"}},
     {(("body", "feedback_source", "type"), "enum")}),
    ({"key": "k", "run_id": "R", "feedback_source": {"type": "api", "metadata": 1}},
     {(("body", "feedback_source", "metadata"), "dict_type")}),
    ({"key": "k", "run_id": "R", "feedback_config": {"type": "stars"}},
     {(("body", "feedback_config", "type"), "enum")}),
    ({"key": "k", "run_id": "R", "feedback_config": {"min": 0}}, {(("body", "feedback_config", "type"), "missing")}),
    ({"key": "k", "run_id": "R", "feedback_config": {"type": "continuous", "min": 2, "max": 1}},
     {(("body", "feedback_config"), "value_error")}),
    ({"key": "k", "run_id": "R", "feedback_config": {"type": "continuous", "max": "inf"}},
     {(("body", "feedback_config", "max"), "finite_number")}),
    ({"key": "k", "run_id": "R", "feedback_config": {"type": "categorical", "categories": [{"label": "a"}]}},
     {(("body", "feedback_config", "categories", 0, "value"), "missing")}),
    ({"key": "", "score": "x", "feedback_source": {"type": "x"}},
     {(("body", "key"), "string_too_short"), (("body", "score"), "value_error"),
      (("body", "feedback_source", "type"), "enum"), TARGET_LOC}),
])
async def test_create_validation(api, body, expected):
    body = {k: str(uuid.uuid4()) if v == "R" else v for k, v in body.items()}
    response = await post(api, body)
    assert locs_types(response) == expected
    if TARGET_LOC in expected:
        [msg] = [p["msg"] for p in response.json()["detail"] if p["loc"] == ["body"]]
        assert all(name in msg for name in ("run_id", "trace_id", "session_id")), msg
    assert await row_count(api) == 0


async def test_create_body_not_json(api):
    response = await api.client.post("/feedback", content=b"{key", headers=api.headers())
    assert locs_types(response) == {(("body",), "json_invalid")}
    assert locs_types(await post(api, ["k"])) == {(("body",), "model_type")}
    assert await row_count(api) == 0


def nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


async def test_nesting_limit(api):
    """Bodies nest up to 200 levels: deeper ones could be neither stored nor echoed."""
    def body(levels: int) -> bytes:
        return ('{"key": "k", "session_id": "%s", "extra": %s}' % (uuid.uuid4(), nested(levels))).encode()

    response = await api.client.post("/feedback", content=body(200), headers=api.headers())
    assert locs_types(response) == {(("body",), "value_error")} and "200" in response.json()["detail"][0]["msg"]
    response = await api.client.post("/feedback", content=body(1000), headers=api.headers())
    assert locs_types(response) == {(("body",), "value_error")}
    response = await api.client.post("/feedback", content=body(2000), headers=api.headers())
    assert locs_types(response) == {(("body",), "json_invalid")}  # the parser's own limit
    assert await row_count(api) == 0
    ok = await api.client.post("/feedback", content=body(199), headers=api.headers())
    assert ok.status_code == 200 and (await read(api, ok.json()["id"])).json() == ok.json()
    response = await api.client.patch(f"/feedback/{ok.json()['id']}", content=('{"value": %s}' % nested(1000)).encode(),
                                      headers=api.headers())
    assert locs_types(response) == {(("body",), "value_error")}
    # a problem about a deep (but allowed) value echoes it back
    response = await api.client.patch(f"/feedback/{ok.json()['id']}",
                                      content=('{"comment": %s}' % nested(199)).encode(), headers=api.headers())
    assert locs_types(response) == {(("body", "comment"), "string_type")}


def test_feedback_create_for_multipart():
    """The multipart ingest validates `feedback.<id>` parts with the same model and locs."""
    run_id = uuid.uuid4()
    body = FeedbackCreate.model_validate({"key": "k", "trace_id": str(run_id), "score": True})
    record = body.record()
    assert record["trace_id"] == run_id and record["run_id"] is None and record["score"] is True
    assert record["feedback_source"] == API_SOURCE and record["error"] is False
    deep = {"key": "k", "session_id": str(run_id), "extra": {}}
    for _ in range(300):
        deep = {"a": deep}
    assert validated_feedback(deep, ["body", "feedback.abc"])[1][0]["loc"] == ["body", "feedback.abc"]
    found, problems = validated_feedback({"score": "x"}, ["body", "feedback.abc"])
    assert found is None
    assert {(tuple(p["loc"]), p["type"]) for p in problems} == {
        (("body", "feedback.abc", "key"), "missing"), (("body", "feedback.abc", "score"), "value_error"),
        (("body", "feedback.abc"), "value_error")}


# --- GET /feedback ------------------------------------------------------------------------

@pytest.fixture
async def fb_world(api) -> dict:
    """Sessions S1 and S2; runs r1 (root) and r2 (its child) in S1, r3 (root) in S2.

    | n | target               | key         | source    | score | comment | created |
    |---|----------------------|-------------|-----------|-------|---------|---------|
    | 1 | r1, session S1       | correctness | api       | 1     | "good"  | t1      |
    | 2 | r2 (no session_id)   | correctness | model     | 0     | ""      | t2      |
    | 3 | r3, session S2       | label       | model     | -     | -       | t3      |
    | 4 | session S1           | summary     | app       | 0.5   | "sum"   | t4      |
    | 5 | session S2           | summary     | auto_eval | -     | -       | t4      |
    | 6 | trace r1             | helpful     | api       | true  | -       | t0      |
    | 7 | unknown run, S1      | label       | (default) | -     | "c"     | t5      |
    | 8 | r3 (no session_id)   | correctness | model     | 0.25  | -       | t6      |
    """
    s1, s2 = await new_session(api, "S1"), await new_session(api, "S2")
    r1, r2, r3, unknown = (uuid.UUID(int=n) for n in (1, 2, 3, 99))
    await add_runs(api, [run(r1, s1), run(r2, s1, parent=r1), run(r3, s2)])
    rows = [
        (1, {"run_id": r1, "session_id": s1}, "correctness", "api", 1, "good", 1),
        (2, {"run_id": r2}, "correctness", "model", 0, "", 2),
        (3, {"run_id": r3, "session_id": s2}, "label", "model", None, None, 3),
        (4, {"session_id": s1}, "summary", "app", 0.5, "sum", 4),
        (5, {"session_id": s2}, "summary", "auto_eval", None, None, 4),
        (6, {"trace_id": r1}, "helpful", "api", True, None, 0),
        (7, {"run_id": unknown, "session_id": s1}, "label", None, None, "c", 5),
        (8, {"run_id": r3}, "correctness", "model", 0.25, None, 6),
    ]
    items = []
    for n, target, key, source, score, comment, minute in rows:
        body = {"id": str(uuid.UUID(int=100 + n)), "key": key, "score": score, "comment": comment,
                "created_at": (T0 + dt.timedelta(minutes=minute)).isoformat(),
                **{k: str(v) for k, v in target.items()}}
        if source is not None:
            body["feedback_source"] = {"type": source}
        await made(api, **body)
        items.append({"id": body["id"], "run": target.get("run_id") or target.get("trace_id"),
                      "session": target.get("session_id"), "key": key, "source": source or "api", "score": score,
                      "comment": comment, "created": minute})
    return {"items": items, "S1": s1, "S2": s2, "r1": r1, "r2": r2, "r3": r3, "unknown": unknown,
            "runs_of": {s1: {r1, r2}, s2: {r3}}}


def expected_ids(world: dict, params: list[tuple[str, str]]) -> list[str]:
    """The §7.6 listing, recomputed from the fixture table."""
    def values(name):
        return [v for k, v in params if k == name]

    def last(name):
        found = values(name)
        return found[-1] if found else None

    runs = {uuid.UUID(v) for v in values("run")}
    sessions = {uuid.UUID(v) for v in values("session")}
    of_sessions = set().union(*(world["runs_of"].get(s, set()) for s in sessions)) if sessions else set()
    out = []
    for item in world["items"]:
        if runs and item["run"] not in runs:
            continue
        if sessions and item["session"] not in sessions and item["run"] not in of_sessions:
            continue
        if values("key") and item["key"] not in values("key"):
            continue
        if values("source") and item["source"] not in [s.removeprefix("FeedbackSourceType.").lower()
                                                       for s in values("source")]:
            continue
        level = last("level")
        if level == "run" and item["run"] is None or level == "session" and item["run"] is not None:
            continue
        if last("has_comment") is not None and bool(item["comment"]) != (last("has_comment") == "true"):
            continue
        if last("has_score") is not None and (item["score"] is not None) != (last("has_score") == "true"):
            continue
        out.append(item)
    out.sort(key=lambda i: (i["created"], uuid.UUID(i["id"])))
    offset, limit = int(last("offset") or 0), int(last("limit") or 100)
    return [i["id"] for i in out[offset:offset + limit]]


LIST_CASES = [
    [],
    [("run", "r1")],
    [("run", "r1"), ("run", "r3")],
    [("run", "unknown")],
    [("run", "r2")],
    [("session", "S1")],
    [("session", "S2")],
    [("session", "S1"), ("session", "S2")],
    [("key", "correctness")],
    [("key", "label"), ("key", "summary")],
    [("source", "model")],
    [("source", "api")],
    [("source", "app"), ("source", "auto_eval")],
    [("source", "FeedbackSourceType.MODEL")],
    [("level", "run")],
    [("level", "session")],
    [("has_comment", "true")],
    [("has_comment", "false")],
    [("has_score", "true")],
    [("has_score", "false")],
    [("session", "S1"), ("level", "run"), ("has_score", "true")],
    [("key", "correctness"), ("source", "model"), ("has_comment", "false")],
    [("session", "S2"), ("key", "summary")],
    [("limit", "3")],
    [("offset", "3"), ("limit", "2")],
    [("offset", "7")],
    [("offset", "8")],
    [("has_score", "true"), ("offset", "1"), ("limit", "2")],
]


@pytest.mark.parametrize("params", LIST_CASES)
async def test_list_filters(api, fb_world, params):
    resolved = [(k, str(fb_world[v]) if v in fb_world else v) for k, v in params]
    response = await listing(api, resolved)
    assert response.status_code == 200, response.text
    assert [f["id"] for f in response.json()] == expected_ids(fb_world, resolved)


async def test_list_order_and_shapes(api, fb_world):
    ids = [f["id"] for f in (await listing(api)).json()]
    # created t0 first; t4 twice, ordered by id
    assert ids == [str(uuid.UUID(int=100 + n)) for n in (6, 1, 2, 3, 4, 5, 7, 8)]
    for item in (await listing(api)).json():
        assert item == (await read(api, item["id"])).json()


async def test_list_paging_covers_all(api, fb_world):
    seen = []
    for offset in range(0, 10, 3):
        seen += [f["id"] for f in (await listing(api, {"offset": offset, "limit": 3})).json()]
    assert seen == [f["id"] for f in (await listing(api)).json()] and len(seen) == 8


@pytest.mark.parametrize("params,expected", [
    ({"limit": 0}, {(("query", "limit"), "greater_than_equal")}),
    ({"limit": 101}, {(("query", "limit"), "less_than_equal")}),
    ({"offset": -1}, {(("query", "offset"), "greater_than_equal")}),
    ({"offset": 2**63}, {(("query", "offset"), "less_than_equal")}),
    ({"run": "x"}, {(("query", "run", 0), "uuid_parsing")}),
    ({"session": "x"}, {(("query", "session", 0), "uuid_parsing")}),
    ({"level": "trace"}, {(("query", "level"), "enum")}),
    ({"source": "human"}, {(("query", "source", 0), "enum")}),
    ({"has_comment": "maybe"}, {(("query", "has_comment"), "bool_parsing")}),
    ({"has_score": "2"}, {(("query", "has_score"), "bool_parsing")}),
    ({"key": "a\u0000"}, {(("query", "key", 0), "value_error")}),
    ({"limit": "x", "level": "x"}, {(("query", "limit"), "int_parsing"), (("query", "level"), "enum")}),
])
async def test_list_validation(api, params, expected):
    assert locs_types(await listing(api, params)) == expected


# --- GET /feedback/{id} -------------------------------------------------------------------

async def test_read_errors(api):
    missing = uuid.uuid4()
    response = await read(api, missing)
    assert response.status_code == 404 and response.json() == {"detail": f"Feedback {missing} not found"}
    assert locs_types(await read(api, "x")) == {(("path", "feedback_id"), "uuid_parsing")}


# --- PATCH /feedback/{id} -----------------------------------------------------------------

async def test_patch_null_clears_omitted_keeps(api):
    first = await made(api, key="k", run_id=str(uuid.uuid4()), score=0.5, value="a", comment="c",
                       correction={"x": 1}, feedback_config={"type": "freeform"},
                       created_at="2024-01-01T00:00:00Z")
    response = await patch(api, first["id"], {"comment": None})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after == {**first, "comment": None, "modified_at": after["modified_at"]}
    assert after["modified_at"] > first["modified_at"]
    assert (await read(api, first["id"])).json() == after

    after = (await patch(api, first["id"], {"score": True, "key": "ignored", "run_id": None})).json()
    assert after["score"] is True and after["key"] == "k" and after["run_id"] == first["run_id"]
    row = await stored(api, first["id"])
    assert (row.score, row.score_is_bool, row.value_label) == (1.0, True, "a")

    after = (await patch(api, first["id"], {"score": None, "value": 2,
                                            "feedback_config": {"type": "categorical",
                                                                "categories": [{"value": 1, "label": "yes"}]}})).json()
    assert after["score"] is None and after["value"] == 2 and after["correction"] == {"x": 1}
    assert after["feedback_config"] == {"type": "categorical", "categories": [{"value": 1.0, "label": "yes"}]}
    row = await stored(api, first["id"])
    assert (row.score, row.score_is_bool, row.value_label) == (None, False, "2")

    after = (await patch(api, first["id"], {"value": None, "correction": None, "feedback_config": None})).json()
    assert (after["value"], after["correction"], after["feedback_config"]) == (None, None, None)
    assert (await stored(api, first["id"])).value_label is None

    unchanged = (await patch(api, first["id"], {})).json()
    assert unchanged == {**after, "modified_at": unchanged["modified_at"]}
    assert unchanged["created_at"] == first["created_at"]


async def test_patch_is_seen_by_stats(api):
    session_id = await new_session(api)
    root = uuid.uuid4()
    await add_runs(api, [run(root, session_id)])
    fb = await made(api, key="label", run_id=str(root), value="bad", score=0)

    async def label_stats():
        found = (await api.client.get(f"/sessions/{session_id}", params={"include_stats": "true"},
                                      headers=api.headers())).json()
        return found["feedback_stats"]["label"]

    assert (await label_stats())["values"] == {"bad": 1}
    await patch(api, fb["id"], {"value": True, "score": 1, "comment": "now good"})
    stats = await label_stats()
    assert stats["values"] == {"true": 1} and stats["avg"] == 1.0 and stats["comments"] == ["now good"]


async def test_patch_errors(api):
    missing = uuid.uuid4()
    response = await patch(api, missing, {"score": 1})
    assert response.status_code == 404 and response.json() == {"detail": f"Feedback {missing} not found"}
    first = await made(api, key="k", session_id=str(uuid.uuid4()), score=1)
    assert locs_types(await patch(api, "x", {})) == {(("path", "feedback_id"), "uuid_parsing")}
    response = await patch(api, first["id"], {"score": "x", "comment": 5, "feedback_config": {"type": "nope"},
                                              "value": [1]})
    assert locs_types(response) == {(("body", "score"), "value_error"), (("body", "comment"), "string_type"),
                                    (("body", "feedback_config", "type"), "enum"), (("body", "value"), "value_error")}
    response = await api.client.patch(f"/feedback/{first['id']}", content=b"[", headers=api.headers())
    assert locs_types(response) == {(("body",), "json_invalid")}
    assert (await read(api, first["id"])).json() == first


# --- DELETE /feedback/{id} ----------------------------------------------------------------

async def test_delete(api):
    doomed = await made(api, key="k", run_id=str(uuid.uuid4()))
    kept = await made(api, key="k", run_id=str(uuid.uuid4()))
    response = await delete(api, doomed["id"])
    assert response.status_code == 200 and response.json() == {}
    assert (await read(api, doomed["id"])).status_code == 404
    again = await delete(api, doomed["id"])
    assert again.status_code == 404 and again.json() == {"detail": f"Feedback {doomed['id']} not found"}
    assert [f["id"] for f in (await listing(api)).json()] == [kept["id"]]
    assert locs_types(await delete(api, "x")) == {(("path", "feedback_id"), "uuid_parsing")}


# --- tenancy and keys ---------------------------------------------------------------------

async def test_other_workspace_is_invisible(api):
    _, other_key, other_read = await second_workspace(api.db_sessions)
    run_id = uuid.uuid4()
    theirs = (await post(api, {"key": "k", "run_id": str(run_id), "score": 1}, key=other_key)).json()
    for key in (None, api.read_key):
        response = await read(api, theirs["id"], key=key)
        assert response.status_code == 404 and response.json() == {"detail": f"Feedback {theirs['id']} not found"}
        assert (await listing(api, {"run": str(run_id)}, key=key)).json() == []
    assert (await patch(api, theirs["id"], {"score": 0})).status_code == 404
    assert (await delete(api, theirs["id"])).status_code == 404
    # the same id here is a different row: theirs is untouched
    mine = await made(api, id=theirs["id"], key="mine", session_id=str(uuid.uuid4()))
    assert mine["key"] == "mine"
    assert (await read(api, theirs["id"], key=other_read)).json() == theirs
    assert [f["id"] for f in (await listing(api, key=other_read)).json()] == [theirs["id"]]


async def test_read_key_cannot_write(api):
    first = await made(api, key="k", run_id=str(uuid.uuid4()), score=1)
    forbidden = {"detail": "API key is read-only"}
    for response in (
        await post(api, {"key": "k", "run_id": str(uuid.uuid4())}, key=api.read_key),
        await post(api, {"id": first["id"], "key": "k", "run_id": str(uuid.uuid4())}, key=api.read_key),
        await patch(api, first["id"], {"score": 0}, key=api.read_key),
        await delete(api, first["id"], key=api.read_key),
    ):
        assert response.status_code == 403 and response.json() == forbidden
    assert (await listing(api, key=api.read_key)).json() == [first]
    assert (await read(api, first["id"], key=api.read_key)).json() == first


async def test_needs_a_key(api):
    assert (await api.client.get("/feedback")).status_code == 401
    assert (await api.client.post("/feedback", json={"key": "k", "session_id": str(uuid.uuid4())})).status_code == 401
    assert await row_count(api) == 0
