"""GraphQL enums (graphql.md §1): the core's enumerations, exposed by name. Strawberry marks
the classes themselves, so these names are the core's classes."""

from __future__ import annotations

import strawberry

from evalql.core import enums

for _enum in (enums.GroupBy, enums.RunType, enums.RunStatus, enums.SortOrder):
    strawberry.enum(_enum)

GroupBy = enums.GroupBy
RunType = enums.RunType
RunStatus = enums.RunStatus
SortOrder = enums.SortOrder
