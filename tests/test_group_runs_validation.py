"""POST /datasets/{id}/group/runs: request validation and error order (spec §1.1, §1.4,
§5.1, §5.2, §9 item 2), through real HTTP."""

from __future__ import annotations

import uuid

import pytest

from tests.support.whole_database import everywhere
from tests.worlds import worked_example


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        return await worked_example.load(db, api.workspace_id)


def sid(world, name: str) -> str:
    return str(world.sessions[name])


def valid_body(world, **extra) -> dict:
    return {"session_ids": [sid(world, "A"), sid(world, "B")], "group_by": "example_metadata",
            "metadata_key": "category", **extra}


def detail(response) -> list[dict]:
    assert response.status_code == 422, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body["detail"], list) and body["detail"], body
    for item in body["detail"]:
        assert item["loc"][0] in ("path", "query", "body"), item
        assert isinstance(item["msg"], str) and item["msg"], item
        assert isinstance(item["type"], str) and item["type"], item
    return body["detail"]


def only_problem(response) -> dict:
    problems = detail(response)
    assert len(problems) == 1, problems
    return problems[0]


# --- each rule violated alone -------------------------------------------------------

@pytest.mark.parametrize("field", ["session_ids", "group_by", "metadata_key"])
async def test_missing_required_field(api, world, field):
    body = valid_body(world)
    del body[field]
    p = only_problem(await api.group_runs(world.dataset_id, body))
    assert (p["loc"], p["type"]) == (["body", field], "missing")


ELEVEN = [str(uuid.uuid4()) for _ in range(11)]

SINGLE_VIOLATIONS = [
    # (id, patch, loc, type)
    ("session_ids-empty", {"session_ids": []}, ["body", "session_ids"], "too_short"),
    ("session_ids-11", {"session_ids": ELEVEN}, ["body", "session_ids"], "too_long"),
    ("session_ids-not-list", {"session_ids": "abc"}, ["body", "session_ids"], "list_type"),
    ("group_by-foo", {"group_by": "foo"}, ["body", "group_by"], "enum"),
    ("group_by-upper", {"group_by": "EXAMPLE_METADATA"}, ["body", "group_by"], "enum"),
    ("metadata_key-empty", {"metadata_key": ""}, ["body", "metadata_key"], "string_too_short"),
    ("metadata_key-1025", {"metadata_key": "k" * 1025}, ["body", "metadata_key"], "string_too_long"),
    ("offset--1", {"offset": -1}, ["body", "offset"], "greater_than_equal"),
    ("limit-0", {"limit": 0}, ["body", "limit"], "greater_than_equal"),
    ("limit-21", {"limit": 21}, ["body", "limit"], "less_than_equal"),
    ("per_group_limit-0", {"per_group_limit": 0}, ["body", "per_group_limit"], "greater_than_equal"),
    ("per_group_limit-11", {"per_group_limit": 11}, ["body", "per_group_limit"], "less_than_equal"),
    ("limit-ten", {"limit": "ten"}, ["body", "limit"], "int_parsing"),
    ("limit-fraction", {"limit": 2.5}, ["body", "limit"], "int_from_float"),
    ("preview-maybe", {"preview": "maybe"}, ["body", "preview"], "bool_parsing"),
    ("filters-list", {"filters": []}, ["body", "filters"], "dict_type"),
]


@pytest.mark.parametrize("patch,loc,type_", [v[1:] for v in SINGLE_VIOLATIONS],
                         ids=[v[0] for v in SINGLE_VIOLATIONS])
async def test_single_violation(api, world, patch, loc, type_):
    p = only_problem(await api.group_runs(world.dataset_id, valid_body(world, **patch)))
    assert (p["loc"], p["type"]) == (loc, type_), p


async def test_range_message_names_bound(api, world):
    p = only_problem(await api.group_runs(world.dataset_id, valid_body(world, limit=50)))
    assert p["msg"] == "Input should be less than or equal to 20"
    assert p.get("input", 50) == 50


async def test_bad_uuid_in_session_ids_has_index(api, world):
    body = valid_body(world, session_ids=[sid(world, "A"), "not-a-uuid", sid(world, "B")])
    p = only_problem(await api.group_runs(world.dataset_id, body))
    assert (p["loc"], p["type"]) == (["body", "session_ids", 1], "uuid_parsing")


@pytest.mark.parametrize("field", ["session_ids", "group_by", "metadata_key", "offset", "limit",
                                   "per_group_limit", "preview"])
async def test_null_rejected(api, world, field):
    """§5.1: null is rejected for every field except filters."""
    p = only_problem(await api.group_runs(world.dataset_id, valid_body(world, **{field: None})))
    assert p["loc"] == ["body", field], p


@pytest.mark.parametrize("field,value", [("limit", True), ("per_group_limit", True), ("offset", False)])
async def test_boolean_for_integer_rejected(api, world, field, value):
    """§5.1: `"5"` is accepted where an integer is expected, while `"ten"` or `true` is rejected."""
    response = await api.group_runs(world.dataset_id, valid_body(world, **{field: value}))
    p = only_problem(response)
    assert p["loc"] == ["body", field], p


async def test_numeric_strings_accepted(api, world):
    response = await api.group_runs(world.dataset_id, valid_body(world, limit="1", offset="1", per_group_limit="5"))
    assert response.status_code == 200, response.text
    assert [g["group_key"] for g in response.json()["groups"]] == ["math"]
    response = await api.group_runs(world.dataset_id, valid_body(world, limit="5"))
    assert [g["group_key"] for g in response.json()["groups"]] == ["geo", "math"]


async def test_boundaries_accepted(api, world):
    for patch in ({"limit": 1}, {"limit": 20}, {"per_group_limit": 1}, {"per_group_limit": 10}, {"offset": 0},
                  {"metadata_key": "k" * 1024}, {"session_ids": [sid(world, "A")]}):
        response = await api.group_runs(world.dataset_id, valid_body(world, **patch))
        assert response.status_code == 200, (patch, response.text)


# --- filters -------------------------------------------------------------------------

async def test_empty_filters_accepted(api, world):
    plain = await api.group_runs(world.dataset_id, valid_body(world))
    assert plain.status_code == 200
    for filters in (None, {}, {sid(world, "A"): []}, {sid(world, "A"): [], sid(world, "B"): []}):
        response = await api.group_runs(world.dataset_id, valid_body(world, filters=filters))
        assert response.status_code == 200, (filters, response.text)
        assert response.json() == plain.json(), filters


async def test_filters_key_not_in_session_ids(api, world):
    stranger = str(uuid.uuid4())
    body = valid_body(world, session_ids=[sid(world, "A")], filters={stranger: []})
    p = only_problem(await api.group_runs(world.dataset_id, body))
    assert p == {**p, "loc": ["body", "filters", stranger], "type": "value_error",
                 "msg": f"Session {stranger} is not in session_ids"}
    # a session that exists but is not requested is still "not in session_ids"
    body = valid_body(world, session_ids=[sid(world, "A")], filters={sid(world, "B"): []})
    p = only_problem(await api.group_runs(world.dataset_id, body))
    assert (p["loc"], p["type"], p["msg"]) == (
        ["body", "filters", sid(world, "B")], "value_error", f"Session {sid(world, 'B')} is not in session_ids")


async def test_filters_key_not_a_uuid(api, world):
    p = only_problem(await api.group_runs(world.dataset_id, valid_body(world, filters={"nope": []})))
    assert p["loc"][:3] == ["body", "filters", "nope"] and p["type"] == "uuid_parsing", p


async def test_filters_value_not_a_list(api, world):
    p = only_problem(await api.group_runs(world.dataset_id, valid_body(world, filters={sid(world, "A"): "x"})))
    assert (p["loc"], p["type"]) == (["body", "filters", sid(world, "A")], "list_type"), p


async def test_filters_keys_compare_as_uuids(api, world):
    upper = sid(world, "A").upper()
    response = await api.group_runs(world.dataset_id, valid_body(world, filters={upper: []}))
    assert response.status_code == 200, response.text
    # and the other way round: upper-case session_ids, lower-case filter key
    body = valid_body(world, session_ids=[sid(world, "A").upper(), sid(world, "B")],
                      filters={sid(world, "A"): []})
    response = await api.group_runs(world.dataset_id, body)
    assert response.status_code == 200, response.text
    # output ids are lowercase whatever the input case (§1.5)
    ids = [s["id"] for g in response.json()["groups"] for s in g["sessions"]]
    assert ids and all(i == i.lower() for i in ids)
    assert ids[0] == sid(world, "A")


async def test_non_empty_filter_list_applied(api, world):
    """A valid filter list filters the session's candidate runs (the oracle tests check the
    numbers); here: it is accepted and changes the answer."""
    body = valid_body(world, filters={sid(world, "A"): ['eq(status, "error")']})
    response = await api.group_runs(world.dataset_id, body)
    assert response.status_code == 200, response.text
    plain = await api.group_runs(world.dataset_id, valid_body(world))
    assert response.json() != plain.json()


@pytest.mark.parametrize("text,words", [
    ('eq(name, "unterminated)', "unterminated string at offset 9"),
    ("eq(latncy, 1)", "unknown field 'latncy' at offset 3"),
    ("eq(latency)", "eq() takes 2 arguments, got 1 at offset 0"),
    ("and(", "unexpected end of the filter at offset 4"),
    ('gt(latency, "5 parsecs")', "latency takes seconds or a duration"),
    ('like(name, "%x%")', "unknown function 'like' at offset 0"),
])
async def test_unparseable_filter_is_422_on_filters(api, world, text, words):
    """§4.7: value_error, loc pointing at the string, msg naming the problem and the offset."""
    body = valid_body(world, filters={sid(world, "A"): ['eq(status, "success")', text]})
    problems = detail(await api.group_runs(world.dataset_id, body))
    [p] = problems
    assert (p["loc"], p["type"]) == (["body", "filters", sid(world, "A"), 1], "value_error"), p
    assert p["msg"].startswith("Invalid filter: ") and words in p["msg"], p


# --- body and path -------------------------------------------------------------------

async def test_body_not_json(api, world):
    response = await api.client.post(f"/api/v1/datasets/{world.dataset_id}/group/runs", content=b"{not json",
                                     headers={**api.headers(), "Content-Type": "application/json"})
    p = only_problem(response)
    assert (p["loc"][0], p["type"]) == ("body", "json_invalid"), p


async def test_empty_body(api, world):
    response = await api.client.post(f"/api/v1/datasets/{world.dataset_id}/group/runs", content=b"",
                                     headers=api.headers())
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("raw", [[], [1, 2], "string", 123, 1.5, True, None, {"session_ids": {"a": 1}},
                                 {"session_ids": [None]}, {"session_ids": [[]]}, {"metadata_key": {"x": 1}},
                                 {"group_by": ["run_metadata"]}, {"filters": {"x": None}},
                                 {"filters": "s"}, {"limit": [1]}, {"limit": {"a": 1}}, {"limit": 1e308},
                                 {"limit": -10**30}, {"offset": 10**30}],
                         ids=lambda v: repr(v)[:40])
async def test_garbage_bodies_give_422_never_500(api, world, raw):
    body = raw
    if isinstance(raw, dict):
        body = {**valid_body(world), **raw}
    response = await api.group_runs(world.dataset_id, body)
    assert response.status_code == 422, (raw, response.status_code, response.text)
    detail(response)


async def test_huge_offset_is_not_500(api, world):
    response = await api.group_runs(world.dataset_id, valid_body(world, offset=2**62))
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json() == {"groups": []}


async def test_body_json_list(api, world):
    p = only_problem(await api.group_runs(world.dataset_id, [valid_body(world)]))
    assert p["loc"] == ["body"], p


async def test_path_dataset_id_not_uuid(api, world):
    p = only_problem(await api.group_runs("nope", valid_body(world)))
    assert (p["loc"], p["type"]) == (["path", "dataset_id"], "uuid_parsing")


async def test_several_violations_all_reported(api, world):
    body = {"session_ids": [sid(world, "A"), "bad"], "group_by": "foo", "metadata_key": "",
            "offset": -1, "limit": 21, "per_group_limit": 0, "preview": "maybe"}
    problems = detail(await api.group_runs("nope", body))
    found = {(tuple(p["loc"]), p["type"]) for p in problems}
    assert found == {
        (("path", "dataset_id"), "uuid_parsing"),
        (("body", "session_ids", 1), "uuid_parsing"),
        (("body", "group_by"), "enum"),
        (("body", "metadata_key"), "string_too_short"),
        (("body", "offset"), "greater_than_equal"),
        (("body", "limit"), "less_than_equal"),
        (("body", "per_group_limit"), "greater_than_equal"),
        (("body", "preview"), "bool_parsing"),
    }, problems


async def test_filter_problem_reported_with_other_problems(api, world):
    stranger = str(uuid.uuid4())
    body = valid_body(world, session_ids=[sid(world, "A")], limit=0, filters={stranger: []})
    found = {(tuple(p["loc"]), p["type"]) for p in detail(await api.group_runs(world.dataset_id, body))}
    assert found == {(("body", "limit"), "greater_than_equal"), (("body", "filters", stranger), "value_error")}


async def test_missing_everything(api, world):
    found = {(tuple(p["loc"]), p["type"]) for p in detail(await api.group_runs(world.dataset_id, {}))}
    assert found == {(("body", f), "missing") for f in ("session_ids", "group_by", "metadata_key")}


async def test_unknown_body_fields_ignored(api, world):
    response = await api.group_runs(world.dataset_id, valid_body(world, unknown_field=[1, 2], extra={"a": 1}))
    assert response.status_code == 200, response.text


# --- error order ---------------------------------------------------------------------

async def test_auth_before_validation(api, world):
    response = await api.client.post("/api/v1/datasets/nope/group/runs", json={})
    assert response.status_code == 401, response.text
    response = await api.client.post("/api/v1/datasets/nope/group/runs", json={}, headers={"X-API-Key": "wrong"})
    assert response.status_code == 401
    response = await api.client.post("/api/v1/datasets/nope/group/runs", content=b"{garbage",
                                     headers={"X-API-Key": api.key, "X-Tenant-Id": str(uuid.uuid4())})
    assert response.status_code == 403, response.text


async def test_validation_before_not_found(api, world):
    unknown = uuid.uuid4()
    response = await api.group_runs(unknown, valid_body(world, limit=0))
    assert response.status_code == 422, response.text
    response = await api.group_runs(world.dataset_id, valid_body(world, session_ids=[str(uuid.uuid4())], limit=0))
    assert response.status_code == 422, response.text


async def test_unknown_dataset_404(api, world):
    unknown = uuid.uuid4()
    response = await api.group_runs(unknown, valid_body(world))
    assert response.status_code == 404
    assert response.json() == {"detail": f"Dataset {unknown} not found"}
    # upper-case path id: found, and the message uses the canonical form
    response = await api.group_runs(str(unknown).upper(), valid_body(world))
    assert response.json() == {"detail": f"Dataset {unknown} not found"}
    response = await api.group_runs(str(world.dataset_id).upper(), valid_body(world))
    assert response.status_code == 200, response.text


async def test_unknown_dataset_before_unknown_session(api, world):
    unknown = uuid.uuid4()
    response = await api.group_runs(unknown, valid_body(world, session_ids=[str(uuid.uuid4())]))
    assert response.json() == {"detail": f"Dataset {unknown} not found"}


async def test_deleted_dataset_404(api, world):
    from evalql.db.models import Dataset
    from evalql.db.tenant import updatable
    from evalql.db.types import utcnow

    async with api.db_sessions() as db:
        await db.execute(updatable(api.workspace_id, Dataset).where(Dataset.id == world.dataset_id)
                         .values(deleted_at=utcnow()))
        await db.commit()
    response = await api.group_runs(world.dataset_id, valid_body(world))
    assert response.status_code == 404
    assert response.json() == {"detail": f"Dataset {world.dataset_id} not found"}


async def test_first_unknown_session_in_request_order(api, world):
    first, second = uuid.uuid4(), uuid.uuid4()
    body = valid_body(world, session_ids=[sid(world, "A"), str(first), sid(world, "B"), str(second)])
    response = await api.group_runs(world.dataset_id, body)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Session {first} not found"}
    body = valid_body(world, session_ids=[str(second), str(first)])
    response = await api.group_runs(world.dataset_id, body)
    assert response.json() == {"detail": f"Session {second} not found"}
    body = valid_body(world, session_ids=[str(second).upper()])
    response = await api.group_runs(world.dataset_id, body)
    assert response.json() == {"detail": f"Session {second} not found"}


async def test_session_of_another_dataset_is_valid(api, world):
    from evalql.db import writes

    async with api.db_sessions() as db:
        other = await writes.insert_dataset(db, api.workspace_id, name="other")
        session = await writes.insert_session(db, api.workspace_id, name="elsewhere", reference_dataset_id=other.id)
        unlinked = await writes.insert_session(db, api.workspace_id, name="no dataset")
        await db.commit()
    response = await api.group_runs(world.dataset_id, valid_body(world, session_ids=[str(session.id)]))
    assert response.status_code == 200, response.text
    assert response.json() == {"groups": []}
    body = valid_body(world, session_ids=[sid(world, "A"), str(session.id), str(unlinked.id)])
    response = await api.group_runs(world.dataset_id, body)
    assert response.status_code == 200, response.text
    groups = response.json()["groups"]
    assert [g["group_key"] for g in groups] == ["geo", "math"]
    assert all([s["id"] for s in g["sessions"]] == [sid(world, "A")] for g in groups)


async def test_duplicate_session_ids_dropped_keeping_first(api, world):
    a, b = sid(world, "A"), sid(world, "B")
    plain = (await api.group_runs(world.dataset_id, valid_body(world, session_ids=[b, a]))).json()
    response = await api.group_runs(world.dataset_id, valid_body(world, session_ids=[b, a, b, a.upper(), b]))
    assert response.status_code == 200, response.text
    assert response.json() == plain
    for group in plain["groups"]:
        assert [s["id"] for s in group["sessions"]] == [b, a]
        for example in group["examples"]:
            assert [r["session_id"] for r in example["runs"]] == [b, a]
    # eleven entries that de-duplicate to two are still too many (length is checked on the request)
    response = await api.group_runs(world.dataset_id, valid_body(world, session_ids=[a, b] * 5 + [a]))
    p = only_problem(response)
    assert (p["loc"], p["type"]) == (["body", "session_ids"], "too_long")


# --- paths and methods ---------------------------------------------------------------

@pytest.mark.parametrize("template", [
    "/api/v1/datasets/{}/group/runs", "/datasets/{}/group/runs",
    "/api/v1/datasets/{}/group/runs/", "/datasets/{}/group/runs/",
])
async def test_both_prefixes_and_trailing_slash(api, world, template):
    reference = await api.group_runs(world.dataset_id, valid_body(world))
    response = await api.client.post(template.format(world.dataset_id), json=valid_body(world),
                                     headers=api.headers())
    assert response.status_code == 200, response.text
    assert response.json() == reference.json()


async def test_prefix_paths_validate_alike(api, world):
    for path in ("/datasets/nope/group/runs", "/api/v1/datasets/nope/group/runs/"):
        response = await api.client.post(path, json=valid_body(world), headers=api.headers())
        p = only_problem(response)
        assert p["loc"] == ["path", "dataset_id"]


@pytest.mark.parametrize("path", ["/api/v1/nothing/here", "/nothing", "/api/v1/datasets/x/group",
                                  "/api/v1/datasets/x/group/runs/more", "/api/v2/datasets/x/group/runs"])
async def test_unknown_route_404(api, path):
    response = await api.client.post(path, json={}, headers=api.headers())
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_wrong_method_405(api, world, method):
    response = await api.client.request(method, f"/api/v1/datasets/{world.dataset_id}/group/runs",
                                        headers=api.headers())
    assert response.status_code == 405, response.text
    assert "detail" in response.json()


async def test_rejected_request_writes_nothing(api, world):
    from sqlalchemy import func, select

    from evalql.db.models import Base

    async def counts():
        async with api.db_sessions() as db:
            return {t.name: await db.scalar(everywhere(select(func.count()).select_from(t)))
                    for t in Base.metadata.sorted_tables}

    before = await counts()
    await api.group_runs(world.dataset_id, valid_body(world, limit=0))
    await api.group_runs(uuid.uuid4(), valid_body(world))
    await api.group_runs(world.dataset_id, valid_body(world))
    assert await counts() == before


async def test_two_spellings_of_one_session_and_their_filters(api, world):
    """Keys compare as UUIDs, so `a…` and `A…` name one session: their lists are AND-ed,
    not one of them silently dropped."""
    a = sid(world, "A")
    both = await api.group_runs(world.dataset_id, valid_body(world, filters={
        a: ["lt(latency, 2.5)"], a.upper(): ["gt(latency, 1.5)"]}))
    combined = await api.group_runs(world.dataset_id, valid_body(world, filters={
        a: ["and(lt(latency, 2.5), gt(latency, 1.5))"]}))
    last_only = await api.group_runs(world.dataset_id, valid_body(world, filters={a: ["gt(latency, 1.5)"]}))
    assert both.status_code == combined.status_code == 200, (both.text, combined.text)
    def without_session_filters(payload: dict) -> dict:
        for group in payload["groups"]:
            for session in group["sessions"]:
                session.pop("filter")
        return payload

    assert both.json()["groups"], both.json()
    assert without_session_filters(both.json()) == without_session_filters(combined.json())
    assert without_session_filters(both.json()) != without_session_filters(last_only.json())
    session_a = [s for g in last_only.json()["groups"] for s in g["sessions"] if s["id"] == a]
    assert session_a and session_a[0]["filter"].endswith(", gt(latency, 1.5))"), session_a


async def test_bad_filter_reported_with_bad_session_ids(api, world):
    body = valid_body(world, session_ids=["nope"], filters={sid(world, "A"): ["eq(latncy, 1)"]})
    found = {(tuple(p["loc"]), p["type"]) for p in detail(await api.group_runs(world.dataset_id, body))}
    assert found == {(("body", "session_ids", 0), "uuid_parsing"),
                     (("body", "filters", sid(world, "A"), 0), "value_error")}
