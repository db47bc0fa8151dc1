"""The browsable REST reference: `/openapi.json` (evalql/rest/openapi.py) and `/docs`, a
Swagger UI page served offline, plus `GET /api/v1` pointing there. Like every REST path
these answer under `/api/v1` too; none needs an API key.

Swagger UI's bundle comes from npm at build time (scripts/build_assets.py, `make assets`)
into evalql/static/docs/; the page loads nothing from another origin (its validator badge,
which would call out, is switched off).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from evalql.bundles import built_manifest, bundle_files, js_literal, page, versioned_url
from evalql.core.json import dumps
from evalql.rest.openapi import build_openapi
from evalql.rest.routes import API_PREFIX

# Module-level so tests can point it elsewhere.
STATIC_DIR = Path(__file__).resolve().parent / "static" / "docs"
DOCS_PATH = "/docs"
STATIC_PATH = "/docs/static"
OPENAPI_PATH = "/openapi.json"

_SCRIPTS = ("swagger-ui-bundle.js",)
_STYLES = ("swagger-ui.css",)
_TITLE = "REST API reference"
_STYLE = "  body { margin: 0; }"


def assets_available() -> bool:
    """Whether `make assets` has produced every file the page loads."""
    return built_manifest(STATIC_DIR, _SCRIPTS + _STYLES) is not None


def docs_html(root_path: str = "") -> str:
    """The reference page. Its URLs are absolute paths on this server (under the ASGI
    `root_path`), so the page works at /docs, /docs/ and /api/v1/docs alike."""
    openapi_url = f"{root_path}{OPENAPI_PATH}"
    manifest = built_manifest(STATIC_DIR, _SCRIPTS + _STYLES)
    if manifest is None:
        body = (
            '<div class="missing"><h1>The API reference page is not built</h1>'
            "<p>The REST API itself works, and so does its description: "
            f'<a href="{openapi_url}">openapi.json</a>. Only this page is missing its JavaScript.</p>'
            "<p>Run <code>make assets</code> (needs npm) in the evalql checkout, then reload this page.</p></div>"
        )
        return page(_TITLE, _STYLE, head="", body=body)
    prefix = f"{root_path}{STATIC_PATH}"
    head = "".join(f'<link rel="stylesheet" href="{versioned_url(prefix, n, manifest)}">' for n in _STYLES)
    scripts = "".join(f'<script src="{versioned_url(prefix, n, manifest)}"></script>' for n in _SCRIPTS)
    body = f"""<div id="swagger-ui">Loading the API reference&hellip;</div>
{scripts}
<script>
  // "Authorize" takes the X-API-Key; it is kept in this browser's localStorage.
  window.ui = SwaggerUIBundle({{
    url: {js_literal(openapi_url)},
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    validatorUrl: null,
  }});
</script>"""
    return page(_TITLE, _STYLE, head=head, body=body)


async def openapi_route(request: Request) -> Response:
    """The document of this app's REST routes, built at the first request and kept."""
    app = request.app
    rendered = getattr(app.state, "openapi_json", None)
    if rendered is None:
        rendered = app.state.openapi_json = dumps(build_openapi(app.routes))
    return Response(rendered, media_type="application/json")


async def docs_route(request: Request) -> Response:
    return HTMLResponse(docs_html(request.scope.get("root_path", "")))


async def api_root_route(request: Request) -> Response:
    """`GET /api/v1` itself names no resource: send a browser to the reference."""
    return RedirectResponse(f"{request.scope.get('root_path', '')}{DOCS_PATH}", status_code=307)


# include_in_schema=False: these describe the API rather than being part of it.
ROUTES: list[BaseRoute] = [
    Route(OPENAPI_PATH, openapi_route, methods=["GET"], include_in_schema=False),
    Route(DOCS_PATH, docs_route, methods=["GET"], include_in_schema=False),
    Mount(STATIC_PATH, bundle_files(STATIC_DIR)),
    Route(API_PREFIX, api_root_route, methods=["GET"], include_in_schema=False),
]
