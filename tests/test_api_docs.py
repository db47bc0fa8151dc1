"""`/docs`, the browsable REST reference: served offline (every script and stylesheet is a
path of this app, fetched here through it), at /docs and /api/v1/docs alike, with `GET
/api/v1` redirecting to it; and `evalql serve` names it. Needs the bundles built (`make
assets` / scripts/build_assets.py); the app runs on a fresh SQLite file, which nothing here reads."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

import evalql.api_docs as api_docs
from evalql import cli
from evalql.config import Settings
from tests.support.app import app_client
from tests.support.pages import refs_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def served(tmp_path):
    async with app_client(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/docs.db")) as found:
        yield found


@pytest.fixture
def client(served):
    return served[0]


@pytest.fixture
def built():
    if not api_docs.assets_available():
        pytest.fail("The API reference's assets are not built: run `make assets` (python3 scripts/build_assets.py)")
    return json.loads((api_docs.STATIC_DIR / "MANIFEST.json").read_text())


@pytest.mark.parametrize("path", ["/docs", "/api/v1/docs", "/docs/", "/api/v1/docs/"])
async def test_page_loads_only_assets_this_app_serves(client, built, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # No URL of another origin anywhere in the page: no CDN, no font service, no validator badge.
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert "validatorUrl: null" in page

    refs = refs_of(page)
    assert len(refs.scripts) == 1 and len(refs.styles) == 1
    for url in refs.scripts + refs.styles:
        parts = urlsplit(url)
        assert url.startswith("/") and not url.startswith("//") and not parts.netloc, url
        served = await client.get(url)
        assert served.status_code == 200, url
        kind = "javascript" if url in refs.scripts else "css"
        assert kind in served.headers["content-type"], (url, served.headers["content-type"])
        entry = built["files"][parts.path.rsplit("/", 1)[-1]]
        assert len(served.content) == entry["size"] > 5_000
        assert hashlib.sha256(served.content).hexdigest() == entry["sha256"]
        assert "immutable" in served.headers["cache-control"]  # hash-versioned URLs

    # The document the page shows is this app's, at a path it serves.
    [openapi_url] = re.findall(r'url: "([^"]+)"', page)
    document = await client.get(openapi_url)
    assert document.status_code == 200 and document.json()["openapi"].startswith("3.1")


async def test_page_under_a_root_path(served, built):
    """Behind a proxy that mounts evalql under a prefix (ASGI root_path), the page's URLs carry it."""
    transport = httpx.ASGITransport(app=served[1], root_path="/evalql")
    async with httpx.AsyncClient(transport=transport, base_url="http://evalql.test") as c:
        page = (await c.get("/evalql/docs")).text
    refs = refs_of(page)
    assert all(u.startswith("/evalql/docs/static/") for u in refs.scripts + refs.styles)
    assert 'url: "/evalql/openapi.json"' in page


def test_manifest_pins_the_package_json_version(built):
    pinned = json.loads((ROOT / "assets" / "package.json").read_text())["dependencies"]["swagger-ui-dist"]
    assert built["packages"] == {"swagger-ui-dist": pinned}
    assert set(built["files"]) == {"swagger-ui-bundle.js", "swagger-ui.css"}


async def test_missing_assets_render_a_hint_instead_of_crashing(client, monkeypatch, tmp_path):
    monkeypatch.setattr(api_docs, "STATIC_DIR", tmp_path)
    assert not api_docs.assets_available()
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "make assets" in response.text
    assert "<script" not in response.text  # nothing to 404 on
    assert refs_of(response.text).other == ["data:,", "/openapi.json"]  # the inline icon, the document


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/"])
async def test_api_root_redirects_to_the_reference(client, path):
    response = await client.get(path)
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"
    assert (await client.get(path, follow_redirects=True)).text == (await client.get("/docs")).text


async def test_api_paths_still_reach_their_routes(client):
    """`/api/v1` alone is the reference's; every path under it is still the REST API's."""
    assert (await client.get("/api/v1/datasets")).status_code == 401  # a REST route, asking for a key
    assert (await client.get("/api/v1/datasets/")).status_code == 401
    assert (await client.get("/api/v1/nothing-here")).status_code == 404


def test_serve_names_the_reference(monkeypatch, capsys, tmp_path):
    started = []
    monkeypatch.setattr("evalql.serving.serve", lambda app, settings, **kwargs: started.append(kwargs))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = cli.main(["serve", "--database-url", f"sqlite+aiosqlite:///{tmp_path}/served.db", "--port", str(port)])
    assert code == 0 and started
    base = f"http://127.0.0.1:{port}"
    assert f"REST at {base}/api/v1 (reference: {base}/docs)" in capsys.readouterr().err
