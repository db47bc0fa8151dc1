"""The GraphQL context: the caller's tenant and this request's loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

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
T = TypeVar("T")
R = TypeVar("R")


def prefetched_or_load(prefetched: T | None, loader: Any, key: Any, then: Callable[[T], R]) -> R:
    """`then(rows)`: rows the parent handed down, or else the loader's for `key`.

    Parents hand rows down; only what they did not prefetch goes through a loader. Handed-down
    rows are answered at once, and a resolver that returns a value costs graphql-core no
    coroutine and no task: a comparison page's runs have two such fields each. The rest is
    an awaitable, which graphql-core awaits (typed as the value: resolvers using this are
    plain `def`s, and Strawberry takes the GraphQL type from their annotation)."""
    if prefetched is not None:
        return then(prefetched)

    async def load() -> R:
        return then(await loader.load(key))

    return cast(R, load())
