"""`POST /datasets/{id}/group/runs/export` and `evalql export`: the comparison as CSV and JSON.

Every value of both tables, in both formats, is checked against the answers of group/runs
(the groups, their sessions and filters) and of `datasets/{id}/runs` asked with each
session's group filter (the runs of R(g)), so against the engine those answers are held to;
errors are group/runs' own; the CLI writes the endpoint's bytes; an export reads one data
version; and its memory stays far below what it writes.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import tracemalloc
import uuid
from typing import Any

import pytest

from evalql import cli
from evalql.core.group_request import to_query, validate_group_request
from evalql.db import writes
from evalql.db.models import Example
from evalql.db.tenant import Tenant, updatable
from evalql.rest.export import EXAMPLE_COLUMNS, GROUP_COLUMNS, ExportFormat, ExportTable, open_export, render
from tests.support.world import build_world
from tests.worlds import worked_example


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        return await build_world(db, api.workspace_id, n_examples=16, n_sessions=3)


def bodies(world) -> dict[str, dict[str, Any]]:
    s = [str(x) for x in world.session_ids]
    return {
        "example_metadata": {"session_ids": s, "group_by": "example_metadata", "metadata_key": "category"},
        "run_metadata": {"session_ids": s[:2], "group_by": "run_metadata", "metadata_key": "temperature"},
        "filtered": {"session_ids": s, "group_by": "example_metadata", "metadata_key": "difficulty",
                     "filters": {s[1]: ['eq(status, "success")'], s[2]: ['gt(latency, "1s")']}},
    }


async def export(api, dataset_id: object, body: Any, table: str = "groups", fmt: str | None = "json",
                 key: str | None = None, headers: dict | None = None):
    query = f"?table={table}" + (f"&format={fmt}" if fmt else "")
    return await api.client.post(f"/api/v1/datasets/{dataset_id}/group/runs/export{query}", json=body,
                                 headers={**api.headers(key or api.read_key), **(headers or {})})


# ---------------------------------------------------------------------------- the expectation

async def all_groups(api, dataset_id: object, body: dict) -> list[dict]:
    """Every group of group/runs, paged through."""
    out: list[dict] = []
    while True:
        r = await api.group_runs(dataset_id, {**body, "offset": len(out), "limit": 20, "per_group_limit": 1})
        assert r.status_code == 200, r.text
        page = r.json()["groups"]
        out += page
        if len(page) < 20:
            return out


def expected_groups(groups: list[dict]) -> tuple[list[str], list[dict]]:
    keys = sorted({k for g in groups for s in g["sessions"] for k in s["feedback_stats"]})
    rows = []
    for g in groups:
        for s in g["sessions"]:
            row = {"group_key": g["group_key"], "session_id": s["id"], "session_name": s["name"],
                   **{c: s[c] for c in GROUP_COLUMNS[3:]}}
            for k in keys:
                stat = s["feedback_stats"].get(k)
                row.update({f"feedback.{k}.{f}": None if stat is None else stat[f] for f in ("n", "avg", "stdev")})
            rows.append(row)
    return [*GROUP_COLUMNS, *(f"feedback.{k}.{f}" for k in keys for f in ("n", "avg", "stdev"))], rows


async def group_examples(api, dataset_id: object, group: dict) -> list[dict]:
    """E(g) with the runs of R(g): `datasets/{id}/runs` with each session's `filter` (the
    group's filter and its own), keeping the examples every session of S(g) ran."""
    sessions = [s["id"] for s in group["sessions"]]
    body = {"session_ids": sessions, "filters": {s["id"]: [s["filter"]] for s in group["sessions"]}, "limit": 100}
    found: list[dict] = []
    while True:
        r = await api.client.post(f"/api/v1/datasets/{dataset_id}/runs", json={**body, "offset": len(found)},
                                  headers=api.headers())
        assert r.status_code == 200, r.text
        found += r.json()
        if len(r.json()) < 100:
            break
    examples = [e for e in found if {r["session_id"] for r in e["runs"]} == set(sessions)]
    assert len(examples) == group["example_count"]
    return examples


def latency(run: dict) -> float | None:
    if run["end_time"] is None:
        return None
    return (dt.datetime.fromisoformat(run["end_time"]) - dt.datetime.fromisoformat(run["start_time"])).total_seconds()


async def expected_examples(api, dataset_id: object, groups: list[dict]) -> tuple[list[str], list[dict]]:
    rows = []
    for g in groups:
        names = {s["id"]: s["name"] for s in g["sessions"]}
        for e in await group_examples(api, dataset_id, g):
            for run in e["runs"]:
                rows.append({
                    "group_key": g["group_key"], "example_id": e["id"], "inputs": e["inputs"],
                    "reference_outputs": e["outputs"], "session_id": run["session_id"],
                    "session_name": names[run["session_id"]], "run_id": run["id"], "status": run["status"],
                    "start_time": run["start_time"], "end_time": run["end_time"], "latency": latency(run),
                    "outputs": run["outputs"], "error": run["error"],
                    **{c: run[c] for c in ("total_tokens", "prompt_tokens", "completion_tokens", "total_cost",
                                           "prompt_cost", "completion_cost")},
                    "feedback": {k: s["avg"] for k, s in run["feedback_stats"].items()},
                })
    keys = sorted({k for row in rows for k in row["feedback"]})
    for row in rows:
        scores = row.pop("feedback")
        row.update({f"feedback.{k}": scores.get(k) for k in keys})
    return [*EXAMPLE_COLUMNS, *(f"feedback.{k}" for k in keys)], rows


def same(found: Any, expected: Any, column: str) -> bool:
    if column == "latency" and found is not None and expected is not None:
        return abs(found - expected) < 1e-6
    return found == expected and type(found) is type(expected) or (
        isinstance(found, (int, float)) and not isinstance(found, bool) and found == expected)


def check_json(content: bytes, columns: list[str], rows: list[dict]) -> None:
    found = json.loads(content)
    assert len(found) == len(rows)
    for got, want in zip(found, rows, strict=True):
        assert list(got) == columns
        for c in columns:
            assert same(got[c], want[c], c), (c, got[c], want[c])


def csv_value(cell: str, expected: Any) -> Any:
    """A CSV field read back as the type the JSON answer has."""
    if cell == "":
        return None
    if isinstance(expected, (dict, list)):
        return json.loads(cell)
    if isinstance(expected, bool):
        return {"true": True, "false": False}[cell]
    if isinstance(expected, int):
        return int(cell)
    if isinstance(expected, float):
        return float(cell)
    return cell


def check_csv(content: bytes, columns: list[str], rows: list[dict]) -> None:
    text = content.decode()
    assert text.endswith("\r\n")
    found = list(csv.reader(io.StringIO(text, newline="")))
    assert found[0] == columns
    assert len(found) - 1 == len(rows)
    for got, want in zip(found[1:], rows, strict=True):
        assert len(got) == len(columns)
        for cell, c in zip(got, columns, strict=True):
            expected = want[c]
            if expected == "":
                assert cell == ""
                continue
            assert same(csv_value(cell, expected), expected, c), (c, cell, expected)


# ---------------------------------------------------------------------------- values

@pytest.mark.parametrize("case", ["example_metadata", "run_metadata", "filtered"])
async def test_groups_table_is_group_runs(api, world, case):
    body = bodies(world)[case]
    columns, rows = expected_groups(await all_groups(api, world.dataset_id, body))
    assert len(rows) >= 4
    r = await export(api, world.dataset_id, body, "groups", "json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == f'attachment; filename="evalql-{world.dataset_id}-groups.json"'
    check_json(r.content, columns, rows)
    r = await export(api, world.dataset_id, body, "groups", "csv")
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    check_csv(r.content, columns, rows)


@pytest.mark.parametrize("case", ["example_metadata", "run_metadata", "filtered"])
async def test_examples_table_is_dataset_runs_of_each_group(api, world, case):
    body = bodies(world)[case]
    groups = await all_groups(api, world.dataset_id, body)
    columns, rows = await expected_examples(api, world.dataset_id, groups)
    assert len(rows) >= 20 and any(r["error"] for r in rows) and any(r["feedback.correctness"] for r in rows)
    r = await export(api, world.dataset_id, body, "examples", "json")
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == f'attachment; filename="evalql-{world.dataset_id}-examples.json"'
    check_json(r.content, columns, rows)
    check_csv((await export(api, world.dataset_id, body, "examples", "csv")).content, columns, rows)


async def test_worked_example_literally(api):
    """Spec §5.7 as a groups table: geo then math, a row per session."""
    async with api.db_sessions() as db:
        w = await worked_example.load(db, api.workspace_id)
        await db.commit()
    body = {"session_ids": [str(w.sessions["A"]), str(w.sessions["B"])], "group_by": "example_metadata",
            "metadata_key": "category"}
    rows = list(csv.DictReader(io.StringIO((await export(api, w.dataset_id, body, fmt="csv")).text)))
    assert [(r["group_key"], r["run_count"], r["total_tokens"], r["latency_p50"], r["error_rate"],
             r["feedback.correctness.avg"]) for r in rows] == [
        ("geo", "1", "30", "3.0", "1.0", "1.0"), ("geo", "1", "50", "5.0", "0.0", "0.0"),
        ("math", "1", "10", "1.0", "0.0", "1.0"), ("math", "1", "40", "4.0", "0.0", "1.0")]


async def test_empty_answer_is_valid(api, world):
    body = {**bodies(world)["example_metadata"], "metadata_key": "no such key"}
    r = await export(api, world.dataset_id, body, "examples", "json")
    assert r.status_code == 200 and r.json() == []
    r = await export(api, world.dataset_id, body, "groups", "csv")
    assert r.text == ",".join(GROUP_COLUMNS) + "\r\n"


async def test_format_from_accept_header(api, world):
    body = bodies(world)["example_metadata"]
    csv_body = (await export(api, world.dataset_id, body, fmt="csv")).content
    json_body = (await export(api, world.dataset_id, body, fmt="json")).content
    r = await export(api, world.dataset_id, body, fmt=None, headers={"Accept": "application/json"})
    assert r.headers["content-type"] == "application/json" and r.content == json_body
    r = await export(api, world.dataset_id, body, fmt=None, headers={"Accept": "text/csv, application/json"})
    assert r.content == csv_body
    assert (await export(api, world.dataset_id, body, fmt=None)).content == csv_body  # the default
    r = await export(api, world.dataset_id, body, fmt="csv", headers={"Accept": "application/json"})
    assert r.content == csv_body  # the query string wins


# ---------------------------------------------------------------------------- errors

@pytest.mark.parametrize("body", [
    {},
    {"session_ids": [], "group_by": "x", "metadata_key": ""},
    {"session_ids": ["nope"], "group_by": "run_metadata", "metadata_key": "k", "limit": 50},
    "SESSIONS",  # filters: a key not in session_ids, and an unparseable filter
])
async def test_validation_is_group_runs(api, world, body):
    if body == "SESSIONS":
        s = str(world.session_ids[0])
        body = {"session_ids": [s], "group_by": "run_metadata", "metadata_key": "model",
                "filters": {str(uuid.uuid4()): ["eq(status, 'x')"], s: ["eq(status"]}}
    expected = await api.group_runs(world.dataset_id, body)
    assert expected.status_code == 422
    for table in ("groups", "examples"):
        r = await export(api, world.dataset_id, body, table)
        assert (r.status_code, r.json()) == (422, expected.json())


async def test_query_string_problems_reported_with_the_body(api, world):
    r = await api.client.post("/api/v1/datasets/nope/group/runs/export?table=rows&format=xml", json={},
                              headers=api.headers())
    assert r.status_code == 422
    locs = [p["loc"] for p in r.json()["detail"]]
    assert locs[:3] == [["path", "dataset_id"], ["query", "table"], ["query", "format"]]
    assert ["body", "session_ids"] in locs


async def test_not_found_is_group_runs(api, world):
    body = bodies(world)["example_metadata"]
    for dataset_id, session_body in [(uuid.uuid4(), body),
                                     (world.dataset_id, {**body, "session_ids": [*body["session_ids"],
                                                                                 str(uuid.uuid4())]})]:
        expected = await api.group_runs(dataset_id, session_body)
        assert expected.status_code == 404
        for table in ("groups", "examples"):
            r = await export(api, dataset_id, session_body, table)
            assert (r.status_code, r.json()) == (404, expected.json())


async def test_auth(api, world):
    body = bodies(world)["example_metadata"]
    url = f"/api/v1/datasets/{world.dataset_id}/group/runs/export"
    r = await api.client.post(url, json=body)
    assert r.status_code == 401 and r.json() == {"detail": "Missing API key: send the X-API-Key header"}
    r = await api.client.post(url, json=body, headers={"X-API-Key": "evq_nope"})
    assert r.status_code == 401
    other = str(uuid.uuid4())
    r = await api.client.post(url, json=body, headers={**api.headers(api.read_key), "X-Tenant-Id": other})
    assert (r.status_code, r.json()) == (403, {"detail": f"API key has no access to workspace {other}"})
    r = await api.client.post(f"/datasets/{world.dataset_id}/group/runs/export/", json=body,
                              headers=api.headers(api.read_key))  # the other prefix, a trailing slash
    assert r.status_code == 200


# ---------------------------------------------------------------------------- the CLI

async def test_cli_writes_the_endpoints_bytes(api, world, database_url, tmp_path, capsys):
    body = bodies(world)["filtered"]
    flags = ["--database-url", database_url, "--workspace", "tests", "--dataset-id", str(world.dataset_id),
             "--session-ids", ",".join(body["session_ids"]), "--group-by", body["group_by"],
             "--metadata-key", body["metadata_key"],
             *(f for s, texts in body["filters"].items() for t in texts for f in ("--filter", f"{s}={t}"))]
    for table in ("groups", "examples"):
        for fmt in ("csv", "json"):
            out = tmp_path / f"{table}.{fmt}"
            code = await asyncio.to_thread(cli.main, ["export", *flags, "--table", table, "--format", fmt,
                                                      "--output", str(out)])
            assert code == 0
            assert out.read_bytes() == (await export(api, world.dataset_id, body, table, fmt)).content


async def test_cli_errors(api, world, database_url, capsys):
    base = ["export", "--database-url", database_url, "--workspace", "tests", "--group-by", "run_metadata",
            "--metadata-key", "model"]
    code = await asyncio.to_thread(cli.main, [*base, "--dataset-id", str(world.dataset_id),
                                              "--session-ids", "nope", "--filter", f"{uuid.uuid4()}=eq(status"])
    err = capsys.readouterr().err
    assert code == 2 and "--session-ids 0: Input should be a valid UUID" in err and "--filter" in err
    missing = uuid.uuid4()
    code = await asyncio.to_thread(cli.main, [*base, "--dataset-id", str(missing),
                                              "--session-ids", str(world.session_ids[0])])
    assert code == 2 and f"Dataset {missing} not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------- one version, bounded memory

async def collect(export_: Any, fmt: ExportFormat) -> bytes:
    return b"".join([chunk async for chunk in render(export_, fmt)])


async def test_writes_during_the_stream_are_not_in_it(api, world):
    """The export reads the snapshot it began: a feedback, a new output and a deleted run
    committed after it began, before its rows are read, are not in it."""
    body = bodies(world)["example_metadata"]
    before = (await export(api, world.dataset_id, body, "examples", "json")).content
    request, _ = validate_group_request(body)
    query = to_query(world.dataset_id, request)
    engine = api.client._transport.app.state.comparisons  # type: ignore[attr-defined]
    async with api.db_sessions() as db:
        tenant = Tenant(api.workspace_id, True, db)
        started = await open_export(engine, tenant, query, ExportTable.EXAMPLES, runs_per_chunk=5)
        async with api.db_sessions() as writer:
            run_id = world.root_run_ids[0]
            await writes.insert_feedback(writer, api.workspace_id, [{"run_id": run_id, "key": "late", "score": 1}])
            await writer.commit()
        async with api.db_sessions() as writer:
            await writer.execute(updatable(api.workspace_id, Example).where(Example.id.in_(world.example_ids))
                                 .values(outputs={"answer": "changed"}))
            await writer.commit()
        assert await collect(started, ExportFormat.JSON) == before
    after = (await export(api, world.dataset_id, body, "examples", "json")).content
    assert after != before and b'"answer":"changed"' in after and b"feedback.late" in after


async def test_memory_stays_far_below_the_output(api):
    """A table of 20,000 runs: the export's peak (tracemalloc, the engine warm) is a small
    fraction of the bytes it writes, which a non-streamed export would hold at once."""
    n_examples, n_sessions = 10_000, 2
    async with api.db_sessions() as db:
        dataset = await writes.insert_dataset(db, api.workspace_id, name="big")
        t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        example_ids = await writes.insert_examples(db, api.workspace_id, [
            {"dataset_id": dataset.id, "inputs": {"question": f"question {i} " * 8}, "outputs": {"answer": f"a{i}"},
             "metadata": {"bucket": i % 3}, "created_at": t0 + dt.timedelta(seconds=i)} for i in range(n_examples)])
        sessions = [await writes.insert_session(db, api.workspace_id, name=f"big-{s}", reference_dataset_id=dataset.id)
                    for s in range(n_sessions)]
        await writes.insert_runs(db, api.workspace_id, [
            {"id": uuid.uuid4(), "name": "t", "run_type": "chain", "session_id": s.id, "reference_example_id": e,
             "start_time": t0 + dt.timedelta(seconds=i), "end_time": t0 + dt.timedelta(seconds=i + 1),
             "inputs": {}, "outputs": {"answer": f"output {i} of {s.name} " * 10}}
            for s in sessions for i, e in enumerate(example_ids)])
        await db.commit()
    body = {"session_ids": [str(s.id) for s in sessions], "group_by": "example_metadata", "metadata_key": "bucket"}
    request, _ = validate_group_request(body)
    query = to_query(dataset.id, request)
    engine = api.client._transport.app.state.comparisons  # type: ignore[attr-defined]
    async with api.db_sessions() as db:  # warm: the engine loads the sessions
        await collect(await open_export(engine, Tenant(api.workspace_id, True, db), query, ExportTable.EXAMPLES),
                      ExportFormat.CSV)
    await engine.close()  # the snapshot of the state the warm-up wrote (a copy of it) is not the export's
    async with api.db_sessions() as db:
        tracemalloc.start()
        try:
            written = 0
            started = await open_export(engine, Tenant(api.workspace_id, True, db), query, ExportTable.EXAMPLES)
            async for chunk in render(started, ExportFormat.CSV):
                written += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert written > 20_000 * 500
    assert peak < written / 4, (peak, written)  # about 2 MB against 12 MB
