"""Third-party browser bundles served by evalql itself (GraphiQL at /graphql, Swagger UI at
/docs): each lives in a directory under evalql/static/ that scripts/build_assets.py (`make
assets`) fills from npm, with a MANIFEST.json it writes last. Nothing comes from a CDN."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs

from starlette.staticfiles import StaticFiles
from starlette.types import Scope


def read_manifest(directory: Path) -> dict | None:
    try:
        return json.loads((directory / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return None


def built_manifest(directory: Path, names: Iterable[str]) -> dict | None:
    """The manifest when the build produced every one of `names`, else None.

    build_assets.py writes MANIFEST.json last, so its presence plus the files means the
    build finished.
    """
    manifest = read_manifest(directory)
    if manifest is None:
        return None
    files = manifest.get("files", {})
    return manifest if all(name in files and (directory / name).is_file() for name in names) else None


def versioned_url(prefix: str, name: str, manifest: dict) -> str:
    """`prefix/name?v=<content hash>`, HTML-escaped: the hash lets `BundleFiles` send a
    year-long Cache-Control while a rebuild with new bundles still reaches browsers at once."""
    return html.escape(f"{prefix.rstrip('/')}/{name}?v={manifest['files'][name]['sha256'][:16]}")


def js_literal(value: object) -> str:
    # JSON is valid JS; escaping "<" keeps a "</script>" inside a value from closing an
    # inline script.
    return json.dumps(value).replace("<", "\\u003c")


def page(title: str, style: str, head: str, body: str) -> str:
    """A page of bundles: `head` links them, `body` runs them. A `.missing` box (shown when
    `make assets` has not run) is styled here for every page."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>evalql &middot; {title}</title>
<link rel="icon" href="data:,">
<style>
{style}
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


class BundleFiles(StaticFiles):
    """StaticFiles with explicit JS/CSS types and cache headers.

    Types are fixed rather than left to `mimetypes`, whose answer for .js depends on the
    host's /etc/mime.types.
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
        # Only URLs carrying the content hash (as `versioned_url` writes them) may be
        # cached for good; a bare URL must revalidate after a rebuild.
        versioned = "v" in parse_qs(scope.get("query_string", b"").decode("latin-1"))
        response.headers["cache-control"] = (
            "public, max-age=31536000, immutable" if versioned else "no-cache"
        )
        return response


def bundle_files(directory: Path) -> StaticFiles:
    """ASGI app serving one bundle directory. check_dir=False: importing/mounting must not
    fail before `make assets`; requests for missing files then just get 404."""
    return BundleFiles(directory=directory, check_dir=False)
