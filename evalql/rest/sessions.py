"""Sessions, also called projects or experiments (spec §2.3, §7.4): create or upsert, list
and read (optionally with the §3.2 stats block), patch, hard-delete."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Json, model_validator
from sqlalchemy import bindparam, func
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.core.errors import NotFoundError
from evalql.core.fields import Limit, Name, Offset, Text, Timestamp, TraceTier, without_nul
from evalql.core.formats import ts
from evalql.db import derive, writes
from evalql.db.models import Run, TracerSession
from evalql.db.tenant import EACH_EXECUTION, Tenant, by_id, by_id_statement, execute, probe, readable
from evalql.queries.session_stats import stats_for_sessions
from evalql.queries.sessions import sessions_by_id
from evalql.rest.body import json_body
from evalql.rest.context import request_tenant
from evalql.rest.datasets import contains, live_dataset
from evalql.rest.errors import ApiError
from evalql.rest.group_shape import stats_block_json
from evalql.rest.params import query_params, query_problems, require_path_uuid
from evalql.rest.responses import json_response
from evalql.rest.shapes import session_json

PROGRESS_FIELDS = ("num_examples", "num_repetitions", "evaluator_keys")
NAME_TAKEN = "Session with this name already exists."


class SessionExtra(BaseModel):
    """Any object; `metadata`, the experiment metadata, must be an object too."""

    model_config = ConfigDict(extra="allow")
    metadata: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return without_nul(data)

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class SessionCreate(BaseModel):
    name: Name
    id: uuid.UUID | None = None
    description: Text | None = None
    extra: SessionExtra | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    reference_dataset_id: uuid.UUID | None = None
    default_dataset_id: uuid.UUID | None = None
    trace_tier: TraceTier | None = None
    # Transport-only: the first three are kept in extra.__progress, tag values are not stored.
    num_examples: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    num_repetitions: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    evaluator_keys: list[Text] | None = None
    tag_value_ids: list[uuid.UUID] | None = None

    def progress(self) -> dict[str, Any] | None:
        found = {name: getattr(self, name) for name in PROGRESS_FIELDS if getattr(self, name) is not None}
        return found or None


class SessionPatch(BaseModel):
    """Nulls mean unchanged (spec §1.5); `extra` replaces the whole object."""

    name: Name | None = None
    description: Text | None = None
    end_time: Timestamp | None = None
    extra: SessionExtra | None = None
    default_dataset_id: uuid.UUID | None = None
    trace_tier: TraceTier | None = None


class UpsertQuery(BaseModel):
    upsert: bool = False


class StatsQuery(BaseModel):
    include_stats: bool = False


class SessionListQuery(StatsQuery):
    name: Text | None = None
    name_contains: Text | None = None
    id: list[uuid.UUID] = []
    reference_dataset: list[uuid.UUID] = []
    reference_free: bool | None = None
    metadata: Json[dict[str, Any]] | None = None
    offset: Offset = 0
    limit: Limit = 100


def session_missing(session_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"Session {session_id} not found")


async def find_session(tenant: Tenant, session_id: uuid.UUID) -> TracerSession:
    found = await by_id(tenant, TracerSession, session_id)
    if found is None:
        raise session_missing(session_id)
    return found


async def session_named(tenant: Tenant, name: str) -> TracerSession | None:
    return await tenant.db.scalar(readable(tenant, TracerSession).where(TracerSession.name == name))


def with_progress(extra: dict[str, Any] | None, progress: dict[str, Any] | None) -> dict[str, Any] | None:
    return extra if progress is None else {**(extra or {}), "__progress": progress}


# Built once (evalql/db/tenant.py): each session's last root run start.
_LAST_ROOT_START = (readable(EACH_EXECUTION, Run, func.max(Run.start_time))
                    .where(Run.session_id == TracerSession.id, Run.is_root.is_(True)).scalar_subquery())
_LAST_ROOT_STARTS = probe(readable(EACH_EXECUTION, TracerSession, TracerSession.id, _LAST_ROOT_START)
                          .where(TracerSession.id.in_(bindparam("session_ids", expanding=True))))


# A session by id with its last root run start, in one statement (a single read).
_SESSION_WITH_LAST_ROOT = by_id_statement(TracerSession).add_columns(_LAST_ROOT_START.label("last"))


async def session_with_last_root(tenant: Tenant, session_id: uuid.UUID) -> tuple[TracerSession, dt.datetime | None]:
    """`find_session` and its `last_root_starts` at once; a 404 for no such session."""
    row = (await execute(tenant, _SESSION_WITH_LAST_ROOT, row_id=session_id)).first()
    if row is None:
        raise session_missing(session_id)
    return row[0], derive.parse_timestamp(row.last)


async def last_root_starts(tenant: Tenant, ids: list[uuid.UUID]) -> dict[uuid.UUID, dt.datetime | None]:
    """`last_run_start_time_live` without the stats block: the same value, max start_time of
    the root runs. Asked per session, the maximum is one probe of
    `ix_runs_ws_session_root_start` (migration 0007); grouped over several sessions, both
    databases would read every root run of each."""
    rows = await execute(tenant, _LAST_ROOT_STARTS, session_ids=ids)
    # SQLite hands an aggregate of a timestamp column back as text.
    return {session_id: derive.parse_timestamp(found) for session_id, found in rows if found is not None}


def session_without_stats(session: TracerSession, last_root_start: dt.datetime | None) -> dict[str, Any]:
    return {**session_json(session), "last_run_start_time_live": ts(last_root_start)}


async def sessions_json(tenant: Tenant, sessions: list[TracerSession], include_stats: bool) -> list[dict[str, Any]]:
    """Session shapes, with the §3.2 block over root runs when asked: the same queries as
    GraphQL's `Session.stats`, each one statement for the whole page."""
    ids = [s.id for s in sessions]
    if not ids:
        return []
    if not include_stats:
        last = await last_root_starts(tenant, ids)
        return [session_without_stats(s, last.get(s.id)) for s in sessions]
    stats = await stats_for_sessions(tenant, ids)
    ranked = await sessions_by_id(tenant, ids)
    return [{**session_json(s), **stats_block_json(stats[s.id].stats, stats[s.id].session_feedback_stats,
                                                   ranked[s.id].test_run_number)}
            for s in sessions]


async def upsert_existing(tenant: Tenant, session: TracerSession, body: SessionCreate) -> TracerSession:
    """`upsert=true` on a taken name: the stored session, `description` and `extra` replaced
    when given (the progress fields update extra.__progress)."""
    if body.description is not None:
        session.description = body.description
    extra = body.extra.stored() if body.extra is not None else session.extra
    if body.extra is not None or body.progress() is not None:
        session.extra = with_progress(extra, body.progress())
    await tenant.db.commit()
    return session


async def create_session(tenant: Tenant, body: SessionCreate, upsert: bool) -> TracerSession:
    if body.reference_dataset_id is not None:
        await live_dataset(tenant, body.reference_dataset_id)
    existing = await session_named(tenant, body.name)
    if existing is not None:
        if not upsert:
            raise ApiError(409, NAME_TAKEN)
        return await upsert_existing(tenant, existing, body)
    if body.id is not None and await tenant.db.scalar(
            readable(tenant, TracerSession, TracerSession.id).where(TracerSession.id == body.id)) is not None:
        raise ApiError(409, f"Session {body.id} already exists")
    try:
        session = await writes.insert_session(
            tenant.db, tenant.workspace_id, id=body.id, name=body.name, description=body.description,
            extra=with_progress(body.extra.stored() if body.extra is not None else None, body.progress()),
            start_time=body.start_time, end_time=body.end_time, reference_dataset_id=body.reference_dataset_id,
            default_dataset_id=body.default_dataset_id, trace_tier=body.trace_tier)
        await tenant.db.commit()
        return session
    except IntegrityError:  # a concurrent request took the name (or the id) first
        await tenant.db.rollback()
    existing = await session_named(tenant, body.name)
    if existing is not None and upsert:
        return await upsert_existing(tenant, existing, body)
    raise ApiError(409, NAME_TAKEN if existing is not None else "Session with this name or id already exists.")


# --- routes ---------------------------------------------------------------------------------

async def create_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        query, problems = query_problems(request, UpsertQuery)
        body = await json_body(request, SessionCreate, found=problems)  # raises on any problem, query's too
        session = await create_session(tenant, body, query is not None and query.upsert)
        [shape] = await sessions_json(tenant, [session], include_stats=False)
        return json_response(shape)


async def list_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        query = query_params(request, SessionListQuery, lists=("id", "reference_dataset"))
        stmt = readable(tenant, TracerSession)
        if query.name is not None:
            stmt = stmt.where(TracerSession.name == query.name)
        if query.name_contains:
            stmt = stmt.where(func.lower(TracerSession.name).contains(query.name_contains.lower(), autoescape=True))
        if query.id:
            stmt = stmt.where(TracerSession.id.in_(query.id))
        if query.reference_dataset:
            stmt = stmt.where(TracerSession.reference_dataset_id.in_(query.reference_dataset))
        if query.reference_free is not None:
            ref = TracerSession.reference_dataset_id
            stmt = stmt.where(ref.is_(None) if query.reference_free else ref.is_not(None))
        stmt = stmt.order_by(TracerSession.start_time.desc(), TracerSession.id)
        if query.metadata is None:
            sessions = list((await tenant.db.scalars(stmt.offset(query.offset).limit(query.limit))).all())
        else:
            # Containment on extra.metadata is checked here, as for datasets, so that it
            # means the same on both databases (extra is JSON text on SQLite).
            matching = [s for s in (await tenant.db.scalars(stmt)).all()
                        if contains((s.extra or {}).get("metadata") or {}, query.metadata)]
            sessions = matching[query.offset:query.offset + query.limit]
        return json_response(await sessions_json(tenant, sessions, query.include_stats))


async def read_route(request: Request) -> Response:
    async with request_tenant(request, single_read=True) as tenant:
        session_id = require_path_uuid(request, "session_id")
        query = query_params(request, StatsQuery)
        if query.include_stats:
            [shape] = await sessions_json(tenant, [await find_session(tenant, session_id)], True)
        else:
            shape = session_without_stats(*await session_with_last_root(tenant, session_id))
        return json_response(shape)


async def patch_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        session_id = require_path_uuid(request, "session_id")
        body = await json_body(request, SessionPatch)
        session = await find_session(tenant, session_id)
        if body.name is not None and body.name != session.name and await session_named(tenant, body.name) is not None:
            raise ApiError(409, NAME_TAKEN)
        for name in ("name", "description", "end_time", "default_dataset_id", "trace_tier"):
            if getattr(body, name) is not None:
                setattr(session, name, getattr(body, name))
        if body.extra is not None:
            session.extra = body.extra.stored()
        try:
            await tenant.db.commit()
        except IntegrityError:  # a concurrent rename or create took the name
            await tenant.db.rollback()
            raise ApiError(409, NAME_TAKEN) from None
        [shape] = await sessions_json(tenant, [session], include_stats=False)
        return json_response(shape)


async def delete_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        session = await find_session(tenant, require_path_uuid(request, "session_id"))
        await writes.delete_session(tenant.db, tenant.workspace_id, session.id)
        await tenant.db.commit()
        return json_response({})


ROUTES: list[Route] = [
    Route("/sessions", create_route, methods=["POST"]),
    Route("/sessions", list_route, methods=["GET"]),
    Route("/sessions/{session_id}", read_route, methods=["GET"]),
    Route("/sessions/{session_id}", patch_route, methods=["PATCH"]),
    Route("/sessions/{session_id}", delete_route, methods=["DELETE"]),
]
