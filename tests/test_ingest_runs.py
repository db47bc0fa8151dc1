"""Run ingest over real HTTP (spec §7.5, §7.7, §9 item 7): merge rules in any arrival
order, held posts and patches, trace fields, usage roll-up, validation that writes
nothing. Both databases."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from evalql.db.models import PendingRun, Run, RunMetadata, TracerSession
from evalql.db.tenant import readable
from evalql.ingest.trace import parse_dotted_order
from tests.support.statements import counting
from tests.support.whole_database import everywhere

T0 = dt.datetime(2024, 9, 19, 17, 16, 48, 521691, tzinfo=dt.UTC)


def at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


def segment(seconds: float, run_id: str) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y%m%dT%H%M%S%fZ") + run_id


def new_id() -> str:
    return str(uuid.uuid4())


def post(run_id: str, **fields) -> dict:
    return {"id": run_id, "name": fields.pop("name", "run"), "run_type": fields.pop("run_type", "chain"),
            "start_time": fields.pop("start_time", at(0)), **fields}


async def send_post(api, record: dict, key: str | None = None):
    return await api.client.post("/api/v1/runs", json=record, headers=api.headers(key))


async def send_patch(api, run_id: str, record: dict):
    return await api.client.patch(f"/runs/{run_id}", json=record, headers=api.headers())


async def send_batch(api, body: dict):
    return await api.client.post("/runs/batch", json=body, headers=api.headers())


async def accepted(response) -> None:
    assert response.status_code == 202, response.text
    assert response.json() == {}


async def stored(api, run_id: str) -> Run | None:
    async with api.db_sessions() as db:
        return await db.scalar(readable(api.workspace_id, Run).where(Run.id == uuid.UUID(run_id)))


async def counts(api) -> dict[str, int]:
    async with api.db_sessions() as db:
        return {model.__tablename__: await db.scalar(everywhere(select(func.count()).select_from(model)))
                for model in (Run, RunMetadata, PendingRun, TracerSession)}


async def metadata_of(api, run_id: str) -> dict[str, str]:
    async with api.db_sessions() as db:
        rows = await db.execute(readable(api.workspace_id, RunMetadata, RunMetadata.key, RunMetadata.value)
                                .where(RunMetadata.run_id == uuid.UUID(run_id)))
        return dict(rows.all())


async def test_root_post_derives_trace_fields_and_status(api):
    run_id = new_id()
    await accepted(await send_post(api, post(run_id, end_time=at(2.5), inputs={"q": "hi"}, outputs={"a": 1},
                                             extra={"metadata": {"model": "m1", "temp": 0.5}})))
    run = await stored(api, run_id)
    assert run.trace_id == uuid.UUID(run_id) and run.parent_run_id is None and run.is_root
    assert run.dotted_order == segment(0, run_id)
    assert run.status == "success" and run.latency == pytest.approx(2.5)
    assert run.inputs == {"q": "hi"} and run.outputs == {"a": 1}
    assert await metadata_of(api, run_id) == {"model": "m1", "temp": "0.5"}
    async with api.db_sessions() as db:  # no session given: the "default" session, created on first use
        assert await db.scalar(readable(api.workspace_id, TracerSession, TracerSession.name)
                               .where(TracerSession.id == run.session_id)) == "default"


async def test_session_name_creates_once_and_session_id_must_exist(api):
    a, b = new_id(), new_id()
    await accepted(await send_batch(api, {"post": [post(a, session_name="exp"), post(b, session_name="exp")]}))
    assert (await stored(api, a)).session_id == (await stored(api, b)).session_id
    before = await counts(api)
    missing = new_id()
    response = await send_batch(api, {"post": [post(new_id(), session_name="other"), post(new_id(), session_id=missing)]})
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["body", "post", 1, "session_id"],
                                          "msg": response.json()["detail"][0]["msg"], "type": "value_error"}]
    assert missing in response.json()["detail"][0]["msg"]
    assert await counts(api) == before  # not even the session "other" was created


async def test_patch_before_post_is_invisible_then_wins(api):
    run_id = new_id()
    await accepted(await send_patch(api, run_id, {"outputs": {"answer": "patched"}, "end_time": at(3),
                                                  "extra": {"metadata": {"score": 1}}}))
    assert await stored(api, run_id) is None  # a run without its post is invisible (§7.7)
    await accepted(await send_post(api, post(run_id, outputs={"answer": "posted"}, inputs={"q": 1},
                                             extra={"metadata": {"model": "m1"}, "runtime": {"sdk": "x"}})))
    run = await stored(api, run_id)
    assert run.outputs == {"answer": "patched"}  # the patch wins although it arrived first
    assert run.inputs == {"q": 1} and run.end_time == T0 + dt.timedelta(seconds=3) and run.status == "success"
    assert run.extra == {"metadata": {"model": "m1", "score": 1}, "runtime": {"sdk": "x"}}
    assert await metadata_of(api, run_id) == {"model": "m1", "score": "1"}
    assert (await counts(api))["pending_runs"] == 0


async def test_repeated_post_updates_only_the_post_part(api):
    run_id = new_id()
    await accepted(await send_post(api, post(run_id, name="first", outputs={"v": 1}, extra={"metadata": {"a": 1}})))
    await accepted(await send_patch(api, run_id, {"outputs": {"v": 2}, "extra": {"metadata": {"b": 2}}}))
    await accepted(await send_post(api, post(run_id, name="second", outputs={"v": 3}, tags=["t"],
                                             extra={"metadata": {"a": 10, "c": 3}})))
    run = await stored(api, run_id)
    assert run.name == "second" and run.tags == ["t"]  # post fields updated
    assert run.outputs == {"v": 2}  # a patched field is not overridden by a later post
    assert run.extra == {"metadata": {"a": 10, "b": 2, "c": 3}}  # new post extra, patch extra merged over it
    assert await metadata_of(api, run_id) == {"a": "10", "b": "2", "c": "3"}
    assert (await counts(api))["runs"] == 1


async def test_later_patch_overrides_earlier_and_nulls_leave_fields(api):
    run_id = new_id()
    await accepted(await send_post(api, post(run_id, outputs={"v": 0})))
    await accepted(await send_patch(api, run_id, {"outputs": {"v": 1}, "error": "boom", "end_time": at(1)}))
    await accepted(await send_patch(api, run_id, {"outputs": {"v": 2}, "error": None, "end_time": None}))
    run = await stored(api, run_id)
    assert run.outputs == {"v": 2} and run.error == "boom" and run.status == "error"
    assert run.end_time == T0 + dt.timedelta(seconds=1)


async def test_children_before_parents_wait_then_derive_the_trace(api):
    """Three levels arriving leaf first, without trace fields: each waits for its parent."""
    root, mid, leaf = new_id(), new_id(), new_id()
    await accepted(await send_post(api, post(leaf, parent_run_id=mid, start_time=at(2), run_type="llm",
                                             prompt_tokens=3, completion_tokens=4)))
    await accepted(await send_patch(api, leaf, {"end_time": at(3)}))
    await accepted(await send_post(api, post(mid, parent_run_id=root, start_time=at(1))))
    assert await stored(api, leaf) is None and await stored(api, mid) is None
    await accepted(await send_post(api, post(root)))
    runs = {r: await stored(api, r) for r in (root, mid, leaf)}
    assert all(run is not None for run in runs.values())
    assert {run.trace_id for run in runs.values()} == {uuid.UUID(root)}
    assert runs[leaf].dotted_order == ".".join([segment(0, root), segment(1, mid), segment(2, leaf)])
    assert runs[leaf].end_time == T0 + dt.timedelta(seconds=3)  # the waiting patch was applied
    assert [r.total_tokens for r in runs.values()] == [7, 7, 7]  # rolled up through both levels
    assert (await counts(api))["pending_runs"] == 0


async def test_given_trace_fields_are_checked(api):
    root, child = new_id(), new_id()
    good = post(child, parent_run_id=root, trace_id=root,
                dotted_order=f"{segment(0, root)}.{segment(1, child)}", start_time=at(1))

    def child_of_root(**fields) -> dict:
        run_id = new_id()
        return post(run_id, parent_run_id=root, trace_id=root, start_time=at(1),
                    dotted_order=f"{segment(0, root)}.{segment(1, run_id)}") | fields

    bad_end = {**good, "id": new_id()}
    bad_trace = child_of_root(trace_id=new_id())
    bad_parent = child_of_root(parent_run_id=new_id())
    garbage = child_of_root(dotted_order="not-a-dotted-order")
    orphan_order = post(new_id(), dotted_order=f"{segment(0, root)}.{segment(1, child)}")
    response = await send_batch(api, {"post": [bad_end, bad_trace, bad_parent, garbage, orphan_order]})
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [
        ["body", "post", 0, "dotted_order"], ["body", "post", 1, "trace_id"], ["body", "post", 2, "parent_run_id"],
        ["body", "post", 3, "dotted_order"], ["body", "post", 4, "dotted_order"], ["body", "post", 4, "parent_run_id"],
    ]
    assert (await counts(api))["runs"] == 0
    # A child with valid given fields whose parent is unknown waits for it (§7.7).
    await accepted(await send_post(api, good))
    assert await stored(api, child) is None
    await accepted(await send_post(api, post(root, trace_id=root, dotted_order=segment(0, root))))
    assert (await stored(api, child)).dotted_order == good["dotted_order"]


async def test_a_run_cannot_be_its_own_parent(api):
    run_id = new_id()
    response = await send_post(api, post(run_id, parent_run_id=run_id))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "parent_run_id"]


async def test_a_trace_id_contradicting_the_parent_is_refused(api):
    root, child = new_id(), new_id()
    await accepted(await send_post(api, post(root)))
    response = await send_post(api, post(child, parent_run_id=root, trace_id=new_id(), start_time=at(1)))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "trace_id"]


async def test_duplicate_ids_in_one_batch_write_nothing(api):
    run_id = new_id()
    response = await send_batch(api, {"post": [post(new_id()), post(run_id), post(run_id)],
                                      "patch": [{"id": run_id}, {"id": run_id}]})
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [["body", "post", 2, "id"], ["body", "patch", 1, "id"]]
    assert await counts(api) == {"runs": 0, "run_metadata": 0, "pending_runs": 0, "sessions": 0}


async def test_post_and_patch_in_one_batch(api):
    run_id = new_id()
    await accepted(await send_batch(api, {"patch": [{"id": run_id, "end_time": at(4), "outputs": {"x": 1}}],
                                          "post": [post(run_id, outputs={"x": 0})]}))
    run = await stored(api, run_id)
    assert run.outputs == {"x": 1} and run.latency == pytest.approx(4)


async def test_usage_rolls_up_and_follows_patches(api):
    root, a, b = new_id(), new_id(), new_id()
    await accepted(await send_batch(api, {"post": [
        post(root),
        post(a, parent_run_id=root, run_type="llm", start_time=at(1), prompt_tokens=10, completion_tokens=5,
             prompt_cost="0.000001", completion_cost=0.000002),
        post(b, parent_run_id=root, run_type="llm", start_time=at(2),
             outputs={"usage_metadata": {"input_tokens": 7, "output_tokens": 1, "total_cost": "0.5"}}),
    ]}))
    run = await stored(api, root)
    assert (run.prompt_tokens, run.completion_tokens, run.total_tokens) == (17, 6, 23)
    assert run.total_cost == Decimal("0.500003") and run.own_total_tokens is None
    await accepted(await send_patch(api, b, {"outputs": {"usage_metadata": {"input_tokens": 1, "output_tokens": 1}}}))
    run = await stored(api, root)
    assert (run.total_tokens, run.total_cost) == (17, Decimal("0.000003"))
    # A later post of `a` keeps its explicit usage (kept as given in ingest_state).
    await accepted(await send_post(api, post(a, parent_run_id=root, run_type="llm", start_time=at(1), name="again")))
    assert (await stored(api, root)).total_tokens == 17


async def test_patch_path_and_body_id_must_agree(api):
    run_id = new_id()
    response = await send_patch(api, run_id, {"id": new_id(), "end_time": at(1)})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "id"]
    response = await api.client.patch("/runs/not-a-uuid", json={}, headers=api.headers())
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "uuid_parsing"


@pytest.mark.parametrize("record, loc, type_", [
    ({"name": "x", "run_type": "chain"}, ["body", "start_time"], "missing"),
    ({"name": "x", "run_type": "agent", "start_time": at(0)}, ["body", "run_type"], "enum"),
    ({"name": "x\x00y", "run_type": "chain", "start_time": at(0)}, ["body", "name"], "value_error"),
    ({"name": "x", "run_type": "chain", "start_time": "yesterday"}, ["body", "start_time"], "datetime_from_date_parsing"),
    ({"name": "x", "run_type": "chain", "start_time": at(0), "total_tokens": 2**31}, ["body", "total_tokens"],
     "less_than_equal"),
    ({"name": "x", "run_type": "chain", "start_time": at(0), "total_cost": "-1"}, ["body", "total_cost"],
     "greater_than_equal"),
    ({"name": "x", "run_type": "chain", "start_time": at(0), "extra": {"metadata": {"k" * 1025: 1}}},
     ["body", "extra"], "value_error"),
    ({"name": "x", "run_type": "chain", "start_time": at(0), "extra": {"metadata": [1]}}, ["body", "extra"],
     "value_error"),
    ({"name": "x", "run_type": "chain", "start_time": at(0), "inputs": [1]}, ["body", "inputs"], "dict_type"),
])
async def test_invalid_post_fields_are_named(api, record, loc, type_):
    response = await send_post(api, {"id": new_id(), **record})
    assert response.status_code == 422, response.text
    [found] = response.json()["detail"]
    assert (found["loc"], found["type"]) == (loc, type_)
    assert await counts(api) == {"runs": 0, "run_metadata": 0, "pending_runs": 0, "sessions": 0}


async def test_not_json_and_wrong_shapes(api):
    response = await api.client.post("/runs/batch", content=b"{nope", headers=api.headers())
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"
    response = await send_batch(api, {"post": {"id": new_id()}})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "post"]
    response = await api.client.post("/runs/batch", json=[1], headers=api.headers())
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "dict_type"


async def test_read_key_cannot_ingest(api):
    response = await send_post(api, post(new_id()), key=api.read_key)
    assert response.status_code == 403 and response.json() == {"detail": "API key is read-only"}


async def test_unsupported_encoding_is_415(api):
    response = await api.client.post("/runs/batch", content=b"{}", headers={**api.headers(), "Content-Encoding": "br"})
    assert response.status_code == 415 and response.json() == {"detail": "Unsupported Content-Encoding: br"}


async def test_batch_statement_count_does_not_grow_with_runs(api):
    """Ten runs or two hundred, in three-level traces: the same number of statements."""
    async def statements(n_traces: int) -> int:
        records = []
        for _ in range(n_traces):
            root, child = new_id(), new_id()
            records += [post(root, extra={"metadata": {"model": "m"}}),
                        post(child, parent_run_id=root, start_time=at(1), run_type="llm", total_tokens=3),
                        post(new_id(), parent_run_id=child, start_time=at(2), run_type="tool")]
        with counting(api) as seen:
            await accepted(await send_batch(api, {"post": records, "patch": [{"id": records[0]["id"], "end_time": at(9)}]}))
        return len(seen)

    await statements(1)  # creates the "default" session
    assert await statements(3) == await statements(66)


def test_dotted_order_parser():
    run_id = new_id()
    [(stamp, parsed)] = parse_dotted_order(segment(0, run_id))
    assert stamp == T0 and str(parsed) == run_id
    assert parse_dotted_order(segment(0, run_id) + ".") is None
    assert parse_dotted_order("20240919T171648521691Z" + "x" * 36) is None


async def test_usage_rolls_up_across_batches_through_stored_ancestors(api):
    """Runs of one trace arriving in separate batches: each batch recomputes the stored
    ancestors it reaches (by id, through the dotted order) from their stored children."""
    root, mid, a, b, c = (new_id() for _ in range(5))
    await accepted(await send_batch(api, {"post": [post(root), post(mid, parent_run_id=root, start_time=at(1)),
                                                   post(a, parent_run_id=mid, start_time=at(2), total_tokens=5,
                                                        total_cost="0.1")]}))
    await accepted(await send_batch(api, {"post": [post(b, parent_run_id=mid, start_time=at(3), total_tokens=7)]}))
    assert [(await stored(api, i)).total_tokens for i in (root, mid, a, b)] == [12, 12, 5, 7]
    assert (await stored(api, root)).total_cost == Decimal("0.1")
    # A sibling under the root with usage of its own; then `a` changes and `mid` gets its own.
    await accepted(await send_batch(api, {"post": [post(c, parent_run_id=root, start_time=at(4), total_cost="0.5")],
                                          "patch": [{"id": a, "total_tokens": 1, "total_cost": "0.2"}]}))
    assert [(await stored(api, i)).total_tokens for i in (root, mid)] == [8, 8]
    assert (await stored(api, root)).total_cost == Decimal("0.7")
    await accepted(await send_patch(api, mid, {"total_tokens": 100}))
    run = await stored(api, root)
    assert (run.total_tokens, run.total_cost) == (100, Decimal("0.5"))
    assert (await stored(api, mid)).total_cost is None  # own usage without a cost: none reported
