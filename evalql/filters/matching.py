"""Building blocks the run and example filter compilers share: ASCII case-insensitive
search and the canonical number of a string form.

Everything here is dialect-neutral SQLAlchemy; where the databases differ, the named
constructs of `evalql.db.dialect` and `evalql.db.json_walk` render each one's SQL when
the statement compiles. Literals are always bound parameters.
"""

from __future__ import annotations

import string
from typing import Any

from sqlalchemy import ColumnElement, func

from evalql.core.values import number_text
from evalql.db.dialect import AsciiLower

_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(text: str) -> str:
    """Case folding for `search`: ASCII letters only, exactly as `AsciiLower` does in SQL."""
    return text.translate(_ASCII_FOLD)


def contains_text(column: Any, needle: str) -> ColumnElement[bool]:
    """Case-insensitive (ASCII) substring test, LIKE wildcards in `needle` escaped. Never NULL."""
    return func.coalesce(AsciiLower(column).contains(fold(needle), autoescape=True), False)


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


__all__ = ["canonical_number", "contains_text", "fold"]
