"""Base of every loader: bound to one request's tenant, so caches never cross requests."""

from __future__ import annotations

from typing import Generic, TypeVar

from aiodataloader import DataLoader

from evalql.db.tenant import Tenant

K = TypeVar("K")
R = TypeVar("R")


class TenantLoader(DataLoader, Generic[K, R]):
    def __init__(self, tenant: Tenant) -> None:
        super().__init__()
        self.tenant = tenant
