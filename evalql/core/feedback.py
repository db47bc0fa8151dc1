"""The feedback record (spec §2.5, §7.6): what `POST /feedback`, a multipart `feedback.<id>`
part and a feedback patch may say, validated once for every way feedback arrives."""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from evalql.core.fields import FeedbackKey, JsonObject, Text, Timestamp, finite_json, without_nul
from evalql.core.json import nesting_problems
from evalql.core.problems import Problem, problem, problems_from


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
        return finite_json(without_nul(value))
    raise ValueError("value must be a string, a number, a boolean, an object or null")


def _correction(value: Any) -> Any:
    if value is None or isinstance(value, (str, dict)):
        return finite_json(without_nul(value))
    raise ValueError("correction must be an object, a string or null")


Score = Annotated[Any, AfterValidator(_score)]
FeedbackValue = Annotated[Any, AfterValidator(_value)]
Correction = Annotated[Any, AfterValidator(_correction)]


class SourceType(str, enum.Enum):
    api = "api"
    model = "model"
    app = "app"
    auto_eval = "auto_eval"


# What a stored feedback without a source type reads as (spec §2.5).
DEFAULT_SOURCE_TYPE = SourceType.api


def source_of(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The `feedback_source` of a stored feedback, with the defaults of spec §2.5."""
    source = stored or {}
    return {"type": source.get("type", DEFAULT_SOURCE_TYPE.value), "metadata": source.get("metadata") or {},
            "user_id": source.get("user_id"), "user_name": source.get("user_name")}


class FeedbackSource(BaseModel):
    type: SourceType
    metadata: Annotated[JsonObject, AfterValidator(finite_json)] | None = None
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
    def _bounds(self) -> FeedbackConfig:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("feedback_config min must not be greater than max")
        return self

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)  # the keys as given, enum as text


TARGETS = ("run_id", "trace_id", "session_id")
TARGET_MESSAGE = "Value error, at least one of run_id, trace_id or session_id is required"


class FeedbackCreate(BaseModel):
    """The create body of spec §7.6. Unknown fields (`extend_trace_retention`, ...) are ignored."""

    key: FeedbackKey
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
    def _has_target(self) -> FeedbackCreate:
        if all(getattr(self, name) is None for name in TARGETS):
            raise ValueError(TARGET_MESSAGE.removeprefix("Value error, "))
        return self

    def record(self) -> dict[str, Any]:
        """The record `writes.insert_feedback` takes."""
        source = self.feedback_source or FeedbackSource(type=DEFAULT_SOURCE_TYPE)
        return {
            "id": self.id, "run_id": self.run_id, "trace_id": self.trace_id, "session_id": self.session_id,
            "key": self.key, "score": self.score, "value": self.value, "comment": self.comment,
            "correction": self.correction, "feedback_source": source.stored(),
            "feedback_config": None if self.feedback_config is None else self.feedback_config.stored(),
            "feedback_group_id": self.feedback_group_id, "comparative_experiment_id": self.comparative_experiment_id,
            "start_time": self.start_time, "extra": self.extra, "error": bool(self.error),
            "created_at": self.created_at, "modified_at": self.modified_at,
        }


def validated_feedback(raw: Any, loc: Sequence[Any] = ("body",), *, depth_checked: bool = False
                       ) -> tuple[FeedbackCreate | None, list[Problem]]:
    """The create body, or every problem found, located under `loc`. pydantic checks the
    target rule only once the fields pass, so a missing target is added here alongside
    the field problems (spec §1.4: all problems are reported). `depth_checked`: `raw` came
    from `core.json.parse_json`, which refuses JSON nested too deep already (walking every
    value again cost more than validating the feedback)."""
    too_deep = [] if depth_checked else nesting_problems(raw, loc)
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
        if "feedback_config" in out and self.feedback_config is not None:
            out["feedback_config"] = self.feedback_config.stored()
        return out


def validated_patch(raw: Any, loc: Sequence[Any] = ("body",)) -> tuple[FeedbackPatch | None, list[Problem]]:
    """The patch, or every problem found, located under `loc` (for callers whose JSON did not
    come through `core.json.parse_json`, which bounds its nesting)."""
    too_deep = nesting_problems(raw, loc)
    if too_deep:
        return None, too_deep
    try:
        return FeedbackPatch.model_validate(raw), []
    except ValidationError as exc:
        return None, problems_from(exc, list(loc))
