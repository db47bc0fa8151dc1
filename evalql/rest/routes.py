"""Every route of the LangSmith REST API, and the prefix they are also served under (spec
§1.1): the app mounts these, and the OpenAPI document describes them (`openapi.py`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from evalql.rest import (
    dataset_runs,
    datasets,
    examples,
    export,
    feedback,
    group_runs,
    info,
    runs_ingest,
    runs_read,
    sessions,
)

API_PREFIX = "/api/v1"

ROUTES: list[BaseRoute] = [
    *info.ROUTES,
    *datasets.ROUTES,
    *group_runs.ROUTES,
    *export.ROUTES,
    *examples.ROUTES,
    *dataset_runs.ROUTES,
    *sessions.ROUTES,
    *runs_ingest.ROUTES,
    *runs_read.ROUTES,
    *feedback.ROUTES,
]
