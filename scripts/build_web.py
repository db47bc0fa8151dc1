#!/usr/bin/env python3
"""Build the comparison page (web/, Preact + TypeScript) into evalql/static/web/.

The repository holds the page's sources with web/package.json + package-lock.json; the
third-party packages are installed here (`npm ci`) and bundled by Vite, and the output,
git-ignored, is served by evalql (evalql/web.py).

Steps: the schema the page's queries are typed against is written from the server's own
Strawberry schema (web/schema.graphql), gql.tada turns it into TypeScript types, `tsc`
checks every query and component against them, and Vite bundles. Nothing runs when the
output's manifest already names the hash of every input.

Usage: python scripts/build_web.py [--force]   (run with the project's venv: it imports evalql)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
NODE_MODULES = WEB / "node_modules"
OUT = ROOT / "evalql" / "static" / "web"
SCHEMA = WEB / "schema.graphql"
STAMP = NODE_MODULES / ".evalql-lock.sha256"
# What the output depends on, besides the schema text.
INPUTS = ("package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "index.html")


def schema_text() -> str:
    sys.path.insert(0, str(ROOT))
    from evalql.schema import build_schema

    return build_schema(introspection=True).as_str() + "\n"


def inputs_hash(schema: str) -> str:
    h = hashlib.sha256(schema.encode())
    paths = [WEB / name for name in INPUTS] + sorted(
        p for p in (WEB / "src").rglob("*") if p.is_file() and p.name != "graphql-env.d.ts")
    for path in paths:
        h.update(str(path.relative_to(WEB)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def output_is_current(digest: str) -> bool:
    try:
        manifest = json.loads((OUT / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("inputs_sha256") == digest and all(
        (OUT / name).is_file() for name in manifest.get("files", {}))


def run(*cmd: str) -> None:
    result = subprocess.run(cmd, cwd=WEB)
    if result.returncode != 0:
        sys.exit(f"build_web: `{' '.join(cmd)}` failed with exit code {result.returncode}")


def npm_ci() -> None:
    lock = hashlib.sha256((WEB / "package.json").read_bytes() + (WEB / "package-lock.json").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == lock:
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("build_web: `npm` was not found on PATH.\n"
                 "Install Node.js + npm (Debian: apt-get install -y npm) and re-run `make assets`.")
    print("build_web: npm ci in web/ ...", flush=True)
    # --ignore-scripts: no package here needs an install script; none runs at build time.
    run(npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
    STAMP.write_text(lock + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the output is current")
    args = parser.parse_args()

    schema = schema_text()
    digest = inputs_hash(schema)
    if not args.force and output_is_current(digest):
        print(f"build_web: {OUT.relative_to(ROOT)} is up to date")
        return 0

    npm_ci()
    SCHEMA.write_text(schema)
    bin_dir = NODE_MODULES / ".bin"
    run(str(bin_dir / "gql.tada"), "generate", "output")
    run(str(bin_dir / "tsc"), "-p", "tsconfig.json")
    (OUT / "MANIFEST.json").unlink(missing_ok=True)  # an interrupted build never looks complete
    run(str(bin_dir / "vite"), "build", "--logLevel", "warn")

    files = {}
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            files[str(path.relative_to(OUT))] = {"size": len(data), "gzip": len(gzip.compress(data, 9))}
    manifest = {"inputs_sha256": digest, "files": files}
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    total = sum(f["gzip"] for name, f in files.items() if name.endswith((".js", ".css", ".html")))
    print(f"build_web: wrote {len(files)} files to {OUT.relative_to(ROOT)} ({total / 1024:.1f} KiB gzipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
