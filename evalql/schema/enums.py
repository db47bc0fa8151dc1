"""GraphQL enums (graphql.md §1): the core's enumerations, exposed by name."""

from __future__ import annotations

import strawberry

from evalql.core import enums

GroupBy = strawberry.enum(enums.GroupBy)
RunType = strawberry.enum(enums.RunType)
RunStatus = strawberry.enum(enums.RunStatus)
