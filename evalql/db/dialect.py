"""Named SQL constructs for what SQLite and PostgreSQL spell differently.

Query code builds one dialect-neutral expression (`AsciiLower(Run.name)`, never
`if dialect == ...`); each construct has one `@compiles` rendering per database, chosen
when the statement compiles, and its docstring says why the two differ. Every value
from a caller is a bound parameter created when the construct is built, so it is part
of the statement's cache key and a cached compilation is reused with the new values;
renderings add only constants, or render what the cache key already holds.

The JSON walk of inputs/outputs is in `evalql.db.json_walk`, percentiles in
`evalql.db.percentile`.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import BigInteger, Boolean, String, Text, cast, exists, false, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

_UPPER, _LOWER = string.ascii_uppercase, string.ascii_lowercase


def sqlite_and_postgresql_only(cls: type) -> type:
    """Class decorator: any other dialect (including the default one of `str(stmt)`) gets
    a clear error instead of a function call that no database defines."""

    @compiles(cls)
    def _elsewhere(element: Any, compiler: Any, **kw: Any) -> str:
        raise CompileError(f"{cls.__name__} renders on SQLite and PostgreSQL only, not on {compiler.dialect.name}")

    return cls


def args(element: FunctionElement) -> list[Any]:
    """The argument expressions of a construct, in the order it was built with."""
    return list(element.clauses.clauses)


def grouped(compiler: Any, expr: Any, **kw: Any) -> str:
    """`expr` rendered in parentheses: a construct's SQL is one operand wherever the
    construct is used (inside AND, OR, NOT or a comparison), whatever operators it holds."""
    return compiler.process(Grouping(expr), **kw)


def sql_text(value: str) -> Any:
    """A constant SQL string literal (for fixed words such as JSON type names, never for
    caller values: those are bound parameters)."""
    assert "'" not in value
    return literal_column(f"'{value}'")


# -- text ----------------------------------------------------------------------------------

@sqlite_and_postgresql_only
class CodePointOrder(FunctionElement[str]):
    """`column`, compared and ordered by Unicode code point.

    SQLite's default BINARY collation compares UTF-8 bytes, which is code-point order.
    PostgreSQL compares text by the database's locale (which folds case and accents
    first), so it needs `COLLATE "C"`: byte order of UTF-8, i.e. code-point order.
    """

    name = "code_point_order"
    # Plain text: values compared with it are bound as such, never with a collation of
    # the operand's type, which PostgreSQL would find in conflict with "C".
    type = String()
    inherit_cache = True


@compiles(CodePointOrder, "sqlite")
def _code_point_order_sqlite(element: CodePointOrder, compiler: Any, **kw: Any) -> str:
    return compiler.process(args(element)[0], **kw)


@compiles(CodePointOrder, "postgresql")
def _code_point_order_postgresql(element: CodePointOrder, compiler: Any, **kw: Any) -> str:
    return grouped(compiler, args(element)[0].collate("C"), **kw)


@sqlite_and_postgresql_only
class AsciiLower(FunctionElement[str]):
    """`column` with the ASCII letters A-Z lower-cased and every other character kept.

    SQLite's lower() folds ASCII only. PostgreSQL's lower() follows the database locale
    (É becomes é, and the answer depends on the server's settings), so there the same
    mapping is spelled with translate() over A-Z.
    """

    name = "ascii_lower"
    type = String()
    inherit_cache = True


@compiles(AsciiLower, "sqlite")
def _ascii_lower_sqlite(element: AsciiLower, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(args(element)[0], **kw)})"


@compiles(AsciiLower, "postgresql")
def _ascii_lower_postgresql(element: AsciiLower, compiler: Any, **kw: Any) -> str:
    return f"translate({compiler.process(args(element)[0], **kw)}, '{_UPPER}', '{_LOWER}')"


# -- JSON membership ----------------------------------------------------------------------

@sqlite_and_postgresql_only
class JsonHasElement(FunctionElement[bool]):
    """The JSON array `json_list` holds the string `value` as one of its elements (false,
    never NULL, when it does not or `json_list` is NULL).

    PostgreSQL tests JSONB containment, `@> '["value"]'` (index-friendly); SQLite has no
    containment operator, so the array is expanded with json_each and its string
    elements compared one by one. The two read the value in different forms, so the
    construct binds both: the string, and the one-element JSON array holding it.
    """

    name = "json_has_element"
    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True

    def __init__(self, json_list: Any, value: str) -> None:
        super().__init__(json_list, literal(value, Text), literal(orjson.dumps([value]).decode(), Text))


@compiles(JsonHasElement, "sqlite")
def _json_has_element_sqlite(element: JsonHasElement, compiler: Any, **kw: Any) -> str:
    json_list, value, _ = args(element)
    elements = func.json_each(json_list).table_valued("value", "type").alias("tag")
    found = select(1).select_from(elements).where(elements.c.type == sql_text("text"), elements.c.value == value)
    return compiler.process(exists(found), **kw)


@compiles(JsonHasElement, "postgresql")
def _json_has_element_postgresql(element: JsonHasElement, compiler: Any, **kw: Any) -> str:
    json_list, _, as_array = args(element)
    contained = cast(json_list, JSONB).op("@>", return_type=Boolean)(cast(as_array, JSONB))
    return compiler.process(func.coalesce(contained, false()), **kw)


@sqlite_and_postgresql_only
class JsonHasAnyOf(FunctionElement[bool]):
    """The member `key` of the JSON object `document` is a list holding one of the
    strings `values` (or is one of those strings itself).

    PostgreSQL has the JSONB operator `?|` (any of these strings is an element); SQLite
    has none, so the member is expanded with json_each and its values compared. `key` is
    a fixed name of the caller's code, part of the statement's shape, not a value.

    For positive use: where the member is missing, PostgreSQL's answer is NULL, SQLite's
    false. (An object-valued member also differs: `?|` tests its keys, json_each its
    values.)
    """

    name = "json_has_any_of"
    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True
    _traverse_internals = FunctionElement._traverse_internals + [("key", InternalTraversal.dp_string)]

    def __init__(self, document: Any, key: str, values: Sequence[str]) -> None:
        if not values:
            raise ValueError("JsonHasAnyOf needs at least one value")
        self.key = key
        super().__init__(document, *[literal(v, String) for v in values])


@compiles(JsonHasAnyOf, "sqlite")
def _json_has_any_of_sqlite(element: JsonHasAnyOf, compiler: Any, **kw: Any) -> str:
    document, *values = args(element)
    elements = func.json_each(document, literal(f"$.{element.key}")).table_valued("value")
    return compiler.process(exists(select(1).select_from(elements).where(elements.c.value.in_(values))), **kw)


@compiles(JsonHasAnyOf, "postgresql")
def _json_has_any_of_postgresql(element: JsonHasAnyOf, compiler: Any, **kw: Any) -> str:
    document, *values = args(element)
    return grouped(compiler, cast(document, JSONB)[literal(element.key)].has_any(array(values)), **kw)


__all__ = ["AsciiLower", "CodePointOrder", "JsonHasAnyOf", "JsonHasElement", "sqlite_and_postgresql_only"]


# -- time --------------------------------------------------------------------------------

@sqlite_and_postgresql_only
class EpochMicros(FunctionElement[int]):
    """A UTC timestamp column as whole microseconds since 1970 (an integer), so bulk reads
    need no datetime object per row.

    SQLite stores `UtcDateTime` as `YYYY-MM-DD HH:MM:SS.ffffff` text: the seconds of its
    first 19 characters by strftime('%s') plus the six fraction digits (SQLite's date
    functions keep milliseconds and would round .999999 up to the next second; julianday()
    is a float). PostgreSQL's extract(epoch ...) is numeric (exact) since version 14.
    """

    name = "epoch_micros"
    type = BigInteger()
    inherit_cache = True


@compiles(EpochMicros, "sqlite")
def _epoch_micros_sqlite(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    x = compiler.process(args(element)[0], **kw)
    return f"(CAST(strftime('%s', substr({x}, 1, 19)) AS INTEGER) * 1000000 + CAST(substr({x}, 21, 6) AS INTEGER))"


@compiles(EpochMicros, "postgresql")
def _epoch_micros_postgresql(element: EpochMicros, compiler: Any, **kw: Any) -> str:
    return f"CAST(extract(epoch FROM {compiler.process(args(element)[0], **kw)}) * 1000000 AS BIGINT)"
