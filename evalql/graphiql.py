"""Offline GraphiQL: the HTML page and the ASGI app serving its JS/CSS.

The bundles come from npm at build time (scripts/build_assets.py, `make
assets`) into evalql/static/graphiql/; nothing is loaded from a CDN, so the
page works on an air-gapped host.
"""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

from evalql.bundles import built_manifest, bundle_files, js_literal, page, versioned_url

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


def assets_available() -> bool:
    """Whether `make assets` has produced every file the page loads."""
    return built_manifest(STATIC_DIR, _SCRIPTS + _STYLES) is not None


def graphiql_html(graphql_path: str = "/graphql", static_prefix: str = "/graphql/static") -> str:
    """The GraphiQL page; every script and stylesheet comes from `static_prefix`."""
    manifest = built_manifest(STATIC_DIR, _SCRIPTS + _STYLES)
    if manifest is None:
        body = (
            '<div class="missing"><h1>GraphiQL assets are not built</h1>'
            "<p>The GraphQL API itself works; only this in-browser IDE is missing its JavaScript.</p>"
            "<p>Run <code>make assets</code> (needs npm) in the evalql checkout, "
            "then reload this page.</p></div>"
        )
        return _page(head="", body=body)

    def url(name: str) -> str:
        return versioned_url(static_prefix, name, manifest)

    head = "".join(f'<link rel="stylesheet" href="{url(n)}">' for n in _STYLES)
    scripts = "".join(f'<script src="{url(n)}"></script>' for n in _SCRIPTS)
    body = f"""<div id="graphiql">Loading GraphiQL&hellip;</div>
{scripts}
<script>
  const baseFetcher = GraphiQL.createFetcher({{ url: {js_literal(graphql_path)} }});
  // The Headers tab starts with an empty X-API-Key; send no header rather
  // than an empty key, so an unconfigured page is "anonymous", not "bad key".
  function fetcher(params, opts) {{
    const headers = Object.assign({{}}, opts && opts.headers);
    if (!headers["X-API-Key"]) delete headers["X-API-Key"];
    return baseFetcher(params, Object.assign({{}}, opts, {{ headers }}));
  }}
  // GraphiQL fetches the schema when it mounts and again whenever its `fetcher` prop
  // changes: before a key is entered that fetch is refused, and Docs and autocomplete
  // would stay on "Error fetching schema". A new fetcher when the key in the Headers tab
  // changes makes it fetch the schema again, with the key (nothing else is reset).
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  function keyOf(text) {{
    try {{
      const headers = JSON.parse(text || "{{}}");
      return headers && typeof headers === "object" ? String(headers["X-API-Key"] || "") : "";
    }} catch (e) {{
      return null;  // half-typed JSON: keep the current schema
    }}
  }}
  let mountedKey = keyOf(localStorage.getItem("graphiql:headers")) || "";
  let pending = null;
  function onEditHeaders(text) {{
    const key = keyOf(text);
    if (key === null || key === mountedKey) return;
    clearTimeout(pending);
    pending = setTimeout(() => {{ mountedKey = key; render(); }}, 400);
  }}
  function render() {{
    root.render(React.createElement(GraphiQL, {{
      fetcher: (params, opts) => fetcher(params, opts),
      defaultQuery: {js_literal(_DEFAULT_QUERY)},
      defaultHeaders: {js_literal(_DEFAULT_HEADERS)},
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: "headers",
      onEditHeaders,
    }}));
  }}
  render();
</script>"""
    return _page(head=head, body=body)


_STYLE = """\
  html, body { height: 100%; margin: 0; overflow: hidden; }
  #graphiql { height: 100vh; }"""


def _page(head: str, body: str) -> str:
    return page("GraphiQL", _STYLE, head, body)


def graphiql_static_app() -> StaticFiles:
    """ASGI app serving evalql/static/graphiql/ (mount at /graphql/static)."""
    return bundle_files(STATIC_DIR)
