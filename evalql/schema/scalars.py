"""Custom scalars. They serialise exactly as the REST shapes do (rest/shapes.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

from evalql.db.derive import parse_timestamp
from evalql.db.types import format_cost
from evalql.rest.shapes import ts

UUID = strawberry.scalar(
    uuid.UUID, name="UUID", description="Lowercase hyphenated UUID.",
    serialize=str, parse_value=lambda v: uuid.UUID(str(v)),
)

DateTime = strawberry.scalar(
    dt.datetime, name="DateTime", description='ISO-8601 in UTC, "+00:00".',
    serialize=ts, parse_value=parse_timestamp,
)

DecimalScalar = strawberry.scalar(
    Decimal, name="Decimal", description='A decimal string without exponent ("0.0012").',
    serialize=format_cost, parse_value=lambda v: Decimal(str(v)),
)


def _group_key(value: Any) -> Any:
    return value


GroupKey = strawberry.scalar(
    NewType("GroupKey", object), name="GroupKey",
    description="A group key: String, Int or Float, as REST group_key.",
    serialize=_group_key, parse_value=_group_key,
)

__all__ = ["UUID", "DateTime", "DecimalScalar", "GroupKey", "JSON"]
