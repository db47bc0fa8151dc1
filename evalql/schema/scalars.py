"""Custom scalars. They serialise with the value formats of `core.formats`, as REST does, and are
bound to their Python types through `StrawberryConfig.scalar_map` (schema/__init__.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from evalql.core.formats import format_cost, ts
from evalql.db.derive import parse_timestamp

# A group key: String, Int or Float, as REST group_key (spec §5.3 step 3).
GroupKey = NewType("GroupKey", object)


def _same(value: Any) -> Any:
    return value


SCALARS: dict[object, ScalarDefinition] = {
    uuid.UUID: strawberry.scalar(name="UUID", description="Lowercase hyphenated UUID.",
                                 serialize=str, parse_value=lambda v: uuid.UUID(str(v))),
    dt.datetime: strawberry.scalar(name="DateTime", description='ISO-8601 in UTC, "+00:00".',
                                   serialize=ts, parse_value=parse_timestamp),
    Decimal: strawberry.scalar(name="Decimal", description='A decimal string without exponent ("0.0012").',
                               serialize=format_cost, parse_value=lambda v: Decimal(str(v))),
    GroupKey: strawberry.scalar(name="GroupKey", description="A group key: String, Int or Float.",
                                serialize=_same, parse_value=_same),
}
