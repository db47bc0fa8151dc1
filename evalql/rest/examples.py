"""Examples (spec §7.3): bulk and single create, list, read, patch, soft-delete."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, Field, Json, TypeAdapter, field_validator
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.core.errors import NotFoundError
from evalql.core.fields import JsonObject, Limit, Offset, Text, Timestamp
from evalql.core.problems import problem
from evalql.core.values import normalize
from evalql.db import derive, writes
from evalql.db.chunks import id_chunks
from evalql.db.models import Dataset, Example, ExampleMetadata
from evalql.db.tenant import Tenant, live, readable
from evalql.filters.errors import FilterError
from evalql.filters.examples import example_condition
from evalql.queries.examples import in_any_split
from evalql.rest.body import json_body
from evalql.rest.context import request_tenant
from evalql.rest.datasets import live_dataset
from evalql.rest.errors import ApiError
from evalql.rest.params import query_problems, require_path_uuid
from evalql.rest.responses import json_response
from evalql.rest.shapes import example_json

MAX_BULK = 10_000

Split = Text | list[Text] | None


def _metadata_splits(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """A `dataset_split` given inside `metadata` must be a split list (or one split)."""
    if metadata is None or "dataset_split" not in metadata:
        return metadata
    found = metadata["dataset_split"]
    if isinstance(found, str):
        return {**metadata, "dataset_split": [found]}
    if isinstance(found, list) and all(isinstance(s, str) for s in found):
        return {**metadata, "dataset_split": list(dict.fromkeys(found))}
    raise ValueError("metadata.dataset_split must be a string or a list of strings")


class ExampleCreate(BaseModel):
    dataset_id: uuid.UUID
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    metadata: JsonObject | None = None
    split: Split = None
    id: uuid.UUID | None = None
    created_at: Timestamp | None = None
    source_run_id: uuid.UUID | None = None
    use_source_run_io: bool = False

    _splits = field_validator("metadata")(_metadata_splits)

    @field_validator("use_source_run_io")
    @classmethod
    def _no_source_io(cls, value: bool) -> bool:
        if value:
            raise ValueError("use_source_run_io=true is not supported")
        return value

    def record(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "dataset_id": self.dataset_id, "inputs": self.inputs or {}, "outputs": self.outputs,
            "metadata": self.metadata, "id": self.id, "source_run_id": self.source_run_id,
            "created_at": derive.parse_timestamp(self.created_at),
        }
        if self.split is not None:  # an explicit split wins over metadata.dataset_split
            found["split"] = self.split
        return found


BULK = TypeAdapter(Annotated[list[ExampleCreate], Field(min_length=1, max_length=MAX_BULK)])


class ExamplePatch(BaseModel):
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    metadata: JsonObject | None = None
    split: Split = None

    _splits = field_validator("metadata")(_metadata_splits)


class ExampleListQuery(BaseModel):
    dataset: uuid.UUID | None = None
    id: list[uuid.UUID] = []
    splits: list[Text] = []
    metadata: Json[JsonObject] | None = None
    filter: str | None = None
    offset: Offset = 0
    limit: Limit = 100


async def create_examples(tenant: Tenant, bodies: list[ExampleCreate]) -> list[dict[str, Any]]:
    """Checks every reference before writing, then writes all in the request's transaction."""
    for dataset_id in dict.fromkeys(b.dataset_id for b in bodies):
        await live_dataset(tenant, dataset_id)
    seen: set[uuid.UUID] = set()
    for body in bodies:
        if body.id is not None:
            if body.id in seen:
                raise ApiError(409, f"Example {body.id} already exists")
            seen.add(body.id)
    for chunk in id_chunks(seen):
        taken = await tenant.db.scalar(readable(tenant, Example, Example.id).where(Example.id.in_(chunk)).limit(1))
        if taken is not None:
            raise ApiError(409, f"Example {taken} already exists")
    try:
        ids = await writes.insert_examples(tenant.db, tenant.workspace_id, [b.record() for b in bodies])
        await tenant.db.commit()
    except IntegrityError:  # a concurrent request took one of the ids
        await tenant.db.rollback()
        raise ApiError(409, "An example with one of these ids already exists") from None
    by_id: dict[uuid.UUID, Example] = {}
    for chunk in id_chunks(ids):
        rows = await tenant.db.scalars(readable(tenant, Example).where(Example.id.in_(chunk)))
        by_id.update((row.id, row) for row in rows)
    return [example_json(by_id[i]) for i in ids]


async def bulk_create_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        bodies = await json_body(request, BULK)
        return json_response(await create_examples(tenant, bodies))


async def create_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        body = await json_body(request, ExampleCreate)
        [shape] = await create_examples(tenant, [body])
        return json_response(shape)


def metadata_contains(tenant: Tenant, wanted: dict[str, Any]) -> list[Any]:
    """Every top-level key of `wanted` is present with an equal value (by the §4.3
    normalised form, nested values by canonical JSON), read from `example_metadata`."""
    conditions = []
    for key, value in wanted.items():
        conditions.append(exists(
            select(1).select_from(ExampleMetadata).where(
                ExampleMetadata.workspace_id == Example.workspace_id, ExampleMetadata.example_id == Example.id,
                ExampleMetadata.key == key, ExampleMetadata.value == normalize(value).text,
            ).correlate(Example)))
    return conditions


async def list_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        query, problems = query_problems(request, ExampleListQuery, lists=("id", "splits"))
        condition = None
        raw_filter = request.query_params.getlist("filter")
        if raw_filter and raw_filter[-1].strip():
            try:
                condition = example_condition(raw_filter[-1])
            except FilterError as exc:
                problems.append(problem(["query", "filter"], exc.message, "value_error", raw_filter[-1]))
        if query is None or problems:
            raise ApiError(422, problems)
        stmt = readable(tenant, Example).where(Example.deleted_at.is_(None))
        if query.dataset is not None:
            await live_dataset(tenant, query.dataset)
            stmt = stmt.where(Example.dataset_id == query.dataset)
        else:  # examples of deleted datasets are deleted with them; this guards older rows too
            stmt = stmt.where(exists(select(1).select_from(Dataset).where(
                Dataset.workspace_id == Example.workspace_id, Dataset.id == Example.dataset_id,
                Dataset.deleted_at.is_(None)).correlate(Example)))
        if query.id:
            stmt = stmt.where(Example.id.in_(query.id))
        if query.splits:
            stmt = stmt.where(in_any_split(query.splits))
        if query.metadata:
            stmt = stmt.where(*metadata_contains(tenant, query.metadata))
        if condition is not None:
            stmt = stmt.where(condition)
        stmt = stmt.order_by(Example.created_at, Example.id).offset(query.offset).limit(query.limit)
        return json_response([example_json(e) for e in (await tenant.db.scalars(stmt)).all()])


async def live_example(tenant: Tenant, example_id: uuid.UUID) -> Example:
    found = await live(tenant, Example, example_id)
    if found is None:
        raise NotFoundError(f"Example {example_id} not found")
    return found


async def read_route(request: Request) -> Response:
    async with request_tenant(request, single_read=True) as tenant:
        return json_response(example_json(await live_example(tenant, require_path_uuid(request, "example_id"))))


async def patch_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        example_id = require_path_uuid(request, "example_id")
        body = await json_body(request, ExamplePatch)
        example = await live_example(tenant, example_id)
        await writes.update_example(tenant.db, example, inputs=body.inputs, outputs=body.outputs,
                                    metadata=body.metadata, split=body.split)
        await tenant.db.commit()
        return json_response({})


async def delete_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        example = await live_example(tenant, require_path_uuid(request, "example_id"))
        await writes.soft_delete_example(tenant.db, tenant.workspace_id, example.id)
        await tenant.db.commit()
        return json_response({})


__all__ = ["bulk_create_route", "create_route", "delete_route", "list_route", "patch_route", "read_route"]


ROUTES: list[Route] = [
    Route("/examples/bulk", bulk_create_route, methods=["POST"]),
    Route("/examples", create_route, methods=["POST"]),
    Route("/examples", list_route, methods=["GET"]),
    Route("/examples/{example_id}", read_route, methods=["GET"]),
    Route("/examples/{example_id}", patch_route, methods=["PATCH"]),
    Route("/examples/{example_id}", delete_route, methods=["DELETE"]),
]
