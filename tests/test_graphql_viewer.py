"""`viewer`: the workspace the caller's key opens and its scope, from the key alone."""

from __future__ import annotations

from evalql.db import writes
from tests.support.statements import counting

QUERY = "{ viewer { workspaceId readOnly } }"


async def test_viewer_names_the_keys_workspace_and_scope(api):
    for key, read_only in ((api.key, False), (api.read_key, True)):
        answer = (await api.graphql(QUERY, key=key)).json()
        assert answer["data"] == {"viewer": {"workspaceId": str(api.workspace_id), "readOnly": read_only}}
    async with api.db_sessions() as db:
        other = await writes.create_workspace(db, "other")
        other_key = await writes.create_api_key(db, other.id)
        await db.commit()
    answer = (await api.graphql(QUERY, key=other_key)).json()
    assert answer["data"]["viewer"]["workspaceId"] == str(other.id)


async def test_viewer_asks_nothing_more_of_the_database(api):
    await api.graphql(QUERY)  # warm: authentication's own statements are cached or not, either way
    with counting(api) as plain:
        await api.graphql("{ __typename }")
    with counting(api) as viewer:
        await api.graphql(QUERY)
    assert len(viewer) == len(plain)


async def test_viewer_needs_a_key(api):
    response = await api.client.post("/graphql", json={"query": QUERY})
    assert response.status_code == 401
