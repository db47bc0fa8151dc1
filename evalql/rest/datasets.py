"""Datasets (spec §7.2): create, list, read, soft-delete."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Json
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.core.errors import NotFoundError
from evalql.core.fields import JsonObject, Limit, Name, Offset, Text, Timestamp, without_nul
from evalql.db import derive, writes
from evalql.db.models import Dataset
from evalql.db.tenant import Tenant, live, readable
from evalql.queries.datasets import dataset_counts, dataset_with_counts
from evalql.rest.body import json_body
from evalql.rest.context import request_tenant
from evalql.rest.errors import ApiError
from evalql.rest.params import query_params, require_path_uuid
from evalql.rest.responses import json_response
from evalql.rest.shapes import dataset_json


class DataType(str, enum.Enum):
    kv = "kv"
    llm = "llm"
    chat = "chat"


class DatasetExtra(BaseModel):
    model_config = ConfigDict(extra="allow")
    metadata: JsonObject | None = None


class DatasetCreate(BaseModel):
    name: Name
    description: Text | None = None
    data_type: DataType | None = None
    inputs_schema_definition: JsonObject | None = None
    outputs_schema_definition: JsonObject | None = None
    transformations: Annotated[list[Any], AfterValidator(without_nul)] | None = None
    extra: DatasetExtra | None = None
    id: uuid.UUID | None = None
    created_at: Timestamp | None = None


class DatasetListQuery(BaseModel):
    name: Text | None = None
    name_contains: Text | None = None
    id: list[uuid.UUID] = []
    metadata: Json[JsonObject] | None = None
    offset: Offset = 0
    limit: Limit = 100


def dataset_missing(dataset_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"Dataset {dataset_id} not found")


async def live_dataset(tenant: Tenant, dataset_id: uuid.UUID) -> Dataset:
    """The workspace's dataset, or 404: deleted and foreign datasets behave as missing."""
    found = await live(tenant, Dataset, dataset_id)
    if found is None:
        raise dataset_missing(dataset_id)
    return found


async def datasets_json(tenant: Tenant, datasets: list[Dataset]) -> list[dict[str, Any]]:
    """Dataset shapes with their counts, in grouped reads whatever the page size."""
    counts = await dataset_counts(tenant, [d.id for d in datasets])
    return [dataset_json(d, counts[d.id]) for d in datasets]


def contains(actual: Any, wanted: Any) -> bool:
    """JSON containment, as PostgreSQL's `@>`: objects by subset of keys, arrays by every
    wanted element being contained in some element, scalars by equality."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and all(any(contains(a, w) for a in actual) for w in wanted)
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return type(wanted) is type(actual) and wanted == actual
    return wanted == actual


async def create_dataset_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        body = await json_body(request, DatasetCreate)
        if body.id is not None and await tenant.db.scalar(readable(tenant, Dataset, Dataset.id)
                                                         .where(Dataset.id == body.id)) is not None:
            raise ApiError(409, f"Dataset {body.id} already exists")
        if await tenant.db.scalar(readable(tenant, Dataset, Dataset.id)
                                 .where(Dataset.name == body.name, Dataset.deleted_at.is_(None))) is not None:
            raise ApiError(409, "Dataset with this name already exists.")
        try:
            dataset = await writes.insert_dataset(
                tenant.db, tenant.workspace_id, id=body.id, created_at=derive.parse_timestamp(body.created_at),
                name=body.name, description=body.description,
                data_type=(body.data_type or DataType.kv).value,
                inputs_schema_definition=body.inputs_schema_definition,
                outputs_schema_definition=body.outputs_schema_definition, transformations=body.transformations,
                metadata_=body.extra.metadata if body.extra is not None else None,
            )
            await tenant.db.commit()
        except IntegrityError:  # a concurrent request took the id or the name (unique among live datasets)
            await tenant.db.rollback()
            raise ApiError(409, "Dataset with this name or id already exists.") from None
        [shape] = await datasets_json(tenant, [dataset])
        return json_response(shape)


async def list_datasets_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        query = query_params(request, DatasetListQuery, lists=("id",))
        stmt = readable(tenant, Dataset).where(Dataset.deleted_at.is_(None))
        if query.name is not None:
            stmt = stmt.where(Dataset.name == query.name)
        if query.name_contains:
            stmt = stmt.where(func.lower(Dataset.name).contains(query.name_contains.lower(), autoescape=True))
        if query.id:
            stmt = stmt.where(Dataset.id.in_(query.id))
        stmt = stmt.order_by(Dataset.created_at.desc(), Dataset.id)
        if query.metadata is None:
            datasets = list((await tenant.db.scalars(stmt.offset(query.offset).limit(query.limit))).all())
        else:
            # A workspace holds few datasets; containment is checked here, alike on both databases.
            matching = [d for d in (await tenant.db.scalars(stmt)).all()
                        if contains(d.metadata_ or {}, query.metadata)]
            datasets = matching[query.offset:query.offset + query.limit]
        return json_response(await datasets_json(tenant, datasets))


async def read_dataset_route(request: Request) -> Response:
    async with request_tenant(request, single_read=True) as tenant:
        dataset_id = require_path_uuid(request, "dataset_id")
        found = await dataset_with_counts(tenant, dataset_id)
        if found is None:
            raise dataset_missing(dataset_id)
        return json_response(dataset_json(*found))


async def delete_dataset_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        dataset = await live_dataset(tenant, require_path_uuid(request, "dataset_id"))
        await writes.soft_delete_dataset(tenant.db, tenant.workspace_id, dataset.id)
        await tenant.db.commit()
        return json_response({})


ROUTES: list[Route] = [
    Route("/datasets", create_dataset_route, methods=["POST"]),
    Route("/datasets", list_datasets_route, methods=["GET"]),
    Route("/datasets/{dataset_id}", read_dataset_route, methods=["GET"]),
    Route("/datasets/{dataset_id}", delete_dataset_route, methods=["DELETE"]),
]
