"""The SQL constructs of the filter compiler that differ between SQLite and PostgreSQL.

Each helper takes the dialect name and returns one SQLAlchemy expression; everything
else in the compiler is portable Core. Literals are always bound parameters.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    CTE, Boolean, ColumnElement, Text, and_, case, cast, column, exists, func, literal, literal_column, or_, select, true,
)
from sqlalchemy.dialects.postgresql import JSONB

from evalql.core.values import number_text

_UPPER, _LOWER = string.ascii_uppercase, string.ascii_lowercase
_ASCII_FOLD = str.maketrans(_UPPER, _LOWER)


def fold(text: str) -> str:
    """Case folding for `search`: ASCII letters only, exactly as `ascii_lower` does in SQL."""
    return text.translate(_ASCII_FOLD)


def ascii_lower(column: Any, dialect: str) -> ColumnElement[str]:
    """Lower-case ASCII letters only, on both databases.

    SQLite's lower() folds ASCII only; PostgreSQL's follows the database locale. To give
    one answer everywhere, PostgreSQL uses translate() over A-Z instead.
    """
    if dialect == "postgresql":
        return func.translate(column, _UPPER, _LOWER)
    return func.lower(column)


def contains_text(column: Any, needle: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive (ASCII) substring test, LIKE wildcards in `needle` escaped. Never NULL."""
    return func.coalesce(ascii_lower(column, dialect).contains(fold(needle), autoescape=True), False)


def has_element(json_list: Any, value: str, dialect: str) -> ColumnElement[bool]:
    """The JSON array `json_list` (e.g. `tags`) has the string `value` as an element.

    PostgreSQL tests JSONB containment (`@>`, index-friendly); SQLite has no such
    operator, so the array is expanded with json_each and compared element by element.
    """
    if dialect == "postgresql":
        contained = cast(json_list, JSONB).op("@>", return_type=Boolean)(_jsonb(orjson.dumps([value]).decode()))
        return func.coalesce(contained, False)
    elements = func.json_each(json_list).table_valued("value", "type").alias("tag")
    return exists(select(1).select_from(elements).where(elements.c.type == "text", elements.c.value == value))


def canonical_number(text: str) -> int | float | None:
    """The number whose §4.3 string form is exactly `text`, else None ("1.0" is not one:
    the string form of 1.0 is "1")."""
    try:
        value: int | float = int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value if number_text(value) == text else None


@dataclass(frozen=True)
class Flattened:
    """The flattened entries of a JSON object column (spec §4.3 `input_key`/`output_key`):
    nested object keys joined with `.`, list elements sharing their parent's key. Leaves
    are scalars and empty containers.

    Computed at query time by a recursive CTE nested in the EXISTS that uses it, so no
    derived table has to be kept in step with run writes and patches. Its cost grows with
    the size of the inputs/outputs of the runs that reach this condition.
    """

    walk: CTE
    dialect: str

    @property
    def path(self) -> ColumnElement[str]:
        return self.walk.c.path

    def leaf(self) -> ColumnElement[bool]:
        c = self.walk.c
        if self.dialect == "postgresql":
            kind = func.jsonb_typeof(c.value)
            return or_(kind.not_in(["object", "array"]), c.value.in_([_jsonb("{}"), _jsonb("[]")]))
        return or_(c.type.not_in(["object", "array"]), c.value.in_(["{}", "[]"]))

    def matches(self, text: str) -> ColumnElement[bool]:
        """The leaf's §4.3 string form equals `text`."""
        c = self.walk.c
        number = canonical_number(text)
        if self.dialect == "postgresql":
            kind = func.jsonb_typeof(c.value)
            options = [and_(kind == "string", _pg_text(c.value) == text)]
            if number is not None or text in ("true", "false", "null", "{}", "[]"):
                options.append(and_(kind != "string", c.value == _jsonb(text)))
            return or_(*options)
        options = [and_(c.type == "text", c.value == text)]
        if number is not None:
            options.append(and_(c.type.in_(["integer", "real"]), c.value == number))
        if text in ("true", "false", "null"):
            options.append(c.type == text)
        if text in ("{}", "[]"):
            options.append(and_(c.type.in_(["object", "array"]), c.value == text))
        return or_(*options)

    def text(self) -> ColumnElement[str]:
        """The string value of a string leaf (NULL for other leaves), for `search`."""
        c = self.walk.c
        if self.dialect == "postgresql":
            return case((func.jsonb_typeof(c.value) == "string", _pg_text(c.value)))
        return case((c.type == "text", c.value))


def _jsonb(text: str) -> ColumnElement[Any]:
    """JSON text bound as text and cast by the server (JSONB's own bind would re-encode it)."""
    return cast(literal(text, Text), JSONB)


def _pg_text(value: Any) -> ColumnElement[str]:
    """`value #>> '{}'`: a JSONB scalar as text (the string itself for strings)."""
    return value.op("#>>", return_type=Text)(literal_column("'{}'::text[]"))


def flattened(source: Any, correlate: Any, dialect: str, name: str) -> Flattened:
    """The walk over the JSON object `source` of the outer row `correlate`."""
    if dialect == "postgresql":
        source = cast(source, JSONB)  # a no-op on JSONB columns; json columns become comparable
        top = func.jsonb_each(case((func.jsonb_typeof(source) == "object", source))).table_valued(
            column("key", Text), column("value", JSONB)).alias(f"{name}_top")
        anchor = select(top.c.key.label("path"), top.c.value.label("value")).correlate(correlate)
        walk = anchor.cte(name, recursive=True, nesting=True)
        kind = func.jsonb_typeof(walk.c.value)
        members = func.jsonb_each(case((kind == "object", walk.c.value))).table_valued(
            column("key", Text), column("value", JSONB)).alias(
            f"{name}_obj")
        elements = func.jsonb_array_elements(case((kind == "array", walk.c.value))).table_valued(
            column("value", JSONB)).alias(
            f"{name}_arr")
        children = (select(members.c.key.label("key"), members.c.value.label("value"))
                    .union_all(select(literal(None, Text).label("key"), elements.c.value.label("value")))
                    .subquery(f"{name}_child").lateral())
        step = (select(case((kind == "array", walk.c.path), else_=walk.c.path + "." + children.c.key),
                       children.c.value)
                .select_from(walk).join(children, true()))
        return Flattened(walk.union_all(step), dialect)
    top = func.json_each(source).table_valued(column("key", Text), "value", "type").alias(f"{name}_top")
    anchor = (select(top.c.key.label("path"), top.c.value.label("value"), top.c.type.label("type"))
              .where(func.json_type(source) == "object").correlate(correlate))
    walk = anchor.cte(name, recursive=True, nesting=True)
    child = func.json_each(walk.c.value).table_valued(column("key", Text), "value", "type").alias(f"{name}_child")
    step = (select(case((walk.c.type == "array", walk.c.path), else_=walk.c.path + "." + child.c.key),
                   child.c.value, child.c.type)
            .select_from(walk).join(child, true()).where(walk.c.type.in_(["object", "array"])))
    return Flattened(walk.union_all(step), dialect)


__all__ = ["Flattened", "ascii_lower", "canonical_number", "contains_text", "flattened", "fold", "has_element"]
