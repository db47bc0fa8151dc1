"""The per-request loader registry. Built in the GraphQL context getter: loaders cache
per request, so sharing them across requests would leak one workspace's rows."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from evalql.db.tenant import Tenant
from evalql.loaders.by_id import DatasetById, ExampleById, RunById
from evalql.loaders.child_runs import ChildRunsByParent
from evalql.loaders.dataset_counts import DatasetCountsLoader
from evalql.loaders.dataset_sessions import FirstSessionsByDataset
from evalql.loaders.example_runs import RootRunsByExample
from evalql.loaders.feedbacks import FeedbacksByRun
from evalql.loaders.session_stats import SessionStatsBySession
from evalql.loaders.sessions import SessionById


@dataclass
class Loaders:
    tenant: Tenant

    @cached_property
    def dataset(self) -> DatasetById: return DatasetById(self.tenant)

    @cached_property
    def dataset_counts(self) -> DatasetCountsLoader: return DatasetCountsLoader(self.tenant)

    @cached_property
    def dataset_sessions(self) -> FirstSessionsByDataset: return FirstSessionsByDataset(self.tenant)

    @cached_property
    def example(self) -> ExampleById: return ExampleById(self.tenant)

    @cached_property
    def run(self) -> RunById: return RunById(self.tenant)

    @cached_property
    def session(self) -> SessionById: return SessionById(self.tenant)

    @cached_property
    def session_stats(self) -> SessionStatsBySession: return SessionStatsBySession(self.tenant)

    @cached_property
    def child_runs(self) -> ChildRunsByParent: return ChildRunsByParent(self.tenant)

    @cached_property
    def feedbacks(self) -> FeedbacksByRun: return FeedbacksByRun(self.tenant)

    @cached_property
    def example_runs(self) -> RootRunsByExample: return RootRunsByExample(self.tenant)
