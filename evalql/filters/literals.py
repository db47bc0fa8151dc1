"""Coercion of filter literals to the types of the fields they are compared with (spec §4.3).

Each function returns a Python value for a bound parameter, or raises `FilterError` at
the literal's offset ("uncoercible literal", spec §4.7).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal, InvalidOperation

from sqlalchemy import ColumnElement, Float, literal

from evalql.core.values import normalize
from evalql.db.derive import parse_timestamp
from evalql.filters.ast import Lit
from evalql.filters.errors import FilterError

_DURATION = re.compile(r"\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string"


def as_uuid(lit: Lit, field: str) -> uuid.UUID:
    if isinstance(lit.value, str):
        try:
            return uuid.UUID(lit.value)
        except ValueError:
            pass
    raise FilterError(f"{field} takes a UUID, got {_shown(lit)}", lit.offset)


def as_text(lit: Lit, field: str) -> str:
    """Strings as themselves; numbers and booleans by their string form (§4.3)."""
    if lit.value is None:
        raise FilterError(f"{field} cannot be compared with null", lit.offset)
    return normalize(lit.value).text


def as_string(lit: Lit, field: str) -> str:
    if isinstance(lit.value, str):
        return lit.value
    raise FilterError(f"{field} takes a string, got {_kind(lit.value)}", lit.offset)


def as_choice(lit: Lit, field: str, choices: tuple[str, ...]) -> str:
    if isinstance(lit.value, str) and lit.value in choices:
        return lit.value
    raise FilterError(f"{field} takes one of {', '.join(choices)}, got {_shown(lit)}", lit.offset)


def as_bool(lit: Lit, field: str) -> bool:
    if isinstance(lit.value, bool):
        return lit.value
    raise FilterError(f"{field} takes true or false, got {_shown(lit)}", lit.offset)


def as_timestamp(lit: Lit, field: str) -> dt.datetime:
    if isinstance(lit.value, str):
        try:
            parsed = parse_timestamp(lit.value)
        except (ValueError, OverflowError):
            parsed = None
        if parsed is not None:
            return parsed
    raise FilterError(f"{field} takes an ISO-8601 timestamp, got {_shown(lit)}", lit.offset)


INT64 = 1 << 63
# Beyond every stored cost (ingest refuses 1e6 and more) and within 64 bits of 1e-12 units.
COST_BOUND = Decimal(9_000_000)
INT32 = 1 << 31


def as_number(lit: Lit, field: str) -> int | float:
    """A number for a float column or for Python. Drivers bind a Python int as a 64-bit
    integer and refuse larger ones, so those compare as the float nearest them (no column
    holds a value they would compare differently with)."""
    if isinstance(lit.value, (int, float)) and not isinstance(lit.value, bool):
        value = lit.value
        return float(value) if isinstance(value, int) and not -INT64 <= value < INT64 else value
    raise FilterError(f"{field} takes a number, got {_shown(lit)}", lit.offset)


def as_int32_operand(lit: Lit, field: str) -> int | ColumnElement[float]:
    """A number compared with a 32-bit integer column (the token counts). PostgreSQL binds a
    parameter by the column's type, so an integer beyond 32 bits or a fraction would be
    refused by the driver: those are bound as floats, which PostgreSQL and SQLite compare
    with the column's integers exactly."""
    value = as_number(lit, field)
    if isinstance(value, int) and -INT32 <= value < INT32:
        return value
    return literal(float(value), Float)


def as_seconds(lit: Lit, field: str) -> float:
    """A number of seconds, or a duration string "<number><unit>" with unit ms, s, m or h."""
    if isinstance(lit.value, (int, float)) and not isinstance(lit.value, bool):
        return float(lit.value)
    if isinstance(lit.value, str):
        match = _DURATION.fullmatch(lit.value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise FilterError(f"{field} takes seconds or a duration like \"5s\" or \"250ms\", got {_shown(lit)}",
                      lit.offset)


def as_decimal(lit: Lit, field: str) -> Decimal:
    if isinstance(lit.value, (int, float, str)) and not isinstance(lit.value, bool):
        try:
            value = Decimal(str(lit.value).strip())
        except InvalidOperation:
            value = None
        if value is not None and value.is_finite():
            # Clamped, so that it is exact for every cost stored and fits the 64-bit count of
            # 1e-12 units it is compared as (a huge exponent would not, and would take long to expand).
            return max(-COST_BOUND, min(COST_BOUND, value))
    raise FilterError(f"{field} takes a number or a decimal string, got {_shown(lit)}", lit.offset)


def _shown(lit: Lit) -> str:
    if isinstance(lit.value, str):
        text = lit.value if len(lit.value) <= 40 else lit.value[:40] + "…"
        return repr(text)
    return _kind(lit.value) if lit.value is None or isinstance(lit.value, bool) else str(lit.value)
