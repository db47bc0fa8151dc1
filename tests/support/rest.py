"""Small REST helpers shared by the endpoint tests."""

from __future__ import annotations


def problems(response) -> list[dict]:
    """The 422 problem list of spec §1.4, checked for its shape."""
    assert response.status_code == 422, (response.status_code, response.text)
    found = response.json()["detail"]
    assert isinstance(found, list) and found
    for p in found:
        assert p["loc"][0] in ("path", "query", "body") and p["msg"] and p["type"], p
    return found


def locs_types(response) -> set[tuple[tuple, str]]:
    return {(tuple(p["loc"]), p["type"]) for p in problems(response)}


async def new_dataset(api, name: str = "ds", key: str | None = None) -> str:
    response = await api.client.post("/datasets", json={"name": name}, headers=api.headers(key))
    assert response.status_code == 200, response.text
    return response.json()["id"]
