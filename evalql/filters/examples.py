"""Filter trees to SQL conditions over examples (spec §4.5, errors §4.7).

Fields: `id` (eq, neq, in), `created_at`, `modified_at` (eq, neq, gt, gte, lt, lte);
`metadata` (`has(metadata, '<json object>')`, `exists(metadata, "<key>")`); dotted
`metadata.<key>` (eq, neq, in, gt, gte, lt, lte); `metadata_key`/`metadata_value`
(§4.4 binding, the run compiler's logic over `example_metadata`); `inputs.<path>` and
`outputs.<path>` (eq, neq, search); `and`, `or`, `not`.

Semantics, decided here and followed by the oracle of the tests:
- Metadata is read from the normalised top-level entries (`example_metadata`: key, kind,
  §4.3 string form, number). `eq(metadata.k, v)`: the entry `k` exists and its string form
  is that of `v`; `in` likewise for any listed value; `neq` is `not(eq)`.
  `eq(metadata.k, null)`: `k` is absent or null; `neq(metadata.k, null)`: present, not null.
  Ordered comparisons take a number (compared with numeric entries, as numbers) or a
  string (compared with string entries, in code-point order); other entries never pass.
  `metadata.<key>` names one top-level key; quote it if it is not an identifier
  (`metadata."a.b"`).
- `has(metadata, '{"k": v, …}')`: for every key `k` of the object, the entry `k` exists and
  its string form equals that of `v` (nested objects and arrays by canonical JSON). An
  empty object always holds. `exists(metadata, "k")`: the entry `k` exists (even if null).
- `inputs.<path>`/`outputs.<path>`: the path is walked like `input_key` of §4.3 — nested
  object keys joined with `.`, list elements sharing their parent's path — so
  `eq(inputs.a.b, v)` is `and(eq(input_key, 'a.b'), eq(input_value, v))` on a run. `eq`
  holds if some leaf (scalar or empty container) at the path has the string form of `v`;
  a non-empty object or array is never equal to a literal. `eq(inputs.p, null)`: nothing
  non-null is at the path (absent, or null). `search(inputs.p, v)`: some string value at
  or below the path contains `v` (ASCII case-insensitive).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true
from sqlalchemy.orm import aliased

from evalql.core.values import normalize
from evalql.db.dialect import CodePointOrder
from evalql.db.json_walk import JsonWalk, json_walk
from evalql.db.models import Example, ExampleMetadata
from evalql.filters import literals as lit_
from evalql.filters.ast import Compare, Exists, Expr, Field, Has, In, Search
from evalql.filters.errors import FilterError
from evalql.filters.matching import canonical_number, contains_text
from evalql.filters.runs import ORDERED, Entries, RunFilter, _op, _ordered, _texts_in
from evalql.filters.syntax import parse

EXAMPLE_PAIRS = ("metadata_key", "metadata_value")
EXAMPLE_FIELDS = ("id", "created_at", "modified_at", "metadata", "inputs", "outputs", *EXAMPLE_PAIRS)
DOTTED = ("metadata", "inputs", "outputs")
TIMESTAMPS = ("created_at", "modified_at")


class ExampleFilter(RunFilter):
    """Compiles trees over `example` (the `Example` entity or an alias of it).

    Logical nodes and the §4.4 key/value binding (`conjunction`, `lone`,
    `entry_condition`) are the run compiler's; the fields are the §4.5 ones."""

    def __init__(self, example: Any = Example, prefix: str = "x") -> None:
        super().__init__(example, prefix)

    @property
    def example(self) -> Any:
        return self.run

    # -- key/value pairs (§4.4) over the example's own metadata ---------------------------

    def pair_of(self, expr: Expr) -> tuple[str, Compare | In] | None:
        field = getattr(expr, "field", None)
        if field is None or field.name not in EXAMPLE_PAIRS:
            return None
        return super().pair_of(expr)

    def entries(self, pair: str) -> Entries:
        if pair in ("input", "output"):
            return super().entries(pair)
        assert pair == "metadata", pair
        em = aliased(ExampleMetadata, name=self.name("em"))
        ex = self.example
        return Entries(em, [em.workspace_id == ex.workspace_id, em.example_id == ex.id], em.key,
                       lambda texts: _texts_in(em.value, texts), correlate=ex)

    # -- fields --------------------------------------------------------------------------

    def plain(self, field: Field) -> None:
        shown = ".".join(field.path)
        if field.name not in EXAMPLE_FIELDS:
            raise FilterError(f"unknown field '{shown}'", field.offset)
        if len(field.path) > 1 and field.name not in DOTTED:
            raise FilterError(f"unknown field '{shown}'", field.offset)
        if field.name == "metadata" and len(field.path) > 2:
            raise FilterError(f"unknown field '{shown}': metadata.<key> names one top-level key "
                              f"(quote keys with dots: metadata.\"a.b\")", field.offset)

    def comparison(self, c: Compare | In) -> ColumnElement[bool]:
        field = c.field
        self.plain(field)
        op = _op(c)
        name = field.name
        if len(field.path) > 1:
            if name == "metadata":
                return self.metadata_entry(c, field.path[1])
            if not isinstance(c, Compare) or op not in ("eq", "neq"):
                raise FilterError(f"{op}() is not allowed on field '{'.'.join(field.path)}'", c.offset)
            return self.document_eq(c)
        allowed = ("eq", "neq", "in") if name == "id" else ORDERED if name in TIMESTAMPS else ()
        if op not in allowed:
            hint = f"; use {name}.<key>" if name in DOTTED else ""
            raise FilterError(f"{op}() is not allowed on field '{name}'{hint}", c.offset)
        coerce = lit_.as_uuid if name == "id" else lit_.as_timestamp
        column = getattr(self.example, name)
        if isinstance(c, In):
            values = [coerce(v, name) for v in c.values]
            return column.in_(values) if values else false()
        if c.value.value is None:
            if op not in ("eq", "neq"):
                raise FilterError(f"{op}() cannot compare '{name}' with null", c.value.offset)
            return column.is_(None) if op == "eq" else column.is_not(None)
        return _ordered(column, op, coerce(c.value, name))

    def metadata_entry(self, c: Compare | In, key: str) -> ColumnElement[bool]:
        """`metadata.<key>` over the example's normalised metadata entry `key`."""
        entries = self.entries("metadata")
        md = entries.source
        at = md.key == key
        if isinstance(c, In):
            return entries.exists(at, _texts_in(md.value, [normalize(v.value).text for v in c.values]))
        value = c.value.value
        if c.op in ("eq", "neq"):
            if value is None:
                present = entries.exists(at, md.kind != "null")
                return not_(present) if c.op == "eq" else present
            equal = entries.exists(at, md.value == normalize(value).text)
            return equal if c.op == "eq" else not_(equal)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = lit_.as_number(c.value, f"metadata.{key}")  # as a float column's operand
            return entries.exists(at, md.kind == "number", md.num.is_not(None), _ordered(md.num, c.op, number))
        if isinstance(value, str):
            return entries.exists(at, md.kind == "string", _ordered(CodePointOrder(md.value), c.op, value))
        raise FilterError(f"{c.op}() on 'metadata.{key}' takes a number or a string, got "
                          f"{'null' if value is None else 'a boolean'}", c.value.offset)

    def walk(self, field: Field) -> JsonWalk:
        column = self.example.inputs if field.name == "inputs" else self.example.outputs
        return json_walk(column, self.example, self.name("walk"))

    def document_eq(self, c: Compare) -> ColumnElement[bool]:
        """`eq`/`neq` on `inputs.<path>` / `outputs.<path>`."""
        walk = self.walk(c.field)
        path = ".".join(c.field.path[1:])
        nodes = select(1).select_from(walk.cte).where(walk.path == path)
        if c.value.value is None:
            present = exists(nodes.where(walk.not_null()).correlate(self.example))
            return not_(present) if c.op == "eq" else present
        text = normalize(c.value.value).text
        equal = exists(nodes.where(walk.leaf(), walk.equals(text, canonical_number(text))).correlate(self.example))
        return equal if c.op == "eq" else not_(equal)

    def has(self, c: Has) -> ColumnElement[bool]:
        self.plain(c.field)
        if c.field.path != ("metadata",):
            raise FilterError(f"has() is not allowed on field '{'.'.join(c.field.path)}'", c.offset)
        wanted = _json_object(c)
        conditions = []
        for key, value in wanted.items():
            entries = self.entries("metadata")
            conditions.append(entries.exists(entries.key == key, entries.source.value == normalize(value).text))
        return and_(*conditions) if conditions else true()

    def search(self, c: Search) -> ColumnElement[bool]:
        if c.field is None:
            raise FilterError("search() takes a field in example filters: search(inputs.<path>, \"…\")", c.offset)
        self.plain(c.field)
        if c.field.name not in ("inputs", "outputs") or len(c.field.path) < 2:
            raise FilterError(f"search() is not allowed on field '{'.'.join(c.field.path)}'", c.offset)
        needle = lit_.as_text(c.value, "search")
        walk = self.walk(c.field)
        path = ".".join(c.field.path[1:])
        within = or_(walk.path == path, walk.path.startswith(path + ".", autoescape=True))
        stmt = select(1).select_from(walk.cte).where(within, contains_text(walk.string_value(), needle))
        return exists(stmt.correlate(self.example))

    def exists(self, c: Exists) -> ColumnElement[bool]:
        self.plain(c.field)
        if c.field.path != ("metadata",):
            raise FilterError(f"exists() is not allowed on field '{'.'.join(c.field.path)}'", c.offset)
        entries = self.entries("metadata")
        return entries.exists(entries.key == lit_.as_text(c.key, "exists"))


def _json_object(c: Has) -> dict[str, Any]:
    text = c.value.value
    if isinstance(text, str):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
    raise FilterError("has(metadata, …) takes a JSON object string, e.g. '{\"key\": \"value\"}'", c.value.offset)


# -- entry points ---------------------------------------------------------------------------

def example_condition(text_or_tree: str | Expr, *, example: Any = Example, prefix: str = "x") -> ColumnElement[bool]:
    """The SQL condition on `example` of an example filter string (or tree); `FilterError`
    if the string does not parse or uses a field or operator §4.5 does not allow.
    Dialect-neutral: it becomes SQLite's or PostgreSQL's SQL when its statement compiles."""
    tree = parse(text_or_tree) if isinstance(text_or_tree, str) else text_or_tree
    return ExampleFilter(example, prefix).compile(tree)


def validate_example_filter(text: str) -> Expr:
    """Parse and check `text` against the example fields without a database (every
    `FilterError` is raised while building the neutral expression, see
    `validate_run_filter`)."""
    tree = parse(text)
    ExampleFilter().compile(tree)
    return tree


__all__ = ["EXAMPLE_FIELDS", "ExampleFilter", "example_condition", "validate_example_filter"]
