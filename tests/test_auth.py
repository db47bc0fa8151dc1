"""Authentication and tenancy (spec §1.2, §9 item 1) for group/runs and /graphql."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from evalql.db.models import ApiKey
from evalql.db.writes import hash_api_key
from tests.support.app import second_workspace
from tests.worlds import worked_example

MISSING = "Missing API key: send the X-API-Key header"


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        return await worked_example.load(db, api.workspace_id)


def body(world) -> dict:
    return {"session_ids": [str(world.sessions["A"]), str(world.sessions["B"])],
            "group_by": "example_metadata", "metadata_key": "category"}


def path(world) -> str:
    return f"/api/v1/datasets/{world.dataset_id}/group/runs"


async def test_missing_key_401(api, world):
    response = await api.client.post(path(world), json=body(world))
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING}


@pytest.mark.parametrize("headers", [{"X-API-Key": ""}, {"X-API-Key": "   "}, {"Authorization": "Bearer"},
                                     {"Authorization": "Bearer   "}, {"Authorization": "Basic Zm9vOmJhcg=="}])
async def test_empty_or_other_scheme_is_missing(api, world, headers):
    response = await api.client.post(path(world), json=body(world), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING}


@pytest.mark.parametrize("key", ["wrong", "evq_" + "x" * 43, "' OR 1=1 --"])
async def test_bad_key_401(api, world, key):
    response = await api.client.post(path(world), json=body(world), headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}


async def test_revoked_key_401(api, world):
    from sqlalchemy import update

    from evalql.db.types import utcnow

    async with api.db_sessions() as db:
        await db.execute(update(ApiKey).where(ApiKey.key_hash == hash_api_key(api.read_key))
                         .values(revoked_at=utcnow()))
        await db.commit()
    response = await api.group_runs(world.dataset_id, body(world), key=api.read_key)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}
    assert (await api.group_runs(world.dataset_id, body(world))).status_code == 200


async def test_bearer_equivalent(api, world):
    reference = await api.group_runs(world.dataset_id, body(world))
    for auth in (f"Bearer {api.key}", f"bearer {api.key}", f"BEARER {api.read_key}"):
        response = await api.client.post(path(world), json=body(world), headers={"Authorization": auth})
        assert response.status_code == 200, (auth, response.text)
        assert response.json() == reference.json()
    response = await api.client.post(path(world), json=body(world), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}


@pytest.mark.parametrize("name", ["x-api-key", "X-API-KEY", "X-Api-Key", "x-API-key"])
async def test_header_name_case_insensitive(api, world, name):
    response = await api.client.post(path(world), json=body(world), headers={name: api.key})
    assert response.status_code == 200, response.text


async def test_tenant_header(api, world):
    ws = str(api.workspace_id)
    for tenant in (ws, ws.upper()):
        response = await api.client.post(path(world), json=body(world), headers={**api.headers(), "X-Tenant-Id": tenant})
        assert response.status_code == 200, (tenant, response.text)
    other = str(uuid.uuid4())
    response = await api.client.post(path(world), json=body(world), headers={**api.headers(), "X-Tenant-Id": other})
    assert response.status_code == 403
    assert response.json() == {"detail": f"API key has no access to workspace {other}"}
    response = await api.client.post(path(world), json=body(world), headers={**api.headers(), "x-tenant-id": "garbage"})
    assert response.status_code == 403
    assert response.json() == {"detail": "API key has no access to workspace garbage"}


async def test_bad_key_checked_before_tenant(api, world):
    response = await api.client.post(path(world), json=body(world),
                                     headers={"X-API-Key": "wrong", "X-Tenant-Id": str(uuid.uuid4())})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}


async def test_tenant_of_another_workspace_403(api, world):
    other_ws, other_key, _ = await second_workspace(api.db_sessions)
    response = await api.client.post(path(world), json=body(world),
                                     headers={**api.headers(), "X-Tenant-Id": str(other_ws)})
    assert response.status_code == 403
    assert response.json() == {"detail": f"API key has no access to workspace {other_ws}"}


async def test_read_key_on_group_runs_200(api, world):
    reference = await api.group_runs(world.dataset_id, body(world))
    response = await api.group_runs(world.dataset_id, body(world), key=api.read_key)
    assert response.status_code == 200, response.text
    assert response.json() == reference.json()


async def test_other_workspace_dataset_404_not_403(api, world):
    _, other_key, other_read = await second_workspace(api.db_sessions)
    for key in (other_key, other_read):
        response = await api.group_runs(world.dataset_id, body(world), key=key)
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"Dataset {world.dataset_id} not found"}


async def test_other_workspace_session_404(api, world):
    other_ws, other_key, _ = await second_workspace(api.db_sessions)
    async with api.db_sessions() as db:
        theirs = await worked_example.load(db, other_ws)
    # our dataset, their session
    response = await api.group_runs(world.dataset_id, {**body(world), "session_ids": [
        str(world.sessions["A"]), str(theirs.sessions["A"])]})
    assert response.status_code == 404
    assert response.json() == {"detail": f"Session {theirs.sessions['A']} not found"}
    # their key with our session on their dataset
    response = await api.group_runs(theirs.dataset_id, {**body(world), "session_ids": [str(world.sessions["B"])]},
                                    key=other_key)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Session {world.sessions['B']} not found"}


# --- GraphQL ----------------------------------------------------------------------------

QUERY = "query($id: UUID!) { dataset(id: $id) { id name } }"


async def test_graphql_missing_key(api, world):
    response = await api.client.post("/graphql", json={"query": QUERY, "variables": {"id": str(world.dataset_id)}})
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == MISSING
    assert response.json().get("data") is None


async def test_graphql_bad_key(api, world):
    response = await api.graphql(QUERY, {"id": str(world.dataset_id)}, key="wrong")
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert (error["message"], error["extensions"]["code"]) == ("Invalid API key", "UNAUTHENTICATED")


async def test_graphql_bearer_and_tenant(api, world):
    response = await api.client.post("/graphql", json={"query": QUERY, "variables": {"id": str(world.dataset_id)}},
                                     headers={"Authorization": f"Bearer {api.read_key}"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["dataset"]["id"] == str(world.dataset_id)
    other = str(uuid.uuid4())
    response = await api.client.post("/graphql", json={"query": QUERY, "variables": {"id": str(world.dataset_id)}},
                                     headers={**api.headers(), "X-Tenant-Id": other})
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert (error["message"], error["extensions"]["code"]) == (
        f"API key has no access to workspace {other}", "FORBIDDEN")


async def test_graphql_missing_key_checked_before_parsing(api):
    response = await api.client.post("/graphql", json={"query": "{ this is not graphql"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphql_other_workspace_is_null_not_forbidden(api, world):
    _, other_key, _ = await second_workspace(api.db_sessions)
    response = await api.graphql(QUERY, {"id": str(world.dataset_id)}, key=other_key)
    assert response.status_code == 200
    assert response.json()["data"] == {"dataset": None}
    query = """query($ds: UUID!, $input: GroupRunsInput!) { groupRuns(datasetId: $ds, input: $input) { groupKey } }"""
    variables = {"ds": str(world.dataset_id), "input": {"sessionIds": [str(world.sessions["A"])],
                                                        "groupBy": "EXAMPLE_METADATA", "metadataKey": "category"}}
    response = await api.graphql(query, variables, key=other_key)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == f"Dataset {world.dataset_id} not found"


# --- key storage ------------------------------------------------------------------------

async def test_keys_stored_only_as_hashes(api, database_url):
    async with api.db_sessions() as db:
        rows = (await db.execute(select(ApiKey))).scalars().all()
        raw = (await db.execute(text("SELECT * FROM api_keys"))).all()
    assert len(rows) == 2
    hashes = {row.key_hash for row in rows}
    assert hashes == {hash_api_key(api.key), hash_api_key(api.read_key)}
    for row in raw:
        for value in row:
            assert api.key not in str(value) and api.read_key not in str(value)
    for row in rows:
        assert len(row.prefix) <= 16 and row.prefix != api.key
    if not database_url.startswith("sqlite"):
        return  # the row check above covers PostgreSQL; the file check is SQLite's own
    # the whole database file (and its WAL/journal, if any) never holds the clear keys
    db_path = database_url.removeprefix("sqlite+aiosqlite:///")
    import glob

    files = glob.glob(db_path + "*")
    assert files
    for name in files:
        data = open(name, "rb").read()
        for key in (api.key, api.read_key):
            assert key.encode() not in data, name
            assert key[4:].encode() not in data, name  # the random part without the prefix
