"""Inputs of the feedback mutations: spec §7.6's create body and patch in GraphQL's names,
mapped onto the core's records (`core.feedback`) and validated by the same rules as REST's
`POST /feedback` and `PATCH /feedback/{id}`. Every problem is reported at once, as
BAD_USER_INPUT naming the field as the caller wrote it (`input.score`,
`input.feedbackSource.userName`), in REST's words."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON

from evalql.core.feedback import FeedbackCreate, FeedbackPatch, validated_feedback, validated_patch
from evalql.core.problems import Problem
from evalql.schema.enums import FeedbackSourceType
from evalql.schema.errors import BadUserInput
from evalql.schema.input_problems import FilterEntries

T = TypeVar("T")


def accepted(found: tuple[T | None, list[Problem]]) -> T:
    """The core's record, or BAD_USER_INPUT naming every problem under `input`."""
    record, problems = found
    if record is None:
        paths = FilterEntries()  # no session filters here: every path is `input.<field>…`
        raise BadUserInput("; ".join(f"{paths.path(p)}: {p['msg']}" for p in problems))
    return record


@strawberry.input(description="Who gives a feedback: `feedback_source` of spec §2.5.")
class FeedbackSourceInput:
    type: FeedbackSourceType = FeedbackSourceType.APP
    metadata: JSON | None = strawberry.field(default=None, description="A JSON object.")
    user_id: uuid.UUID | None = None
    user_name: str | None = None

    def raw(self) -> dict[str, Any]:
        return {"type": self.type.value, "metadata": self.metadata,
                "user_id": None if self.user_id is None else str(self.user_id), "user_name": self.user_name}


@strawberry.input(description="A feedback on one run, as `POST /feedback` takes it (spec §7.6).")
class CreateFeedbackInput:
    run_id: uuid.UUID = strawberry.field(description="A run of the caller's workspace.")
    key: str = strawberry.field(description="1..180 characters.")
    score: float | None = strawberry.field(default=None, description="A finite number.")
    value: JSON | None = strawberry.field(
        default=None, description="A string, a number, a boolean or an object (a label when a string).")
    comment: str | None = None
    correction: JSON | None = strawberry.field(default=None, description="An object or a string.")
    id: uuid.UUID | None = strawberry.field(
        default=None, description="Chosen by the caller, or else generated. Idempotent: creating an id that "
                                  "exists in the workspace replaces that feedback, as REST does.")
    feedback_source: FeedbackSourceInput | None = strawberry.field(
        default=None, description='Default `{type: APP}`: an annotation made by a person (REST\'s default is "api").')

    def record(self) -> FeedbackCreate:
        source = self.feedback_source or FeedbackSourceInput()
        raw = {"run_id": str(self.run_id), "key": self.key, "score": self.score, "value": self.value,
               "comment": self.comment, "correction": self.correction,
               "id": None if self.id is None else str(self.id), "feedback_source": source.raw()}
        return accepted(validated_feedback(raw, loc=()))


@strawberry.input(description="Fields of a feedback to change (spec §7.6's PATCH): a field given as null is "
                              "cleared, a field left out keeps its value.")
class UpdateFeedbackInput:
    score: float | None = strawberry.field(default=strawberry.UNSET, description="A finite number.")
    value: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="A string, a number, a boolean or an object (a label when a string).")
    comment: str | None = strawberry.UNSET
    correction: JSON | None = strawberry.field(default=strawberry.UNSET, description="An object or a string.")

    def patch(self) -> FeedbackPatch:
        raw = {name: getattr(self, name) for name in ("score", "value", "comment", "correction")
               if getattr(self, name) is not strawberry.UNSET}
        return accepted(validated_patch(raw, loc=()))
