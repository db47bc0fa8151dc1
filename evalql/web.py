"""The comparison page (web/, built into evalql/static/web/ by scripts/build_web.py).

One HTML document answers every page path: `/` (datasets and their experiments) and
`/o/{tenant_id}/datasets/{dataset_id}/compare`, the link the LangSmith SDK prints after
`evaluate()`; the page reads its path and asks GraphQL for the rest. The HTML needs no
key: the page asks for one and sends it with each GraphQL request, so nothing of a
workspace is in it. Its scripts and styles are under `/ui/`, with content-hashed names
that may be cached for good.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static" / "web"
HASHED = "assets/"  # Vite's output names carry a content hash

_MISSING = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>evalql</title></head>
<body><h1>The comparison page is not built</h1>
<p>The APIs work; only this page is missing its JavaScript. Run <code>make assets</code>
(needs npm) in the evalql checkout, then reload.</p>
<p><a href="/graphql">GraphiQL</a></p></body></html>"""


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200 and path.startswith(HASHED):
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response


async def page(request: Request) -> Response:
    try:
        html = (STATIC_DIR / "index.html").read_text()
    except OSError:
        return HTMLResponse(_MISSING, status_code=503)
    # Revalidated each time: a rebuild changes the hashed names it links to.
    return HTMLResponse(html, headers={"cache-control": "no-cache"})


ROUTES = [
    Route("/", page, methods=["GET"]),
    Route("/o/{tenant_id}/datasets/{dataset_id}/compare", page, methods=["GET"]),
    Mount("/ui", _Assets(directory=STATIC_DIR, check_dir=False)),
]
