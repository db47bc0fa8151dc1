"""The layers of ARCHITECTURE.md, checked: which package of evalql may import which.

REST (`evalql.rest`) and GraphQL (`evalql.schema`, `evalql.graphql_app`) are siblings over
the interface-neutral core; neither imports the other, and nothing below them imports
either. Every `import` and `from … import` of the package is read from the source (also
those inside functions), so a rule cannot be dodged by a local import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evalql"

INTERFACES = ("evalql.rest", "evalql.schema", "evalql.graphql_app", "evalql.graphql_http", "evalql.graphql_ws",
              "evalql.graphiql")
ENTRY_POINTS = ("evalql.app", "evalql.cli", "evalql.demo")

# package -> packages it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "evalql.rest": ("evalql.schema", "evalql.graphql_app", "evalql.graphql_ws", "evalql.graphiql", "evalql.loaders",
                    *ENTRY_POINTS),
    "evalql.schema": ("evalql.rest", "evalql.graphql_app", "evalql.graphql_ws", *ENTRY_POINTS),
    "evalql.graphql_app": ("evalql.rest.", "evalql.graphql_ws", *ENTRY_POINTS),
    "evalql.graphql_http": ("evalql.rest.", "evalql.schema", "evalql.graphql_app", "evalql.graphql_ws", *ENTRY_POINTS),
    "evalql.graphql_ws": ("evalql.rest.", *ENTRY_POINTS),
    "evalql.loaders": (*INTERFACES, "evalql.ingest", *ENTRY_POINTS),
    "evalql.ingest": (*INTERFACES, "evalql.loaders", *ENTRY_POINTS),
    "evalql.core": (*INTERFACES, "evalql.loaders", "evalql.ingest", *ENTRY_POINTS),
    "evalql.engine": (*INTERFACES, "evalql.loaders", "evalql.ingest", *ENTRY_POINTS),
    "evalql.queries": (*INTERFACES, "evalql.loaders", "evalql.ingest", "evalql.engine", *ENTRY_POINTS),
    "evalql.filters": (*INTERFACES, "evalql.loaders", "evalql.ingest", "evalql.queries", "evalql.engine",
                       *ENTRY_POINTS),
    "evalql.db": (*INTERFACES, "evalql.loaders", "evalql.ingest", "evalql.queries", "evalql.filters",
                  "evalql.engine", *ENTRY_POINTS),
}

# The core's vocabulary: modules that import nothing of evalql, so that storage, filters
# and queries (below the core's requests) may use them without a cycle.
VOCABULARY = ("evalql.core.enums", "evalql.core.errors", "evalql.core.values")
BELOW_CORE = ("evalql.db", "evalql.filters", "evalql.queries", "evalql.engine")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, text: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute or relative import in a file."""
    tree = ast.parse(text, str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def within(module: str, package: str) -> bool:
    return module == package.rstrip(".") or module.startswith(package.rstrip(".") + ".")


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def violations(sources: dict[Path, str]) -> list[str]:
    out: dict[tuple[Path, int], str] = {}  # one report per import statement
    for path, text in sources.items():
        here = module_name(path)
        for line, target in imports_of(path, text):
            if not target.startswith("evalql"):
                continue
            for package, forbidden in FORBIDDEN.items():
                if within(here, package) and any(within(target, f) for f in forbidden):
                    out.setdefault((path, line), f"{path.relative_to(PACKAGE.parent)}:{line} {here} imports {target}")
            if any(within(here, p) for p in BELOW_CORE) and within(target, "evalql.core") \
                    and not any(within(target, v) for v in VOCABULARY):
                out.setdefault((path, line), f"{path.relative_to(PACKAGE.parent)}:{line} {here} imports {target} (above it)")
            if any(within(here, v) for v in VOCABULARY) and target != here:
                out.setdefault((path, line), f"{path.relative_to(PACKAGE.parent)}:{line} vocabulary module {here} "
                                             f"imports {target}")
    return sorted(out.values())


def read_sources() -> dict[Path, str]:
    return {path: path.read_text() for path in SOURCES}


def test_layers_import_one_way() -> None:
    assert violations(read_sources()) == []


@pytest.mark.parametrize("source,target", [
    ("evalql/schema/query.py", "evalql.rest.group_runs"),
    ("evalql/rest/runs_read.py", "evalql.schema.enums"),
    ("evalql/ingest/wire.py", "evalql.rest.errors"),
    ("evalql/db/writes.py", "evalql.queries.run_details"),
    ("evalql/queries/group_runs.py", "evalql.core.group_request"),
])
def test_the_rule_catches_a_forbidden_import(source, target) -> None:
    """The checker itself can fail: a forbidden import added to a file (inside a function,
    where a quick fix would hide it) is reported."""
    sources = read_sources()
    path = PACKAGE.parent / source
    sources[path] += f"\n\ndef _probe():\n    import {target}  # noqa\n"
    assert any(target in v for v in violations(sources))
