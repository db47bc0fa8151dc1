"""Examples over REST (spec §1, §2.2, §7.3), through real HTTP on both databases."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import func, select

from evalql.db.models import Example, ExampleMetadata
from evalql.db.tenant import readable
from tests.support.app import second_workspace
from tests.support.rest import locs_types, new_dataset, problems
from tests.support.whole_database import everywhere

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
EXAMPLE_KEYS = {"id", "dataset_id", "name", "inputs", "outputs", "metadata", "source_run_id", "created_at",
                "modified_at", "attachment_urls"}


@pytest.fixture
async def ds(api) -> str:
    return await new_dataset(api)


async def bulk(api, items, key: str | None = None):
    return await api.client.post("/api/v1/examples/bulk", json=items, headers=api.headers(key))


async def one(api, body, key: str | None = None):
    return await api.client.post("/examples", json=body, headers=api.headers(key))


async def made(api, body) -> dict:
    response = await one(api, body)
    assert response.status_code == 200, response.text
    return response.json()


async def listing(api, params=None, key: str | None = None):
    return await api.client.get("/api/v1/examples", params=params, headers=api.headers(key))


async def listed_ids(api, params=None) -> list[str]:
    response = await listing(api, params)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


async def row_counts(api) -> tuple[int, int]:
    async with api.db_sessions() as db:
        return (await db.scalar(everywhere(select(func.count()).select_from(Example))),
                await db.scalar(everywhere(select(func.count()).select_from(ExampleMetadata))))


# --- create ---------------------------------------------------------------------------

async def test_create_one_shape(api, ds):
    body = await made(api, {"dataset_id": ds.upper(), "inputs": {"q": "hi"}})
    assert set(body) == EXAMPLE_KEYS
    assert body["dataset_id"] == ds and body["name"] == "#" + uuid.UUID(body["id"]).hex[:4]
    assert body["inputs"] == {"q": "hi"} and body["outputs"] is None
    assert body["metadata"] == {"dataset_split": ["base"]}
    assert body["source_run_id"] is None and body["attachment_urls"] is None
    assert TS.match(body["created_at"]) and TS.match(body["modified_at"])
    read = await api.client.get(f"/examples/{body['id']}", headers=api.headers())
    assert read.status_code == 200 and read.json() == body


async def test_create_all_fields(api, ds):
    given, run = uuid.uuid4(), uuid.uuid4()
    body = await made(api, {
        "dataset_id": ds, "id": str(given).upper(), "inputs": {"a": 1}, "outputs": {"b": [1, 2]},
        "metadata": {"k": "v"}, "split": "train", "created_at": "2024-02-03T04:05:06.5",
        "source_run_id": str(run), "use_source_run_io": False, "use_source_run_attachments": True, "extra": 1,
    })
    assert body["id"] == str(given) and body["name"] == "#" + given.hex[:4]
    assert body["outputs"] == {"b": [1, 2]} and body["source_run_id"] == str(run)
    assert body["metadata"] == {"k": "v", "dataset_split": ["train"]}
    assert body["created_at"] == "2024-02-03T04:05:06.500000+00:00"


async def test_inputs_default_empty(api, ds):
    assert (await made(api, {"dataset_id": ds}))["inputs"] == {}
    assert (await made(api, {"dataset_id": ds, "inputs": None}))["inputs"] == {}


@pytest.mark.parametrize("extra,splits", [
    ({}, ["base"]),
    ({"split": None}, ["base"]),
    ({"split": "test"}, ["test"]),
    ({"split": ["b", "a", "b"]}, ["b", "a"]),
    ({"metadata": {"dataset_split": ["x", "y"]}}, ["x", "y"]),
    ({"metadata": {"dataset_split": "x"}}, ["x"]),
    ({"metadata": {"dataset_split": ["x"]}, "split": None}, ["x"]),
    ({"metadata": {"dataset_split": ["x"]}, "split": "z"}, ["z"]),
    ({"metadata": {"dataset_split": ["x"], "m": 1}, "split": ["z", "w"]}, ["z", "w"]),
])
async def test_split_rules(api, ds, extra, splits):
    body = await made(api, {"dataset_id": ds, **extra})
    assert body["metadata"]["dataset_split"] == splits
    assert [e["id"] for e in (await listing(api, [("splits", s) for s in splits])).json()] == [body["id"]]


@pytest.mark.parametrize("body,expected", [
    ({}, {(("body", "dataset_id"), "missing")}),
    ({"dataset_id": "nope"}, {(("body", "dataset_id"), "uuid_parsing")}),
    ({"dataset_id": "DS", "inputs": []}, {(("body", "inputs"), "dict_type")}),
    ({"dataset_id": "DS", "outputs": "x"}, {(("body", "outputs"), "dict_type")}),
    ({"dataset_id": "DS", "metadata": 3}, {(("body", "metadata"), "dict_type")}),
    ({"dataset_id": "DS", "metadata": {"dataset_split": 3}}, {(("body", "metadata"), "value_error")}),
    ({"dataset_id": "DS", "id": "x"}, {(("body", "id"), "uuid_parsing")}),
    ({"dataset_id": "DS", "source_run_id": 4}, {(("body", "source_run_id"), "uuid_type")}),
    ({"dataset_id": "DS", "use_source_run_io": True}, {(("body", "use_source_run_io"), "value_error")}),
    ({"dataset_id": "DS", "created_at": "soon"}, {(("body", "created_at"), "datetime_from_date_parsing")}),
    ({"dataset_id": "nope", "inputs": 1}, {(("body", "dataset_id"), "uuid_parsing"), (("body", "inputs"), "dict_type")}),
])
async def test_create_validation(api, ds, body, expected):
    body = {k: ds if v == "DS" else v for k, v in body.items()}
    response = await one(api, body)
    assert locs_types(response) == expected
    assert await row_counts(api) == (0, 0)


async def test_create_split_type_problem(api, ds):
    found = problems(await one(api, {"dataset_id": ds, "split": 3}))
    assert found and all(p["loc"][:2] == ["body", "split"] for p in found)


async def test_create_unknown_dataset_404(api):
    missing = uuid.uuid4()
    response = await one(api, {"dataset_id": str(missing)})
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {missing} not found"}


async def test_create_existing_id_409(api, ds):
    first = await made(api, {"dataset_id": ds})
    response = await one(api, {"dataset_id": ds, "id": first["id"].upper()})
    assert response.status_code == 409 and response.json() == {"detail": f"Example {first['id']} already exists"}
    # Even a deleted example keeps its id.
    assert (await api.client.delete(f"/examples/{first['id']}", headers=api.headers())).status_code == 200
    assert (await one(api, {"dataset_id": ds, "id": first["id"]})).status_code == 409


# --- bulk -----------------------------------------------------------------------------

async def test_bulk_input_order(api, ds):
    other = await new_dataset(api, "other")
    items = [{"dataset_id": ds if i % 2 else other, "inputs": {"i": i}, "metadata": {"i": i}} for i in range(7)]
    response = await bulk(api, items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["inputs"]["i"] for e in body] == list(range(7))
    assert [e["dataset_id"] for e in body] == [it["dataset_id"] for it in items]
    assert all(set(e) == EXAMPLE_KEYS for e in body)
    assert await row_counts(api) == (7, 14)  # `i` and `dataset_split` rows
    listed = await listed_ids(api, {"dataset": ds})
    assert sorted(listed) == sorted(e["id"] for e in body if e["dataset_id"] == ds)


async def test_bulk_bounds(api, ds):
    assert locs_types(await bulk(api, [])) == {(("body",), "too_short")}
    assert locs_types(await bulk(api, [{"dataset_id": ds}] * 10_001)) == {(("body",), "too_long")}
    assert locs_types(await bulk(api, {"dataset_id": ds})) == {(("body",), "list_type")}
    assert await row_counts(api) == (0, 0)


async def test_bulk_ten_thousand(api, ds):
    response = await bulk(api, [{"dataset_id": ds, "inputs": {"i": i}} for i in range(10_000)])
    assert response.status_code == 200, response.text[:500]
    assert [e["inputs"]["i"] for e in response.json()] == list(range(10_000))
    assert await row_counts(api) == (10_000, 10_000)
    read = (await api.client.get(f"/datasets/{ds}", headers=api.headers())).json()
    assert read["example_count"] == 10_000


async def test_bulk_reports_every_problem(api, ds):
    items = [{"dataset_id": ds}, {"dataset_id": "bad"}, {"dataset_id": ds, "inputs": 5}, {"inputs": {}}]
    assert locs_types(await bulk(api, items)) == {
        (("body", 1, "dataset_id"), "uuid_parsing"), (("body", 2, "inputs"), "dict_type"),
        (("body", 3, "dataset_id"), "missing"),
    }
    assert await row_counts(api) == (0, 0)


async def test_bulk_unknown_dataset_writes_nothing(api, ds):
    missing = uuid.uuid4()
    response = await bulk(api, [{"dataset_id": ds, "metadata": {"a": 1}}, {"dataset_id": str(missing)}])
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {missing} not found"}
    assert await row_counts(api) == (0, 0)


async def test_bulk_duplicate_in_list_writes_nothing(api, ds):
    dup = str(uuid.uuid4())
    response = await bulk(api, [{"dataset_id": ds}, {"dataset_id": ds, "id": dup}, {"dataset_id": ds, "id": dup.upper()}])
    assert response.status_code == 409 and response.json() == {"detail": f"Example {dup} already exists"}
    assert await row_counts(api) == (0, 0)


async def test_bulk_existing_id_writes_nothing(api, ds):
    first = await made(api, {"dataset_id": ds})
    before = await row_counts(api)
    response = await bulk(api, [{"dataset_id": ds, "metadata": {"x": 1}}, {"dataset_id": ds, "id": first["id"]}])
    assert response.status_code == 409 and response.json() == {"detail": f"Example {first['id']} already exists"}
    assert await row_counts(api) == before


async def test_bulk_foreign_or_deleted_dataset_404(api, ds):
    _, other_key, _ = await second_workspace(api.db_sessions)
    theirs = await new_dataset(api, "theirs", key=other_key)
    response = await bulk(api, [{"dataset_id": ds}, {"dataset_id": theirs}])
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {theirs} not found"}
    gone = await new_dataset(api, "gone")
    assert (await api.client.delete(f"/datasets/{gone}", headers=api.headers())).status_code == 200
    assert (await bulk(api, [{"dataset_id": gone}])).status_code == 404
    assert await row_counts(api) == (0, 0)


async def test_same_id_in_two_workspaces(api, ds):
    _, other_key, _ = await second_workspace(api.db_sessions)
    theirs = await new_dataset(api, "theirs", key=other_key)
    shared = str(uuid.uuid4())
    assert (await bulk(api, [{"dataset_id": ds, "id": shared}])).status_code == 200
    response = await bulk(api, [{"dataset_id": theirs, "id": shared}], key=other_key)
    assert response.status_code == 200 and response.json()[0]["dataset_id"] == theirs
    mine = (await api.client.get(f"/examples/{shared}", headers=api.headers())).json()
    assert mine["dataset_id"] == ds


# --- auth and tenancy -----------------------------------------------------------------

async def test_auth(api, ds):
    ex = await made(api, {"dataset_id": ds})
    assert (await api.client.post("/examples", json={"dataset_id": ds})).status_code == 401
    assert (await api.client.get("/examples")).status_code == 401
    for response in (
        await one(api, {"dataset_id": ds}, key=api.read_key),
        await bulk(api, [{"dataset_id": ds}], key=api.read_key),
        await api.client.patch(f"/examples/{ex['id']}", json={"inputs": {}}, headers=api.headers(api.read_key)),
        await api.client.delete(f"/examples/{ex['id']}", headers=api.headers(api.read_key)),
    ):
        assert response.status_code == 403 and response.json() == {"detail": "API key is read-only"}
    assert await listed_ids(api) == [ex["id"]]
    response = await listing(api, key=api.read_key)
    assert [e["id"] for e in response.json()] == [ex["id"]]
    read = await api.client.get(f"/examples/{ex['id']}", headers=api.headers(api.read_key))
    assert read.json() == ex


async def test_other_workspace_404(api, ds):
    ex = await made(api, {"dataset_id": ds})
    _, other_key, other_read = await second_workspace(api.db_sessions)
    missing = {"detail": f"Example {ex['id']} not found"}
    for response in (
        await api.client.get(f"/examples/{ex['id']}", headers=api.headers(other_read)),
        await api.client.patch(f"/examples/{ex['id']}", json={"inputs": {"x": 1}}, headers=api.headers(other_key)),
        await api.client.delete(f"/examples/{ex['id']}", headers=api.headers(other_key)),
    ):
        assert response.status_code == 404 and response.json() == missing
    assert (await listing(api, key=other_read)).json() == []
    response = await listing(api, {"dataset": ds}, key=other_read)
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {ds} not found"}
    assert (await one(api, {"dataset_id": ds}, key=other_key)).status_code == 404
    assert (await api.client.get(f"/examples/{ex['id']}", headers=api.headers())).json() == ex


# --- GET /examples --------------------------------------------------------------------

async def test_list_order_and_paging(api, ds):
    stamps = ["2024-01-03T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]
    made_ = [await made(api, {"dataset_id": ds, "created_at": s}) for s in stamps]
    tied = (await bulk(api, [{"dataset_id": ds, "created_at": "2024-01-04T00:00:00Z"} for _ in range(3)])).json()
    expected = [made_[1]["id"], made_[2]["id"], made_[0]["id"]] + sorted((e["id"] for e in tied), key=uuid.UUID)
    assert await listed_ids(api, {"dataset": ds}) == expected
    assert await listed_ids(api) == expected
    assert await listed_ids(api, {"offset": 2, "limit": 2}) == expected[2:4]
    assert await listed_ids(api, {"offset": 5, "limit": 100}) == expected[5:]
    assert await listed_ids(api, {"offset": 6}) == []
    assert await listed_ids(api, {"limit": 1, "as_of": "latest", "select": "id", "order": "recent",
                                  "inline_s3_urls": "True"}) == expected[:1]


async def test_list_filters(api, ds):
    other = await new_dataset(api, "other")
    a = await made(api, {"dataset_id": ds, "split": ["train", "x"], "metadata": {"cat": "a", "n": 1, "obj": {"k": [1]}},
                         "inputs": {"q": "Hello world"}})
    b = await made(api, {"dataset_id": ds, "split": "test", "metadata": {"cat": "b", "n": 2}, "inputs": {"q": "bye"}})
    c = await made(api, {"dataset_id": other, "metadata": {"cat": "a", "n": True}})

    async def ids(params) -> set[str]:
        return set(await listed_ids(api, params))

    assert await ids({"dataset": ds}) == {a["id"], b["id"]}
    assert await ids({"dataset": other.upper()}) == {c["id"]}
    assert await ids([("id", a["id"]), ("id", c["id"])]) == {a["id"], c["id"]}
    assert await ids([("id", a["id"]), ("dataset", other)]) == set()
    assert await ids({"splits": "train"}) == {a["id"]}
    assert await ids([("splits", "test"), ("splits", "base")]) == {b["id"], c["id"]}
    assert await ids({"splits": "none"}) == set()
    assert await ids({"metadata": json.dumps({"cat": "a"})}) == {a["id"], c["id"]}
    assert await ids({"metadata": json.dumps({"cat": "a", "n": 1})}) == {a["id"]}
    assert await ids({"metadata": json.dumps({"n": True})}) == {c["id"]}
    assert await ids({"metadata": json.dumps({"obj": {"k": [1]}})}) == {a["id"]}
    assert await ids({"metadata": json.dumps({"cat": "z"})}) == set()
    assert await ids({"metadata": json.dumps({})}) == {a["id"], b["id"], c["id"]}
    assert await ids({"filter": 'eq(metadata.cat, "a")'}) == {a["id"], c["id"]}
    assert await ids({"filter": 'and(eq(metadata.cat, "a"), gt(metadata.n, 0))', "dataset": ds}) == {a["id"]}
    assert await ids({"filter": 'has(metadata, \'{"cat": "b"}\')'}) == {b["id"]}
    assert await ids({"filter": 'search(inputs.q, "WORLD")'}) == {a["id"]}
    assert await ids({"filter": f'eq(id, "{b["id"]}")'}) == {b["id"]}
    assert await ids({"filter": ""}) == {a["id"], b["id"], c["id"]}


async def test_list_unknown_dataset_404(api):
    missing = uuid.uuid4()
    response = await listing(api, {"dataset": str(missing)})
    assert response.status_code == 404 and response.json() == {"detail": f"Dataset {missing} not found"}


@pytest.mark.parametrize("params,expected", [
    ({"limit": 0}, {(("query", "limit"), "greater_than_equal")}),
    ({"limit": 101}, {(("query", "limit"), "less_than_equal")}),
    ({"offset": -1}, {(("query", "offset"), "greater_than_equal")}),
    ({"offset": "x"}, {(("query", "offset"), "int_parsing")}),
    ({"dataset": "x"}, {(("query", "dataset"), "uuid_parsing")}),
    ([("id", str(uuid.uuid4())), ("id", "x")], {(("query", "id", 1), "uuid_parsing")}),
    ({"metadata": "nope"}, {(("query", "metadata"), "json_invalid")}),
    ({"metadata": "[]"}, {(("query", "metadata"), "dict_type")}),
    ({"filter": "eq(metadata.cat"}, {(("query", "filter"), "value_error")}),
    ({"filter": 'eq(nope, "a")'}, {(("query", "filter"), "value_error")}),
    ({"filter": 'gt(inputs.q, "a")', "limit": 0},
     {(("query", "filter"), "value_error"), (("query", "limit"), "greater_than_equal")}),
])
async def test_list_validation(api, ds, params, expected):
    assert locs_types(await listing(api, params)) == expected


async def test_bad_filter_message(api, ds):
    [p] = problems(await listing(api, {"filter": 'eq(nope, "a")'}))
    assert p["msg"].startswith("Invalid filter: unknown field 'nope'") and p["input"] == 'eq(nope, "a")'


# --- GET/PATCH/DELETE /examples/{id} ---------------------------------------------------

async def test_read_missing_and_malformed(api):
    missing = uuid.uuid4()
    response = await api.client.get(f"/examples/{missing}", headers=api.headers())
    assert response.status_code == 404 and response.json() == {"detail": f"Example {missing} not found"}
    for method in ("GET", "PATCH", "DELETE"):
        response = await api.client.request(method, "/examples/zzz", headers=api.headers(), json={})
        assert locs_types(response) == {(("path", "example_id"), "uuid_parsing")}, method


async def metadata_rows(api, example_id: str) -> dict[str, str]:
    async with api.db_sessions() as db:
        rows = await db.execute(readable(api.workspace_id, ExampleMetadata, ExampleMetadata.key, ExampleMetadata.value)
                                .where(ExampleMetadata.example_id == uuid.UUID(example_id)))
        return dict(rows.all())


async def test_patch(api, ds):
    ex = await made(api, {"dataset_id": ds, "inputs": {"a": 1}, "outputs": {"b": 2}, "metadata": {"old": "x"},
                          "split": ["train"], "created_at": "2024-01-01T00:00:00Z"})
    path = f"/api/v1/examples/{ex['id']}"
    response = await api.client.patch(path, json={"inputs": {"a": 9}}, headers=api.headers())
    assert response.status_code == 200 and response.json() == {}
    read = (await api.client.get(path, headers=api.headers())).json()
    assert read["inputs"] == {"a": 9} and read["outputs"] == {"b": 2}
    assert read["metadata"] == {"old": "x", "dataset_split": ["train"]}
    assert read["modified_at"] > ex["modified_at"] and read["created_at"] == ex["created_at"]

    # Nulls leave fields unchanged.
    response = await api.client.patch(path, json={"inputs": None, "outputs": None, "metadata": None, "split": None},
                                      headers=api.headers())
    assert response.status_code == 200
    again = (await api.client.get(path, headers=api.headers())).json()
    assert {k: again[k] for k in ("inputs", "outputs", "metadata")} == {k: read[k] for k in ("inputs", "outputs", "metadata")}

    # New metadata replaces the old; the split list stays; the normalised rows follow.
    assert (await api.client.patch(path, json={"metadata": {"new": 5}, "outputs": {"c": 3}},
                                   headers=api.headers())).status_code == 200
    read = (await api.client.get(path, headers=api.headers())).json()
    assert read["metadata"] == {"new": 5, "dataset_split": ["train"]} and read["outputs"] == {"c": 3}
    assert set(await metadata_rows(api, ex["id"])) == {"new", "dataset_split"}
    assert await listed_ids(api, {"filter": 'eq(metadata.old, "x")'}) == []
    assert await listed_ids(api, {"filter": "eq(metadata.new, 5)"}) == [ex["id"]]
    assert await listed_ids(api, {"metadata": json.dumps({"new": 5})}) == [ex["id"]]

    # An explicit split wins; metadata.dataset_split is used when no split is given.
    assert (await api.client.patch(path, json={"split": ["a", "b", "a"]}, headers=api.headers())).status_code == 200
    read = (await api.client.get(path, headers=api.headers())).json()
    assert read["metadata"] == {"new": 5, "dataset_split": ["a", "b"]}
    assert await listed_ids(api, {"splits": "b"}) == [ex["id"]]
    assert await listed_ids(api, {"splits": "train"}) == []
    assert await listed_ids(api, {"filter": 'has(metadata, \'{"dataset_split": ["a", "b"]}\')'}) == [ex["id"]]
    patch = {"metadata": {"dataset_split": "solo"}}
    assert (await api.client.patch(path, json=patch, headers=api.headers())).status_code == 200
    read = (await api.client.get(path, headers=api.headers())).json()
    assert read["metadata"] == {"dataset_split": ["solo"]}
    assert await metadata_rows(api, ex["id"]) == {"dataset_split": '["solo"]'}


async def test_patch_validation_and_missing(api, ds):
    ex = await made(api, {"dataset_id": ds, "inputs": {"a": 1}})
    path = f"/examples/{ex['id']}"
    response = await api.client.patch(path, json={"inputs": [], "metadata": "x"}, headers=api.headers())
    assert locs_types(response) == {(("body", "inputs"), "dict_type"), (("body", "metadata"), "dict_type")}
    response = await api.client.patch(path, content=b"{", headers=api.headers())
    assert locs_types(response) == {(("body",), "json_invalid")}
    assert (await api.client.get(path, headers=api.headers())).json() == ex
    missing = uuid.uuid4()
    response = await api.client.patch(f"/examples/{missing}", json={}, headers=api.headers())
    assert response.status_code == 404 and response.json() == {"detail": f"Example {missing} not found"}


async def test_delete(api, ds):
    keep = await made(api, {"dataset_id": ds, "metadata": {"k": 1}})
    gone = await made(api, {"dataset_id": ds, "metadata": {"k": 1}})
    response = await api.client.delete(f"/api/v1/examples/{gone['id']}", headers=api.headers())
    assert response.status_code == 200 and response.json() == {}
    assert (await api.client.get(f"/examples/{gone['id']}", headers=api.headers())).status_code == 404
    assert await listed_ids(api) == [keep["id"]]
    assert await listed_ids(api, {"id": gone["id"]}) == []
    assert await listed_ids(api, {"filter": "eq(metadata.k, 1)"}) == [keep["id"]]
    assert (await api.client.delete(f"/examples/{gone['id']}", headers=api.headers())).status_code == 404
    response = await api.client.patch(f"/examples/{gone['id']}", json={"inputs": {}}, headers=api.headers())
    assert response.status_code == 404
    assert (await api.client.get(f"/datasets/{ds}", headers=api.headers())).json()["example_count"] == 1
