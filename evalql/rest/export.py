"""`POST /datasets/{dataset_id}/group/runs/export`: the comparison as CSV or JSON, streamed.

The body is group/runs' (spec §5.1: `session_ids`, `group_by`, `metadata_key`, `filters`;
paging fields are validated as there and ignored: every group and every example is
exported). Validation and errors are group/runs' own, found before the first byte is sent.
The query string picks `table` and `format` (else the `Accept` header: `text/csv` or
`application/json`; else CSV):

- `table=groups` (default): a row per group × session of S(g), groups in §5.3 order,
  sessions in request order: `GROUP_COLUMNS`, then per feedback key `feedback.<key>.n`,
  `.avg`, `.stdev` (§3.1) of the session's runs in the group.
- `table=examples`: a row per run of R(g), by group (§5.3 order), example of E(g)
  ((created_at, id)), then §5.3 step 7 (session position, start_time, id):
  `EXAMPLE_COLUMNS`, then per feedback key `feedback.<key>`: the mean score of the run's
  feedback with that key (its `feedback_stats[key].avg`).

Feedback columns are the keys present, sorted. CSV is RFC 4180 (a header row, CRLF, JSON
objects and arrays as compact JSON text, null as an empty field); JSON is one array of
objects keyed by the same column names, written an object a line, so the array is valid
once the stream ends (a stream cut short by an error stays visibly unterminated).

One data version: the export reads a snapshot transaction (`db/read_snapshot.py`) from
its first statement to its last, and the engine fixes its answer at that snapshot's version,
so writes landing during the stream are not in it. Memory: the examples table holds 13
bytes a run (`engine/export.py`) and one chunk of rows at a time; the groups table is one
group query answer with every group (a few KiB per group × session).
"""

from __future__ import annotations

import csv
import dataclasses
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from evalql.core.formats import format_cost, ts, uid
from evalql.core.group_request import to_query
from evalql.core.json import dumps
from evalql.core.problems import InvalidInput
from evalql.core.values import group_key
from evalql.db.changes import current_version
from evalql.db.models import Example, Feedback, Run
from evalql.db.read_snapshot import begin_read_snapshot
from evalql.db.tenant import Tenant, readable
from evalql.engine.answer import ComparisonEngine
from evalql.engine.export import Chunk, Plan
from evalql.queries import feedback_stats as fbs
from evalql.queries.candidates import GroupQuery
from evalql.queries.results import FeedbackStats, Group
from evalql.queries.run_details import comparison_order
from evalql.rest.body import json_body
from evalql.rest.context import request_tenant
from evalql.rest.group_runs import group_request
from evalql.rest.group_shape import METRICS
from evalql.rest.params import parse_path_uuid, query_problems


class ExportTable(StrEnum):
    GROUPS = "groups"
    EXAMPLES = "examples"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


class ExportQuery(BaseModel):
    table: ExportTable = ExportTable.GROUPS
    format: ExportFormat | None = None  # else from the Accept header, else csv


MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8", ExportFormat.JSON: "application/json"}
ACCEPTED = {"text/csv": ExportFormat.CSV, "application/json": ExportFormat.JSON}

GROUP_METRICS = ("run_count", "error_rate", "latency_p50", "latency_p99", "first_token_p50",
                 "first_token_p99", "total_tokens", "prompt_tokens", "completion_tokens", "total_cost",
                 "prompt_cost", "completion_cost", "min_start_time", "max_start_time")
GROUP_COLUMNS = ("group_key", "session_id", "session_name", "example_count", *GROUP_METRICS, "filter")
FEEDBACK_STATS = ("n", "avg", "stdev")
EXAMPLE_COLUMNS = ("group_key", "example_id", "inputs", "reference_outputs", "session_id", "session_name",
                   "run_id", "status", "start_time", "end_time", "latency", "outputs", "error", "total_tokens",
                   "prompt_tokens", "completion_tokens", "total_cost", "prompt_cost", "completion_cost")
DESCRIPTION = f"""\
The group query's body (a read key is enough); paging fields are validated and ignored: every
group and every example is exported, streamed, as of one data version.

`table=groups` (default): a row per group × session, groups in the group query's order, with the
columns {", ".join(f"`{c}`" for c in GROUP_COLUMNS)}, then per feedback key (sorted)
`feedback.<key>.n`, `feedback.<key>.avg`, `feedback.<key>.stdev`.

`table=examples`: a row per run of each group's examples (R(g)), by group, example (created_at, id),
then session order, start time and id, with the columns {", ".join(f"`{c}`" for c in EXAMPLE_COLUMNS)},
then per feedback key (sorted) `feedback.<key>`: the mean score of the run's feedback with that key.

`format=csv` (RFC 4180, a header row; objects as JSON text; null as an empty field) or `format=json`
(an array of objects keyed by the column names, an object a line); without `format`, the `Accept`
header (`text/csv` or `application/json`), else CSV."""
RUNS_PER_CHUNK = 100
ALL_GROUPS = 2**62
SNAPSHOT_TRIES = 5
# What a row of the examples table reads.
EXAMPLE_READ = (Example.id, Example.inputs, Example.outputs)
RUN_READ = (Run.id, Run.session_id, Run.status, Run.start_time, Run.end_time, Run.latency, Run.outputs, Run.error,
            Run.total_tokens, Run.prompt_tokens, Run.completion_tokens, Run.total_cost, Run.prompt_cost,
            Run.completion_cost)
FEEDBACK_READ = (Feedback.id, Feedback.run_id, Feedback.key, Feedback.score, Feedback.value_label, Feedback.comment,
                 Feedback.error, Feedback.created_at)


@dataclass
class Export:
    """A table's column names, and its rows (lists of JSON values, in column order) in batches."""

    filename: str
    columns: list[str]
    batches: AsyncIterator[list[list[Any]]]


def export_format(request: Request, chosen: ExportFormat | None) -> ExportFormat:
    if chosen is not None:
        return chosen
    for item in request.headers.get("accept", "").split(","):
        found = ACCEPTED.get(item.split(";")[0].strip().lower())
        if found is not None:
            return found
    return ExportFormat.CSV


async def open_export(engine: ComparisonEngine, tenant: Tenant, query: GroupQuery, table: ExportTable,
                      runs_per_chunk: int = RUNS_PER_CHUNK) -> Export:
    """Begins the snapshot the export reads (`tenant.db` is held until the batches end) and
    fixes what it lists; raises `NotFoundError` (spec §5.2) before any row."""
    for _ in range(SNAPSHOT_TRIES):
        await begin_read_snapshot(tenant.db)
        version = (await current_version(tenant.db, tenant.workspace_id)).version
        held = engine.held_version(tenant.workspace_id)
        # A state already past the snapshot (a write landed since it began) would be
        # rebuilt at the snapshot's version: take a newer snapshot instead.
        if held is None or held <= version:
            break
    filename = f"evalql-{query.dataset_id}-{table.value}"
    if table is ExportTable.GROUPS:
        answer = await engine.group_query(tenant, dataclasses.replace(
            query, offset=0, limit=ALL_GROUPS, per_group_limit=0))
        keys = sorted({k for g in answer.result for s in g.sessions for k in s.stats.feedback_stats})
        columns = [*GROUP_COLUMNS, *(f"feedback.{k}.{f}" for k in keys for f in FEEDBACK_STATS)]
        return Export(filename, columns, _group_batches(answer.result, keys))
    plan = await engine.export_plan(tenant, query)
    columns = [*EXAMPLE_COLUMNS, *(f"feedback.{k}" for k in plan.feedback_keys)]
    return Export(filename, columns, _example_batches(tenant, plan, runs_per_chunk))


async def _group_batches(groups: list[Group], keys: list[str]) -> AsyncIterator[list[list[Any]]]:
    for group in groups:
        rows = []
        for item in group.sessions:
            stats = item.stats
            feedback = stats.feedback_stats
            rows.append([group.key, uid(item.session.id), item.session.name, item.example_count,
                         *(METRICS[m](stats) for m in GROUP_METRICS), item.filter,
                         *(getattr(feedback[k], f) if k in feedback else None for k in keys for f in FEEDBACK_STATS)])
        yield rows


async def _example_batches(tenant: Tenant, plan: Plan, runs_per_chunk: int) -> AsyncIterator[list[list[Any]]]:
    order = comparison_order(list(plan.sessions))
    names = {s: row.session.name for s, row in plan.sessions.items()}
    keys = [group_key(bool(i.is_text), i.value) for i in plan.identities]
    for chunk in plan.chunks(runs_per_chunk):
        examples, runs = await _chunk_rows(tenant, chunk)
        rows = []
        for slot, example_id, run_ids in chunk.examples:
            example = examples.get(example_id)
            if example is None:
                continue
            for run, scores in sorted((runs[r] for r in run_ids if r in runs), key=lambda x: order(x[0])):
                rows.append(_example_row(keys[slot], example, run, scores, names, plan.feedback_keys))
        yield rows


def _example_row(key: Any, example: Any, run: Any, scores: FeedbackStats, names: dict[uuid.UUID, str],
                 feedback_keys: Sequence[str]) -> list[Any]:
    return [key, uid(example.id), example.inputs, example.outputs, uid(run.session_id), names[run.session_id],
            uid(run.id), run.status, ts(run.start_time), ts(run.end_time), run.latency, run.outputs, run.error,
            run.total_tokens, run.prompt_tokens, run.completion_tokens, format_cost(run.total_cost),
            format_cost(run.prompt_cost), format_cost(run.completion_cost),
            *(scores[k].avg if k in scores else None for k in feedback_keys)]


async def _chunk_rows(tenant: Tenant, chunk: Chunk) -> tuple[dict[uuid.UUID, Any], dict[uuid.UUID, Any]]:
    """The chunk's examples, and its runs with their feedback's stats (§3.1, as group/runs
    computes a run's), as plain rows of the columns a row shows: no ORM objects."""
    examples = await tenant.db.execute(readable(tenant, Example, *EXAMPLE_READ)
                                       .where(Example.id.in_(chunk.example_ids)))
    runs = (await tenant.db.execute(readable(tenant, Run, *RUN_READ).where(Run.id.in_(chunk.run_ids)))).all()
    feedbacks: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in await tenant.db.execute(readable(tenant, Feedback, *FEEDBACK_READ).where(
            Feedback.run_id.in_([r.id for r in runs])).order_by(Feedback.created_at, Feedback.id)):
        feedbacks[row.run_id].append(row)
    return {e.id: e for e in examples}, {
        r.id: (r, fbs.finish(fbs.partials_from_rows(feedbacks.get(r.id, [])))) for r in runs}


class Lines:
    """Where the CSV writer writes: a batch's lines, joined once."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append


def _cell(value: Any) -> Any:
    """A CSV field: null empty, JSON objects and arrays as compact JSON text."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        return dumps(value).decode()
    return value


async def render(export: Export, fmt: ExportFormat) -> AsyncIterator[bytes]:
    """The table's bytes, a batch of rows at a time."""
    if fmt is ExportFormat.CSV:
        lines: list[str] = []
        writer = csv.writer(Lines(lines))  # RFC 4180: CRLF, fields quoted when needed
        writer.writerow(export.columns)
        async for batch in export.batches:
            writer.writerows([_cell(v) for v in row] for row in batch)
            yield "".join(lines).encode()
            lines.clear()
        if lines:
            yield "".join(lines).encode()
        return
    separator = b"[\n"
    async for batch in export.batches:
        if batch:
            yield separator + b",\n".join(dumps(dict(zip(export.columns, row, strict=True))) for row in batch)
            separator = b",\n"
    yield b"[]\n" if separator == b"[\n" else b"\n]\n"


async def _closing(chunks: AsyncIterator[bytes], stack: AsyncExitStack) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        await stack.aclose()


async def export_route(request: Request) -> Response:
    stack = AsyncExitStack()
    try:
        tenant = await stack.enter_async_context(request_tenant(request))
        params, problems = query_problems(request, ExportQuery)
        dataset_id, path_problems = parse_path_uuid(request.path_params["dataset_id"], "dataset_id")
        body = await json_body(request, group_request, found=[*path_problems, *problems])
        if dataset_id is None or params is None:  # a problem was found, so json_body raised
            raise InvalidInput([*path_problems, *problems])
        fmt = export_format(request, params.format)
        # An export slot (evalql/admission.py) until the last row is sent, and a comparison
        # slot while its groups and run lists are computed (CPU, as any comparison's), given
        # back before the rows are streamed to a client that may read slowly.
        await stack.enter_async_context(request.app.state.export_admission.admitted(tenant))
        async with request.app.state.admission.admitted(tenant):
            export = await open_export(request.app.state.comparisons, tenant, to_query(dataset_id, body),
                                       params.table)
    except BaseException:
        await stack.aclose()
        raise
    return StreamingResponse(
        _closing(render(export, fmt), stack), media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{export.filename}.{fmt.value}"'})


ROUTES: list[Route] = [Route("/datasets/{dataset_id}/group/runs/export", export_route, methods=["POST"])]
