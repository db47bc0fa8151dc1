"""Dataset (spec §2.1) with its examples and sessions as connections."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry

from evalql.db import models
from evalql.db.tenant import readable
from evalql.filters.errors import FilterError
from evalql.filters.examples import example_condition
from evalql.queries import metadata_keys as mk
from evalql.queries.examples import in_any_split
from evalql.queries.sessions import sessions_by_id
from evalql.schema.connection import MAX_FIRST, Connection, connection_of, encode_cursor, keyset_page
from evalql.schema.context import Info
from evalql.schema.errors import BadUserInput
from evalql.schema.example import Example
from evalql.schema.metadata_keys import MetadataKey
from evalql.schema.session import Session

MAX_SESSIONS = 100


def _values_per_key(value: int) -> int:
    if not 1 <= value <= mk.MAX_VALUES_PER_KEY:
        raise BadUserInput(f"valuesPerKey: must be between 1 and {mk.MAX_VALUES_PER_KEY}, got {value}")
    return value


@strawberry.type
class Dataset:
    row: strawberry.Private[models.Dataset]

    @strawberry.field
    def id(self) -> uuid.UUID: return self.row.id

    @strawberry.field
    def name(self) -> str: return self.row.name

    @strawberry.field
    def description(self) -> str | None: return self.row.description

    @strawberry.field
    def data_type(self) -> str: return self.row.data_type

    @strawberry.field
    def created_at(self) -> dt.datetime: return self.row.created_at

    @strawberry.field
    def modified_at(self) -> dt.datetime: return self.row.modified_at

    @strawberry.field
    async def example_count(self, info: Info) -> int:
        return (await info.context.loaders.dataset_counts.load(self.row.id)).example_count

    @strawberry.field
    async def session_count(self, info: Info) -> int:
        return (await info.context.loaders.dataset_counts.load(self.row.id)).session_count

    @strawberry.field(description="The metadata keys of the dataset's live examples (what `groupBy: "
                                  "EXAMPLE_METADATA` can group by), the most common first, with their values' counts.")
    async def example_metadata_keys(self, info: Info, values_per_key: int = 10) -> list[MetadataKey]:
        found = await mk.example_metadata_keys(info.context.tenant, self.row.id,
                                               _values_per_key(values_per_key))
        return [MetadataKey.of(k) for k in found]

    @strawberry.field(description="The metadata keys of the root runs these sessions made on the dataset's live "
                                  "examples (what `groupBy: RUN_METADATA` can group by), the most common first.")
    async def run_metadata_keys(self, info: Info, session_ids: list[uuid.UUID],
                                values_per_key: int = 10) -> list[MetadataKey]:
        if len(session_ids) > MAX_SESSIONS:
            raise BadUserInput(f"sessionIds: at most {MAX_SESSIONS} sessions, got {len(session_ids)}")
        found = await mk.run_metadata_keys(info.context.tenant, self.row.id, session_ids,
                                           _values_per_key(values_per_key))
        return [MetadataKey.of(k) for k in found]

    @strawberry.field(description="Live examples by (created_at, id); `filter` is an example filter (spec §4.5).")
    async def examples(self, info: Info, first: int = 20, after: str | None = None,
                       splits: list[str] | None = None, filter: str | None = None) -> Connection[Example]:
        tenant = info.context.tenant
        stmt = readable(tenant, models.Example).where(models.Example.dataset_id == self.row.id,
                                                     models.Example.deleted_at.is_(None))
        if filter:
            try:
                stmt = stmt.where(example_condition(filter))
            except FilterError as exc:
                raise BadUserInput(f"filter: {exc.message}") from None
        if splits:
            stmt = stmt.where(in_any_split(splits))
        return await keyset_page(tenant, stmt, models.Example.created_at, models.Example.id,
                                 first=first, after=after, descending=False, node=lambda r: Example(row=r))

    @strawberry.field(description="Sessions whose reference dataset is this one, by (start_time, id).")
    async def sessions(self, info: Info, first: int = 20, after: str | None = None) -> Connection[Session]:
        tenant = info.context.tenant
        if after is None:
            # The first page, batched over every dataset of the query (a list of datasets
            # with their experiments costs one statement, not one per dataset).
            if not 1 <= first <= MAX_FIRST:
                raise BadUserInput(f"first: must be between 1 and {MAX_FIRST}, got {first}")
            rows = await info.context.loaders.dataset_sessions.load((self.row.id, first))
            return connection_of([Session.of(r) for r in rows], first,
                                 lambda s: encode_cursor(s.row.start_time, s.row.id))
        stmt = readable(tenant, models.TracerSession).where(models.TracerSession.reference_dataset_id == self.row.id)
        page = await keyset_page(tenant, stmt, models.TracerSession.start_time, models.TracerSession.id,
                                 first=first, after=after, descending=False, node=lambda r: r)
        ranks = await sessions_by_id(tenant, [edge.node.id for edge in page.edges])
        for edge in page.edges:
            edge.node = Session.of(ranks[edge.node.id])
        return page
