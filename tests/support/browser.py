"""A live evalql with the demo loaded, and Debian's Chromium driven by Playwright.

The server is the real app under uvicorn (tests/test_langsmith_sdk.ServerThread) on a
fresh SQLite file: the demo workspace with a read-write key, a read-only key, and a
key of a second, empty workspace. The browser is /usr/bin/chromium from the Debian
package (`.ci/run` installs it); Playwright downloads no browser of its own. A missing
Chromium fails these tests: it is not a reason to skip them.

Screenshots of the main states go to test-artifacts/screenshots/, and the page's own
timings to test-artifacts/timings/ (both git-ignored), so a CI run keeps them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from evalql.db import writes
from evalql.db.engine import create_engine, session_factory
from evalql.db.migrate import ensure_schema
from evalql.demo import DEMO_DATASET_ID, load_demo

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class World:
    url: str
    key: str  # read-write key of the demo workspace
    read_only_key: str
    other_key: str  # a key of another workspace
    workspace_id: uuid.UUID
    dataset_id: uuid.UUID
    session_ids: list[uuid.UUID]  # the demo's, by start time
    database_url: str
    names: dict[str, str] = field(default_factory=dict)

    def graphql(self, query: str, variables: dict | None = None, key: str | None = None) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                            headers={"X-API-Key": key or self.key}, timeout=30).json()
        assert "errors" not in answer, answer
        return answer["data"]

    def compare_url(self, sessions: list[uuid.UUID] | None = None, **params: str) -> str:
        chosen = ",".join(str(s) for s in (sessions if sessions is not None else self.session_ids))
        extra = "".join(f"&{k}={v}" for k, v in params.items())
        return f"{self.url}/o/{self.workspace_id}/datasets/{self.dataset_id}/compare?selectedSessions={chosen}{extra}"


async def prepare_database(database_url: str) -> tuple[str, str, str, uuid.UUID, list[uuid.UUID]]:
    engine = create_engine(database_url)
    await ensure_schema(engine)
    try:
        async with session_factory(engine)() as db:
            workspace, _ = await writes.get_or_create_workspace(db, writes.DEFAULT_WORKSPACE)
            key = await writes.create_api_key(db, workspace.id)
            read_only = await writes.create_api_key(db, workspace.id, read_only=True)
            summary = await load_demo(db, workspace.id)
            other = await writes.create_workspace(db, "other")
            other_key = await writes.create_api_key(db, other.id)
            await db.commit()
    finally:
        await engine.dispose()
    return key, read_only, other_key, workspace.id, list(summary.session_ids)


def start_world(tmp: Path) -> Iterator[World]:
    from tests.test_langsmith_sdk import ServerThread

    database_url = f"sqlite+aiosqlite:///{tmp / 'page.db'}"
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        key, read_only, other_key, workspace_id, sessions = pool.submit(
            asyncio.run, prepare_database(database_url)).result()
    with ServerThread(database_url) as url:
        world = World(url, key, read_only, other_key, workspace_id, DEMO_DATASET_ID, sessions, database_url)
        edges = world.graphql("query($id: UUID!) { dataset(id: $id) { sessions(first: 100) { edges { node { id name } } } } }",
                              {"id": str(DEMO_DATASET_ID)})["dataset"]["sessions"]["edges"]
        world.names = {e["node"]["id"]: e["node"]["name"] for e in edges}
        world.session_ids = [uuid.UUID(e["node"]["id"]) for e in edges]
        yield world


def launch() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium chromium-driver"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


# How long a page action or an `expect` waits, in milliseconds: what the page does in well
# under a second takes several on a machine that is busy with other tests.
BROWSER_WAIT_MS = 30_000


class Visit:
    """A page in a fresh browser context, with every request it makes recorded."""

    def __init__(self, browser: Browser, world: World, key: str | None = None) -> None:
        self.world = world
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        # Playwright's 30 s default would do; said here, since a loaded 2-core CI machine runs
        # Chromium, the server and another test worker at once.
        self.context.set_default_timeout(BROWSER_WAIT_MS)
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.refusal_expected = False  # a refused key makes the browser log its 401
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda w: self.requests.append(w.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        if key is not None:  # as if entered once before: the page keeps it in localStorage
            self.context.add_init_script(f"localStorage.setItem('evalql:apiKey', {json.dumps(key)})")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if self.refusal_expected and "status of 401" in message.text:
            return
        self.errors.append(message.text)

    def close(self) -> None:
        self.context.close()

    def foreign_requests(self) -> list[str]:
        """Requests (WebSockets included) to anywhere but the server's own origin."""
        origins = (self.world.url + "/", self.world.url.replace("http://", "ws://", 1) + "/")
        return [u for u in self.requests if not (u.startswith(origins) or u.startswith(("blob:", "data:")))]

    def screenshot(self, name: str) -> None:
        (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
        # What fits the window, as a person first sees it (a whole page of 50 examples
        # would weigh a megabyte).
        self.page.screenshot(path=str(ARTIFACTS / "screenshots" / f"{name}.jpg"), type="jpeg", quality=80)


def record_timing(name: str, value: Any) -> None:
    """One file per measurement: the suite's workers may record at the same time."""
    (ARTIFACTS / "timings").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings" / f"{name}.json").write_text(json.dumps(value, indent=2) + "\n")
