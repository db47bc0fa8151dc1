"""Offline GraphiQL: the page loads only local assets, and they are served intact.

Needs the bundles built (`make assets` / scripts/build_assets.py); no database.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

import evalql.graphiql as graphiql
from evalql.graphiql import assets_available, graphiql_html, graphiql_static_app
from tests.support.pages import AssetRefs, refs_of

PREFIX = "/graphql/static/"


def make_app() -> Starlette:
    # The same two pieces, at the same paths, that evalql/app.py mounts.
    async def page(request):
        return HTMLResponse(graphiql_html())

    return Starlette(routes=[Route("/graphql", page), Mount("/graphql/static", graphiql_static_app())])


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def built():
    if not assets_available():
        pytest.fail("GraphiQL assets are not built: run `make assets` (python3 scripts/build_assets.py)")
    return json.loads((graphiql.STATIC_DIR / "MANIFEST.json").read_text())


async def asset_refs(client) -> AssetRefs:
    resp = await client.get("/graphql")
    assert resp.status_code == 200
    return refs_of(resp.text)


async def test_page_references_only_local_assets(client, built):
    resp = await client.get("/graphql")
    assert "text/html" in resp.headers["content-type"]
    # No external URL of any kind, not even a font or a link in a comment.
    assert "http://" not in resp.text and "https://" not in resp.text

    refs = await asset_refs(client)
    assert len(refs.scripts) == 3 and len(refs.styles) == 1
    for url in refs.scripts + refs.styles:
        assert not url.startswith("//"), url  # scheme-relative would leave the host
        assert url.startswith(PREFIX), url
        assert not urlsplit(url).netloc


async def test_react_loads_before_graphiql(client, built):
    names = [urlsplit(u).path.rsplit("/", 1)[-1] for u in (await asset_refs(client)).scripts]
    assert names == ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js"]


async def test_assets_are_served_and_match_manifest(client, built):
    refs = await asset_refs(client)
    for url, kind in [(u, "javascript") for u in refs.scripts] + [(u, "css") for u in refs.styles]:
        resp = await client.get(url)
        assert resp.status_code == 200, url
        assert kind in resp.headers["content-type"], (url, resp.headers["content-type"])
        assert len(resp.content) > 5_000, url  # a real bundle, not an error stub
        entry = built["files"][urlsplit(url).path.removeprefix(PREFIX)]
        assert len(resp.content) == entry["size"]
        assert hashlib.sha256(resp.content).hexdigest() == entry["sha256"]
        # The page asks for hash-versioned URLs, which may be cached for good.
        assert "immutable" in resp.headers["cache-control"]


def test_manifest_pins_expected_versions(built):
    assert built["packages"] == {"graphiql": "3.8.3", "react": "18.3.1", "react-dom": "18.3.1"}
    assert set(built["files"]) == {
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql.min.css",
    }


async def test_unversioned_url_revalidates_and_unknown_file_404s(client, built):
    resp = await client.get(PREFIX + "graphiql.min.css")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-cache"
    assert (await client.get(PREFIX + "nope.js")).status_code == 404
    assert (await client.get(PREFIX + "../graphiql.py")).status_code == 404


async def test_page_explains_api_key_header(client, built):
    text = (await client.get("/graphql")).text
    assert "X-API-Key" in text
    assert "shouldPersistHeaders: true" in text
    assert "datasets" in text and "exampleCount" in text


async def test_missing_assets_render_a_hint_instead_of_crashing(monkeypatch, tmp_path):
    monkeypatch.setattr(graphiql, "STATIC_DIR", tmp_path)
    assert not assets_available()
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        resp = await c.get("/graphql")
        assert resp.status_code == 200
        assert "make assets" in resp.text
        assert "<script src=" not in resp.text  # nothing to 404 on
        assert (await c.get(PREFIX + "graphiql.min.js")).status_code == 404
