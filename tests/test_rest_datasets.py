"""Datasets over REST (spec §1, §2.1, §7.2), through real HTTP on both databases."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest

from evalql.db import writes
from tests.support.app import second_workspace
from tests.support.rest import locs_types, problems

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
DATASET_KEYS = {
    "id", "name", "description", "data_type", "created_at", "modified_at", "tenant_id", "example_count",
    "session_count", "last_session_start_time", "inputs_schema_definition", "outputs_schema_definition",
    "transformations", "metadata", "externally_managed", "baseline_experiment_id",
}


async def create(api, body: dict, key: str | None = None, prefix: str = "/api/v1"):
    return await api.client.post(f"{prefix}/datasets", json=body, headers=api.headers(key))


async def made(api, name: str, **body) -> dict:
    response = await create(api, {"name": name, **body})
    assert response.status_code == 200, response.text
    return response.json()


async def listing(api, params=None, key: str | None = None):
    return await api.client.get("/api/v1/datasets", params=params, headers=api.headers(key))


# --- POST /datasets --------------------------------------------------------------------

async def test_create_minimal(api):
    before = dt.datetime.now(dt.UTC)
    body = await made(api, "ds")
    assert set(body) == DATASET_KEYS
    assert body["name"] == "ds" and body["description"] is None and body["data_type"] == "kv"
    assert body["tenant_id"] == str(api.workspace_id)
    assert (body["example_count"], body["session_count"], body["last_session_start_time"]) == (0, 0, None)
    assert body["metadata"] is None and body["transformations"] is None
    assert body["externally_managed"] is False and body["baseline_experiment_id"] is None
    assert TS.match(body["created_at"]) and TS.match(body["modified_at"])
    assert dt.datetime.fromisoformat(body["created_at"]) >= before - dt.timedelta(seconds=1)
    assert uuid.UUID(body["id"]) and body["id"] == body["id"].lower()


async def test_create_full_and_read_back(api):
    given = uuid.uuid4()
    body = await made(api, "full", id=str(given).upper(), description="d", data_type="chat",
                      inputs_schema_definition={"type": "object"}, outputs_schema_definition={"type": "object"},
                      transformations=[{"path": ["inputs"], "transformation_type": "remove_extra_fields"}],
                      extra={"metadata": {"team": "a", "n": 1}, "other": True},
                      created_at="2024-05-01T10:00:00", unknown_field="ignored")
    assert body["id"] == str(given)
    assert body["created_at"] == "2024-05-01T10:00:00.000000+00:00"  # naive means UTC
    assert (body["description"], body["data_type"]) == ("d", "chat")
    assert body["metadata"] == {"team": "a", "n": 1}
    assert body["inputs_schema_definition"] == {"type": "object"}
    assert body["transformations"] == [{"path": ["inputs"], "transformation_type": "remove_extra_fields"}]
    read = await api.client.get(f"/datasets/{given}", headers=api.headers())
    assert read.status_code == 200 and read.json() == body


async def test_create_timezone_converted_to_utc(api):
    body = await made(api, "tz", created_at="2024-05-01T12:00:00+02:00")
    assert body["created_at"] == "2024-05-01T10:00:00.000000+00:00"


async def test_duplicate_name_409(api):
    await made(api, "same")
    response = await create(api, {"name": "same"}, prefix="")
    assert response.status_code == 409
    assert response.json() == {"detail": "Dataset with this name already exists."}
    assert len((await listing(api, {"name": "same"})).json()) == 1


async def test_existing_id_409(api):
    first = await made(api, "one")
    response = await create(api, {"name": "two", "id": first["id"]})
    assert response.status_code == 409 and isinstance(response.json()["detail"], str)
    assert first["id"] in response.json()["detail"]
    assert (await listing(api, {"name": "two"})).json() == []


async def test_name_of_deleted_dataset_is_free_but_id_is_not(api):
    first = await made(api, "reuse")
    assert (await api.client.delete(f"/datasets/{first['id']}", headers=api.headers())).status_code == 200
    second = await made(api, "reuse")
    assert second["id"] != first["id"]
    assert (await create(api, {"name": "other", "id": first["id"]})).status_code == 409


@pytest.mark.parametrize("body,expected", [
    ({}, {(("body", "name"), "missing")}),
    ({"name": ""}, {(("body", "name"), "string_too_short")}),
    ({"name": "x" * 256}, {(("body", "name"), "string_too_long")}),
    ({"name": "x", "data_type": "table"}, {(("body", "data_type"), "enum")}),
    ({"name": "x", "id": "nope"}, {(("body", "id"), "uuid_parsing")}),
    ({"name": "x", "extra": {"metadata": []}}, {(("body", "extra", "metadata"), "dict_type")}),
    ({"name": "x", "inputs_schema_definition": 3}, {(("body", "inputs_schema_definition"), "dict_type")}),
    ({"name": "x", "transformations": {}}, {(("body", "transformations"), "list_type")}),
    ({"name": "x", "created_at": "yesterday"}, {(("body", "created_at"), "datetime_from_date_parsing")}),
    ({"name": 5, "data_type": "x", "id": "y"},
     {(("body", "name"), "string_type"), (("body", "data_type"), "enum"), (("body", "id"), "uuid_parsing")}),
])
async def test_create_validation(api, body, expected):
    response = await create(api, body)
    assert locs_types(response) == expected
    assert (await listing(api)).json() == []


async def test_create_name_255_ok(api):
    assert (await made(api, "x" * 255))["name"] == "x" * 255


async def test_create_invalid_json_422(api):
    response = await api.client.post("/datasets", content=b"{nope", headers=api.headers())
    assert locs_types(response) == {(("body",), "json_invalid")}


async def test_create_body_not_object_422(api):
    response = await create(api, ["name"])
    assert [p["loc"] for p in problems(response)] == [["body"]]


# --- auth and tenancy -----------------------------------------------------------------

async def test_auth(api):
    body = await made(api, "mine")
    assert (await api.client.post("/datasets", json={"name": "n"})).status_code == 401
    assert (await api.client.get("/datasets")).status_code == 401
    response = await create(api, {"name": "n"}, key=api.read_key)
    assert response.status_code == 403 and response.json() == {"detail": "API key is read-only"}
    response = await api.client.delete(f"/datasets/{body['id']}", headers=api.headers(api.read_key))
    assert response.status_code == 403 and response.json() == {"detail": "API key is read-only"}
    assert [d["id"] for d in (await listing(api, key=api.read_key)).json()] == [body["id"]]
    assert (await api.client.get(f"/datasets/{body['id']}", headers=api.headers(api.read_key))).status_code == 200


async def test_other_workspace_sees_nothing(api):
    mine = await made(api, "shared-name")
    _, other_key, other_read = await second_workspace(api.db_sessions)
    assert (await listing(api, key=other_key)).json() == []
    for key in (other_key, other_read):
        response = await api.client.get(f"/datasets/{mine['id']}", headers=api.headers(key))
        assert response.status_code == 404 and response.json() == {"detail": f"Dataset {mine['id']} not found"}
    response = await api.client.delete(f"/datasets/{mine['id']}", headers=api.headers(other_key))
    assert response.status_code == 404
    # Same name in the other workspace is fine; the dataset of the first is untouched.
    theirs = await create(api, {"name": "shared-name"}, key=other_key)
    assert theirs.status_code == 200 and theirs.json()["tenant_id"] != str(api.workspace_id)
    assert (await api.client.get(f"/datasets/{mine['id']}", headers=api.headers())).status_code == 200


# --- GET /datasets --------------------------------------------------------------------

async def test_list_order_and_paging(api):
    names = [f"d{i}" for i in range(5)]
    for i, name in enumerate(names):
        await made(api, name, created_at=f"2024-01-0{i + 1}T00:00:00Z")
    got = [d["name"] for d in (await listing(api)).json()]
    assert got == list(reversed(names))
    assert [d["name"] for d in (await listing(api, {"offset": 1, "limit": 2})).json()] == ["d3", "d2"]
    assert [d["name"] for d in (await listing(api, {"offset": 4, "limit": 100})).json()] == ["d0"]
    assert (await listing(api, {"offset": 5})).json() == []


async def test_list_ties_by_id(api):
    for i in range(4):
        await made(api, f"t{i}", created_at="2024-01-01T00:00:00Z")
    ids = [d["id"] for d in (await listing(api)).json()]
    assert ids == sorted(ids, key=uuid.UUID)


async def test_list_filters(api):
    a = await made(api, "Alpha_one", extra={"metadata": {"team": "x", "tags": ["a", "b"], "n": 1}})
    b = await made(api, "beta%two", extra={"metadata": {"team": "y", "n": True}})
    c = await made(api, "gamma")

    async def names(params) -> list[str]:
        response = await listing(api, params)
        assert response.status_code == 200, response.text
        return sorted(d["name"] for d in response.json())

    assert await names({"name": "gamma"}) == ["gamma"]
    assert await names({"name": "gam"}) == []
    assert await names({"limit": 1, "name": "missing"}) == []  # the SDK's lookup by name
    assert await names({"name_contains": "ALPHA"}) == ["Alpha_one"]
    assert await names({"name_contains": "%"}) == ["beta%two"]
    assert await names({"name_contains": "_"}) == ["Alpha_one"]
    assert await names({"name_contains": "a"}) == ["Alpha_one", "beta%two", "gamma"]
    assert await names([("id", a["id"]), ("id", c["id"].upper())]) == ["Alpha_one", "gamma"]
    assert await names({"metadata": json.dumps({"team": "x"})}) == ["Alpha_one"]
    assert await names({"metadata": json.dumps({"tags": ["b"]})}) == ["Alpha_one"]
    assert await names({"metadata": json.dumps({"n": 1})}) == ["Alpha_one"]
    assert await names({"metadata": json.dumps({"n": True})}) == ["beta%two"]
    assert await names({"metadata": json.dumps({})}) == ["Alpha_one", "beta%two", "gamma"]
    assert await names({"metadata": json.dumps({"team": "z"})}) == []
    assert await names({"metadata": json.dumps({"team": "x"}), "name_contains": "beta"}) == []
    assert await names({"metadata": json.dumps({"n": 1}), "offset": 1}) == []
    assert await names({"unknown": "param"}) == ["Alpha_one", "beta%two", "gamma"]
    assert b["id"]


@pytest.mark.parametrize("params,expected", [
    ({"limit": 0}, {(("query", "limit"), "greater_than_equal")}),
    ({"limit": 101}, {(("query", "limit"), "less_than_equal")}),
    ({"limit": "ten"}, {(("query", "limit"), "int_parsing")}),
    ({"offset": -1}, {(("query", "offset"), "greater_than_equal")}),
    ({"id": "nope"}, {(("query", "id", 0), "uuid_parsing")}),
    ({"metadata": "{nope"}, {(("query", "metadata"), "json_invalid")}),
    ({"metadata": "[1]"}, {(("query", "metadata"), "dict_type")}),
    ({"limit": 0, "offset": -1}, {(("query", "limit"), "greater_than_equal"),
                                  (("query", "offset"), "greater_than_equal")}),
])
async def test_list_validation(api, params, expected):
    assert locs_types(await listing(api, params)) == expected


async def test_list_limit_bounds_ok(api):
    await made(api, "x")
    assert len((await listing(api, {"limit": 1})).json()) == 1
    assert len((await listing(api, {"limit": 100})).json()) == 1


# --- GET /datasets/{id} ---------------------------------------------------------------

async def test_read_missing_and_malformed(api):
    missing = uuid.uuid4()
    response = await api.client.get(f"/api/v1/datasets/{missing}", headers=api.headers())
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {missing} not found"}
    response = await api.client.get("/api/v1/datasets/not-a-uuid", headers=api.headers())
    assert locs_types(response) == {(("path", "dataset_id"), "uuid_parsing")}


async def test_counts(api):
    body = await made(api, "counted")
    other = await made(api, "other")
    examples = await api.client.post("/examples/bulk", headers=api.headers(), json=[
        {"dataset_id": body["id"], "inputs": {"q": i}} for i in range(3)])
    assert examples.status_code == 200, examples.text
    assert (await api.client.delete(f"/examples/{examples.json()[0]['id']}", headers=api.headers())).status_code == 200
    async with api.db_sessions() as db:
        await writes.insert_session(db, api.workspace_id, name="s1", reference_dataset_id=body["id"],
                                    start_time=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
        await writes.insert_session(db, api.workspace_id, name="s2", reference_dataset_id=body["id"],
                                    start_time=dt.datetime(2024, 3, 2, 5, tzinfo=dt.UTC))
        await writes.insert_session(db, api.workspace_id, name="s3")
        await db.commit()
    read = (await api.client.get(f"/datasets/{body['id']}", headers=api.headers())).json()
    assert (read["example_count"], read["session_count"]) == (2, 2)
    assert read["last_session_start_time"] == "2024-03-02T05:00:00.000000+00:00"
    listed = {d["name"]: d for d in (await listing(api)).json()}
    assert listed["counted"] == read
    assert (listed["other"]["example_count"], listed["other"]["session_count"]) == (0, 0)
    assert other["last_session_start_time"] is None


# --- DELETE /datasets/{id} ------------------------------------------------------------

async def test_delete_soft_deletes_dataset_and_examples(api):
    body = await made(api, "gone")
    keep = await made(api, "kept")
    created = (await api.client.post("/examples/bulk", headers=api.headers(), json=[
        {"dataset_id": body["id"]}, {"dataset_id": keep["id"]}])).json()
    response = await api.client.delete(f"/api/v1/datasets/{body['id']}/", headers=api.headers())
    assert response.status_code == 200 and response.json() == {}
    assert (await api.client.get(f"/datasets/{body['id']}", headers=api.headers())).status_code == 404
    assert [d["name"] for d in (await listing(api)).json()] == ["kept"]
    assert (await listing(api, {"id": body["id"]})).json() == []
    assert (await api.client.delete(f"/datasets/{body['id']}", headers=api.headers())).status_code == 404
    # Its examples are gone with it; the other dataset's are not.
    assert (await api.client.get(f"/examples/{created[0]['id']}", headers=api.headers())).status_code == 404
    response = await api.client.get("/examples", params={"dataset": body["id"]}, headers=api.headers())
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {body['id']} not found"}
    assert [e["id"] for e in (await api.client.get("/examples", headers=api.headers())).json()] == [created[1]["id"]]
    response = await api.client.post("/examples", json={"dataset_id": body["id"]}, headers=api.headers())
    assert response.status_code == 404


async def test_delete_malformed_id(api):
    response = await api.client.delete("/datasets/xyz", headers=api.headers())
    assert locs_types(response) == {(("path", "dataset_id"), "uuid_parsing")}


async def test_wrong_method_405(api):
    assert (await api.client.put("/datasets", headers=api.headers())).status_code == 405
    assert (await api.client.patch(f"/datasets/{uuid.uuid4()}", headers=api.headers())).status_code == 405
