"""`POST /runs/multipart` (spec §7.5.4, §1.3, §9 item 7): out-of-band field parts,
feedback and attachment parts, gzip and zstd bodies, 413 while decompressing, and
malformed bodies that write nothing. Both databases."""

from __future__ import annotations

import functools
import gzip
import uuid

import orjson
import pytest
import zstandard
from sqlalchemy import event, func, select

from evalql.db.models import Feedback, PendingRun, Run, RunAttachment, RunMetadata
from evalql.db.tenant import readable
from tests.support.statements import engine_of
from tests.support.whole_database import everywhere
from tests.test_ingest_runs import at, new_id, post, stored

BOUNDARY = "evalqltestboundary"
LIMIT = 20 * 1024 * 1024


def part(name: str, data: bytes | dict | list | str, content_type: str = "application/json",
         length: int | None = None) -> bytes:
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    headers = [f'Content-Disposition: form-data; name="{name}"', f"Content-Type: {content_type}",
               f"Content-Length: {len(body) if length is None else length}"]
    return f"--{BOUNDARY}\r\n".encode() + "\r\n".join(headers).encode() + b"\r\n\r\n" + body + b"\r\n"


def body_of(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def send(api, body: bytes, encoding: str | None = None, key: str | None = None,
               content_type: str = f"multipart/form-data; boundary={BOUNDARY}"):
    headers = {**api.headers(key), "Content-Type": content_type}
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "zstd":
        body = zstandard.ZstdCompressor().compress(body)
    if encoding:
        headers["Content-Encoding"] = encoding
    return await api.client.post("/api/v1/runs/multipart", content=body, headers=headers)


async def counts(api) -> dict[str, int]:
    async with api.db_sessions() as db:
        return {model.__tablename__: await db.scalar(everywhere(select(func.count()).select_from(model)))
                for model in (Run, RunMetadata, PendingRun, Feedback, RunAttachment)}


def sdk_like_parts(run_id: str, feedback_id: str) -> bytes:
    """A post split like the SDK splits it: main part plus out-of-band fields, then its feedback."""
    main = {k: v for k, v in post(run_id, end_time=at(2), extra=None).items() if k != "extra"}
    return body_of(
        part(f"post.{run_id}", main),
        part(f"post.{run_id}.inputs", {"question": "2+2?"}),
        part(f"post.{run_id}.outputs", {"answer": "4"}),
        part(f"post.{run_id}.extra", {"metadata": {"model": "m1"}, "runtime": {"sdk": "langsmith-py"}}),
        part(f"post.{run_id}.events", [{"name": "start", "time": at(0)}]),
        part(f"feedback.{feedback_id}", {"run_id": run_id, "trace_id": run_id, "key": "correct", "score": True}),
        part(f"attachment.{run_id}.image", b"\x89PNG\r\n", content_type="image/png; length=6"),
    )


@pytest.mark.parametrize("encoding", [None, "gzip", "zstd"])
async def test_sdk_shaped_body_lands_whole(api, encoding):
    run_id, feedback_id = new_id(), new_id()
    response = await send(api, sdk_like_parts(run_id, feedback_id), encoding)
    assert response.status_code == 202, response.text
    run = await stored(api, run_id)
    assert run.inputs == {"question": "2+2?"} and run.outputs == {"answer": "4"}
    assert run.extra == {"metadata": {"model": "m1"}, "runtime": {"sdk": "langsmith-py"}}
    assert run.events == [{"name": "start", "time": at(0)}] and run.status == "success"
    async with api.db_sessions() as db:
        feedback = await db.scalar(readable(api.workspace_id, Feedback).where(Feedback.id == uuid.UUID(feedback_id)))
        assert (feedback.run_id, feedback.key, feedback.score) == (uuid.UUID(run_id), "correct", 1.0)
        attachment = await db.scalar(readable(api.workspace_id, RunAttachment))
        assert (attachment.run_id, attachment.name, attachment.content_type, attachment.size, attachment.data) == (
            uuid.UUID(run_id), "image", "image/png", 6, b"\x89PNG\r\n")
        assert await db.scalar(readable(api.workspace_id, RunMetadata, RunMetadata.value)
                               .where(RunMetadata.key == "model")) == "m1"


async def test_bulk_inserts_are_one_execution_per_page_not_per_row(api):
    """A batch's runs, their metadata entries and its feedback are each written by one
    multi-row INSERT (evalql/db/engine.py), not executed once per row: on SQLite a table
    with a row-level change-log trigger journals the index pages each execution touches,
    and on PostgreSQL each execution fires the statement-level triggers again."""
    parts = []
    for _ in range(40):
        root, child = new_id(), new_id()
        parts += [part(f"post.{root}", post(root, end_time=at(3))),
                  part(f"post.{root}.extra", {"metadata": {"model": "m", "temperature": 0.5}}),
                  part(f"post.{child}", post(child, parent_run_id=root, start_time=at(1), run_type="llm")),
                  part(f"post.{child}.extra", {"metadata": {"model": "m"}}),
                  part(f"feedback.{new_id()}", {"run_id": root, "key": "correct", "score": True})]
    executions: list[tuple[str, int]] = []  # (statement, parameter sets it is executed with)

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        # A multi-row INSERT is executed once, with one flat list of parameters.
        per_row = executemany and isinstance(parameters[0], (tuple, list, dict))
        executions.append((statement.split("(")[0].strip(), len(parameters) if per_row else 1))

    engine = engine_of(api)  # the app's
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await send(api, body_of(*parts))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 202, response.text
    inserts = [(statement, rows) for statement, rows in executions if statement.startswith("INSERT")]
    assert [statement for statement, _ in inserts] == ["INSERT INTO sessions", "INSERT INTO run_metadata",
                                                       "INSERT INTO runs", "INSERT INTO feedback"]
    assert all(rows == 1 for _, rows in inserts), inserts
    assert (await counts(api))["runs"] == 80 and (await counts(api))["run_metadata"] == 120
    assert (await counts(api))["feedback"] == 40


async def test_patch_parts_and_feedback_before_its_run(api):
    run_id = new_id()
    feedback = part(f"feedback.{new_id()}", {"run_id": run_id, "key": "k", "score": 0.5})
    response = await send(api, body_of(feedback, part(f"patch.{run_id}", {"end_time": at(1)}),
                                       part(f"patch.{run_id}.outputs", {"late": True})))
    assert response.status_code == 202, response.text
    assert await stored(api, run_id) is None and (await counts(api))["feedback"] == 1
    response = await send(api, body_of(part(f"post.{run_id}", post(run_id))))
    assert response.status_code == 202
    run = await stored(api, run_id)
    assert run.outputs == {"late": True} and run.end_time is not None


POST = object()  # stands for a valid post record of the run under test


@pytest.mark.parametrize("parts, loc, fragment", [
    ([("unknown.x", {})], ["body", "unknown.x"], "Unknown part name prefix"),
    ([("post.not-a-uuid", {})], ["body", "post.not-a-uuid"], "not a valid UUID"),
    ([("post.{id}", b"{oops")], ["body", "post.{id}"], "JSON decode error"),
    ([("post.{id}", [1, 2])], ["body", "post.{id}"], "dictionary"),
    ([("post.{id}.inputs", {"a": 1})], ["body", "post.{id}.inputs"], "without its main part"),
    ([("post.{id}", POST), ("post.{id}.color", {"a": 1})], ["body", "post.{id}.color"], "Unknown field part"),
    ([("post.{id}", POST), ("post.{id}.inputs", [1])], ["body", "post.{id}.inputs"], "dictionary"),
    ([("post.{id}", POST), ("post.{id}", POST)], ["body", "post.{id}"], "more than once"),
    ([("post.{id}", POST, "application/json", 3)], ["body", "post.{id}"], "Content-Length"),
    ([("post.{id}", {"name": "x"})], ["body", "post.{id}", "run_type"], "needs `run_type`"),
    ([("feedback.{id}", {"key": "k"})], ["body", "feedback.{id}"], ""),
    ([("feedback.{id}", {"run_id": "{id}"})], ["body", "feedback.{id}", "key"], ""),
    ([("attachment.{id}.a.b", b"x", "text/plain")], ["body", "attachment.{id}.a.b"], "without '.'"),
])
async def test_bad_parts_are_422_and_write_nothing(api, parts, loc, fragment):
    run_id = new_id()

    def build(name: str, data, content_type: str = "application/json", length: int | None = None) -> bytes:
        data = post(run_id) if data is POST else data
        if isinstance(data, dict):
            data = {k: v.replace("{id}", run_id) if isinstance(v, str) else v for k, v in data.items()}
        return part(name.replace("{id}", run_id), data, content_type, length)

    # A good record in the same body must not be written either.
    good = post(new_id())
    response = await send(api, body_of(part(f"post.{good['id']}", good), *[build(*p) for p in parts]))
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    wanted = [str(x).replace("{id}", run_id) for x in loc]
    assert any(p["loc"][:len(wanted)] == wanted and fragment in p["msg"] for p in problems), problems
    assert await counts(api) == {"runs": 0, "run_metadata": 0, "pending_runs": 0, "feedback": 0, "run_attachments": 0}


@pytest.mark.parametrize("raw, content_type", [
    (b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="post.x"\r\n\r\n{}', None),  # no end
    (b"garbage without boundaries", None),
    (b"", "multipart/form-data"),  # no boundary parameter
])  # another Content-Type is a 415 (tests/test_input_edges.py)
async def test_malformed_multipart_is_422(api, raw, content_type):
    response = await send(api, raw, content_type=content_type or f"multipart/form-data; boundary={BOUNDARY}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


async def test_bodies_over_the_limit_are_413(api):
    run_id = new_id()
    big = body_of(part(f"post.{run_id}", post(run_id, inputs={"blob": "x" * (LIMIT + 10)})))
    for encoding in (None, "gzip", "zstd"):
        response = await send(api, big, encoding)
        assert response.status_code == 413, (encoding, response.text)
        assert response.json() == {"detail": f"Request body exceeds {LIMIT} bytes"}
    assert (await counts(api))["runs"] == 0


@functools.cache
def zstd_bomb() -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(b"\0" * (256 << 20))


async def test_compressed_bomb_stops_at_the_limit(api):
    """256 MiB of zeros compress to a few kB; the server must give up once the limit is
    passed, without materialising the rest."""
    bomb = zstd_bomb()
    assert len(bomb) < 100_000
    response = await api.client.post("/runs/multipart", content=bomb, headers={
        **api.headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Encoding": "zstd"})
    assert response.status_code == 413


@pytest.mark.parametrize("encoding, data", [
    ("gzip", b"\x1f\x8bnot really"),
    ("gzip", gzip.compress(orjson.dumps({"post": [post(new_id())]}))[:-12]),  # truncated
    ("zstd", b"\x28\xb5\x2f\xfdnot really"),
    ("zstd", zstandard.ZstdCompressor().compress(orjson.dumps({"post": [post(new_id())]}))[:-6]),
])
async def test_corrupt_compressed_body_is_422(api, encoding, data):
    response = await api.client.post("/runs/batch", content=data, headers={
        **api.headers(), "Content-Type": "application/json", "Content-Encoding": encoding})
    assert response.status_code == 422 and encoding in response.json()["detail"][0]["msg"], response.text
    assert (await counts(api))["runs"] == 0


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
async def test_compressed_json_batch(api, encoding):
    run_id = new_id()
    raw = orjson.dumps({"post": [post(run_id)]})
    data = gzip.compress(raw) if encoding == "gzip" else zstandard.ZstdCompressor().compress(raw)
    response = await api.client.post("/runs/batch", content=data, headers={
        **api.headers(), "Content-Type": "application/json", "Content-Encoding": encoding})
    assert response.status_code == 202, response.text
    assert await stored(api, run_id) is not None


async def test_read_key_and_unsupported_encoding(api):
    response = await send(api, body_of(), key=api.read_key)
    assert response.status_code == 403
    response = await api.client.post("/runs/multipart", content=b"", headers={
        **api.headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Encoding": "deflate"})
    assert response.status_code == 415 and response.json() == {"detail": "Unsupported Content-Encoding: deflate"}


async def test_empty_multipart_is_accepted(api):
    response = await send(api, body_of())
    assert response.status_code == 202
