#!/usr/bin/env python3
"""Fetch the browser bundles of GraphiQL and of the REST reference from npm and copy them into the package.

The repository holds only assets/package.json + package-lock.json; the
third-party bundles themselves are installed here (``npm ci``) and copied to
evalql/static/graphiql/ (GraphiQL, at /graphql) and evalql/static/docs/ (Swagger
UI, at /docs), which are git-ignored but shipped in the wheel. Each directory
gets its own MANIFEST.json.

Usage: python3 scripts/build_assets.py [--force]

Stdlib only, so it runs before the project's venv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
NODE_MODULES = ASSETS / "node_modules"
STATIC = ROOT / "evalql" / "static"
# Written after a successful `npm ci`: the lock hash it installed, so a re-run
# can tell node_modules is current by content rather than by mtimes (which a
# git checkout resets).
STAMP = NODE_MODULES / ".evalql-lock.sha256"

# "<directory under evalql/static>/<output name>" -> (npm package, path inside it).
# Only the UMD builds: they are plain <script> files that need no bundler.
# graphiql.min.js expects the React/ReactDOM globals, loads no other chunks,
# and its CSS inlines its fonts as data: URLs, so these four files are all the
# page needs at runtime (the .map files are left out: only devtools ask for
# them). swagger-ui-bundle.js carries its own React and loads nothing else; its
# CSS names fonts but loads none (the browser's own sans-serif is used).
FILES = {
    "graphiql/react.production.min.js": ("react", "umd/react.production.min.js"),
    "graphiql/react-dom.production.min.js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql/graphiql.min.js": ("graphiql", "graphiql.min.js"),
    "graphiql/graphiql.min.css": ("graphiql", "graphiql.min.css"),
    "docs/swagger-ui-bundle.js": ("swagger-ui-dist", "swagger-ui-bundle.js"),
    "docs/swagger-ui.css": ("swagger-ui-dist", "swagger-ui.css"),
}
OUTPUTS = sorted({name.split("/", 1)[0] for name in FILES})


def files_of(out: str) -> dict[str, tuple[str, str]]:
    """The output names (without the directory) of one directory under evalql/static."""
    return {name.split("/", 1)[1]: source for name, source in FILES.items() if name.split("/", 1)[0] == out}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_hash() -> str:
    # package.json is hashed too: `npm ci` refuses a lock out of sync with it.
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update((ASSETS / name).read_bytes())
    return h.hexdigest()


def output_is_current(lock: str) -> bool:
    """True when every output directory already holds exactly what this lock produces."""
    return all(directory_is_current(out, lock) for out in OUTPUTS)


def directory_is_current(out: str, lock: str) -> bool:
    directory = STATIC / out
    try:
        manifest = json.loads((directory / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("lock_sha256") != lock:
        return False
    files = manifest.get("files", {})
    if set(files) != set(files_of(out)):
        return False
    for name, meta in files.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != meta["size"] or sha256(path) != meta["sha256"]:
            return False
    return True


def npm_ci(lock: str) -> None:
    if STAMP.is_file() and STAMP.read_text().strip() == lock:
        return  # node_modules already matches the lock
    npm = shutil.which("npm")
    if npm is None:
        sys.exit(
            "build_assets: `npm` was not found on PATH.\n"
            "Install Node.js + npm (Debian: apt-get install -y npm) and re-run `make assets`."
        )
    print("build_assets: npm ci in assets/ ...", flush=True)
    # --ignore-scripts: nothing here needs install scripts, and skipping them
    # keeps third-party code from running at build time.
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
    result = subprocess.run(cmd, cwd=ASSETS)
    if result.returncode != 0:
        sys.exit(f"build_assets: `{' '.join(cmd)}` failed with exit code {result.returncode}")
    STAMP.write_text(lock + "\n")


def copy_files(out: str, lock: str) -> dict:
    directory = STATIC / out
    wanted = files_of(out)
    directory.mkdir(parents=True, exist_ok=True)
    # MANIFEST.json goes first and comes back last, so an interrupted build
    # never looks complete to assets_available().
    (directory / "MANIFEST.json").unlink(missing_ok=True)
    # The directory is ours alone: drop anything a previous layout left behind.
    for stale in directory.iterdir():
        if stale.is_file() and stale.name not in wanted:
            stale.unlink()

    files = {}
    for name, (pkg, rel) in wanted.items():
        src = NODE_MODULES / pkg / rel
        if not src.is_file():
            sys.exit(f"build_assets: expected {src.relative_to(ROOT)} is missing; check the pinned versions")
        dst = directory / name
        shutil.copyfile(src, dst)
        files[name] = {"package": pkg, "source": rel, "size": dst.stat().st_size, "sha256": sha256(dst)}

    versions = {
        pkg: json.loads((NODE_MODULES / pkg / "package.json").read_text())["version"]
        for pkg in sorted({pkg for pkg, _ in wanted.values()})
    }
    manifest = {"packages": versions, "lock_sha256": lock, "files": files}
    (directory / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="re-run npm ci and re-copy even if up to date")
    args = parser.parse_args()

    lock = lock_hash()
    if args.force:
        STAMP.unlink(missing_ok=True)
    elif output_is_current(lock):
        print(f"build_assets: {', '.join(str((STATIC / out).relative_to(ROOT)) for out in OUTPUTS)} are up to date")
        return 0

    npm_ci(lock)
    for out in OUTPUTS:
        manifest = copy_files(out, lock)
        pins = ", ".join(f"{k} {v}" for k, v in manifest["packages"].items())
        print(f"build_assets: wrote {len(manifest['files'])} files to {(STATIC / out).relative_to(ROOT)} ({pins})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
