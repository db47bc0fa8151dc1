"""Example (spec §2.2)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, ClassVar

import strawberry
from strawberry.scalars import JSON

from evalql.core.formats import example_name
from evalql.db import models
from evalql.schema.computed import Computed, Values, attributes, computed
from evalql.schema.context import Info
from evalql.schema.errors import NotFound
from evalql.schema.run import Run

if TYPE_CHECKING:
    from evalql.schema.dataset import Dataset


@strawberry.type
class Example(Computed):
    row: strawberry.Private[models.Example]

    id: uuid.UUID = computed()
    name: str = computed()
    inputs: JSON | None = computed()
    outputs: JSON | None = computed()
    metadata: JSON | None = computed()
    splits: list[str] = computed()
    source_run_id: uuid.UUID | None = computed()
    created_at: dt.datetime = computed()
    modified_at: dt.datetime = computed()
    _values: ClassVar[Values] = {
        **attributes("row", "id", "inputs", "outputs", "source_run_id", "created_at", "modified_at"),
        "name": lambda self: example_name(self.row.id),
        "metadata": lambda self: self.row.metadata_,
        "splits": lambda self: list((self.row.metadata_ or {}).get("dataset_split") or []),
    }

    @strawberry.field
    async def dataset(self, info: Info) -> Annotated[Dataset, strawberry.lazy("evalql.schema.dataset")]:
        from evalql.schema.dataset import Dataset

        found = await info.context.loaders.dataset.load(self.row.dataset_id)
        if found is None:
            raise NotFound(f"Dataset {self.row.dataset_id} not found")
        return Dataset(row=found)

    @strawberry.field(description="Root runs of this example in the given sessions, in that session order.")
    async def runs(self, info: Info, session_ids: list[uuid.UUID]) -> list[Run]:
        key = (self.row.id, tuple(dict.fromkeys(session_ids)))
        return [Run(row=r) for r in await info.context.loaders.example_runs.load(key)]
