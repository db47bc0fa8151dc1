"""The GraphQL context: the caller's tenant and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.types import Info as StrawberryInfo

from evalql.db.tenant import Tenant
from evalql.engine.answer import ComparisonEngine
from evalql.loaders import Loaders


@dataclass
class Context:
    tenant: Tenant
    loaders: Loaders
    comparisons: ComparisonEngine
    request: Any = None
    response: Any = None


Info = StrawberryInfo[Context, None]


async def prefetched_or_load(prefetched: Any, loader: Any, key: Any) -> Any:
    """Parents hand rows down; only what they did not prefetch goes through a loader."""
    return prefetched if prefetched is not None else await loader.load(key)
