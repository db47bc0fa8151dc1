"""Feedback (spec §2.5, §7.6): create (an upsert by id), list, read, patch, delete.

`FeedbackCreate` (with `validated_feedback`) also validates the `feedback.<id>` parts of
the multipart ingest, so importing this module has no side effects.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from sqlalchemy import and_, func, or_
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evalql.db import writes
from evalql.db.models import Feedback, Run
from evalql.db.scope import Scope, readable
from evalql.rest.context import request_scope
from evalql.rest.errors import ApiError, Problem, problem, problems_from
from evalql.rest.fields import JsonObject, Limit, Offset, Text, Timestamp, bounded_text, without_nul
from evalql.rest.json import json_response, nesting_problems, read_json
from evalql.rest.params import query_problems, require_path_uuid
from evalql.rest.shapes import feedback_json

# --- bodies ---------------------------------------------------------------------------------

def _score(value: Any) -> Any:
    """number | boolean | null, stored as given (spec §2.5); a string is not a score."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        try:
            if math.isfinite(float(value)):
                return value
        except OverflowError:
            pass
        raise ValueError("score must be a finite number")
    raise ValueError("score must be a number, a boolean or null")


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float, dict)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("value must be a finite number")
        return without_nul(value)
    raise ValueError("value must be a string, a number, a boolean, an object or null")


def _correction(value: Any) -> Any:
    if value is None or isinstance(value, (str, dict)):
        return without_nul(value)
    raise ValueError("correction must be an object, a string or null")


Score = Annotated[Any, AfterValidator(_score)]
FeedbackValue = Annotated[Any, AfterValidator(_value)]
Correction = Annotated[Any, AfterValidator(_correction)]


class SourceType(str, enum.Enum):
    api = "api"
    model = "model"
    app = "app"
    auto_eval = "auto_eval"


class FeedbackSource(BaseModel):
    type: SourceType
    metadata: JsonObject | None = None
    user_id: Text | None = None
    user_name: Text | None = None

    def stored(self) -> dict[str, Any]:
        return {"type": self.type.value, "metadata": self.metadata or {}, "user_id": self.user_id,
                "user_name": self.user_name}


class ConfigType(str, enum.Enum):
    continuous = "continuous"
    categorical = "categorical"
    freeform = "freeform"


class FeedbackCategory(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)
    value: float
    label: Text | None = None


class FeedbackConfig(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)
    type: ConfigType
    min: float | None = None
    max: float | None = None
    categories: list[FeedbackCategory] | None = None
    allows_multiple_categories: bool | None = None

    @model_validator(mode="after")
    def _bounds(self) -> "FeedbackConfig":
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("feedback_config min must not be greater than max")
        return self

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)  # the keys as given, enum as text


TARGETS = ("run_id", "trace_id", "session_id")
TARGET_MESSAGE = "Value error, at least one of run_id, trace_id or session_id is required"


class FeedbackCreate(BaseModel):
    """The create body of spec §7.6. Unknown fields (`extend_trace_retention`, ...) are ignored."""

    key: bounded_text(1, 180)
    id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    trace_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    start_time: Timestamp | None = None
    score: Score = None
    value: FeedbackValue = None
    comment: Text | None = None
    correction: Correction = None
    feedback_source: FeedbackSource | None = None
    feedback_config: FeedbackConfig | None = None
    feedback_group_id: uuid.UUID | None = None
    comparative_experiment_id: uuid.UUID | None = None
    extra: JsonObject | None = None
    error: bool | None = None
    created_at: Timestamp | None = None
    modified_at: Timestamp | None = None

    @model_validator(mode="after")
    def _has_target(self) -> "FeedbackCreate":
        if all(getattr(self, name) is None for name in TARGETS):
            raise ValueError(TARGET_MESSAGE.removeprefix("Value error, "))
        return self

    def record(self) -> dict[str, Any]:
        """The record `writes.insert_feedback` takes."""
        source = self.feedback_source or FeedbackSource(type=SourceType.api)
        return {
            "id": self.id, "run_id": self.run_id, "trace_id": self.trace_id, "session_id": self.session_id,
            "key": self.key, "score": self.score, "value": self.value, "comment": self.comment,
            "correction": self.correction, "feedback_source": source.stored(),
            "feedback_config": None if self.feedback_config is None else self.feedback_config.stored(),
            "feedback_group_id": self.feedback_group_id, "comparative_experiment_id": self.comparative_experiment_id,
            "start_time": self.start_time, "extra": self.extra, "error": bool(self.error),
            "created_at": self.created_at, "modified_at": self.modified_at,
        }


def validated_feedback(raw: Any, loc: Sequence[Any] = ("body",)) -> tuple[FeedbackCreate | None, list[Problem]]:
    """The create body, or every problem found, located under `loc`. pydantic checks the
    target rule only once the fields pass, so a missing target is added here alongside
    the field problems (spec §1.4: all problems are reported)."""
    too_deep = nesting_problems(raw, loc)
    if too_deep:
        return None, too_deep
    try:
        return FeedbackCreate.model_validate(raw), []
    except ValidationError as exc:
        found = problems_from(exc, list(loc))
    if isinstance(raw, dict) and all(raw.get(name) is None for name in TARGETS) \
            and not any(p["loc"] == list(loc) for p in found):
        found.append(problem(list(loc), TARGET_MESSAGE, "value_error"))
    return None, found


class FeedbackPatch(BaseModel):
    """Spec §7.6: an explicit null clears a field, an omitted key leaves it unchanged."""

    score: Score = None
    value: FeedbackValue = None
    comment: Text | None = None
    correction: Correction = None
    feedback_config: FeedbackConfig | None = None

    def changes(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.model_fields_set}
        if out.get("feedback_config") is not None:
            out["feedback_config"] = self.feedback_config.stored()  # type: ignore[union-attr]
        return out


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

def feedback_not_found(feedback_id: uuid.UUID) -> ApiError:
    return ApiError(404, f"Feedback {feedback_id} not found")


async def find_feedback(scope: Scope, feedback_id: uuid.UUID) -> Feedback:
    found = await scope.db.scalar(readable(scope, Feedback).where(Feedback.id == feedback_id))
    if found is None:
        raise feedback_not_found(feedback_id)
    return found


async def known_runs(scope: Scope, run_ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[bool, uuid.UUID]]:
    """(is_root, trace_id) of the stored runs among `run_ids`, in one read."""
    if not run_ids:
        return {}
    rows = await scope.db.execute(readable(scope, Run, Run.id, Run.is_root, Run.trace_id).where(Run.id.in_(run_ids)))
    return {run_id: (bool(root), trace_id) for run_id, root, trace_id in rows}


def is_root(feedback: Feedback, runs: dict[uuid.UUID, tuple[bool, uuid.UUID]]) -> bool:
    """Spec §2.5: whether the referenced run is a root run. Feedback may arrive before its run
    (§7.6); until then a run is judged by its ids, as a root run's trace id is its own id.
    Session-level feedback references no run: false."""
    if feedback.run_id is None:
        return False
    if feedback.run_id in runs:
        return runs[feedback.run_id][0]
    return feedback.run_id == feedback.trace_id


async def feedbacks_json(scope: Scope, rows: Sequence[Feedback]) -> list[dict[str, Any]]:
    runs = await known_runs(scope, {f.run_id for f in rows if f.run_id is not None})
    return [feedback_json(f, is_root(f, runs)) for f in rows]


def list_conditions(scope: Scope, query: FeedbackListQuery) -> list[Any]:
    conditions: list[Any] = []
    if query.run:
        conditions.append(Feedback.run_id.in_(query.run))
    if query.session:
        # Feedback of a session's runs counts even when it was created without session_id.
        runs = readable(scope, Run, Run.id).where(Run.session_id.in_(query.session))
        conditions.append(or_(Feedback.session_id.in_(query.session), Feedback.run_id.in_(runs)))
    if query.key:
        conditions.append(Feedback.key.in_(query.key))
    if query.source:
        # A stored source without a type reads as "api", as feedback_json shows it.
        source_type = func.coalesce(Feedback.feedback_source["type"].as_string(), "api")
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
    async with request_scope(request, write=True) as scope:
        raw, problems = await read_json(request)
        body = None
        if not problems:
            body, problems = validated_feedback(raw)
        if body is None:
            raise ApiError(422, problems)
        record = body.record()
        runs = await known_runs(scope, {body.run_id or body.trace_id} - {None})  # type: ignore[arg-type]
        if body.trace_id is None and body.run_id in runs:
            record["trace_id"] = runs[body.run_id][1]  # the run's own trace, not the run id guessed
        [feedback_id] = await writes.insert_feedback(scope.db, scope.workspace_id, [record])
        await scope.db.commit()
        feedback = await find_feedback(scope, feedback_id)
        return json_response(feedback_json(feedback, is_root(feedback, runs)))


async def list_route(request: Request) -> Response:
    async with request_scope(request) as scope:
        query, problems = query_problems(request, FeedbackListQuery, lists=("run", "session", "key", "source"))
        if query is None:
            raise ApiError(422, problems)
        stmt = (readable(scope, Feedback).where(*list_conditions(scope, query))
                .order_by(Feedback.created_at, Feedback.id).offset(query.offset).limit(query.limit))
        return json_response(await feedbacks_json(scope, (await scope.db.scalars(stmt)).all()))


async def read_route(request: Request) -> Response:
    async with request_scope(request) as scope:
        feedback = await find_feedback(scope, require_path_uuid(request, "feedback_id"))
        [shape] = await feedbacks_json(scope, [feedback])
        return json_response(shape)


async def patch_route(request: Request) -> Response:
    async with request_scope(request, write=True) as scope:
        feedback_id = require_path_uuid(request, "feedback_id")
        raw, problems = await read_json(request)
        if problems:
            raise ApiError(422, problems)
        try:
            body = FeedbackPatch.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(422, problems_from(exc, ["body"])) from None
        feedback = await find_feedback(scope, feedback_id)
        await writes.update_feedback(scope.db, feedback, body.changes())
        await scope.db.commit()
        [shape] = await feedbacks_json(scope, [feedback])
        return json_response(shape)


async def delete_route(request: Request) -> Response:
    async with request_scope(request, write=True) as scope:
        feedback = await find_feedback(scope, require_path_uuid(request, "feedback_id"))
        await scope.db.delete(feedback)
        await scope.db.commit()
        return json_response({})


ROUTES: list[Route] = [
    Route("/feedback", create_route, methods=["POST"]),
    Route("/feedback", list_route, methods=["GET"]),
    Route("/feedback/{feedback_id}", read_route, methods=["GET"]),
    Route("/feedback/{feedback_id}", patch_route, methods=["PATCH"]),
    Route("/feedback/{feedback_id}", delete_route, methods=["DELETE"]),
]
