"""Sessions over REST (spec §1, §2.3, §3.2, §7.4), through real HTTP on both databases."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from sqlalchemy import func, select

from evalql.db import writes
from evalql.db.models import Feedback, PendingRun, Run, RunAttachment, RunMetadata, TracerSession
from tests import oracle
from tests.support.app import second_workspace
from tests.support.rest import locs_types, new_dataset
from tests.support.statements import counting
from tests.support.whole_database import everywhere

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
UTC = dt.UTC
T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SESSION_KEYS = {"id", "name", "description", "tenant_id", "start_time", "end_time", "extra", "default_dataset_id",
                "reference_dataset_id", "trace_tier", "last_run_start_time_live"}
STATS_KEYS = {"run_count", "latency_p50", "latency_p99", "first_token_p50", "first_token_p99", "total_tokens",
              "prompt_tokens", "completion_tokens", "total_cost", "prompt_cost", "completion_cost",
              "last_run_start_time", "last_run_start_time_live", "feedback_stats", "session_feedback_stats",
              "run_facets", "error_rate", "streaming_rate", "test_run_number"}


async def create(api, body, params=None, key: str | None = None, prefix: str = "/api/v1"):
    return await api.client.post(f"{prefix}/sessions", json=body, params=params, headers=api.headers(key))


async def made(api, name: str, **body) -> dict:
    response = await create(api, {"name": name, **body})
    assert response.status_code == 200, response.text
    return response.json()


async def listing(api, params=None, key: str | None = None):
    return await api.client.get("/api/v1/sessions", params=params, headers=api.headers(key))


async def listed_names(api, params=None) -> list[str]:
    response = await listing(api, params)
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()]


async def read(api, session_id, params=None, key: str | None = None):
    return await api.client.get(f"/sessions/{session_id}", params=params, headers=api.headers(key))


async def patch(api, session_id, body, key: str | None = None):
    return await api.client.patch(f"/sessions/{session_id}", json=body, headers=api.headers(key))


async def session_count(api) -> int:
    async with api.db_sessions() as db:
        return await db.scalar(everywhere(select(func.count()).select_from(TracerSession)))


# --- POST /sessions -----------------------------------------------------------------------

async def test_create_minimal(api):
    before = dt.datetime.now(UTC)
    body = await made(api, "proj")
    assert set(body) == SESSION_KEYS
    assert body["name"] == "proj" and body["description"] is None and body["tenant_id"] == str(api.workspace_id)
    assert body["extra"] == {"metadata": {}} and body["end_time"] is None and body["trace_tier"] is None
    assert body["reference_dataset_id"] is None and body["default_dataset_id"] is None
    assert body["last_run_start_time_live"] is None
    assert TS.match(body["start_time"])
    assert before - dt.timedelta(seconds=1) <= dt.datetime.fromisoformat(body["start_time"]) <= dt.datetime.now(UTC)
    for prefix in ("", "/api/v1"):
        again = await api.client.get(f"{prefix}/sessions/{body['id']}/", headers=api.headers())
        assert again.status_code == 200 and again.json() == body


async def test_create_all_fields(api):
    ds, default = await new_dataset(api, "ref"), await new_dataset(api, "default")
    given = uuid.uuid4()
    body = await made(api, "exp", id=str(given).upper(), description="d", extra={"metadata": {"m": [1]}, "x": 2},
                      start_time="2024-01-02T03:04:05.5", end_time="2024-01-02T05:00:00+02:00",
                      reference_dataset_id=ds.upper(), default_dataset_id=default, trace_tier="longlived",
                      num_examples=3, num_repetitions=2, evaluator_keys=["acc"], tag_value_ids=[str(uuid.uuid4())],
                      unknown_field=1)
    assert body["id"] == str(given) and body["description"] == "d"
    assert body["extra"] == {"metadata": {"m": [1]}, "x": 2,
                             "__progress": {"num_examples": 3, "num_repetitions": 2, "evaluator_keys": ["acc"]}}
    assert body["start_time"] == "2024-01-02T03:04:05.500000+00:00"
    assert body["end_time"] == "2024-01-02T03:00:00.000000+00:00"
    assert (body["reference_dataset_id"], body["default_dataset_id"]) == (ds, default)
    assert body["trace_tier"] == "longlived"
    assert (await read(api, given)).json() == body


async def test_progress_without_extra(api):
    body = await made(api, "p", num_examples=0)
    assert body["extra"] == {"__progress": {"num_examples": 0}}


async def test_reference_dataset_must_be_live_and_own(api):
    missing = uuid.uuid4()
    response = await create(api, {"name": "a", "reference_dataset_id": str(missing)})
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {missing} not found"}
    deleted = await new_dataset(api, "gone")
    assert (await api.client.delete(f"/datasets/{deleted}", headers=api.headers())).status_code == 200
    response = await create(api, {"name": "a", "reference_dataset_id": deleted})
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {deleted} not found"}
    _, other_key, _ = await second_workspace(api.db_sessions)
    foreign = await new_dataset(api, "theirs", key=other_key)
    response = await create(api, {"name": "a", "reference_dataset_id": foreign})
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {foreign} not found"}
    assert await session_count(api) == 0


async def test_name_conflict(api):
    first = await made(api, "same", description="one")
    response = await create(api, {"name": "same", "description": "two"})
    assert response.status_code == 409 and response.json() == {"detail": "Session with this name already exists."}
    response = await create(api, {"name": "same"}, params={"upsert": "false"})
    assert response.status_code == 409
    assert (await read(api, first["id"])).json() == first
    assert await session_count(api) == 1
    # names are per workspace
    _, other_key, _ = await second_workspace(api.db_sessions)
    assert (await create(api, {"name": "same"}, key=other_key)).status_code == 200


async def test_id_conflict(api):
    first = await made(api, "a")
    response = await create(api, {"name": "b", "id": first["id"]})
    assert response.status_code == 409 and response.json() == {"detail": f"Session {first['id']} already exists"}
    assert await session_count(api) == 1


async def test_upsert(api):
    first = await made(api, "u", description="one", extra={"metadata": {"a": 1}}, start_time="2024-01-01T00:00:00")
    # nothing given: the stored session unchanged (the SDK sends nulls)
    response = await create(api, {"name": "u", "description": None, "extra": None, "id": str(uuid.uuid4())},
                            params={"upsert": "True"})
    assert response.status_code == 200 and response.json() == first
    # description replaced, extra kept
    again = (await create(api, {"name": "u", "description": "two"}, params={"upsert": "true"})).json()
    assert again == {**first, "description": "two"}
    # extra replaced as a whole, progress fields into extra.__progress
    again = (await create(api, {"name": "u", "extra": {"metadata": {"b": 2}}, "num_examples": 5},
                          params={"upsert": "1"})).json()
    assert again == {**first, "description": "two", "extra": {"metadata": {"b": 2}, "__progress": {"num_examples": 5}}}
    again = (await create(api, {"name": "u", "num_repetitions": 3}, params={"upsert": "true"})).json()
    assert again["extra"] == {"metadata": {"b": 2}, "__progress": {"num_repetitions": 3}}
    assert (await read(api, first["id"])).json() == again
    assert await session_count(api) == 1
    # upsert of a new name creates it
    fresh = (await create(api, {"name": "new"}, params={"upsert": "true"})).json()
    assert fresh["name"] == "new" and fresh["id"] != first["id"]


async def test_upsert_still_checks_reference_dataset(api):
    await made(api, "u")
    missing = uuid.uuid4()
    response = await create(api, {"name": "u", "reference_dataset_id": str(missing), "description": "x"},
                            params={"upsert": "true"})
    assert response.status_code == 404
    assert (await listing(api)).json()[0]["description"] is None


@pytest.mark.parametrize("body,expected", [
    ({}, {(("body", "name"), "missing")}),
    ({"name": ""}, {(("body", "name"), "string_too_short")}),
    ({"name": "x" * 256}, {(("body", "name"), "string_too_long")}),
    ({"name": 5}, {(("body", "name"), "string_type")}),
    ({"name": "a\u0000b"}, {(("body", "name"), "value_error")}),
    ({"name": "a", "id": "x"}, {(("body", "id"), "uuid_parsing")}),
    ({"name": "a", "extra": {"metadata": 3}}, {(("body", "extra", "metadata"), "dict_type")}),
    ({"name": "a", "extra": {"metadata": {"k": "\u0000"}}}, {(("body", "extra"), "value_error")}),
    ({"name": "a", "description": ["x"]}, {(("body", "description"), "string_type")}),
    ({"name": "a", "start_time": "soon"}, {(("body", "start_time"), "datetime_from_date_parsing")}),
    ({"name": "a", "end_time": "0001-01-01T00:00:00+05:00"}, {(("body", "end_time"), "value_error")}),
    ({"name": "a", "reference_dataset_id": "x"}, {(("body", "reference_dataset_id"), "uuid_parsing")}),
    ({"name": "a", "default_dataset_id": 1}, {(("body", "default_dataset_id"), "uuid_type")}),
    ({"name": "a", "trace_tier": "t" * 33}, {(("body", "trace_tier"), "string_too_long")}),
    ({"name": "a", "num_examples": -1}, {(("body", "num_examples"), "greater_than_equal")}),
    ({"name": "a", "num_repetitions": 0}, {(("body", "num_repetitions"), "greater_than_equal")}),
    ({"name": "a", "evaluator_keys": "acc"}, {(("body", "evaluator_keys"), "list_type")}),
    ({"name": "a", "tag_value_ids": ["x"]}, {(("body", "tag_value_ids", 0), "uuid_parsing")}),
    ({"name": "", "id": "x", "num_examples": "many"},
     {(("body", "name"), "string_too_short"), (("body", "id"), "uuid_parsing"),
      (("body", "num_examples"), "int_parsing")}),
])
async def test_create_validation(api, body, expected):
    assert locs_types(await create(api, body)) == expected
    assert await session_count(api) == 0


async def test_create_bad_json_and_query(api):
    response = await api.client.post("/sessions", content=b"{nope", headers=api.headers())
    assert locs_types(response) == {(("body",), "json_invalid")}
    assert locs_types(await create(api, [{"name": "a"}])) == {(("body",), "model_type")}
    # query and body problems together
    response = await create(api, {"name": ""}, params={"upsert": "maybe"})
    assert locs_types(response) == {(("query", "upsert"), "bool_parsing"), (("body", "name"), "string_too_short")}
    assert await session_count(api) == 0


async def test_create_nesting_limit(api):
    deep = '{"a":' * 1000 + "1" + "}" * 1000
    response = await api.client.post("/sessions", content=('{"name": "a", "extra": %s}' % deep).encode(),
                                      headers=api.headers())
    assert locs_types(response) == {(("body",), "value_error")}
    assert await session_count(api) == 0


# --- GET /sessions ------------------------------------------------------------------------

@pytest.fixture
async def catalogue(api) -> dict:
    """Six sessions, started one hour apart except two that share a start time:

    | name        | start   | reference | extra.metadata                    |
    |-------------|---------|-----------|-----------------------------------|
    | Alpha_1     | T0      | A         | {"model": "m1", "n": 1}           |
    | alpha%2     | T0 + 1h | A         | {"model": "m2", "flag": true}     |
    | beta        | T0 + 2h | B         | {"model": "m1", "tags": ["x","y"]}|
    | gamma       | T0 + 2h | -         | none (extra null)                 |
    | delta       | T0 + 3h | -         | {"n": 1.0}                        |
    | eps         | T0 + 4h | B         | {"flag": 1}                       |
    """
    a, b = await new_dataset(api, "A"), await new_dataset(api, "B")
    rows = [("Alpha_1", 0, a, {"model": "m1", "n": 1}), ("alpha%2", 1, a, {"model": "m2", "flag": True}),
            ("beta", 2, b, {"model": "m1", "tags": ["x", "y"]}), ("gamma", 2, None, None),
            ("delta", 3, None, {"n": 1.0}), ("eps", 4, b, {"flag": 1})]
    out = {"A": a, "B": b}
    for name, hours, ref, metadata in rows:
        body = {"name": name, "start_time": (T0 + dt.timedelta(hours=hours)).isoformat(), "reference_dataset_id": ref}
        if metadata is not None:
            body["extra"] = {"metadata": metadata}
        out[name] = (await made(api, **body))["id"]
    return out


def by_start_desc_then_id(catalogue: dict, names: list[str], starts: dict[str, int]) -> list[str]:
    return sorted(names, key=lambda n: (-starts[n], uuid.UUID(catalogue[n])))


STARTS = {"Alpha_1": 0, "alpha%2": 1, "beta": 2, "gamma": 2, "delta": 3, "eps": 4}


async def test_list_order_and_paging(api, catalogue):
    everything = by_start_desc_then_id(catalogue, list(STARTS), STARTS)
    assert everything[:2] == ["eps", "delta"] and set(everything[2:4]) == {"beta", "gamma"}
    assert await listed_names(api) == everything
    paged = []
    for offset in range(0, 6, 4):
        paged += await listed_names(api, {"offset": offset, "limit": 4})
    assert paged == everything
    assert await listed_names(api, {"offset": 6}) == []
    assert await listed_names(api, {"offset": 2**63 - 1}) == []
    assert await listed_names(api, {"limit": 1, "offset": 2}) == everything[2:3]


@pytest.mark.parametrize("params,names", [
    ({"name": "beta"}, ["beta"]),
    ({"name": "Beta"}, []),
    ({"name_contains": "ALPHA"}, ["alpha%2", "Alpha_1"]),
    ({"name_contains": "%"}, ["alpha%2"]),
    ({"name_contains": "_"}, ["Alpha_1"]),
    ({"reference_free": "true"}, ["delta", "gamma"]),
    ({"reference_free": "False"}, ["eps", "beta", "alpha%2", "Alpha_1"]),
    ({"metadata": json.dumps({"model": "m1"})}, ["beta", "Alpha_1"]),
    ({"metadata": json.dumps({"n": 1})}, ["delta", "Alpha_1"]),
    ({"metadata": json.dumps({"flag": True})}, ["alpha%2"]),
    ({"metadata": json.dumps({"flag": 1})}, ["eps"]),
    ({"metadata": json.dumps({"tags": ["y"]})}, ["beta"]),
    ({"metadata": json.dumps({"model": "m1", "n": 1})}, ["Alpha_1"]),
    ({"metadata": json.dumps({})}, ["eps", "delta", "beta|gamma", "beta|gamma", "alpha%2", "Alpha_1"]),
    ({"metadata": json.dumps({"model": "m1"}), "offset": 1, "limit": 1}, ["Alpha_1"]),
    ({"name_contains": "a", "reference_free": "false", "metadata": json.dumps({"model": "m2"})}, ["alpha%2"]),
])
async def test_list_filters(api, catalogue, params, names):
    found = await listed_names(api, params)
    assert len(found) == len(names)
    assert all(f in n.split("|") for f, n in zip(found, names, strict=True)), found


async def test_list_by_ids_and_reference_datasets(api, catalogue):
    c = catalogue
    params = [("id", c["beta"].upper()), ("id", c["gamma"]), ("id", str(uuid.uuid4()))]
    assert sorted(await listed_names(api, params)) == ["beta", "gamma"]
    assert await listed_names(api, [("reference_dataset", c["A"])]) == ["alpha%2", "Alpha_1"]
    both = await listed_names(api, [("reference_dataset", c["A"]), ("reference_dataset", c["B"])])
    assert both == ["eps", "beta", "alpha%2", "Alpha_1"]
    assert await listed_names(api, [("reference_dataset", str(uuid.uuid4()))]) == []
    assert await listed_names(api, [("reference_dataset", c["B"]), ("id", c["eps"]), ("id", c["Alpha_1"])]) == ["eps"]


@pytest.mark.parametrize("params,expected", [
    ({"limit": 0}, {(("query", "limit"), "greater_than_equal")}),
    ({"limit": 101}, {(("query", "limit"), "less_than_equal")}),
    ({"offset": -1}, {(("query", "offset"), "greater_than_equal")}),
    ({"offset": 2**64}, {(("query", "offset"), "less_than_equal")}),
    ({"limit": "x"}, {(("query", "limit"), "int_parsing")}),
    ({"include_stats": "maybe"}, {(("query", "include_stats"), "bool_parsing")}),
    ({"reference_free": "2"}, {(("query", "reference_free"), "bool_parsing")}),
    ({"metadata": "{nope"}, {(("query", "metadata"), "json_invalid")}),
    ({"metadata": "[1]"}, {(("query", "metadata"), "dict_type")}),
    ({"id": "x"}, {(("query", "id", 0), "uuid_parsing")}),
    ({"reference_dataset": "x"}, {(("query", "reference_dataset", 0), "uuid_parsing")}),
    ({"name": "a\u0000"}, {(("query", "name"), "value_error")}),
    ({"limit": 0, "offset": -1},
     {(("query", "limit"), "greater_than_equal"), (("query", "offset"), "greater_than_equal")}),
])
async def test_list_validation(api, params, expected):
    assert locs_types(await listing(api, params)) == expected


async def test_sdk_query_spellings(api, catalogue):
    """The SDK sends `limit=1&name=...&include_stats=False` to read a project by name."""
    response = await listing(api, {"limit": 1, "name": "gamma", "include_stats": "False"})
    assert [s["id"] for s in response.json()] == [catalogue["gamma"]]
    assert set(response.json()[0]) == SESSION_KEYS


# --- stats (§3.2) -------------------------------------------------------------------------

def rid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


@pytest.fixture
async def stats_world(api) -> oracle.Records:
    """Four sessions of dataset D, one without a dataset; runs and feedback:

    | session | start  | root runs                                                          |
    |---------|--------|--------------------------------------------------------------------|
    | S1      | T0+1h  | r1 ok 1s, llm child with usage, first token; r2 error 3s own usage; |
    |         |        | r3 pending; r7 ok 2s, cost given on the root                       |
    | S2      | T0+2h  | r4 ok 2.5s, tiny cost; r5 ok 0.5s streaming via new_token event    |
    | S3 (-)  | T0+3h  | r6 ok, a child run                                                  |
    | S4      | T0     | none                                                               |

    Feedback: scores (bool, ints, floats), labels, comments, errors, feedback on a child
    run (not counted), session-level feedback on S1 and S2, and one on an unknown run.
    """
    records = oracle.Records(workspace_id=api.workspace_id)
    async with api.db_sessions() as db:
        dataset = await writes.insert_dataset(db, api.workspace_id, name="D")
        sessions = [("S1", 1, dataset.id), ("S2", 2, dataset.id), ("S3", 3, None), ("S4", 0, dataset.id)]
        for i, (name, hours, ref) in enumerate(sessions, start=1):
            s = {"id": uuid.UUID(int=1000 + i), "name": name, "reference_dataset_id": ref,
                 "start_time": T0 + dt.timedelta(hours=hours), "extra": {"metadata": {"i": i}}}
            await writes.insert_session(db, api.workspace_id, **s)
            records.sessions.append(s)
        s1, s2, s3, _ = (s["id"] for s in records.sessions)
        day = T0 + dt.timedelta(days=1)

        def run(n, session, start_s, latency=None, **extra):
            start = day + dt.timedelta(seconds=start_s)
            return {"id": rid(n), "name": f"r{n}", "run_type": extra.pop("run_type", "chain"), "session_id": session,
                    "start_time": start, "end_time": None if latency is None else start + dt.timedelta(seconds=latency),
                    **extra}

        records.runs = [
            run(1, s1, 0, 1.0, first_token_time=day + dt.timedelta(seconds=0.25)),
            run(11, s1, 0.1, 0.5, run_type="llm", parent_run_id=rid(1), prompt_tokens=10, completion_tokens=5,
                total_tokens=15, prompt_cost="0.001", completion_cost="0.002", total_cost="0.003"),
            run(2, s1, 5, 3.0, error="boom", prompt_tokens=3, completion_tokens=4, total_tokens=7),
            run(3, s1, 50),
            run(7, s1, 20, 2.0, outputs={"usage_metadata": {"input_tokens": 100, "output_tokens": 1,
                                                             "input_cost": 0.5, "output_cost": 0.25}}),
            run(4, s2, 1, 2.5, total_tokens=1, total_cost="0.0000001"),
            run(5, s2, 2, 0.5, events=[{"name": "new_token", "time": (day + dt.timedelta(seconds=2.2)).isoformat()}]),
            run(6, s3, 3, 1.5),
            run(61, s3, 3.5, 0.5, parent_run_id=rid(6), prompt_tokens=1, completion_tokens=1, total_tokens=2),
        ]
        await writes.insert_runs(db, api.workspace_id, [dict(r) for r in records.runs])

        def fb(n, key, minutes, **fields):
            return {"id": uuid.UUID(int=5000 + n), "key": key, "created_at": day + dt.timedelta(minutes=minutes),
                    **fields}

        records.feedback = [
            fb(1, "correctness", 1, run_id=rid(1), score=1),
            fb(2, "correctness", 2, run_id=rid(2), score=0, comment="meh"),
            fb(3, "correctness", 3, run_id=rid(3), score=True),
            fb(4, "label", 4, run_id=rid(1), value="good", comment="first"),
            fb(5, "label", 4, run_id=rid(2), value="good", comment="tie"),
            fb(6, "label", 5, run_id=rid(7), value=1.5, error=True),
            fb(7, "label", 6, run_id=rid(7), value={"o": 1}, comment=""),
            fb(8, "child_only", 1, run_id=rid(11), score=1),
            fb(9, "correctness", 1, run_id=rid(4), score=0.25),
            fb(10, "correctness", 2, trace_id=rid(5), score=0.75),
            fb(11, "summary", 7, session_id=s1, score=0.5, comment="sum"),
            fb(12, "summary", 8, session_id=s1, score=False),
            fb(13, "summary", 9, session_id=s2, value=True),
            fb(14, "orphan", 9, run_id=rid(999), score=1, session_id=s1),
        ]
        await writes.insert_feedback(db, api.workspace_id, records.feedback)
        await db.commit()
    # The same names and data in another workspace must not leak into these numbers.
    other, _, _ = await second_workspace(api.db_sessions)
    async with api.db_sessions() as db:
        for s in records.sessions:
            await writes.insert_session(db, other, **{**s, "reference_dataset_id": None})
        await writes.insert_runs(db, other, [dict(r) for r in records.runs])
        await writes.insert_feedback(db, other, records.feedback)
        await db.commit()
    return records


def expected_session(records: oracle.Records, s: dict, with_stats: bool) -> dict:
    d = oracle.Derived(records)
    roots = [r for r, run in d.runs.items() if run["session_id"] == s["id"] and not run.get("parent_run_id")]
    fb_by_run: dict[uuid.UUID, list[dict]] = {}
    session_fb = []
    for f in records.feedback:
        target = f.get("run_id") or f.get("trace_id")
        if target is not None:
            fb_by_run.setdefault(target, []).append(f)
        elif f.get("session_id") == s["id"]:
            session_fb.append(f)
    st = oracle.run_set_stats(d, roots, fb_by_run)
    shape = {**oracle.session_json(s, records.workspace_id), "last_run_start_time_live": st["max_start_time"]}
    if not with_stats:
        return shape
    return {**shape, "run_count": st["count"], "latency_p50": st["latency_p50"], "latency_p99": st["latency_p99"],
            "first_token_p50": st["first_token_p50"], "first_token_p99": st["first_token_p99"],
            **{f: st[f] for f in oracle.TOKEN_FIELDS + oracle.COST_FIELDS},
            "last_run_start_time": st["max_start_time"], "feedback_stats": st["feedback_stats"],
            "session_feedback_stats": oracle.feedback_stats(session_fb), "run_facets": [],
            "error_rate": st["error_rate"], "streaming_rate": st["streaming_rate"],
            "test_run_number": oracle.test_run_number(records, s)}


async def test_stats_one_session(api, stats_world):
    for s in stats_world.sessions:
        for flag, with_stats in (("true", True), ("True", True), ("false", False), (None, False)):
            response = await read(api, s["id"], None if flag is None else {"include_stats": flag})
            assert response.status_code == 200, response.text
            got = response.json()
            assert set(got) == (SESSION_KEYS | STATS_KEYS if with_stats else SESSION_KEYS)
            assert oracle.compare(expected_session(stats_world, s, with_stats), got) == []


async def test_stats_listing(api, stats_world):
    ordered = sorted(stats_world.sessions, key=lambda s: (-s["start_time"].timestamp(), s["id"]))
    for with_stats in (True, False):
        response = await listing(api, {"include_stats": str(with_stats).lower()})
        assert response.status_code == 200, response.text
        expected = [expected_session(stats_world, s, with_stats) for s in ordered]
        assert oracle.compare(expected, response.json()) == []


async def test_stats_spot_values(api, stats_world):
    """A few numbers worked by hand, so that the oracle is checked too."""
    s1 = (await read(api, uuid.UUID(int=1001), {"include_stats": "true"})).json()
    assert s1["run_count"] == 4 and s1["error_rate"] == 0.25 and s1["streaming_rate"] == 0.25
    assert s1["latency_p50"] == pytest.approx(2.0) and s1["latency_p99"] == pytest.approx(2.98)
    assert (s1["prompt_tokens"], s1["completion_tokens"], s1["total_tokens"]) == (113, 10, 123)
    assert [s1[c] for c in ("prompt_cost", "completion_cost", "total_cost")] == ["0.501", "0.252", "0.753"]
    assert s1["test_run_number"] == 2
    correctness = s1["feedback_stats"]["correctness"]
    assert (correctness["n"], correctness["avg"], correctness["min"], correctness["max"]) == (3, 2 / 3, 0.0, 1.0)
    assert correctness["comments"] == ["meh"] and "child_only" not in s1["feedback_stats"]
    assert s1["feedback_stats"]["label"]["values"] == {"good": 2, "1.5": 1}
    assert s1["feedback_stats"]["label"]["errors"] == 1 and s1["feedback_stats"]["label"]["n"] == 0
    assert s1["session_feedback_stats"]["summary"]["avg"] == 0.25
    s3 = (await read(api, uuid.UUID(int=1003), {"include_stats": "true"})).json()
    assert s3["test_run_number"] is None and s3["total_tokens"] == 2 and s3["total_cost"] is None
    s4 = (await read(api, uuid.UUID(int=1004), {"include_stats": "true"})).json()
    assert (s4["run_count"], s4["error_rate"], s4["latency_p50"], s4["test_run_number"]) == (0, None, None, 1)
    assert s4["feedback_stats"] == {} and s4["last_run_start_time_live"] is None


async def test_stats_agree_with_graphql(api, stats_world):
    query = """query($id: UUID!) { session(id: $id) { stats { runCount latencyP50 totalTokens totalCost
               errorRate streamingRate lastRunStartTime testRunNumber } } }"""
    for s in stats_world.sessions:
        rest = (await read(api, s["id"], {"include_stats": "true"})).json()
        gql = (await api.graphql(query, {"id": str(s["id"])})).json()["data"]["session"]["stats"]
        assert gql["runCount"] == rest["run_count"] and gql["totalTokens"] == rest["total_tokens"]
        assert gql["latencyP50"] == rest["latency_p50"] and gql["errorRate"] == rest["error_rate"]
        assert gql["streamingRate"] == rest["streaming_rate"] and gql["testRunNumber"] == rest["test_run_number"]
        assert (gql["totalCost"] is None) == (rest["total_cost"] is None)
        if gql["lastRunStartTime"] is not None:
            assert dt.datetime.fromisoformat(gql["lastRunStartTime"]) == dt.datetime.fromisoformat(
                rest["last_run_start_time"])


async def test_listing_statement_count_does_not_grow(api):
    """GET /sessions?include_stats=true reads each kind of thing once for the whole page."""
    async with api.db_sessions() as db:
        dataset = await writes.insert_dataset(db, api.workspace_id, name="D")
        await db.commit()
    counts = {}
    for label, n in (("small", 2), ("big", 12)):
        async with api.db_sessions() as db:
            for i in range(n):
                s = await writes.insert_session(db, api.workspace_id, name=f"{label}-{i}",
                                                reference_dataset_id=dataset.id)
                runs = [{"id": uuid.uuid4(), "name": "r", "run_type": "chain", "session_id": s.id,
                         "start_time": T0 + dt.timedelta(seconds=j), "end_time": T0 + dt.timedelta(seconds=j + 1),
                         "total_tokens": j} for j in range(3)]
                await writes.insert_runs(db, api.workspace_id, runs)
                await writes.insert_feedback(db, api.workspace_id, [
                    {"run_id": r["id"], "key": "k", "score": 1, "comment": "c", "value": "v"} for r in runs
                ] + [{"session_id": s.id, "key": "summary", "score": 0.5}])
            await db.commit()
        for include_stats in ("true", "false"):
            with counting(api) as statements:
                response = await listing(api, {"include_stats": include_stats, "name_contains": label})
            assert response.status_code == 200 and len(response.json()) == n
            if include_stats == "true":
                assert all(s["run_count"] == 3 and s["feedback_stats"]["k"]["n"] == 3 for s in response.json())
            counts[(label, include_stats)] = len(statements)
    assert counts[("small", "true")] == counts[("big", "true")] > counts[("small", "false")] > 0
    assert counts[("small", "false")] == counts[("big", "false")]


# --- GET /sessions/{id} -------------------------------------------------------------------

async def test_read_errors(api):
    missing = uuid.uuid4()
    response = await read(api, missing)
    assert response.status_code == 404 and response.json() == {"detail": f"Session {missing} not found"}
    assert locs_types(await read(api, "nope")) == {(("path", "session_id"), "uuid_parsing")}
    body = await made(api, "a")
    assert locs_types(await read(api, body["id"], {"include_stats": "x"})) == {
        (("query", "include_stats"), "bool_parsing")}
    assert (await read(api, body["id"].upper(), key=api.read_key)).json() == body


# --- PATCH /sessions/{id} -----------------------------------------------------------------

async def test_patch(api):
    ds = await new_dataset(api)
    first = await made(api, "p", description="d", extra={"metadata": {"a": 1}, "keep": True}, trace_tier="shortlived")
    # all nulls: unchanged (the SDK's update_project sends every key)
    response = await patch(api, first["id"], {"name": None, "description": None, "extra": None, "end_time": None,
                                              "default_dataset_id": None, "trace_tier": None})
    assert response.status_code == 200 and response.json() == first
    response = await patch(api, first["id"], {"name": "p2", "description": "d2", "end_time": "2024-03-04T05:06:07",
                                              "extra": {"metadata": {"b": 2}}, "default_dataset_id": ds,
                                              "trace_tier": "longlived", "reference_dataset_id": ds})
    assert response.status_code == 200, response.text
    expected = {**first, "name": "p2", "description": "d2", "end_time": "2024-03-04T05:06:07.000000+00:00",
                "extra": {"metadata": {"b": 2}}, "default_dataset_id": ds, "trace_tier": "longlived"}
    assert response.json() == expected  # reference_dataset_id is not patchable
    assert (await read(api, first["id"])).json() == expected
    assert (await patch(api, first["id"], {"name": "p2"})).json() == expected  # its own name


async def test_patch_rename_conflict(api):
    a, b = await made(api, "a"), await made(api, "b")
    response = await patch(api, b["id"], {"name": "a", "description": "x"})
    assert response.status_code == 409 and response.json() == {"detail": "Session with this name already exists."}
    assert (await read(api, b["id"])).json() == b and (await read(api, a["id"])).json() == a


async def test_patch_errors(api):
    missing = uuid.uuid4()
    response = await patch(api, missing, {"description": "x"})
    assert response.status_code == 404 and response.json() == {"detail": f"Session {missing} not found"}
    body = await made(api, "a")
    assert locs_types(await patch(api, "x", {})) == {(("path", "session_id"), "uuid_parsing")}
    assert locs_types(await patch(api, body["id"], {"name": "", "extra": [], "end_time": "x"})) == {
        (("body", "name"), "string_too_short"), (("body", "extra"), "model_type"),
        (("body", "end_time"), "datetime_from_date_parsing")}
    response = await api.client.patch(f"/sessions/{body['id']}", content=b"nope", headers=api.headers())
    assert locs_types(response) == {(("body",), "json_invalid")}
    assert (await read(api, body["id"])).json() == body


# --- DELETE /sessions/{id} ----------------------------------------------------------------

async def table_counts(api) -> dict[str, int]:
    async with api.db_sessions() as db:
        return {model.__tablename__: await db.scalar(everywhere(select(func.count()).select_from(model)))
                for model in (TracerSession, Run, RunMetadata, Feedback, PendingRun, RunAttachment)}


async def populate(api, workspace_id, name: str) -> uuid.UUID:
    """One session: a root run and its child, both with metadata, feedback on each, a
    session-level feedback, a pending record and an attachment per run."""
    async with api.db_sessions() as db:
        s = await writes.insert_session(db, workspace_id, name=name)
        root, child = uuid.uuid4(), uuid.uuid4()
        await writes.insert_runs(db, workspace_id, [
            {"id": root, "name": "root", "run_type": "chain", "session_id": s.id, "start_time": T0,
             "extra": {"metadata": {"a": 1, "b": 2}}},
            {"id": child, "name": "child", "run_type": "llm", "session_id": s.id, "start_time": T0,
             "parent_run_id": root, "extra": {"metadata": {"c": 3}}},
        ])
        await writes.insert_feedback(db, workspace_id, [
            {"run_id": root, "key": "k", "score": 1}, {"run_id": child, "key": "k", "score": 0},
            {"session_id": s.id, "key": "summary", "score": 1},
            {"run_id": uuid.uuid4(), "session_id": s.id, "key": "early"},  # its run not yet ingested
        ])
        for run_id in (root, child):
            db.add(PendingRun(workspace_id=workspace_id, run_id=run_id, kind="patch", waits_for=run_id, record={}))
            db.add(RunAttachment(workspace_id=workspace_id, run_id=run_id, name="f", content_type="text/plain",
                                 size=1, data=b"x"))
        await db.commit()
    return s.id


async def test_delete_cascades(api):
    other, other_key, _ = await second_workspace(api.db_sessions)
    doomed = await populate(api, api.workspace_id, "doomed")
    kept = await populate(api, api.workspace_id, "kept")
    foreign = await populate(api, other, "doomed")
    one = {"sessions": 1, "runs": 2, "run_metadata": 3, "feedback": 4, "pending_runs": 2, "run_attachments": 2}
    assert await table_counts(api) == {k: 3 * v for k, v in one.items()}
    response = await api.client.delete(f"/api/v1/sessions/{doomed}", headers=api.headers())
    assert response.status_code == 200 and response.json() == {}
    assert await table_counts(api) == {k: 2 * v for k, v in one.items()}
    assert (await read(api, doomed)).status_code == 404
    again = await api.client.delete(f"/sessions/{doomed}", headers=api.headers())
    assert again.status_code == 404 and again.json() == {"detail": f"Session {doomed} not found"}
    assert (await read(api, kept)).status_code == 200
    assert (await read(api, foreign, key=other_key)).status_code == 200
    # the name is free again
    assert (await create(api, {"name": "doomed"})).status_code == 200


async def test_delete_errors(api):
    assert locs_types(await api.client.delete("/sessions/x", headers=api.headers())) == {
        (("path", "session_id"), "uuid_parsing")}
    missing = uuid.uuid4()
    response = await api.client.delete(f"/sessions/{missing}", headers=api.headers())
    assert response.status_code == 404 and response.json() == {"detail": f"Session {missing} not found"}


# --- tenancy and keys ---------------------------------------------------------------------

async def test_other_workspace_is_invisible(api):
    _, other_key, other_read = await second_workspace(api.db_sessions)
    theirs = (await create(api, {"name": "theirs"}, key=other_key)).json()
    mine = await made(api, "mine")
    for key in (None, api.read_key):
        assert (await read(api, theirs["id"], key=key)).status_code == 404
        assert [s["id"] for s in (await listing(api, key=key)).json()] == [mine["id"]]
        assert [s["id"] for s in (await listing(api, [("id", theirs["id"])], key=key)).json()] == []
    response = await patch(api, theirs["id"], {"description": "x"})
    assert response.status_code == 404 and response.json() == {"detail": f"Session {theirs['id']} not found"}
    assert (await api.client.delete(f"/sessions/{theirs['id']}", headers=api.headers())).status_code == 404
    assert (await read(api, theirs["id"], key=other_read)).json() == theirs
    # an id taken in another workspace is free here
    assert (await create(api, {"name": "copy", "id": theirs["id"]})).status_code == 200


async def test_read_key_cannot_write(api):
    body = await made(api, "a")
    forbidden = {"detail": "API key is read-only"}
    for response in (
        await create(api, {"name": "b"}, key=api.read_key),
        await create(api, {"name": "a"}, params={"upsert": "true"}, key=api.read_key),
        await patch(api, body["id"], {"description": "x"}, key=api.read_key),
        await api.client.delete(f"/sessions/{body['id']}", headers=api.headers(api.read_key)),
    ):
        assert response.status_code == 403 and response.json() == forbidden
    assert (await listing(api, key=api.read_key)).json() == [body]


async def test_needs_a_key(api):
    assert (await api.client.get("/sessions")).status_code == 401
    assert (await api.client.post("/sessions", json={"name": "a"})).status_code == 401
    assert await session_count(api) == 0
