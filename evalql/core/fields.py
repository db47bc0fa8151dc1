"""Field types shared by the REST bodies and query strings (spec §1.4, §1.5).

PostgreSQL refuses the NUL character in text and in JSONB strings (SQLite stores it), so
it is refused here, on both databases alike, as a 422 rather than a database error.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from evalql.db import derive
from evalql.db.bounds import MAX_OFFSET

NUL = "\x00"
NUL_MESSAGE = "text must not contain the NUL character (\\u0000)"


def json_path_where(value: Any, bad: Callable[[Any], bool]) -> str | None:
    """Where a JSON value holds a scalar or an object key that is `bad`, or None ("." for the
    value itself). Iterative: JSON may nest deeper than Python's recursion limit."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if bad(str(key)):
                    return f"{path}.{key!r}"
                stack.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
        elif bad(item):
            return path or "."
    return None


def nul_path(value: Any) -> str | None:
    """Where a JSON value holds a NUL character (in a string or an object key), or None."""
    return json_path_where(value, lambda item: isinstance(item, str) and NUL in item)


def nul_loc(value: Any) -> list[Any] | None:
    """The location (keys and list indexes) of the first string or object key of a JSON value
    that holds a NUL character, or None. An object key that holds one ends the location."""
    stack: list[tuple[list[Any], Any]] = [([], value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return loc
        elif isinstance(item, dict):
            for key, child in item.items():
                if NUL in str(key):
                    return [*loc, key]
                stack.append(([*loc, key], child))
        elif isinstance(item, list):
            stack.extend(([*loc, i], child) for i, child in enumerate(item))
    return None


def _has_nul(value: Any) -> bool:
    """Whether a JSON value holds NUL anywhere: the walk of `nul_path` without its paths,
    which cost more than the test itself (every text field of every ingested run is checked)."""
    if isinstance(value, str):
        return NUL in value
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if NUL in str(key):
                    return True
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def without_nul(value: Any) -> Any:
    found = nul_path(value) if _has_nul(value) else None
    if found is not None:
        raise ValueError(NUL_MESSAGE if found == "." else f"{NUL_MESSAGE}, at {found}")
    return value


NON_FINITE_MESSAGE = "numbers must be finite (not NaN or Infinity)"


def finite_json(value: Any) -> Any:
    """A JSON value without NaN or Infinity. JSON cannot spell them, but Python's JSON reader
    (GraphQL's variables) and a GraphQL literal too large for a float (`1e999`) make them,
    and PostgreSQL's JSONB refuses them."""
    found = json_path_where(value, lambda item: isinstance(item, float) and not math.isfinite(item))
    if found is not None:
        raise ValueError(NON_FINITE_MESSAGE if found == "." else f"{NON_FINITE_MESSAGE}, at {found}")
    return value


def utc_timestamp(value: dt.datetime) -> dt.datetime:
    """Naive means UTC (spec §1.5); an offset that moves the value out of datetime's range is
    a validation error, not an overflow inside the database layer."""
    try:
        return derive.parse_timestamp(value)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


def _not_bool(value: Any) -> Any:
    # Lax mode would read `true` as 1; spec §5.1 wants booleans rejected for integers.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return value


NO_NUL = AfterValidator(without_nul)
Int = Annotated[int, BeforeValidator(_not_bool)]
Text = Annotated[str, NO_NUL]

# Texts with a length range. The length constraint comes before the NUL check, so a too-short
# value is pydantic's `string_too_short` (constraints after a validator report `too_short`).
Name = Annotated[str, Field(min_length=1, max_length=255), NO_NUL]  # datasets, sessions
RunName = Annotated[str, Field(min_length=1, max_length=4096), NO_NUL]
FeedbackKey = Annotated[str, Field(min_length=1, max_length=180), NO_NUL]
TraceTier = Annotated[str, Field(max_length=32), NO_NUL]  # the column's width
JsonObject = Annotated[dict[str, Any], NO_NUL]
Timestamp = Annotated[dt.datetime, AfterValidator(utc_timestamp)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Field(ge=1, le=100)]
