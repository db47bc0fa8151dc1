#!/usr/bin/env python3
"""Fetch GraphiQL's browser bundles from npm and copy them into the package.

The repository holds only assets/package.json + package-lock.json; the
third-party bundles themselves are installed here (``npm ci``) and copied to
evalql/static/graphiql/, which is git-ignored but shipped in the wheel.

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
OUT = ROOT / "evalql" / "static" / "graphiql"
# Written after a successful `npm ci`: the lock hash it installed, so a re-run
# can tell node_modules is current by content rather than by mtimes (which a
# git checkout resets).
STAMP = NODE_MODULES / ".evalql-lock.sha256"

# Output name -> (npm package, path inside it). Only the UMD builds: they are
# plain <script> files that need no bundler. graphiql.min.js expects the
# React/ReactDOM globals, loads no other chunks, and its CSS inlines its fonts
# as data: URLs, so these four files are all the page needs at runtime (the
# .map files are left out: only devtools ask for them).
FILES = {
    "react.production.min.js": ("react", "umd/react.production.min.js"),
    "react-dom.production.min.js": ("react-dom", "umd/react-dom.production.min.js"),
    "graphiql.min.js": ("graphiql", "graphiql.min.js"),
    "graphiql.min.css": ("graphiql", "graphiql.min.css"),
}
PACKAGES = sorted({pkg for pkg, _ in FILES.values()})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_hash() -> str:
    # package.json is hashed too: `npm ci` refuses a lock out of sync with it.
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        h.update((ASSETS / name).read_bytes())
    return h.hexdigest()


def output_is_current(lock: str) -> bool:
    """True when OUT already holds exactly what this lock produces."""
    try:
        manifest = json.loads((OUT / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("lock_sha256") != lock:
        return False
    files = manifest.get("files", {})
    if set(files) != set(FILES):
        return False
    for name, meta in files.items():
        path = OUT / name
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


def copy_files(lock: str) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    # MANIFEST.json goes first and comes back last, so an interrupted build
    # never looks complete to assets_available().
    (OUT / "MANIFEST.json").unlink(missing_ok=True)
    # The directory is ours alone: drop anything a previous layout left behind.
    for stale in OUT.iterdir():
        if stale.is_file() and stale.name not in FILES:
            stale.unlink()

    files = {}
    for name, (pkg, rel) in FILES.items():
        src = NODE_MODULES / pkg / rel
        if not src.is_file():
            sys.exit(f"build_assets: expected {src.relative_to(ROOT)} is missing; check the pinned versions")
        dst = OUT / name
        shutil.copyfile(src, dst)
        files[name] = {"package": pkg, "source": rel, "size": dst.stat().st_size, "sha256": sha256(dst)}

    versions = {
        pkg: json.loads((NODE_MODULES / pkg / "package.json").read_text())["version"] for pkg in PACKAGES
    }
    manifest = {"packages": versions, "lock_sha256": lock, "files": files}
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="re-run npm ci and re-copy even if up to date")
    args = parser.parse_args()

    lock = lock_hash()
    if args.force:
        STAMP.unlink(missing_ok=True)
    elif output_is_current(lock):
        print(f"build_assets: {OUT.relative_to(ROOT)} is up to date")
        return 0

    npm_ci(lock)
    manifest = copy_files(lock)
    pins = ", ".join(f"{k} {v}" for k, v in manifest["packages"].items())
    print(f"build_assets: wrote {len(manifest['files'])} files to {OUT.relative_to(ROOT)} ({pins})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
