"""Example (spec §2.2)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from evalql.core.formats import example_name
from evalql.db import models
from evalql.schema.context import Info
from evalql.schema.errors import NotFound
from evalql.schema.run import Run

if TYPE_CHECKING:
    from evalql.schema.dataset import Dataset


@strawberry.type
class Example:
    row: strawberry.Private[models.Example]

    @strawberry.field
    def id(self) -> uuid.UUID: return self.row.id

    @strawberry.field
    def name(self) -> str: return example_name(self.row.id)

    @strawberry.field
    def inputs(self) -> JSON | None: return self.row.inputs

    @strawberry.field
    def outputs(self) -> JSON | None: return self.row.outputs

    @strawberry.field
    def metadata(self) -> JSON | None: return self.row.metadata_

    @strawberry.field
    def splits(self) -> list[str]: return list((self.row.metadata_ or {}).get("dataset_split") or [])

    @strawberry.field
    def source_run_id(self) -> uuid.UUID | None: return self.row.source_run_id

    @strawberry.field
    def created_at(self) -> dt.datetime: return self.row.created_at

    @strawberry.field
    def modified_at(self) -> dt.datetime: return self.row.modified_at

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
