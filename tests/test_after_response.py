"""A request's database session is closed after its response is sent (evalql/after_response.py):
ending what is left of its transaction, a round trip on PostgreSQL, is no part of the
response's latency. It is still closed, whatever the answer, and before the app's call ends."""

from __future__ import annotations

import pytest

from tests.support.statements import engines_of, listening
from tests.support.world import build_world


async def call(app, path: str, headers: dict[str, str], events: list[str], body: bytes = b"") -> int:
    """The app called as a server calls it (a POST if there is a `body`); `events` gets
    "response" once the last body is sent."""
    if body:
        headers = {**headers, "Content-Type": "application/json", "Content-Length": str(len(body))}
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST" if body else "GET",
             "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("evalql.test", 80)}
    status = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            events.append("response")

    await app(scope, receive, send)
    return status[0]


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        built = await build_world(db, api.workspace_id, n_examples=2, n_sessions=1, seed=3, name="after")
        await db.commit()
    return built


@pytest.mark.parametrize("what", ["run", "session", "dataset", "datasets", "missing run", "bad key", "graphql"])
async def test_the_session_is_closed_after_the_response(api, world, what):
    app = api.client._transport.app  # type: ignore[attr-defined]
    body = b'{"query": "{ datasets(first: 5) { edges { node { name } } } }"}' if what == "graphql" else b""
    path, headers, status = {
        "run": (f"/api/v1/runs/{world.root_run_ids[0]}", api.headers(), 200),
        "session": (f"/api/v1/sessions/{world.session_ids[0]}", api.headers(), 200),
        "dataset": (f"/api/v1/datasets/{world.dataset_id}", api.headers(), 200),
        "datasets": ("/api/v1/datasets", api.headers(), 200),  # a transaction's read: ROLLBACK after
        "missing run": (f"/api/v1/runs/{world.dataset_id}", api.headers(), 404),
        "bad key": (f"/api/v1/runs/{world.root_run_ids[0]}", {"X-API-Key": "evq_nope"}, 401),
        "graphql": ("/graphql", api.headers(), 200),
    }[what]
    events: list[str] = []
    with listening(api, "checkin", lambda *_: events.append("checkin")):
        assert await call(app, path, headers, events, body) == status
    assert events == ["response", "checkin"]
    assert all(engine.pool.checkedout() == 0 for engine in engines_of(api))
