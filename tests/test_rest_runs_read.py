"""Reading runs over REST (spec §2.4, §7.5.3–§7.5.5, §9 item 8): GET /runs/{id}, its
attachments and POST /runs/query, through real HTTP on both databases.

Expected values are recomputed from the records with the plain-Python oracles of
tests/oracle.py and tests/filter_oracle.py, never read back from evalql.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
import uuid
from typing import Any

import pytest

from evalql.db import writes
from evalql.db.models import RunAttachment
from evalql.queries import runs_query
from tests.filter_oracle import FilterOracle, string_form
from tests.oracle import COST_FIELDS, TOKEN_FIELDS, Derived, Records, compare, cost_text, feedback_stats, ts
from tests.support.app import second_workspace
from tests.support.rest import locs_types
from tests.support.statements import counting
from tests.worlds import filters as fw
from tests.worlds import rich

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
BASE = "http://evalql.test"
REQUIRED = {"id", "name", "run_type", "start_time", "trace_id", "dotted_order", "status", "session_id", "app_path"}
ALL_FIELDS = {
    "id", "name", "run_type", "start_time", "end_time", "status", "inputs", "outputs", "error", "extra", "events",
    "tags", "serialized", "trace_id", "dotted_order", "parent_run_id", "parent_run_ids", "child_run_ids",
    "direct_child_run_ids", "session_id", "reference_example_id", "reference_dataset_id", "execution_order",
    "manifest_id", "manifest_s3_id", "inputs_s3_urls", "outputs_s3_urls", "s3_urls", "total_tokens",
    "prompt_tokens", "completion_tokens", "prompt_token_details", "completion_token_details", "total_cost",
    "prompt_cost", "completion_cost", "prompt_cost_details", "completion_cost_details", "first_token_time",
    "feedback_stats", "in_dataset", "app_path", "trace_min_start_time", "trace_max_start_time", "thread_id",
}
TS_FIELDS = ("start_time", "end_time", "first_token_time", "trace_min_start_time", "trace_max_start_time")
EXACT = 'and(eq(feedback_key, "exact"), eq(feedback_score, 1))'
T0 = dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)


def uid(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "runs-read/" + name)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


async def query(api, body: dict, key: str | None = None, path: str = "/api/v1/runs/query"):
    return await api.client.post(path, json=body, headers=api.headers(key))


async def runs_of(api, body: dict, key: str | None = None) -> list[dict]:
    response = await query(api, body, key)
    assert response.status_code == 200, response.text
    return response.json()["runs"]


async def ids_of(api, body: dict, key: str | None = None) -> list[str]:
    return [r["id"] for r in await runs_of(api, body, key)]


async def all_pages(api, body: dict) -> list[str]:
    found, cursor = [], None
    while True:
        response = await query(api, {**body, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["cursors"]["prev"] is None
        found += [r["id"] for r in page["runs"]]
        cursor = page["cursors"]["next"]
        if cursor is None:
            return found


def problems(response) -> list[dict]:
    assert response.status_code == 422, (response.status_code, response.text)
    found = response.json()["detail"]
    assert isinstance(found, list) and found
    for p in found:
        assert p["loc"][0] == "body" and p["msg"] and p["type"], p
    return found


# --- the shape world ----------------------------------------------------------------------

def shape_world() -> Records:
    """Session S on dataset D; examples e1 (the root's reference), e2 (made from llm1),
    e3 (made from other, and other's reference; deleted after loading).

    | run   | parent | type  | start  | end    | error      | usage                                    | stream      |
    |-------|--------|-------|--------|--------|------------|------------------------------------------|-------------|
    | root  | —      | chain | 0      | 5.5    |            | none: rolls up llm1 + llm2 (tool is under llm1, which has its own) | 2 new_token events |
    | llm1  | root   | llm   | 1      | 2      |            | outputs.usage_metadata 10/5, costs, details |          |
    | tool  | llm1   | tool  | 1.5    | 1.6    | boom       | explicit 7/0/7                           |             |
    | llm2  | root   | llm   | 3      | —      |            | explicit 100/50/150, costs               | first_token_time |
    | other | —      | llm   | 10     | 11     | rate limit | none                                     |             |

    Feedback: root correctness 1 (comment) and 0 (value "bad", comment), helpful true,
    latency_check error without score; llm1 exact 1. Attachments are added by the test.
    """
    rec = Records()
    ds, s = uid("D"), uid("S")
    rec.datasets = [{"id": ds, "name": "D"}]
    rec.sessions = [{"id": s, "name": "S", "reference_dataset_id": ds, "start_time": T0}]
    rec.examples = [
        {"id": uid("e1"), "dataset_id": ds, "inputs": {"q": "hi"}, "created_at": T0},
        {"id": uid("e2"), "dataset_id": ds, "inputs": {"q": "x"}, "source_run_id": uid("llm1"), "created_at": T0},
        {"id": uid("e3"), "dataset_id": ds, "inputs": {"q": "y"}, "source_run_id": uid("other"), "created_at": T0},
    ]

    def run(key: str, start: float, end: float | None, **fields: Any) -> dict:
        parent = fields.pop("parent", None)
        return {"id": uid(key), "session_id": s, "start_time": at(start), "end_time": None if end is None else at(end),
                **({"parent_run_id": uid(parent)} if parent else {}), **fields}

    rec.runs = [
        run("root", 0, 5.5, name="Pipeline", run_type="chain", tags=["prod", "v2"], inputs={"q": "hi"},
            outputs={"a": "yo"}, serialized={"name": "Pipeline"}, reference_example_id=uid("e1"),
            extra={"metadata": {"conversation_id": "c-1", "model": "m"}, "runtime": {"sdk": "x"}},
            events=[{"name": "start", "time": at(0).isoformat()}, {"name": "new_token", "time": at(1.25).isoformat()},
                    {"name": "new_token", "time": at(0.75).isoformat()}]),
        run("llm1", 1, 2, parent="root", name="ChatModel", run_type="llm", inputs={"prompt": "p"},
            outputs={"text": "x", "usage_metadata": {
                "input_tokens": 10, "output_tokens": 5, "input_token_details": {"cache_read": 3},
                "output_token_details": {"reasoning": 2}, "input_cost": 0.0001, "output_cost": "0.00025"}}),
        run("tool", 1.5, 1.6, parent="llm1", name="search", run_type="tool", error="boom",
            prompt_tokens=7, completion_tokens=0, total_tokens=7),
        run("llm2", 3, None, parent="root", name="ChatModel", run_type="llm",
            extra={"metadata": {"thread_id": 42, "session_id": "s-1"}}, first_token_time=at(3.5).isoformat(),
            prompt_tokens=100, completion_tokens=50, total_tokens=150, prompt_cost="0.001",
            completion_cost="0.002", total_cost="0.003"),
        run("other", 10, 11, name="Other", run_type="llm", error="rate limit", reference_example_id=uid("e3"),
            extra={"metadata": {"thread_id": None, "session_id": "s-2"}}),
    ]
    rec.feedback = [
        fb("fb1", "root", "correctness", 1, comment="good", minutes=60),
        fb("fb2", "root", "correctness", 0, value="bad", comment="meh", minutes=120),
        fb("fb3", "root", "helpful", True, value=True, minutes=30),
        {**fb("fb4", "root", "latency_check", None, minutes=10), "error": True},
        fb("fb5", "llm1", "exact", 1, minutes=5),
    ]
    return rec


def fb(name: str, run: str, key: str, score: Any, value: Any = None, comment: str | None = None,
       minutes: int = 0) -> dict:
    return {"id": uid(name), "run_id": uid(run), "key": key, "score": score, "value": value, "comment": comment,
            "created_at": T0 + dt.timedelta(minutes=minutes)}


ATTACHMENTS = {"root": [("image", "image/png", b"\x89PNG\r\n\x1a\nbytes"), ("my notes", "text/plain", b"hello")]}
DELETED_EXAMPLES = {uid("e3")}


@pytest.fixture
async def shaped(api) -> Records:
    async with api.db_sessions() as db:
        rec = await rich.load(db, api.workspace_id, shape_world())
        for example_id in DELETED_EXAMPLES:
            await writes.soft_delete_example(db, api.workspace_id, example_id)
        for run, files in ATTACHMENTS.items():
            db.add_all([RunAttachment(workspace_id=api.workspace_id, run_id=uid(run), name=name, content_type=ctype,
                                      size=len(data), data=data) for name, ctype, data in files])
        await db.commit()
    return rec


def ancestors(d: Derived, rid: uuid.UUID) -> list[uuid.UUID]:
    chain = []
    while d.runs[rid].get("parent_run_id"):
        rid = uuid.UUID(str(d.runs[rid]["parent_run_id"]))
        chain.append(rid)
    return chain[::-1]


def usage_details(r: dict) -> tuple[Any, Any]:
    """§2.4: the details mirror the usage_metadata the run's own usage came from."""
    if any(r.get(f) is not None for f in TOKEN_FIELDS + COST_FIELDS):
        return None, None
    for meta in ((r.get("outputs") or {}).get("usage_metadata"), ((r.get("extra") or {}).get("metadata") or {}).get("usage_metadata")):
        if isinstance(meta, dict):
            return meta.get("input_token_details"), meta.get("output_token_details")
    return None, None


def expected_run(rec: Records, rid: uuid.UUID) -> dict[str, Any]:
    """The full §2.4 Run of `rid`, from the records alone."""
    d = Derived(rec)
    r, usage, (lo, hi) = d.runs[rid], d.usage(rid), d.trace_bounds(rid)
    chain = ancestors(d, rid)
    dotted = ".".join(d.start(x).strftime("%Y%m%dT%H%M%S%fZ") + str(x) for x in [*chain, rid])
    trace = d.root(rid)
    live = [e for e in rec.examples if uuid.UUID(str(e["id"])) not in DELETED_EXAMPLES]
    reference = next((e for e in live if r.get("reference_example_id") and e["id"] == r["reference_example_id"]), None)
    metadata = (r.get("extra") or {}).get("metadata") or {}
    thread = next((string_form(metadata[k]) for k in ("thread_id", "session_id", "conversation_id")
                   if metadata.get(k) is not None), None)
    prompt_details, completion_details = usage_details(r)
    name = next(n for n in ("root", "llm1", "tool", "llm2", "other") if uid(n) == rid)
    return {
        "id": str(rid), "name": r["name"], "run_type": r["run_type"], "start_time": ts(d.start(rid)),
        "end_time": ts(d.end(rid)), "status": d.status(rid), "inputs": r.get("inputs"), "outputs": r.get("outputs"),
        "error": r.get("error"), "extra": r.get("extra"), "events": r.get("events"), "tags": r.get("tags") or [],
        "serialized": r.get("serialized"), "trace_id": str(trace), "dotted_order": dotted,
        "parent_run_id": str(chain[-1]) if chain else None, "parent_run_ids": [str(x) for x in chain],
        "child_run_ids": None, "direct_child_run_ids": None, "session_id": str(r["session_id"]),
        "reference_example_id": None if r.get("reference_example_id") is None else str(r["reference_example_id"]),
        "reference_dataset_id": None if reference is None else str(reference["dataset_id"]),
        "execution_order": 1, "manifest_id": None, "manifest_s3_id": None, "inputs_s3_urls": None,
        "outputs_s3_urls": None,
        "s3_urls": {f"attachment.{n}": {"presigned_url": f"{BASE}/runs/{rid}/attachments/{n.replace(' ', '%20')}"}
                    for n, _, _ in sorted(ATTACHMENTS.get(name, []))},
        **{f: usage[f] for f in TOKEN_FIELDS},
        "prompt_token_details": prompt_details, "completion_token_details": completion_details,
        **{f: cost_text(usage[f]) for f in COST_FIELDS},
        "prompt_cost_details": None, "completion_cost_details": None,
        "first_token_time": ts(d.first_token(rid)),
        "feedback_stats": feedback_stats([f for f in rec.feedback if f.get("run_id") == rid]),
        "in_dataset": any(e.get("source_run_id") == rid for e in live),
        "app_path": f"/o/{rec.workspace_id}/projects/p/{r['session_id']}/r/{rid}?trace_id={trace}",
        "trace_min_start_time": ts(lo), "trace_max_start_time": ts(hi), "thread_id": thread,
    }


def check_run(rec: Records, got: dict) -> None:
    assert set(got) == ALL_FIELDS
    for name in TS_FIELDS:
        assert got[name] is None or TS.match(got[name]), (name, got[name])
    for name in COST_FIELDS:
        assert got[name] is None or re.fullmatch(r"-?\d+(\.\d+)?", got[name]), (name, got[name])
    assert compare(expected_run(rec, uuid.UUID(got["id"])), without_signatures(got, rec.workspace_id)) == []


def without_signatures(got: dict, workspace_id) -> dict:
    """The run with its presigned URLs cut at the query, once the query is checked to
    carry the workspace, an expiry a day ahead (rounded up to the hour) and a signature (tests/test_presign.py
    checks that the signature works)."""
    urls = {}
    for key, value in (got.get("s3_urls") or {}).items():
        url, _, query = value["presigned_url"].partition("?")
        params = dict(pair.split("=", 1) for pair in query.split("&"))
        assert params["tenant"] == str(workspace_id) and len(params["signature"]) == 64
        # A minute's slack below: signed at an hour's exact second, the expiry is 24 h from
        # then, a moment before now + 24 h.
        assert 24 * 3600 - 60 <= int(params["expires"]) - time.time() <= 25 * 3600
        urls[key] = {"presigned_url": url}
    return {**got, "s3_urls": urls} if "s3_urls" in got else got


# --- GET /runs/{id} -------------------------------------------------------------------------

@pytest.mark.parametrize("few", [1000, 1, 0], ids=["few", "some over", "all over"])
async def test_read_every_field(api, shaped, few, monkeypatch):
    """Feedback statistics aggregated from few rows (PostgreSQL: read in the run's own
    statement) and, past FEW_FEEDBACK rows, in SQL: for some runs of the world, or all."""
    monkeypatch.setattr(runs_query, "FEW_FEEDBACK", few)
    for name in ("root", "llm1", "tool", "llm2", "other"):
        response = await api.client.get(f"/api/v1/runs/{uid(name)}", headers=api.headers(api.read_key))
        assert response.status_code == 200, response.text
        check_run(shaped, response.json())


async def test_read_values_pinned(api, shaped):
    """A few derived values written out, so the oracle is checked too."""
    root = (await api.client.get(f"/runs/{str(uid('root')).upper()}", headers=api.headers())).json()
    assert root["status"] == "success" and root["parent_run_ids"] == [] and root["thread_id"] == "c-1"
    assert (root["prompt_tokens"], root["completion_tokens"], root["total_tokens"]) == (110, 55, 165)
    assert (root["prompt_cost"], root["completion_cost"], root["total_cost"]) == ("0.0011", "0.00225", "0.00335")
    assert root["first_token_time"] == "2024-05-01T10:00:00.873456+00:00"
    assert root["feedback_stats"]["correctness"]["avg"] == 0.5 and root["feedback_stats"]["helpful"]["values"] == {"true": 1}
    assert root["in_dataset"] is False and root["reference_dataset_id"] == str(uid("D"))
    tool = (await api.client.get(f"/runs/{uid('tool')}", headers=api.headers())).json()
    assert tool["status"] == "error" and tool["parent_run_ids"] == [str(uid("root")), str(uid("llm1"))]
    assert tool["dotted_order"].count(".") == 2 and tool["dotted_order"].endswith(str(uid("tool")))
    assert tool["trace_min_start_time"] == "2024-05-01T10:00:00.123456+00:00"
    assert tool["trace_max_start_time"] == "2024-05-01T10:00:03.123456+00:00"
    llm1 = (await api.client.get(f"/runs/{uid('llm1')}", headers=api.headers())).json()
    assert llm1["in_dataset"] is True and llm1["prompt_token_details"] == {"cache_read": 3}
    assert llm1["total_cost"] == "0.00035"
    llm2 = (await api.client.get(f"/runs/{uid('llm2')}", headers=api.headers())).json()
    assert llm2["status"] == "pending" and llm2["end_time"] is None and llm2["thread_id"] == "42"
    other = (await api.client.get(f"/runs/{uid('other')}", headers=api.headers())).json()
    assert other["in_dataset"] is False and other["reference_dataset_id"] is None  # e3 is deleted
    assert other["thread_id"] == "s-2" and other["total_cost"] is None and other["total_tokens"] == 0


async def test_read_missing_malformed_and_auth(api, shaped):
    missing = uuid.uuid4()
    response = await api.client.get(f"/runs/{missing}", headers=api.headers())
    assert response.status_code == 404 and response.json() == {"detail": f"Run {missing} not found"}
    response = await api.client.get("/runs/not-a-uuid", headers=api.headers())
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["path", "run_id"]
    assert (await api.client.get(f"/runs/{uid('root')}")).status_code == 401
    assert (await api.client.get(f"/runs/{uid('root')}", headers={"X-API-Key": "nope"})).status_code == 401


# --- attachments ---------------------------------------------------------------------------

async def test_attachment_bytes_and_type(api, shaped):
    root = (await api.client.get(f"/runs/{uid('root')}", headers=api.headers())).json()
    for name, ctype, data in ATTACHMENTS["root"]:
        url = root["s3_urls"][f"attachment.{name}"]["presigned_url"]
        assert url.startswith(BASE + "/runs/")
        response = await api.client.get(url, headers=api.headers(api.read_key))
        assert response.status_code == 200, response.text
        assert response.content == data and response.headers["content-type"] == ctype
    prefixed = await api.client.get(f"/api/v1/runs/{uid('root')}/attachments/image", headers=api.headers())
    assert prefixed.status_code == 200 and prefixed.content == ATTACHMENTS["root"][0][2]


async def test_attachment_missing(api, shaped):
    for run, name in (("root", "nope"), ("llm1", "image"), ("ghost", "image")):
        response = await api.client.get(f"/runs/{uid(run)}/attachments/{name}", headers=api.headers())
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": f"Attachment {name} of run {uid(run)} not found"}
    assert (await api.client.get(f"/runs/{uid('root')}/attachments/image")).status_code == 401


# --- POST /runs/query: shape, select ------------------------------------------------------------

@pytest.mark.parametrize("few", [1000, 0], ids=["python", "sql"])
async def test_query_every_field_read_key(api, shaped, few, monkeypatch):
    """Both ways of aggregating feedback statistics (few rows in Python, more in SQL)."""
    monkeypatch.setattr(runs_query, "FEW_FEEDBACK", few)
    runs = await runs_of(api, {"session": [str(uid("S"))]}, key=api.read_key)
    d = Derived(shaped)
    assert [r["id"] for r in runs] == [str(x) for x in sorted(d.runs, key=lambda x: (d.start(x), x), reverse=True)]
    for run in runs:
        check_run(shaped, run)


async def test_response_envelope(api, shaped):
    response = await query(api, {}, path="/runs/query")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"runs", "cursors", "search_cursors", "parsed_query"}
    assert body["cursors"] == {"next": None, "prev": None} and body["search_cursors"] is None
    assert body["parsed_query"] is None and len(body["runs"]) == 5


@pytest.mark.parametrize("select", [
    ["inputs"], [], ["feedback_stats", "s3_urls", "in_dataset"], ["trace_min_start_time", "thread_id", "id"],
    ["reference_dataset_id", "child_run_ids"],
    ["app_path", "completion_cost", "completion_tokens", "dotted_order", "end_time", "error", "events", "extra",
     "feedback_stats", "first_token_time", "id", "inputs", "name", "outputs", "parent_run_id", "parent_run_ids",
     "prompt_cost", "prompt_tokens", "reference_example_id", "run_type", "s3_urls", "session_id", "start_time",
     "status", "tags", "total_cost", "total_tokens", "trace_id"],  # the SDK's default selection
])
async def test_select(api, shaped, select):
    runs = await runs_of(api, {"select": select})
    assert len(runs) == 5
    for run in runs:
        assert set(run) == REQUIRED | set(select)
        full = expected_run(shaped, uuid.UUID(run["id"]))
        assert compare({k: full[k] for k in run}, without_signatures(run, shaped.workspace_id)) == []


async def test_select_unknown_name(api, shaped):
    response = await query(api, {"select": ["id", "latncy", "inputs", "is_root"]})
    found = problems(response)
    assert {(tuple(p["loc"]), p["type"]) for p in found} == {(("body", "select", 1), "value_error"),
                                                              (("body", "select", 3), "value_error")}
    assert "latncy" in found[0]["msg"]


# --- POST /runs/query: arguments -------------------------------------------------------------

@pytest.fixture
async def filtered(api) -> Records:
    """tests/worlds/filters.py (six runs of session S, r1→r2→r3 a three-level trace), plus
    a second session T with one root run t1 and one child t2."""
    rec = fw.build()
    t = uid("T")
    rec.sessions.append({"id": t, "name": "T", "start_time": fw.T0})
    rec.runs += [
        {"id": uid("t1"), "session_id": t, "name": "t1", "run_type": "chain", "start_time": fw.T0 + dt.timedelta(hours=2),
         "end_time": fw.T0 + dt.timedelta(hours=3)},
        {"id": uid("t2"), "session_id": t, "parent_run_id": uid("t1"), "name": "t2", "run_type": "llm",
         "start_time": fw.T0 + dt.timedelta(hours=2, seconds=1), "error": "x"},
    ]
    async with api.db_sessions() as db:
        return await rich.load(db, api.workspace_id, rec)


NAMES = {**fw.NAMES, uid("t1"): "t1", uid("t2"): "t2"}


async def names_of(api, body: dict) -> list[str]:
    return [NAMES[uuid.UUID(i)] for i in await ids_of(api, body)]


def S(name: str) -> str:
    return str(fw.uid(name)) if name.startswith("r") or name in ("S", "e1", "e2") else str(uid(name))


async def test_arguments(api, filtered):
    every = ["t2", "t1", "r6", "r5", "r4", "r3", "r2", "r1"]  # start_time descending
    assert await names_of(api, {}) == every
    assert await names_of(api, {"order": "asc"}) == every[::-1]
    assert await names_of(api, {"session": [S("S")]}) == every[2:]
    assert await names_of(api, {"session": [S("T"), S("S")]}) == every
    assert await names_of(api, {"session": []}) == every  # an empty list is no restriction
    assert await names_of(api, {"trace": S("r1")}) == ["r3", "r2", "r1"]
    assert await names_of(api, {"parent_run": S("r1")}) == ["r2"]
    assert await names_of(api, {"run_type": "llm"}) == ["t2", "r5", "r2"]
    assert await names_of(api, {"reference_example": [S("e1")]}) == ["r5", "r1"]
    assert await names_of(api, {"reference_example": [S("e1"), S("e2")], "order": "asc"}) == ["r1", "r4", "r5", "r6"]
    assert await names_of(api, {"is_root": True}) == ["t1", "r6", "r5", "r4", "r1"]
    assert await names_of(api, {"is_root": False}) == ["t2", "r3", "r2"]
    assert await names_of(api, {"error": True}) == ["t2", "r6", "r3"]
    assert await names_of(api, {"error": False}) == ["t1", "r5", "r4", "r2", "r1"]
    start = (fw.T0 + dt.timedelta(minutes=4)).isoformat()
    assert await names_of(api, {"start_time": start}) == ["t2", "t1", "r6", "r5", "r4"]
    assert await names_of(api, {"end_time": start}) == ["r4", "r3", "r2", "r1"]  # runs *starting* at or before
    naive = (fw.T0 + dt.timedelta(minutes=4)).replace(tzinfo=None).isoformat()  # naive means UTC
    assert await names_of(api, {"start_time": naive, "end_time": naive}) == ["r4"]
    assert await names_of(api, {"execution_order": 1}) == every
    assert await names_of(api, {"execution_order": 2}) == []
    assert await names_of(api, {"session": [S("S")], "is_root": True, "run_type": "chain", "error": False}) == ["r4", "r1"]


async def test_id_ignores_every_other_filter(api, filtered):
    body = {"id": [S("r2"), S("t1"), str(uuid.uuid4())], "session": [S("S")], "is_root": True, "run_type": "tool",
            "filter": "eq(name, 'nothing')", "trace": S("r4"), "execution_order": 3}
    assert await names_of(api, body) == ["t1", "r2"]
    assert await names_of(api, {**body, "order": "asc", "limit": 1}) == ["r2"]
    many = [str(uuid.UUID(int=i)) for i in range(9_999)] + [S("r5")]  # the most a list may hold
    assert await names_of(api, {"id": many, "session": many, "reference_example": many}) == ["r5"]
    assert await names_of(api, {"session": many, "reference_example": many}) == []


@pytest.mark.parametrize("text", [
    "eq(is_root, true)", "neq(error, null)", 'gt(latency, "5s")', 'search(name, "chat")', 'has(tags, "v2")',
    "and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'X'))", 'eq(thread_id, "t-1")',
    'and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))', 'eq(feedback_key, "exact")',
    "and(eq(example_metadata_key, 'category'), eq(example_metadata_value, 'geo'))",
    'or(eq(run_type, "tool"), lt(latency, 1))', 'search("paris")', 'eq(status, "pending")',
])
async def test_filter_matches_oracle(api, filtered, text):
    oracle = FilterOracle(fw.build())
    expected = {fw.NAMES[i] for i in oracle.select(text)}
    assert set(await names_of(api, {"session": [S("S")], "filter": text})) == expected


@pytest.mark.parametrize(("scope", "text", "expected"), [
    ("trace_filter", 'eq(name, "ChatOpenAI")', {"r1", "r2", "r3", "r5"}),
    ("trace_filter", 'eq(run_type, "tool")', set()),
    ("tree_filter", 'eq(run_type, "tool")', {"r1", "r2", "r3"}),
    ("tree_filter", "neq(error, null)", {"r1", "r2", "r3", "r6"}),
    ("tree_filter", 'has(tags, "prod")', {"r1", "r2", "r3"}),
])
async def test_trace_and_tree_filters(api, filtered, scope, text, expected):
    """§4.6 on the three-level trace r1 → r2 → r3, checked against the oracle and pinned."""
    oracle = FilterOracle(fw.build())
    assert {fw.NAMES[i] for i in oracle.select_scoped(text, scope.removesuffix("_filter"))} == expected
    assert set(await names_of(api, {"session": [S("S")], scope: text})) == expected


async def test_filters_and_together(api, filtered):
    body = {"session": [S("S")], "filter": 'neq(run_type, "chain")', "trace_filter": 'has(tags, "prod")',
            "tree_filter": 'eq(run_type, "tool")', "is_root": False}
    assert await names_of(api, body) == ["r3", "r2"]
    assert await names_of(api, {**body, "filter": "eq(run_type, 'tool')"}) == ["r3"]
    assert await names_of(api, {**body, "filter": "   "}) == ["r3", "r2"]  # blank: no filter


# --- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "expected"), [
    ({"limit": 0}, {(("body", "limit"), "greater_than_equal")}),
    ({"limit": True}, {(("body", "limit"), "int_type")}),
    ({"limit": "many"}, {(("body", "limit"), "int_parsing")}),
    ({"session": ["nope"]}, {(("body", "session", 0), "uuid_parsing")}),
    ({"session": "x"}, {(("body", "session"), "list_type")}),
    ({"id": [str(uuid.UUID(int=i)) for i in range(10_001)]}, {(("body", "id"), "too_long")}),
    ({"trace": 5}, {(("body", "trace"), "uuid_type")}),
    ({"run_type": "agent"}, {(("body", "run_type"), "enum")}),
    ({"order": "sideways"}, {(("body", "order"), "enum")}),
    ({"is_root": "maybe"}, {(("body", "is_root"), "bool_parsing")}),
    ({"start_time": "yesterday"}, {(("body", "start_time"), "datetime_from_date_parsing")}),
    ({"filter": "eq(latncy, 1)"}, {(("body", "filter"), "value_error")}),
    ({"trace_filter": "and("}, {(("body", "trace_filter"), "value_error")}),
    ({"tree_filter": 'like(name, "%x%")'}, {(("body", "tree_filter"), "value_error")}),
    ({"cursor": "not-a-cursor"}, {(("body", "cursor"), "value_error")}),
    ({"cursor": 7}, {(("body", "cursor"), "string_type")}),
    ({"query": "runs about cats"}, {(("body", "query"), "value_error")}),
    ([1, 2], {(("body",), "model_type")}),
    ({"limit": 0, "filter": "eq(latency)", "query": "x", "select": ["nope"]},
     {(("body", "limit"), "greater_than_equal"), (("body", "filter"), "value_error"),
      (("body", "query"), "value_error"), (("body", "select", 0), "value_error")}),
])
async def test_validation(api, body, expected):
    assert locs_types(await query(api, body)) == expected


async def test_validation_messages(api):
    [found] = problems(await query(api, {"query": "cats"}))
    assert found["msg"] == "query is not supported; use filter"
    [found] = problems(await query(api, {"filter": "eq(latncy, 1)"}))
    assert found["msg"] == "Invalid filter: unknown field 'latncy' at offset 3"
    response = await api.client.post("/runs/query", content=b"{nope", headers=api.headers())
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"


async def test_cursor_tampering(api, filtered):
    page = (await query(api, {"limit": 2})).json()
    cursor = page["cursors"]["next"]
    assert cursor is not None
    [found] = problems(await query(api, {"limit": 2, "order": "asc", "cursor": cursor}))
    assert found["loc"] == ["body", "cursor"] and "desc" in found["msg"]
    for bad in (cursor[:-3], base64.urlsafe_b64encode(b'{"s": 1, "i": "x", "o": "desc"}').decode(),
                base64.urlsafe_b64encode(b"[]").decode(), "", "%%%"):
        assert locs_types(await query(api, {"cursor": bad})) == {(("body", "cursor"), "value_error")}, bad


async def test_auth(api, filtered):
    assert (await api.client.post("/runs/query", json={})).status_code == 401
    assert (await query(api, {}, key="evq_wrong")).status_code == 401
    assert (await query(api, {}, key=api.read_key)).status_code == 200


# --- paging ----------------------------------------------------------------------------------

def many_runs(session_id: uuid.UUID, n: int, prefix: str = "p") -> list[dict]:
    """Root runs whose start times tie in threes, so the id must break ties."""
    return [{"id": uid(f"{prefix}{i}"), "session_id": session_id, "name": f"{prefix}{i}", "run_type": "chain",
             "start_time": at(i // 3), "end_time": at(i // 3 + 1)} for i in range(n)]


@pytest.fixture
async def paged(api) -> list[dict]:
    async with api.db_sessions() as db:
        session = await writes.insert_session(db, api.workspace_id, name="P")
        runs = many_runs(session.id, 250)
        await writes.insert_runs(db, api.workspace_id, runs)
        await db.commit()
    return runs


def in_order(runs: list[dict], order: str) -> list[str]:
    return [str(r["id"]) for r in sorted(runs, key=lambda r: (r["start_time"], r["id"]), reverse=order == "desc")]


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("limit", [100, 7, 250])
async def test_paging_loses_and_duplicates_nothing(api, paged, order, limit):
    found = await all_pages(api, {"order": order, "limit": limit})
    assert found == in_order(paged, order)


async def test_limit_default_and_clamp(api, paged):
    for body in ({}, {"limit": 101}, {"limit": 10_000}):
        response = (await query(api, body)).json()
        assert len(response["runs"]) == 100 and response["cursors"]["next"] is not None
    exact = (await query(api, {"limit": 50, "order": "asc"})).json()
    assert [r["id"] for r in exact["runs"]] == in_order(paged, "asc")[:50]
    last = (await query(api, {"limit": 50, "cursor": None, "id": [str(paged[0]["id"])]})).json()
    assert last["cursors"]["next"] is None and len(last["runs"]) == 1


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_paging_stable_under_inserts(api, paged, order):
    """Rows inserted between two pages land after the cursor or before it, never twice,
    and no earlier row is lost or repeated."""
    first = (await query(api, {"order": order, "limit": 100})).json()
    seen = [r["id"] for r in first["runs"]]
    cursor_run = next(r for r in paged if str(r["id"]) == seen[-1])
    session_id = paged[0]["session_id"]
    edge = cursor_run["start_time"]
    inserted = [
        {"id": uid(f"new-early-{order}"), "start_time": at(-5)}, {"id": uid(f"new-late-{order}"), "start_time": at(500)},
        {"id": uid(f"new-mid-{order}"), "start_time": at(40.5)},
        {"id": uuid.UUID(int=0), "start_time": edge}, {"id": uuid.UUID(int=2**128 - 1), "start_time": edge},
    ]
    async with api.db_sessions() as db:
        await writes.insert_runs(db, api.workspace_id, [
            {**r, "session_id": session_id, "name": "new", "run_type": "tool"} for r in inserted])
        await db.commit()
    rest = await all_pages(api, {"order": order, "limit": 100, "cursor": first["cursors"]["next"]})
    everything = paged + [{**r, "session_id": session_id} for r in inserted]
    full = in_order(everything, order)
    # Exactly the runs after the cursor position in today's order, in that order.
    assert rest == full[full.index(seen[-1]) + 1:]
    assert len(set(seen + rest)) == len(seen + rest)
    assert {str(r["id"]) for r in paged} <= set(seen + rest)


# --- §9 item 8: feedback filter on root runs, against the oracle -------------------------------------

def exact_world(session_name: str = "exact") -> Records:
    """240 root runs, each with one llm child, in one session. Root i gets, by i % 6:
    0 exact 1; 1 exact 0; 2 exact true (counts as 1); 3 exact 1 on its child only;
    4 other 1 and exact 0.5; 5 exact 1 twice plus exact 0. So about half the roots
    match, more than a page."""
    rec = Records()
    s = uid(f"session {session_name}")
    rec.sessions = [{"id": s, "name": session_name, "start_time": T0}]
    for i in range(240):
        root, child = uid(f"{session_name} root {i}"), uid(f"{session_name} child {i}")
        start = at(i * 2)
        rec.runs += [
            {"id": root, "session_id": s, "name": f"root {i}", "run_type": "chain", "start_time": start,
             "end_time": start + dt.timedelta(seconds=1.5), "inputs": {"i": i}},
            {"id": child, "session_id": s, "parent_run_id": root, "name": f"child {i}", "run_type": "llm",
             "start_time": start + dt.timedelta(seconds=0.5), "end_time": start + dt.timedelta(seconds=1)},
        ]
        scores = {0: [("exact", 1)], 1: [("exact", 0)], 2: [("exact", True)], 3: [],
                  4: [("other", 1), ("exact", 0.5)], 5: [("exact", 1), ("exact", 1), ("exact", 0)]}[i % 6]
        for j, (key, score) in enumerate(scores):
            rec.feedback.append({"id": uid(f"{session_name} fb {i} {j}"), "run_id": root, "key": key, "score": score,
                                 "created_at": start})
        if i % 6 == 3:
            rec.feedback.append({"id": uid(f"{session_name} fb {i} child"), "run_id": child, "key": "exact",
                                 "score": 1, "created_at": start})
    return rec


def exact_expected(rec: Records) -> set[str]:
    oracle = FilterOracle(rec)
    return {str(i) for i in oracle.select(EXACT) if not oracle.d.runs[i].get("parent_run_id")}


async def test_feedback_filter_on_roots_matches_oracle(api):
    async with api.db_sessions() as db:
        rec = await rich.load(db, api.workspace_id, exact_world())
    expected = exact_expected(rec)
    assert 100 < len(expected) < 240
    session = str(rec.sessions[0]["id"])
    found = await all_pages(api, {"session": [session], "filter": EXACT, "is_root": True})
    assert len(found) == len(set(found)) and set(found) == expected
    everything = await all_pages(api, {"session": [session]})
    assert len(everything) == len(set(everything)) == 480


# --- tenancy -----------------------------------------------------------------------------------

async def test_other_workspace_is_invisible(api, shaped):
    other_ws, other_key, _ = await second_workspace(api.db_sessions)
    theirs = shape_world()
    theirs.runs = [{**r, "name": "theirs " + r["name"]} for r in theirs.runs]
    theirs.runs.append({"id": uid("only-theirs"), "session_id": uid("S"), "name": "x", "run_type": "tool",
                        "start_time": T0})
    async with api.db_sessions() as db:
        await rich.load(db, other_ws, theirs)
        db.add(RunAttachment(workspace_id=other_ws, run_id=uid("only-theirs"), name="secret", content_type="text/plain",
                             size=1, data=b"s"))
        await db.commit()
    response = await api.client.get(f"/runs/{uid('only-theirs')}", headers=api.headers())
    assert response.status_code == 404 and response.json() == {"detail": f"Run {uid('only-theirs')} not found"}
    response = await api.client.get(f"/runs/{uid('only-theirs')}/attachments/secret", headers=api.headers())
    assert response.status_code == 404
    mine = await runs_of(api, {})
    assert len(mine) == 5 and not any(r["name"].startswith("theirs") for r in mine)
    for run in mine:  # same ids over there: their feedback, examples, attachments must not leak in
        check_run(shaped, run)
    assert await ids_of(api, {"id": [str(uid("only-theirs"))]}) == []
    listed = await runs_of(api, {"session": [str(uid("S"))]}, key=other_key)
    assert len(listed) == 6 and all(r["name"].startswith("theirs") or r["name"] == "x" for r in listed)
    root = (await api.client.get(f"/runs/{uid('root')}", headers=api.headers(other_key))).json()
    assert root["name"] == "theirs Pipeline" and root["s3_urls"] == {}


# --- statements per request ----------------------------------------------------------------------

async def test_statement_count_is_constant(api):
    """Every run of the page has feedback, an attachment, an example made from it and a
    reference example: the statements per request stay the same from 2 runs to 100."""
    rec = exact_world("counted")
    ds = uid("counted D")
    rec.datasets = [{"id": ds, "name": "counted D"}]
    rec.examples = [{"id": uid(f"counted ex {i}"), "dataset_id": ds, "inputs": {"i": i}, "source_run_id": r["id"],
                     "created_at": T0} for i, r in enumerate(rec.runs)]
    for r, e in zip(rec.runs, rec.examples, strict=True):
        r["reference_example_id"] = e["id"]
    async with api.db_sessions() as db:
        await rich.load(db, api.workspace_id, rec)
        db.add_all([RunAttachment(workspace_id=api.workspace_id, run_id=r["id"], name="a", content_type="text/plain",
                                  size=1, data=b"a") for r in rec.runs])
        await db.commit()
    counts: dict[tuple, int] = {}
    for select in (None, ["id"], ["feedback_stats"]):
        for limit in (2, 100):
            body = {"limit": limit, **({"select": select} if select else {})}
            with counting(api) as statements:
                runs = await runs_of(api, body)
            assert len(runs) == limit
            if select is None:
                assert all(r["s3_urls"] and r["feedback_stats"] is not None and r["in_dataset"] for r in runs)
                assert all(r["reference_dataset_id"] == str(ds) for r in runs)
            counts[(str(select), limit)] = len(statements)
    for select in (None, ["id"], ["feedback_stats"]):
        assert counts[(str(select), 2)] == counts[(str(select), 100)], counts
    assert counts[("['id']", 100)] < counts[("None", 100)]
    with counting(api) as statements:
        response = await api.client.get(f"/runs/{rec.runs[0]['id']}", headers=api.headers())
    # The key, the run with its example, dataset and trace bounds (correlated in its own
    # statement), its attachments' names (it has one), its feedback statistics (few rows:
    # one statement, which PostgreSQL asks in the run's) and the URL signing key.
    expected = 4 if api.app_read_engine is not None and api.app_read_engine.dialect.name == "postgresql" else 5
    assert response.status_code == 200 and len(statements) == expected < counts[("None", 2)], statements

