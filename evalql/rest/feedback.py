"""Feedback (spec §2.5, §7.6): create (an upsert by id), list, read, patch, delete. The
record itself is validated by `core.feedback`, as are the multipart `feedback.<id>` parts."""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, field_validator
from sqlalchemy import and_, func, or_
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.core.feedback import DEFAULT_SOURCE_TYPE, FeedbackPatch, SourceType, validated_feedback
from evalql.core.feedback_writes import (
    create_feedback,
    delete_feedback,
    find_feedback,
    is_root,
    known_runs,
    update_feedback,
)
from evalql.core.fields import Limit, Offset, Text
from evalql.db.models import Feedback, Run
from evalql.db.tenant import Tenant, readable
from evalql.rest.body import json_body
from evalql.rest.context import request_tenant
from evalql.rest.params import query_params, require_path_uuid
from evalql.rest.responses import json_response
from evalql.rest.shapes import feedback_json


class Level(str, enum.Enum):
    run = "run"
    session = "session"


class FeedbackListQuery(BaseModel):
    run: list[uuid.UUID] = []
    session: list[uuid.UUID] = []
    key: list[Text] = []
    source: list[SourceType] = []
    level: Level | None = None
    has_comment: bool | None = None
    has_score: bool | None = None
    offset: Offset = 0
    limit: Limit = 100

    @field_validator("source", mode="before")
    @classmethod
    def _sdk_enum_text(cls, values: Any) -> Any:
        """The SDK passes its FeedbackSourceType enum to requests, which sends `str()` of it:
        `FeedbackSourceType.MODEL`. Read that as `model`."""
        if isinstance(values, list):
            return [v.split(".", 1)[1].lower() if isinstance(v, str) and v.startswith("FeedbackSourceType.") else v
                    for v in values]
        return values


# --- reads ----------------------------------------------------------------------------------

async def feedbacks_json(tenant: Tenant, rows: Sequence[Feedback]) -> list[dict[str, Any]]:
    runs = await known_runs(tenant, {f.run_id for f in rows if f.run_id is not None})
    return [feedback_json(f, is_root(f, runs)) for f in rows]


def list_conditions(tenant: Tenant, query: FeedbackListQuery) -> list[Any]:
    conditions: list[Any] = []
    if query.run:
        conditions.append(Feedback.run_id.in_(query.run))
    if query.session:
        # Feedback of a session's runs counts even when it was created without session_id.
        runs = readable(tenant, Run, Run.id).where(Run.session_id.in_(query.session))
        conditions.append(or_(Feedback.session_id.in_(query.session), Feedback.run_id.in_(runs)))
    if query.key:
        conditions.append(Feedback.key.in_(query.key))
    if query.source:
        # A stored source without a type reads as "api", as feedback_json shows it.
        source_type = func.coalesce(Feedback.feedback_source["type"].as_string(), DEFAULT_SOURCE_TYPE.value)
        conditions.append(source_type.in_([s.value for s in query.source]))
    if query.level is Level.run:
        conditions.append(Feedback.run_id.is_not(None))
    elif query.level is Level.session:
        conditions.append(and_(Feedback.run_id.is_(None), Feedback.session_id.is_not(None)))
    if query.has_comment is not None:
        commented = and_(Feedback.comment.is_not(None), Feedback.comment != "")
        conditions.append(commented if query.has_comment else ~commented)
    if query.has_score is not None:
        conditions.append(Feedback.score.is_not(None) if query.has_score else Feedback.score.is_(None))
    return conditions


# --- routes ---------------------------------------------------------------------------------

async def create_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        body = await json_body(request, functools.partial(validated_feedback, depth_checked=True))  # parse_json's
        feedback, runs = await create_feedback(tenant, body)
        return json_response(feedback_json(feedback, is_root(feedback, runs)))


async def list_route(request: Request) -> Response:
    async with request_tenant(request) as tenant:
        query = query_params(request, FeedbackListQuery, lists=("run", "session", "key", "source"))
        stmt = (readable(tenant, Feedback).where(*list_conditions(tenant, query))
                .order_by(Feedback.created_at, Feedback.id).offset(query.offset).limit(query.limit))
        return json_response(await feedbacks_json(tenant, (await tenant.db.scalars(stmt)).all()))


async def read_route(request: Request) -> Response:
    async with request_tenant(request, single_read=True) as tenant:
        feedback = await find_feedback(tenant, require_path_uuid(request, "feedback_id"))
        [shape] = await feedbacks_json(tenant, [feedback])
        return json_response(shape)


async def patch_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        feedback_id = require_path_uuid(request, "feedback_id")
        body = await json_body(request, FeedbackPatch)
        feedback = await update_feedback(tenant, feedback_id, body)
        [shape] = await feedbacks_json(tenant, [feedback])
        return json_response(shape)


async def delete_route(request: Request) -> Response:
    async with request_tenant(request, write=True) as tenant:
        await delete_feedback(tenant, require_path_uuid(request, "feedback_id"))
        return json_response({})


ROUTES: list[Route] = [
    Route("/feedback", create_route, methods=["POST"]),
    Route("/feedback", list_route, methods=["GET"]),
    Route("/feedback/{feedback_id}", read_route, methods=["GET"]),
    Route("/feedback/{feedback_id}", patch_route, methods=["PATCH"]),
    Route("/feedback/{feedback_id}", delete_route, methods=["DELETE"]),
]
