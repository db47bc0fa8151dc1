"""What a dataset's shape says about other rows (spec §2.1): its live examples, the sessions
that reference it and the latest of their start times."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func

from evalql.db import derive
from evalql.db.models import Dataset, Example, TracerSession
from evalql.db.tenant import EACH_EXECUTION, Tenant, execute, readable


@dataclass(frozen=True, slots=True)
class DatasetCounts:
    example_count: int = 0
    session_count: int = 0
    last_session_start_time: dt.datetime | None = None


# Built once (evalql/db/tenant.py): per dataset, its live examples, and its sessions with the last start.
_EXAMPLE_COUNTS = (readable(EACH_EXECUTION, Example, Example.dataset_id, func.count())
                   .where(Example.dataset_id.in_(bindparam("dataset_ids", expanding=True)),
                          Example.deleted_at.is_(None))
                   .group_by(Example.dataset_id))
_SESSION_COUNTS = (readable(EACH_EXECUTION, TracerSession, TracerSession.reference_dataset_id, func.count(),
                            func.max(TracerSession.start_time))
                   .where(TracerSession.reference_dataset_id.in_(bindparam("dataset_ids", expanding=True)))
                   .group_by(TracerSession.reference_dataset_id))


# Built once: one live dataset by id with its counts, in one statement (a single read:
# evalql/rest/datasets.py), each count a correlated subquery on the dataset's index.
_DATASET_WITH_COUNTS = (
    readable(EACH_EXECUTION, Dataset).add_columns(
        readable(EACH_EXECUTION, Example, func.count()).where(
            Example.dataset_id == Dataset.id, Example.deleted_at.is_(None)).scalar_subquery().label("examples"),
        readable(EACH_EXECUTION, TracerSession, func.count()).where(
            TracerSession.reference_dataset_id == Dataset.id).scalar_subquery().label("sessions"),
        readable(EACH_EXECUTION, TracerSession, func.max(TracerSession.start_time)).where(
            TracerSession.reference_dataset_id == Dataset.id).scalar_subquery().label("last_start"))
    .where(Dataset.id == bindparam("dataset_id"), Dataset.deleted_at.is_(None)))


async def dataset_with_counts(tenant: Tenant, dataset_id: uuid.UUID) -> tuple[Dataset, DatasetCounts] | None:
    """The live dataset with this id and its counts (`dataset_counts`' values), or None."""
    row = (await execute(tenant, _DATASET_WITH_COUNTS, dataset_id=dataset_id)).first()
    if row is None:
        return None
    # SQLite hands an aggregate of a timestamp column back as text.
    return row[0], DatasetCounts(row.examples, row.sessions, derive.parse_timestamp(row.last_start))


async def dataset_counts(tenant: Tenant, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DatasetCounts]:
    """The counts of each dataset, in two grouped reads whatever the number of datasets."""
    if not ids:
        return {}
    examples = dict((await execute(tenant, _EXAMPLE_COUNTS, dataset_ids=ids)).all())
    sessions = {row[0]: row[1:] for row in (await execute(tenant, _SESSION_COUNTS, dataset_ids=ids)).all()}
    out = {}
    for dataset_id in ids:
        count, last = sessions.get(dataset_id, (0, None))
        # SQLite hands an aggregate of a timestamp column back as text.
        out[dataset_id] = DatasetCounts(examples.get(dataset_id, 0), count, derive.parse_timestamp(last))
    return out
