"""Metadata keys and their values' counts (`Dataset.exampleMetadataKeys`, `runMetadataKeys`)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from evalql.queries import metadata_keys as mk


@strawberry.type
class MetadataValueCount:
    value: JSON | None = strawberry.field(description="The value as a group key: a string or a number; null for null.")
    count: int


@strawberry.type
class MetadataKey:
    key: str
    count: int = strawberry.field(description="Rows that have the key (null values included).")
    distinct_values: int
    values: list[MetadataValueCount] = strawberry.field(description="The most frequent values first.")

    @classmethod
    def of(cls, found: mk.KeyCount) -> MetadataKey:
        return cls(key=found.key, count=found.count, distinct_values=found.distinct_values,
                   values=[MetadataValueCount(value=JSON(v.value), count=v.count) for v in found.values])
