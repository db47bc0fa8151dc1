"""The named SQL constructs of evalql.db (`dialect`, `json_walk`, `percentile`), run on
every backend against plain-Python oracles: both databases must give the oracle's
answer, whatever SQL each construct renders there.

Values go through a temporary table of the test's database; each test runs a statement
shape more than once with other values, through a compiled cache of its own, so the
reuse of a cached compilation (new bound values, same SQL) is checked as well.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import math
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    exists,
    insert,
    literal,
    not_,
    select,
    text,
)
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncConnection

import evalql
from evalql.db.dialect import AsciiLower, CodePointOrder, EpochMicros, JsonHasAnyOf, JsonHasElement
from evalql.db.engine import create_engine
from evalql.db.json_walk import json_walk
from evalql.db.percentile import Percentiles
from evalql.db.types import Json, JsonDocument, UtcDateTime
from evalql.filters.matching import canonical_number
from tests.filter_oracle import flatten, fold, string_form


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def probe_table(conn: AsyncConnection, *columns: Column, rows: list[dict[str, Any]]) -> Table:
    """A temporary table (id, *columns) holding `rows`, with ids 0, 1, ... in order."""
    table = Table(f"probe_{uuid.uuid4().hex[:8]}", MetaData(), Column("id", Integer, primary_key=True), *columns,
                  prefixes=["TEMPORARY"])
    await conn.run_sync(lambda sync: table.create(sync))
    await conn.execute(insert(table), [{"id": i, **row} for i, row in enumerate(rows)])
    return table


async def cached(conn: AsyncConnection) -> tuple[AsyncConnection, dict]:
    """The connection with a compiled cache of the test's own, to count compilations."""
    cache: dict = {}
    return await conn.execution_options(compiled_cache=cache), cache


# -- percentiles ---------------------------------------------------------------------------

def interpolated(values: list[float], p: float) -> float:
    """Spec §3.3: sort, h = p * (n - 1), interpolate between x[floor h] and x[ceil h]."""
    xs = sorted(values)
    h = p * (len(xs) - 1)
    lo, hi = math.floor(h), math.ceil(h)
    return xs[lo] + (xs[hi] - xs[lo]) * (h - lo)


GROUPS: dict[tuple[str, int], list[float | None]] = {
    ("a", 1): [3.0, 1.0, 2.0, 10.0],
    ("a", 2): [5.5],
    ("b", 1): [None, 2.0, None, -1.0],
    ("b", 2): [None],
    ("c", 1): [((i * 37) % 101) / 7 for i in range(101)],
    ("c", 2): [1.0, 1.0, 1.0, 2.0],
    ("d", 1): [0.1, 0.2],
}


async def test_percentiles_interpolate_like_the_spec(conn):
    table = await probe_table(conn, Column("g", String), Column("h", Integer), Column("v", Float),
                              rows=[{"g": g, "h": h, "v": v} for (g, h), vs in GROUPS.items() for v in vs])
    conn, cache = await cached(conn)
    for partition in (("g", "h"), ("g",)):
        by_partition: dict[tuple, list[float]] = {}
        for (g, h), vs in GROUPS.items():
            key = (g, h)[:len(partition)]
            by_partition.setdefault(key, []).extend(v for v in vs if v is not None)
        for ps in ((0.5, 0.99), (0.0, 1.0), (0.25, 0.75)):  # one shape: compiled once per partition
            rows = (await conn.execute(Percentiles(table, partition, "v", ps))).all()
            got = {tuple(row[:len(partition)]): (row.p0, row.p1) for row in rows}
            want = {key: tuple(interpolated(vs, p) for p in ps) for key, vs in by_partition.items() if vs}
            assert got.keys() == want.keys(), ps
            for key, values in want.items():
                # The databases may differ from the oracle in the last bits (see Percentiles).
                assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(got[key], values, strict=True)), \
                    (partition, ps, key, got[key], values)
    assert len(cache) == 2


# -- text ----------------------------------------------------------------------------------

TRICKY = ["a", "A", "b", "B", "Z", "z", "é", "É", "e", "E", "ä", "aa", "a b", "a-b", "ab", "", " ", "ß", "ss",
          "😀", "\u00a0", "中", "Ω", "ω", "_", "~", "1", "10", "9", "-", "a\u0301", "İ", "ı", "Ａ", "\U0010ffff"]


async def test_code_point_order_sorts_and_compares_by_code_point(conn, backend):
    # On PostgreSQL the column gets a collation that folds case and accents first (as a
    # server whose locale is en_US does), which CodePointOrder must override.
    icu = backend == "postgresql" and bool(await conn.scalar(
        text("SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'")))
    column_type = Text().with_variant(Text(collation="und-x-icu"), "postgresql") if icu else Text()
    table = await probe_table(conn, Column("s", column_type), rows=[{"s": s} for s in TRICKY])
    if icu:  # the check below would not notice a missing COLLATE otherwise
        assert (await conn.scalars(select(table.c.s).order_by(table.c.s))).all() != sorted(TRICKY)
    conn, cache = await cached(conn)
    ordered = (await conn.scalars(select(table.c.s).order_by(CodePointOrder(table.c.s), table.c.id))).all()
    assert ordered == sorted(TRICKY)
    assert (await conn.scalars(select(table.c.s).order_by(CodePointOrder(table.c.s).desc()))).all() == \
        sorted(TRICKY, reverse=True)
    for pivot in ("a", "B", "é", "Z", "ä", "😀", ""):
        above = set((await conn.scalars(select(table.c.s).where(CodePointOrder(table.c.s) > pivot))).all())
        at_most = set((await conn.scalars(select(table.c.s).where(CodePointOrder(table.c.s) <= pivot))).all())
        assert above == {s for s in TRICKY if s > pivot}, pivot
        assert at_most == {s for s in TRICKY if s <= pivot}, pivot
    assert len(cache) == 4  # two orderings, two comparisons: each compiled once


async def test_ascii_lower_folds_ascii_letters_only(conn):
    texts = [*TRICKY, "ÉCOLE Élève", "Straße STRASSE", "ΣΑΣ σας", "K\u212a", "ＡＢＣ abc ABC", "MiXeD 123 _-%", None]
    table = await probe_table(conn, Column("s", Text), rows=[{"s": s} for s in texts])
    conn, cache = await cached(conn)
    got = dict((await conn.execute(select(table.c.id, AsciiLower(table.c.s)))).all())
    assert got == {i: None if s is None else fold(s) for i, s in enumerate(texts)}
    for needle in ("é", "ÉC", "STR", "abc"):  # a bound value: one compilation
        found = set((await conn.scalars(select(table.c.id).where(AsciiLower(table.c.s) == fold(needle)))).all())
        assert found == {i for i, s in enumerate(texts) if s is not None and fold(s) == fold(needle)}
    assert len(cache) == 2


# -- time ----------------------------------------------------------------------------------

async def test_epoch_micros_are_exact(conn):
    """Whole microseconds since 1970, exact, also before 1970, at whole seconds, just before
    a second (SQLite's own date functions round to milliseconds) and far ahead (asyncpg
    sends datetime.max as infinity, so one second less)."""
    times = [dt.datetime(2026, 10, 1, 9, 0, 0, 123456, tzinfo=dt.UTC), dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
             dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=dt.UTC), dt.datetime(2024, 2, 29, 23, 59, 59,
             999999, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, 59, 58, 999999, tzinfo=dt.UTC), None]
    table = await probe_table(conn, Column("t", UtcDateTime), rows=[{"t": t} for t in times])
    got = dict((await conn.execute(select(table.c.id, EpochMicros(table.c.t)))).all())
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert got == {i: None if t is None else (t - epoch) // dt.timedelta(microseconds=1) for i, t in enumerate(times)}


# -- JSON membership -----------------------------------------------------------------------

TAGS: list[list[Any] | None] = [
    ["a", "b"], ["A"], [], None, ["a b"], [1, "1"], ["1"], [["a"]], [{"a": "a"}], ["é"], ['"quoted"'], ["a%", "_"],
    [True, "true"], [None], ["", "x"],
]


async def test_json_has_element_matches_string_elements(conn):
    table = await probe_table(conn, Column("tags", Json), rows=[{"tags": t} for t in TAGS])
    conn, cache = await cached(conn)
    everyone = set(range(len(TAGS)))
    for value in ("a", "A", "b", "1", "é", '"quoted"', "a%", "%", "_", "true", "", "x", "nope", "a b"):
        want = {i for i, tags in enumerate(TAGS) if tags is not None and value in [t for t in tags if isinstance(t, str)]}
        has = set((await conn.scalars(select(table.c.id).where(JsonHasElement(table.c.tags, value)))).all())
        lacks = set((await conn.scalars(select(table.c.id).where(not_(JsonHasElement(table.c.tags, value))))).all())
        assert has == want, value
        assert lacks == everyone - want, value  # false, never NULL: NOT is the complement
    assert len(cache) == 2


DOCUMENTS: list[dict[str, Any] | None] = [
    {"dataset_split": ["train", "test"]}, {"dataset_split": "train"}, {"dataset_split": []}, {}, None,
    {"dataset_split": [1, "dev"]}, {"other": ["train"]}, {"dataset_split": ["Train", "tést"]},
    {"dataset_split": [None, "validation"]}, {"dataset_split": None},
]


async def test_json_has_any_of_matches_listed_strings(conn):
    table = await probe_table(conn, Column("doc", Json), rows=[{"doc": d} for d in DOCUMENTS])
    conn, cache = await cached(conn)

    def member(doc: dict[str, Any] | None) -> list[str]:
        value = (doc or {}).get("dataset_split")
        return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]

    for values in (["train"], ["test"], ["dev", "validation"], ["1"], ["nope"], ["tést"], ["Train", "x"]):
        want = {i for i, doc in enumerate(DOCUMENTS) if set(member(doc)) & set(values)}
        found = set((await conn.scalars(
            select(table.c.id).where(JsonHasAnyOf(table.c.doc, "dataset_split", values)))).all())
        assert found == want, values
    assert len(cache) == 2  # the number of values is part of the shape: one and two


# -- the JSON walk -------------------------------------------------------------------------

WALKED: list[Any] = [
    {"a": "x", "b": 1, "c": 1.5, "d": True, "e": None, "f": {}, "g": [], "n": 1.0, "s": "1", "t": "true",
     "h": {"i": "X", "j": [1, "y", {"k": "z"}, [], [[]]]}, "é": "ü", "q": 'say "hi"', "big": 2**53 + 1},
    {"a.b": "dot"}, {"a": {"b": "dot"}}, {"list": [[["deep"]]], "mixed": [None, False, "", -0.5]},
    {}, None, [1, "x"], "x", {"z": {"z": {"z": None}}},
]
TEXTS = ["x", "X", "1", "1.5", "true", "false", "null", "{}", "[]", "y", "z", "ü", "2", "", "1.0", "-0.5",
         str(2**53 + 1), 'say "hi"', "dot", "deep"]


def nodes(doc: Any) -> list[tuple[str, Any]]:
    """Every node below the top-level members (containers too), with its walk path."""
    out: list[tuple[str, Any]] = []

    def walk(path: str, value: Any) -> None:
        out.append((path, value))
        children = value.items() if isinstance(value, dict) else ((None, v) for v in value) \
            if isinstance(value, list) else ()
        for key, child in children:
            walk(path if key is None else f"{path}.{key}", child)

    for key, value in (doc.items() if isinstance(doc, dict) else ()):
        walk(key, value)
    return out


@pytest.mark.parametrize("json_type", ["json", "jsonb"])
async def test_json_walk_reads_leaves_like_the_flattening(conn, json_type):
    """Run payloads are JSON text on both databases, example payloads JSONB on PostgreSQL."""
    table = await probe_table(conn, Column("doc", JsonDocument if json_type == "json" else Json),
                              rows=[{"doc": d} for d in WALKED])
    conn, cache = await cached(conn)

    async def rows_where(*conditions: Any) -> set[int]:
        walk = json_walk(table.c.doc, table, "w")
        conds = [c(walk) for c in conditions]
        stmt = select(table.c.id).where(exists(select(1).select_from(walk.cte).where(*conds).correlate(table)))
        return set((await conn.scalars(stmt)).all())

    leaves = {i: flatten(doc) for i, doc in enumerate(WALKED)}
    every = {i: nodes(doc) for i, doc in enumerate(WALKED)}
    assert await rows_where(lambda w: w.leaf()) == {i for i, found in leaves.items() if found}
    for probe in TEXTS:
        want = {i for i, found in leaves.items() if any(string_form(v) == probe for _, v in found)}
        got = await rows_where(lambda w: w.leaf(), lambda w, t=probe: w.equals(t, canonical_number(t)))
        assert got == want, probe
        strings = {i for i, found in every.items() if any(isinstance(v, str) and v == probe for _, v in found)}
        assert await rows_where(lambda w, t=probe: w.string_value() == t) == strings, probe
    for path, probe in [("h.j", "1"), ("h.j", "y"), ("h.j.k", "z"), ("a.b", "dot"), ("a", "x"), ("list", "deep"),
                       ("mixed", "false"), ("mixed", "null"), ("h.j", "[]"), ("g", "[]"), ("z.z.z", "null")]:
        want = {i for i, found in leaves.items() if (path, probe) in [(p, string_form(v)) for p, v in found]}
        got = await rows_where(lambda w, p=path: w.path == p, lambda w: w.leaf(),
                               lambda w, t=probe: w.equals(t, canonical_number(t)))
        assert got == want, (path, probe)
    for path in ("a", "e", "f", "h", "h.j", "z.z", "z.z.z", "mixed", "nope"):
        want = {i for i, found in every.items() if any(p == path and v is not None for p, v in found)}
        assert await rows_where(lambda w, p=path: w.path == p, lambda w: w.not_null()) == want, path
    # Compiled once per shape: leaf; `equals` per form (string; number as an integer, a
    # big integer, a float; literal; empty); string value; path + `equals` (number, string,
    # literal, empty); path + not-null. Values are bound, bound types are part of the shape.
    assert len(cache) == 1 + 6 + 1 + 4 + 1


# -- elsewhere -----------------------------------------------------------------------------

def test_constructs_refuse_other_dialects():
    """No generic rendering that a database might half-understand: `str()` of a statement
    (the default dialect) names the construct instead."""
    for construct in (AsciiLower(literal("A")), CodePointOrder(literal("a")), JsonHasElement(literal("[]"), "a")):
        with pytest.raises(CompileError, match=type(construct).__name__):
            str(select(construct))


def _dialect_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr == "name" and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "dialect":
            found.append(f"{path}:{node.lineno}: reads .dialect.name")
        if isinstance(node, ast.arg) and node.arg in ("dialect", "dialect_name"):
            found.append(f"{path}:{node.lineno}: takes a '{node.arg}' parameter")
    return found


def test_only_evalql_db_reads_the_dialect():
    """Dialect differences are constructs compiled per dialect, and the few choices that
    are not SQL ask `evalql.db.backend`: outside evalql/db (migrations included), no
    module reads the dialect's name or passes a dialect around."""
    root = Path(evalql.__file__).parent
    modules = [p for p in root.rglob("*.py") if p.relative_to(root).parts[0] != "db"]
    assert len(modules) > 50
    assert list(itertools.chain.from_iterable(_dialect_reads(p) for p in modules)) == []
    # the scan does find what it looks for
    assert _dialect_reads(root / "db" / "backend.py")
