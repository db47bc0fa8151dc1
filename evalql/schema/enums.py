"""GraphQL enums (graphql.md §1): the core's enumerations, exposed by name. Strawberry marks
the classes themselves, so these names are the core's classes. `FeedbackSourceType` is the
core's `core.feedback.SourceType` (lower-case names, as REST spells them) in GraphQL's names."""

from __future__ import annotations

import enum

import strawberry

from evalql.core import enums

for _enum in (enums.GroupBy, enums.RunType, enums.RunStatus, enums.SortOrder):
    strawberry.enum(_enum)

GroupBy = enums.GroupBy
RunType = enums.RunType
RunStatus = enums.RunStatus
SortOrder = enums.SortOrder


@strawberry.enum(description="Who gave a feedback: `feedback_source.type` of spec §2.5.")
class FeedbackSourceType(enum.Enum):
    API = "api"
    MODEL = "model"
    APP = strawberry.enum_value("app", description="A person annotating in an application: what the "
                                                   "feedback mutations store unless told otherwise.")
    AUTO_EVAL = "auto_eval"
