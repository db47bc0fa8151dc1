"""Column types whose behaviour must be identical on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, UserDefinedType

# JSONB on PostgreSQL (indexable, compared by value), JSON text on SQLite. Python None
# is SQL NULL (not the JSON text `null`) however the row is written.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# Run payloads (inputs, outputs, extra, events, serialized) stay JSON text on both:
# JSONB reorders object keys, and previews and answers must keep the keys as sent.
JsonDocument = JSON(none_as_null=True)

# Costs are stored as integer multiples of 1e-12 (pico-units). SQLite has no exact
# decimal type (NUMERIC columns are stored as REAL), and summing floats would turn
# "0.001 + 0.002" into 0.0030000000000000001. Integers sum exactly on both databases,
# so the REST and GraphQL answers carry the same decimal strings everywhere.
COST_SCALE = 10**12


def cost_to_units(value: Decimal | int | float | str | None) -> int | None:
    if value is None:
        return None
    return int((Decimal(str(value)) * COST_SCALE).to_integral_value())


def units_to_cost(units: int | Decimal | None) -> Decimal | None:
    if units is None:
        return None
    return Decimal(int(units)) / COST_SCALE


class Cost(TypeDecorator[Decimal]):
    """A decimal cost stored as a 64-bit count of 1e-12 units."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        return cost_to_units(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return units_to_cost(value)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases.

    SQLite has no timezone support, so values are stored naive in UTC; the fixed
    `YYYY-MM-DD HH:MM:SS.ffffff` text form keeps string order equal to time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UuidKey(UserDefinedType[bytes]):
    """A UUID column read as its 16 bytes, for bulk reads that key rows by id (the engine's
    state): no `uuid.UUID` is made per row, which cost more than the read itself. SQLite
    stores UUIDs as 32 hex digits; asyncpg returns its own UUID objects. Used in SELECT lists
    only (`type_coerce(column, UuidKey())`), never bound or created."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        raise NotImplementedError("UuidKey only reads UUID columns")

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        fromhex = bytes.fromhex

        def process(value: Any) -> bytes | None:
            if value is None:
                return None
            return fromhex(value) if value.__class__ is str else value.bytes

        return process
