"""A query-time walk over a JSON object column, as one dialect-neutral recursive CTE.

The walk yields every node below the object's top-level members as (path, value, type):
nested object keys joined with `.`, list elements sharing their parent's path (spec §4.3
`input_key`/`output_key`). The CTE is the same on both databases; only the constructs
below, which expand a node and read its type and value, render differently.

The `type` column is in the database's own words: SQLite's json_each names the types
null, true, false, integer, real, text, array and object; PostgreSQL's jsonb_typeof
null, boolean, number, string, array and object. Only the constructs of this module
read it, apart from the words both share (`object`, `array`, `null`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CTE,
    Boolean,
    ColumnElement,
    String,
    Text,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from evalql.db.dialect import args, grouped, sql_text, sqlite_and_postgresql_only

CONTAINERS = ("object", "array")  # spelled alike by both databases


def _jsonb_text(text: str) -> Any:
    """A constant JSONB value (PostgreSQL)."""
    return cast(sql_text(text), JSONB)


# -- expanding nodes (table-valued: key, value, type) ---------------------------------------

@sqlite_and_postgresql_only
class JsonMembers(FunctionElement[Any]):
    """Rows (key, value) of the members of the JSON document `source`; none unless it is
    an object.

    The two expanders take different documents: SQLite's json_each would expand an
    array's elements too, PostgreSQL's jsonb_each raises on anything but an object. So
    both are given NULL, which expands to nothing, unless `source` is an object. SQLite's
    json_each also yields each member's type (a `type` column), PostgreSQL's jsonb_each
    does not (see JsonNodeType). On PostgreSQL `source` is cast to JSONB (a no-op for
    JSONB columns; JSON text columns become comparable by value).
    """

    name = "json_members"
    inherit_cache = True


@compiles(JsonMembers, "sqlite")
def _json_members_sqlite(element: JsonMembers, compiler: Any, **kw: Any) -> str:
    source = args(element)[0]
    return compiler.process(func.json_each(case((func.json_type(source) == sql_text("object"), source))), **kw)


@compiles(JsonMembers, "postgresql")
def _json_members_postgresql(element: JsonMembers, compiler: Any, **kw: Any) -> str:
    source = cast(args(element)[0], JSONB)
    return compiler.process(func.jsonb_each(case((func.jsonb_typeof(source) == sql_text("object"), source))), **kw)


@sqlite_and_postgresql_only
class JsonChildren(FunctionElement[Any]):
    """Rows (key, value) of the children of a walked node (its `value` and `type`): the
    members of an object, the elements of an array (their key is not used), none for a
    scalar.

    SQLite's json_each expands both kinds. PostgreSQL needs jsonb_each for objects and
    jsonb_array_elements for arrays, and each raises on the other kind, so the node is
    expanded by a LATERAL union of the two, each given the node only when it fits.
    """

    name = "json_children"
    inherit_cache = True


@compiles(JsonChildren, "sqlite")
def _json_children_sqlite(element: JsonChildren, compiler: Any, **kw: Any) -> str:
    value, type_ = args(element)
    return compiler.process(func.json_each(case((type_.in_([sql_text(t) for t in CONTAINERS]), value))), **kw)


@compiles(JsonChildren, "postgresql")
def _json_children_postgresql(element: JsonChildren, compiler: Any, **kw: Any) -> str:
    value, type_ = args(element)
    members = func.jsonb_each(case((type_ == sql_text("object"), value))).table_valued(
        column("key", Text), column("value", JSONB)).alias()
    elements = func.jsonb_array_elements(case((type_ == sql_text("array"), value))).table_valued(
        column("value", JSONB)).alias()
    children = (select(members.c.key, members.c.value)
                .union_all(select(cast(null(), Text).label("key"), elements.c.value)))
    return f"LATERAL {grouped(compiler, children, **kw)}"


@sqlite_and_postgresql_only
class JsonNodeType(FunctionElement[str]):
    """The JSON type of a row of JsonMembers/JsonChildren (its `value` and `type`
    columns), in the database's own words (see the module's docstring).

    SQLite's json_each hands out values as SQL values (a JSON string arrives as plain
    text, a number as a number), so the type cannot be recovered from them: it is the
    `type` column json_each yields. PostgreSQL's values stay JSONB, and jsonb_each has
    no type column, so there it is jsonb_typeof(value).
    """

    name = "json_node_type"
    type = String()
    inherit_cache = True


@compiles(JsonNodeType, "sqlite")
def _json_node_type_sqlite(element: JsonNodeType, compiler: Any, **kw: Any) -> str:
    return compiler.process(args(element)[1], **kw)


@compiles(JsonNodeType, "postgresql")
def _json_node_type_postgresql(element: JsonNodeType, compiler: Any, **kw: Any) -> str:
    return compiler.process(func.jsonb_typeof(args(element)[0]), **kw)


# -- reading walked nodes (their `value` and `type`) --------------------------------------

@sqlite_and_postgresql_only
class JsonIsLeaf(FunctionElement[bool]):
    """The node is a leaf of the walk: a scalar, or an empty object or array.

    SQLite's json_each gives containers as JSON text ('{}'); PostgreSQL's as JSONB,
    compared with JSONB constants.
    """

    name = "json_is_leaf"
    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True


@compiles(JsonIsLeaf, "sqlite")
def _json_is_leaf_sqlite(element: JsonIsLeaf, compiler: Any, **kw: Any) -> str:
    value, type_ = args(element)
    empty = [sql_text("{}"), sql_text("[]")]
    return grouped(compiler, or_(type_.not_in([sql_text(t) for t in CONTAINERS]), value.in_(empty)), **kw)


@compiles(JsonIsLeaf, "postgresql")
def _json_is_leaf_postgresql(element: JsonIsLeaf, compiler: Any, **kw: Any) -> str:
    value, type_ = args(element)
    empty = [_jsonb_text("{}"), _jsonb_text("[]")]
    return grouped(compiler, or_(type_.not_in([sql_text(t) for t in CONTAINERS]), value.in_(empty)), **kw)


@sqlite_and_postgresql_only
class JsonStringValue(FunctionElement[str]):
    """The text of a string node, NULL for every other node.

    SQLite's json_each already gives a JSON string as its text. PostgreSQL keeps it
    JSONB (`"a\\"b"` with its quotes and escapes); `#>> '{}'` extracts the text.
    """

    name = "json_string_value"
    type = String()
    inherit_cache = True


@compiles(JsonStringValue, "sqlite")
def _json_string_value_sqlite(element: JsonStringValue, compiler: Any, **kw: Any) -> str:
    value, type_ = args(element)
    return compiler.process(case((type_ == sql_text("text"), value)), **kw)


@compiles(JsonStringValue, "postgresql")
def _json_string_value_postgresql(element: JsonStringValue, compiler: Any, **kw: Any) -> str:
    value, type_ = args(element)
    return compiler.process(case((type_ == sql_text("string"), _pg_text(value))), **kw)


def _pg_text(value: Any) -> ColumnElement[str]:
    """`value #>> '{}'`: a JSONB scalar as text (the string itself for strings)."""
    return value.op("#>>", return_type=Text)(sql_text("{}"))


@sqlite_and_postgresql_only
class JsonLeafEquals(FunctionElement[bool]):
    """The leaf (its `value` and `type`) has the JSON text `text`, where a string leaf's
    text is the string itself: `"b"` matches the text `b`, `1`, `1.0` and `1e0` match the
    text `1` (`number`, the number whose canonical text `text` is, or None), `true`,
    `null`, `{}` and `[]` match themselves. Two-valued: false, never NULL.

    SQLite's json_each gives SQL values with the JSON type beside them, so each kind is
    compared on its own: strings as text, numbers as numbers, true/false/null by type,
    empty containers as JSON text. PostgreSQL compares JSONB values, so a non-string
    leaf is simply equal to `text` read as JSONB (numbers compare numerically there).
    Which of these the text can be (its `form`) decides the statement's shape, so it is
    part of the cache key; `text` and `number` are bound.
    """

    name = "json_leaf_equals"
    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True
    _traverse_internals = FunctionElement._traverse_internals + [("form", InternalTraversal.dp_string)]

    def __init__(self, value: Any, type_: Any, text: str, number: int | float | None) -> None:
        if number is not None:
            self.form = "number"
        elif text in ("true", "false", "null"):
            self.form = "literal"
        elif text in ("{}", "[]"):
            self.form = "empty"
        else:
            self.form = "string"
        super().__init__(value, type_, literal(text, String), literal(number))


@compiles(JsonLeafEquals, "sqlite")
def _json_leaf_equals_sqlite(element: JsonLeafEquals, compiler: Any, **kw: Any) -> str:
    value, type_, text, number = args(element)
    options = [and_(type_ == sql_text("text"), value == text)]
    if element.form == "number":
        options.append(and_(type_.in_([sql_text("integer"), sql_text("real")]), value == number))
    elif element.form == "literal":
        options.append(type_ == text)
    elif element.form == "empty":
        options.append(and_(type_.in_([sql_text(t) for t in CONTAINERS]), value == text))
    return grouped(compiler, or_(*options), **kw)


@compiles(JsonLeafEquals, "postgresql")
def _json_leaf_equals_postgresql(element: JsonLeafEquals, compiler: Any, **kw: Any) -> str:
    value, type_, text, _ = args(element)
    options = [and_(type_ == sql_text("string"), _pg_text(value) == text)]
    if element.form != "string":
        options.append(and_(type_ != sql_text("string"), value == cast(text, JSONB)))
    return grouped(compiler, or_(*options), **kw)


# -- the walk ------------------------------------------------------------------------------

@dataclass(frozen=True)
class JsonWalk:
    """The nodes below the top-level members of a JSON object column, for one outer row.

    Computed at query time by a recursive CTE nested in the EXISTS that uses it, so no
    derived table has to be kept in step with writes. Its cost grows with the size of
    the documents of the rows that reach it.
    """

    cte: CTE

    @property
    def path(self) -> ColumnElement[str]:
        return self.cte.c.path

    def leaf(self) -> ColumnElement[bool]:
        """Scalars and empty containers."""
        return JsonIsLeaf(self.cte.c.value, self.cte.c.type)

    def equals(self, text: str, number: int | float | None) -> ColumnElement[bool]:
        """The leaf's JSON text is `text` (see `JsonLeafEquals`)."""
        return JsonLeafEquals(self.cte.c.value, self.cte.c.type, text, number)

    def string_value(self) -> ColumnElement[str]:
        """The text of a string node, NULL for other nodes."""
        return JsonStringValue(self.cte.c.value, self.cte.c.type)

    def not_null(self) -> ColumnElement[bool]:
        """The node is not JSON null (both databases call its type `null`)."""
        return self.cte.c.type != "null"


def json_walk(source: Any, correlate: Any, name: str) -> JsonWalk:
    """The walk over the JSON object `source` of the outer row `correlate`."""
    top = JsonMembers(source).table_valued(column("key", Text), "value", "type").alias(f"{name}_top")
    anchor = (select(top.c.key.label("path"), top.c.value.label("value"),
                     JsonNodeType(top.c.value, top.c.type).label("type"))
              .correlate(correlate))
    walk = anchor.cte(name, recursive=True, nesting=True)
    child = JsonChildren(walk.c.value, walk.c.type).table_valued(
        column("key", Text), "value", "type").alias(f"{name}_child")
    step = (select(case((walk.c.type == "array", walk.c.path), else_=walk.c.path + "." + child.c.key),
                   child.c.value, JsonNodeType(child.c.value, child.c.type).label("type"))
            .select_from(walk).join(child, true()))
    return JsonWalk(walk.union_all(step))


__all__ = ["JsonChildren", "JsonIsLeaf", "JsonLeafEquals", "JsonMembers", "JsonNodeType", "JsonStringValue",
           "JsonWalk", "json_walk"]
