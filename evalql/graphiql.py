"""Offline GraphiQL: the HTML page and the ASGI app serving its JS/CSS.

The bundles come from npm at build time (scripts/build_assets.py, `make
assets`) into evalql/static/graphiql/; nothing is loaded from a CDN, so the
page works on an air-gapped host.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import parse_qs

from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Resolved from this file so it works from a checkout, an editable install
# and a wheel alike. Module-level so tests can point it elsewhere.
STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"

# Load order matters: ReactDOM needs window.React, GraphiQL needs both.
_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
_STYLES = ("graphiql.min.css",)

_DEFAULT_QUERY = """\
# evalql GraphiQL, served locally (works offline).
#
# Auth: open the "Headers" tab below and set
#   {"X-API-Key": "<your key>"}
# It is kept in this browser's localStorage.
#
# Run with Ctrl+Enter or the play button.
query Datasets {
  datasets {
    edges {
      node {
        id
        name
        exampleCount
      }
    }
  }
}
"""

_DEFAULT_HEADERS = '{\n  "X-API-Key": ""\n}'


def _manifest() -> dict | None:
    try:
        return json.loads((STATIC_DIR / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return None


def assets_available() -> bool:
    """Whether `make assets` has produced every file the page loads.

    build_assets.py writes MANIFEST.json last, so its presence plus the files
    means the build finished.
    """
    manifest = _manifest()
    if manifest is None:
        return False
    return all(
        name in manifest.get("files", {}) and (STATIC_DIR / name).is_file() for name in _SCRIPTS + _STYLES
    )


def _js(value: object) -> str:
    # JSON is valid JS; escaping "<" keeps a "</script>" inside a value from
    # closing the inline script.
    return json.dumps(value).replace("<", "\\u003c")


def graphiql_html(graphql_path: str = "/graphql", static_prefix: str = "/graphql/static") -> str:
    """The GraphiQL page; every script and stylesheet comes from `static_prefix`."""
    manifest = _manifest() if assets_available() else None
    if manifest is None:
        body = (
            '<div class="missing"><h1>GraphiQL assets are not built</h1>'
            "<p>The GraphQL API itself works; only this in-browser IDE is missing its JavaScript.</p>"
            "<p>Run <code>make assets</code> (needs npm) in the evalql checkout, "
            "then reload this page.</p></div>"
        )
        return _page(head="", body=body)

    prefix = static_prefix.rstrip("/")

    def url(name: str) -> str:
        # ?v=<content hash> lets the static app send a year-long Cache-Control
        # while a rebuild with new bundles still reaches browsers at once.
        return html.escape(f"{prefix}/{name}?v={manifest['files'][name]['sha256'][:16]}")

    head = "".join(f'<link rel="stylesheet" href="{url(n)}">' for n in _STYLES)
    scripts = "".join(f'<script src="{url(n)}"></script>' for n in _SCRIPTS)
    body = f"""<div id="graphiql">Loading GraphiQL&hellip;</div>
{scripts}
<script>
  const baseFetcher = GraphiQL.createFetcher({{ url: {_js(graphql_path)} }});
  // The Headers tab starts with an empty X-API-Key; send no header rather
  // than an empty key, so an unconfigured page is "anonymous", not "bad key".
  function fetcher(params, opts) {{
    const headers = Object.assign({{}}, opts && opts.headers);
    if (!headers["X-API-Key"]) delete headers["X-API-Key"];
    return baseFetcher(params, Object.assign({{}}, opts, {{ headers }}));
  }}
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {{
      fetcher,
      defaultQuery: {_js(_DEFAULT_QUERY)},
      defaultHeaders: {_js(_DEFAULT_HEADERS)},
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers",
    }})
  );
</script>"""
    return _page(head=head, body=body)


def _page(head: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>evalql &middot; GraphiQL</title>
<style>
  html, body {{ height: 100%; margin: 0; overflow: hidden; }}
  #graphiql {{ height: 100vh; }}
  .missing {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40em; margin: 4em auto; padding: 1em 2em;
             border: 2px solid #c62828; border-radius: 8px; background: #fff3f3; color: #222; }}
  .missing code {{ background: #eee; padding: 0 .3em; }}
</style>
{head}
</head>
<body>
{body}
</body>
</html>
"""


class _GraphiQLStatic(StaticFiles):
    """StaticFiles with explicit JS/CSS types and cache headers.

    Types are fixed rather than left to `mimetypes`, whose answer for .js
    depends on the host's /etc/mime.types.
    """

    _TYPES = {
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".json": "application/json",
    }

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        content_type = self._TYPES.get(Path(full_path).suffix)
        if content_type and response.status_code != 304:
            response.headers["content-type"] = content_type
        # Only URLs carrying the content hash (as graphiql_html writes them)
        # may be cached for good; a bare URL must revalidate after a rebuild.
        versioned = "v" in parse_qs(scope.get("query_string", b"").decode("latin-1"))
        response.headers["cache-control"] = (
            "public, max-age=31536000, immutable" if versioned else "no-cache"
        )
        return response


def graphiql_static_app() -> StaticFiles:
    """ASGI app serving evalql/static/graphiql/ (mount at /graphql/static).

    check_dir=False: importing/mounting must not fail before `make assets`;
    requests for missing files then just get 404.
    """
    return _GraphiQLStatic(directory=STATIC_DIR, check_dir=False)
