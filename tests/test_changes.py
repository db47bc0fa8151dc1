"""The data version and change log (migration 0003, evalql/db/changes.py): every public
write path raises the workspace's version and logs exactly the rows it touched, with
their kinds; child runs are not logged; workspaces do not see each other's writes; the
log is pruned with a mark a reader cannot miss; on PostgreSQL, versions follow commit
order, so a reader of `current_version` then `changes_between` never misses a change.
Writes go through real HTTP; both databases."""

from __future__ import annotations

import asyncio
import importlib
import uuid

import asyncpg
import pytest
from sqlalchemy import func, text

from evalql.db import writes
from evalql.db.changes import (
    ChangeKind,
    ChangeSet,
    ChangesPruned,
    DataVersion,
    changes_between,
    current_version,
    prune_changes,
)
from evalql.db.models import DataChange, DataVersionCounter, Run, RunMetadata
from evalql.db.tenant import deletable, readable, updatable
from tests import databases
from tests.support.app import second_workspace
from tests.test_ingest_multipart import sdk_like_parts
from tests.test_ingest_multipart import send as send_multipart
from tests.test_ingest_runs import accepted, at, new_id, post, send_batch, send_patch

# -- helpers -------------------------------------------------------------------------------


def ids(*values) -> frozenset[uuid.UUID]:
    return frozenset(uuid.UUID(str(v)) for v in values)


async def version_of(api, workspace_id: uuid.UUID | None = None) -> DataVersion:
    async with api.db_sessions() as db:
        return await current_version(db, workspace_id or api.workspace_id)


class Log:
    """A reader as the comparison engine is one: it remembers the version it has seen and
    asks what changed since, with `current_version` then `changes_between`."""

    def __init__(self, api, workspace_id: uuid.UUID | None = None) -> None:
        self.api, self.workspace_id = api, workspace_id or api.workspace_id
        self.seen = 0

    async def start(self) -> Log:
        self.seen = (await version_of(self.api, self.workspace_id)).version
        return self

    async def news(self) -> ChangeSet:
        """What changed since the last call (and asserts the version rose iff anything did)."""
        now = (await version_of(self.api, self.workspace_id)).version
        assert now >= self.seen
        async with self.api.db_sessions() as db:
            found = await changes_between(db, self.workspace_id, self.seen, now)
        assert bool(found) == (now > self.seen), (self.seen, now, found)
        self.seen = now
        return found


async def new_session(api, name: str = "s") -> str:
    response = await api.client.post("/sessions", json={"name": name}, headers=api.headers())
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def new_dataset(api, name: str = "ds") -> str:
    response = await api.client.post("/datasets", json={"name": name}, headers=api.headers())
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def new_examples(api, dataset_id: str, n: int) -> list[str]:
    response = await api.client.post("/examples/bulk", json=[
        {"dataset_id": dataset_id, "inputs": {"i": i}, "metadata": {"n": i}} for i in range(n)], headers=api.headers())
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


async def new_feedback(api, run_id: str, **body) -> str:
    response = await api.client.post("/feedback", json={"run_id": run_id, "key": "k", **body}, headers=api.headers())
    assert response.status_code == 200, response.text
    return response.json()["id"]


def trace(session_id: str, **root_fields) -> tuple[str, str, list[dict]]:
    """(root id, child id, their posts): a root with metadata and a child with usage."""
    root, child = new_id(), new_id()
    posts = [post(root, session_id=session_id, extra={"metadata": {"model": "m1", "t": 1}}, **root_fields),
             post(child, session_id=session_id, parent_run_id=root, run_type="llm", start_time=at(1),
                  extra={"metadata": {"model": "m1"}}, prompt_tokens=3, completion_tokens=4)]
    return root, child, posts


# -- the schema ----------------------------------------------------------------------------

MIGRATION = importlib.import_module("evalql.db.migrations.versions.0003_data_changes")
LOGGED_TABLES = ("runs", "run_metadata", "feedback", "examples", "example_metadata", "sessions", "datasets")


async def test_every_logged_table_has_its_triggers(backend, database_url):
    """At head, each logged table has its triggers (a later migration that rebuilds a table,
    as SQLite's batch mode does, would drop them silently: this catches it)."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", "")) if backend == "postgresql" else None
    try:
        if conn is not None:
            rows = await conn.fetch("SELECT tgrelid::regclass::text AS t, tgname FROM pg_trigger WHERE NOT tgisinternal")
            found = {(r["t"], r["tgname"]) for r in rows}
            want = {(t, f"{t}_log_{e}") for t in LOGGED_TABLES for e in ("insert", "update", "delete")}
            want.add(("data_versions", "data_versions_notify"))  # NOTIFY for subscriptions (0005)
        else:
            import sqlite3

            with sqlite3.connect(database_url.split(":///", 1)[1]) as lite:
                found = set(lite.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"))
            want = {(t, f"{t}_log_{e}") for t in LOGGED_TABLES for e in ("insert", "update", "update_old", "delete")}
    finally:
        if conn is not None:
            await conn.close()
    assert found == want


def test_the_migration_logs_the_kinds_the_reader_knows():
    assert {kind for kind, _, _ in MIGRATION.LOGGED.values()} == {k.value for k in ChangeKind}
    assert set(MIGRATION.LOGGED) == set(LOGGED_TABLES)


# -- each write path -----------------------------------------------------------------------

async def test_nothing_logged_yet(api):
    assert await version_of(api) == DataVersion(0, 0)
    async with api.db_sessions() as db:
        assert await changes_between(db, api.workspace_id, 0, 10) == ChangeSet()


async def test_run_ingest_batch_logs_roots_only(api):
    log = await Log(api).start()
    session = await new_session(api)
    assert await log.news() == ChangeSet(sessions=ids(session))
    root, child, posts = trace(session)
    await accepted(await send_batch(api, {"post": posts}))
    assert await log.news() == ChangeSet(runs=ids(root))
    # a patch of the root (by batch) logs it; a patch of the child alone changes nothing the engine reads
    await accepted(await send_batch(api, {"patch": [{"id": root, "end_time": at(5), "trace_id": root}]}))
    assert await log.news() == ChangeSet(runs=ids(root))
    before = await version_of(api)
    await accepted(await send_batch(api, {"patch": [{"id": child, "end_time": at(2), "trace_id": root,
                                                      "parent_run_id": root}]}))
    assert await version_of(api) == before
    assert await log.news() == ChangeSet()


async def test_a_childs_usage_reaches_the_log_through_its_root(api):
    """A child's usage is rolled up into its root's row: the root is logged, not the child."""
    log = await Log(api).start()
    session = await new_session(api)
    root, child, posts = trace(session)
    await accepted(await send_batch(api, {"post": posts[:1]}))
    assert await log.news() == ChangeSet(sessions=ids(session), runs=ids(root))
    await accepted(await send_batch(api, {"post": posts[1:]}))  # the child alone, with usage
    assert await log.news() == ChangeSet(runs=ids(root))
    await accepted(await send_patch(api, child, {"prompt_tokens": 30, "trace_id": root, "parent_run_id": root}))
    assert await log.news() == ChangeSet(runs=ids(root))


async def test_a_multi_row_insert_takes_one_version_on_postgresql(api, backend):
    """Bulk INSERTs are multi-row statements on PostgreSQL (evalql/db/engine.py), whose
    statement triggers bump once; SQLite's row triggers bump once per row."""
    session = await new_session(api)
    log = await Log(api).start()
    roots = [new_id() for _ in range(3)]
    await accepted(await send_batch(api, {"post": [post(r, session_id=session) for r in roots]}))
    before = log.seen
    assert await log.news() == ChangeSet(runs=ids(*roots))
    assert log.seen - before == (1 if backend == "postgresql" else 3)


async def test_new_roots_are_logged_once_not_again_by_their_metadata(api, backend):
    """A batch writes new runs' metadata entries before the runs (evalql/db/writes.py::
    insert_runs): the entries find no stored root, so only the runs' insert logs each root,
    one version per root on SQLite, one for the statement on PostgreSQL."""
    session = await new_session(api)
    log = await Log(api).start()
    roots = [new_id() for _ in range(3)]
    await accepted(await send_batch(api, {"post": [
        post(r, session_id=session, extra={"metadata": {"model": "m", "t": 1}}) for r in roots]}))
    before = log.seen
    assert await log.news() == ChangeSet(runs=ids(*roots))
    assert log.seen - before == (1 if backend == "postgresql" else 3)
    async with api.db_sessions() as db:
        logged = await db.scalar(readable(api.workspace_id, DataChange, func.count()).where(
            DataChange.version > before, DataChange.kind == ChangeKind.RUN))
    assert logged == 3


async def test_run_post_and_patch_routes(api):
    log = await Log(api).start()
    session = await new_session(api)
    await log.news()
    root = new_id()
    await accepted(await api.client.post("/runs", json=post(root, session_id=session), headers=api.headers()))
    assert await log.news() == ChangeSet(runs=ids(root))
    await accepted(await send_patch(api, root, {"end_time": at(3), "outputs": {"a": 1}}))
    assert await log.news() == ChangeSet(runs=ids(root))
    # a patch waiting for its post is invisible: nothing is logged until the post applies it
    later = new_id()
    await accepted(await send_patch(api, later, {"end_time": at(3)}))
    assert await log.news() == ChangeSet()
    await accepted(await api.client.post("/runs", json=post(later, session_id=session), headers=api.headers()))
    assert await log.news() == ChangeSet(runs=ids(later))


async def test_a_session_created_by_name_is_logged(api):
    log = await Log(api).start()
    root = new_id()
    await accepted(await send_batch(api, {"post": [post(root, session_name="by-name")]}))
    news = await log.news()
    assert news.runs == ids(root) and len(news.sessions) == 1
    assert not (news.feedback or news.examples or news.datasets)


async def test_multipart_ingest_logs_the_run_and_its_feedback(api):
    log = await Log(api).start()
    run_id, feedback_id = new_id(), new_id()
    response = await send_multipart(api, sdk_like_parts(run_id, feedback_id), "zstd")
    assert response.status_code == 202, response.text
    news = await log.news()
    assert news.runs == ids(run_id) and news.feedback == ids(feedback_id)
    assert len(news.sessions) == 1 and not (news.examples or news.datasets)  # the "default" session, created


async def test_feedback_create_patch_delete(api):
    session = await new_session(api)
    root, child, posts = trace(session)
    await accepted(await send_batch(api, {"post": posts}))
    log = await Log(api).start()
    on_root = await new_feedback(api, root, score=1)
    assert await log.news() == ChangeSet(feedback=ids(on_root))
    on_child = await new_feedback(api, child, score=0)  # feedback is logged whatever run it is on
    assert await log.news() == ChangeSet(feedback=ids(on_child))
    again = await new_feedback(api, root, id=on_root, score=0)  # create is an upsert by id
    assert again == on_root and await log.news() == ChangeSet(feedback=ids(on_root))
    response = await api.client.patch(f"/feedback/{on_root}", json={"comment": "ok"}, headers=api.headers())
    assert response.status_code == 200, response.text
    assert await log.news() == ChangeSet(feedback=ids(on_root))
    response = await api.client.delete(f"/feedback/{on_child}", headers=api.headers())
    assert response.status_code == 200, response.text
    assert await log.news() == ChangeSet(feedback=ids(on_child))


async def test_examples_create_update_move_delete(api):
    log = await Log(api).start()
    dataset = await new_dataset(api)
    assert await log.news() == ChangeSet(datasets=ids(dataset))
    first, second = await new_examples(api, dataset, 2)
    assert await log.news() == ChangeSet(examples=ids(first, second))
    response = await api.client.post("/examples", json={"dataset_id": dataset, "inputs": {"x": 1}},
                                     headers=api.headers())
    assert response.status_code == 200, response.text
    third = response.json()["id"]
    assert await log.news() == ChangeSet(examples=ids(third))
    response = await api.client.patch(f"/examples/{first}", json={"outputs": {"y": 2}}, headers=api.headers())
    assert response.status_code == 200, response.text
    assert await log.news() == ChangeSet(examples=ids(first))
    # moved to another split: the split list lives in the metadata and its entries
    response = await api.client.patch(f"/examples/{second}", json={"split": "test"}, headers=api.headers())
    assert response.status_code == 200, response.text
    assert await log.news() == ChangeSet(examples=ids(second))
    response = await api.client.delete(f"/examples/{third}", headers=api.headers())
    assert response.status_code == 200, response.text
    assert await log.news() == ChangeSet(examples=ids(third))


async def test_dataset_delete_logs_its_examples(api, backend):
    dataset = await new_dataset(api)
    examples = await new_examples(api, dataset, 3)
    other = await new_dataset(api, "other")
    await new_examples(api, other, 1)
    log = await Log(api).start()
    response = await api.client.delete(f"/datasets/{dataset}", headers=api.headers())
    assert response.status_code == 200, response.text
    before = log.seen
    assert await log.news() == ChangeSet(datasets=ids(dataset), examples=ids(*examples))
    # PostgreSQL bumps once per transaction (migration 0004: the dataset's UPDATE and its
    # examples' UPDATE share one version); SQLite's row triggers once per row.
    assert log.seen - before == (1 if backend == "postgresql" else 1 + 3)


async def test_session_create_patch_delete_with_its_cascade(api):
    log = await Log(api).start()
    doomed, kept = await new_session(api, "doomed"), await new_session(api, "kept")
    assert await log.news() == ChangeSet(sessions=ids(doomed, kept))
    response = await api.client.patch(f"/sessions/{doomed}", json={"description": "d"}, headers=api.headers())
    assert response.status_code == 200, response.text
    assert await log.news() == ChangeSet(sessions=ids(doomed))
    root, child, posts = trace(doomed)
    other_root, _, other_posts = trace(kept)
    await accepted(await send_batch(api, {"post": posts + other_posts}))
    assert await log.news() == ChangeSet(runs=ids(root, other_root))
    on_child = await new_feedback(api, child)
    on_session = await new_feedback(api, str(uuid.uuid4()), session_id=doomed)  # names the session only
    kept_feedback = await new_feedback(api, other_root)
    await log.news()
    response = await api.client.delete(f"/sessions/{doomed}", headers=api.headers())
    assert response.status_code == 200, response.text
    assert await log.news() == ChangeSet(sessions=ids(doomed), runs=ids(root), feedback=ids(on_child, on_session))
    assert kept_feedback  # untouched, not logged


async def test_a_write_to_one_workspace_leaves_the_others_version(api):
    other, other_key, _ = await second_workspace(api.db_sessions)
    theirs = await Log(api, other).start()
    mine = await Log(api).start()
    dataset = await new_dataset(api)
    session = await new_session(api)
    root, _, posts = trace(session)
    await accepted(await send_batch(api, {"post": posts}))
    assert await mine.news() == ChangeSet(datasets=ids(dataset), sessions=ids(session), runs=ids(root))
    assert await version_of(api, other) == DataVersion(0, 0)
    assert await theirs.news() == ChangeSet()
    response = await api.client.post("/datasets", json={"name": "theirs"}, headers=api.headers(other_key))
    assert response.status_code == 200, response.text
    assert await theirs.news() == ChangeSet(datasets=ids(response.json()["id"]))
    assert await mine.news() == ChangeSet()


# -- pruning -------------------------------------------------------------------------------

async def test_pruning_marks_what_a_reader_can_no_longer_learn(api):
    first = await new_dataset(api, "a")
    v1 = (await version_of(api)).version
    second = await new_dataset(api, "b")
    v2 = (await version_of(api)).version
    async with api.db_sessions() as db:
        assert await prune_changes(db, api.workspace_id, v1) == v1
        await db.commit()
    assert await version_of(api) == DataVersion(v2, v1)
    async with api.db_sessions() as db:
        assert await changes_between(db, api.workspace_id, v1, v2) == ChangeSet(datasets=ids(second))
        with pytest.raises(ChangesPruned):
            await changes_between(db, api.workspace_id, 0, v2)
        # never lowered; never past the current version
        assert await prune_changes(db, api.workspace_id, 0) == v1
        assert await prune_changes(db, api.workspace_id, v2 + 100) == v2
        await db.commit()
    assert await version_of(api) == DataVersion(v2, v2)
    third = await new_dataset(api, "c")
    async with api.db_sessions() as db:
        assert await changes_between(db, api.workspace_id, v2, v2 + 1) == ChangeSet(datasets=ids(third))
        with pytest.raises(ChangesPruned):
            await changes_between(db, api.workspace_id, v1, v2 + 1)
        # the log holds the third change only: the first two were deleted with the pruning
        assert await db.scalar(readable(api.workspace_id, DataChange, func.count())) == 1
    assert first


async def test_pruning_a_workspace_without_a_log(api):
    async with api.db_sessions() as db:
        assert await prune_changes(db, api.workspace_id, 5) == 0
        await db.commit()
    assert await version_of(api) == DataVersion(0, 0)


# -- PostgreSQL: versions in commit order --------------------------------------------------

async def _backend_pid(db) -> int:
    return await db.scalar(text("SELECT pg_backend_pid()"))


async def _wait_until_blocked(api, pid: int) -> None:
    """Until backend `pid` waits for a lock (deterministic: no sleeping and hoping)."""
    async with api.db_sessions() as db:
        for _ in range(500):
            waiting = await db.scalar(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                                      {"pid": pid})
            if waiting == "Lock":
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


@pytest.mark.backends("postgresql")
async def test_a_second_writer_waits_for_the_first_to_commit(api):
    """Two transactions write the same workspace: the second blocks at its bump of the
    counter until the first commits, so it takes the next version and versions follow
    commit order. A reader between the commits sees the first change only; after the
    second commit, `changes_between(seen, current)` names the second. Nothing is missed."""
    session = await new_session(api)
    reader = await Log(api).start()
    async with api.db_sessions() as first, api.db_sessions() as second:
        await writes.insert_feedback(first, api.workspace_id, [{"id": (a := uuid.uuid4()), "key": "k",
                                                                 "session_id": session}])
        second_pid = await _backend_pid(second)
        writing = asyncio.create_task(writes.insert_feedback(second, api.workspace_id, [
            {"id": (b := uuid.uuid4()), "key": "k", "session_id": session}]))
        await _wait_until_blocked(api, second_pid)
        assert not writing.done()
        assert await reader.news() == ChangeSet()  # the first has not committed: nothing to see
        await first.commit()
        await writing  # unblocked by the commit
        assert await reader.news() == ChangeSet(feedback=ids(a))
        v_first = reader.seen
        await second.commit()
    assert await reader.news() == ChangeSet(feedback=ids(b))
    assert reader.seen == v_first + 1


@pytest.mark.backends("postgresql")
async def test_other_workspaces_do_not_wait(api):
    """The lock is the workspace's counter row: a writer of another workspace proceeds."""
    other, _, _ = await second_workspace(api.db_sessions)
    async with api.db_sessions() as first, api.db_sessions() as second:
        await writes.insert_feedback(first, api.workspace_id, [{"key": "k", "run_id": uuid.uuid4()}])
        await asyncio.wait_for(writes.insert_feedback(second, other, [{"key": "k", "run_id": uuid.uuid4()}]), 5)
        await second.commit()
        await first.commit()
    assert (await version_of(api)).version == 1 and (await version_of(api, other)).version == 1


@pytest.mark.backends("postgresql")
async def test_one_transaction_takes_one_version_on_postgresql(api):
    """Migration 0004: however many logged statements a transaction runs, it raises the
    counter once and logs every row under that one version (raising it per statement walked
    a growing chain of row versions: quadratic in the statements of a bulk load). The next
    transaction takes the next version; the setting that noted it does not leak."""
    session = await new_session(api)
    reader = await Log(api).start()
    start = reader.seen
    written = []
    async with api.db_sessions() as db:
        for _ in range(30):
            written.append(uuid.uuid4())
            await writes.insert_feedback(db, api.workspace_id, [{"id": written[-1], "key": "k", "session_id": session}])
        # The counter table named by a parameter: the tenancy check reads table names in SQL text.
        counter_row_versions = await db.scalar(text(
            "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = :t"), {"t": "data_versions"})
        await db.commit()
    assert counter_row_versions <= 2  # one raise (an upsert's update), not thirty
    assert await reader.news() == ChangeSet(feedback=ids(*written))
    assert reader.seen == start + 1
    async with api.db_sessions() as db:
        await writes.insert_feedback(db, api.workspace_id, [{"id": (later := uuid.uuid4()), "key": "k",
                                                             "session_id": session}])
        await db.commit()
    assert await reader.news() == ChangeSet(feedback=ids(later))
    assert reader.seen == start + 2
    async with api.db_sessions() as db:
        async with db.begin_nested():
            await writes.insert_feedback(db, api.workspace_id, [{"key": "k", "session_id": session}])
            await db.rollback()  # to the savepoint: the raise and its note go with it
        # (begin_nested's context closed the savepoint; the outer transaction goes on)
        await writes.insert_feedback(db, api.workspace_id, [{"id": (kept := uuid.uuid4()), "key": "k",
                                                             "session_id": session}])
        await db.commit()
    assert await reader.news() == ChangeSet(feedback=ids(kept))
    assert reader.seen == start + 3


async def _grow_runs_past(api, size: int) -> None:
    """Child runs of another workspace until PostgreSQL's `runs` holds `size` bytes (the
    trigger of run_metadata changes how it looks runs up past a size)."""
    conn = await asyncpg.connect(api.db_sessions.kw["bind"].url.render_as_string(hide_password=False)
                                 .replace("+asyncpg", ""))
    try:
        await conn.execute("""
            INSERT INTO runs (workspace_id, id, session_id, trace_id, parent_run_id, dotted_order, is_root, name,
                              run_type, start_time, status, prompt_tokens, completion_tokens, total_tokens,
                              created_at, inputs)
            SELECT $1, gen_random_uuid(), $1, $1, $1, 'x', false, 'padding', 'chain', now(), 'success', 0, 0, 0,
                   now(), json_build_object('pad', repeat('x', 1000))
            FROM generate_series(1, $2)""", uuid.uuid4(), size // 1000)
        assert await conn.fetchval("SELECT pg_relation_size('runs')") > size
    finally:
        await conn.close()


async def test_metadata_entries_written_alone_log_their_root_run(api):
    """No public path writes a run's metadata entries without the run, but the triggers
    of run_metadata see such a write: it logs the run if the run is a root."""
    await _entries_alone_log_their_root(api, large=False)


@pytest.mark.backends("postgresql")
async def test_metadata_entries_written_alone_past_the_planning_size(api):
    """The same past the size from which PostgreSQL's trigger plans its run lookup once."""
    await _entries_alone_log_their_root(api, large=True)


async def _entries_alone_log_their_root(api, *, large: bool) -> None:
    session = await new_session(api)
    root, child, posts = trace(session)
    await accepted(await send_batch(api, {"post": posts}))
    if large:
        await _grow_runs_past(api, MIGRATION.RUNS_PLANNED_EACH_TIME_BELOW)
    log = await Log(api).start()
    entries = [{"run_id": uuid.UUID(run_id), "session_id": uuid.UUID(session), "key": "extra", "kind": "string",
                "value": "v"} for run_id in (root, child)]
    async with api.db_sessions() as db:
        await writes.bulk_insert(db, api.workspace_id, RunMetadata, entries)
        await db.commit()
    assert await log.news() == ChangeSet(runs=ids(root))
    async with api.db_sessions() as db:
        await db.execute(deletable(api.workspace_id, RunMetadata).where(RunMetadata.key == "extra"))
        await db.commit()
    assert await log.news() == ChangeSet(runs=ids(root))
    async with api.db_sessions() as db:
        await db.execute(deletable(api.workspace_id, RunMetadata).where(RunMetadata.run_id == uuid.UUID(child)))
        await db.commit()
    assert await log.news() == ChangeSet()


async def test_a_statement_that_logs_no_row_takes_no_version(api):
    """An UPDATE matching no row, or only child runs, takes no version (on PostgreSQL the
    statement triggers fire with empty or filtered-out transition tables: no bump, hence
    no lock either; SQLite's row triggers do not fire or fail their WHEN)."""
    session = await new_session(api)
    root, child, posts = trace(session)
    await accepted(await send_batch(api, {"post": posts}))
    before = await version_of(api)
    async with api.db_sessions() as db:
        await db.execute(updatable(api.workspace_id, Run).where(Run.id == uuid.uuid4()).values(name="x"))
        await db.execute(updatable(api.workspace_id, Run).where(Run.id == uuid.UUID(child)).values(name="x"))
        await db.commit()
    assert await version_of(api) == before


# -- the test databases' recycling ---------------------------------------------------------

@pytest.mark.backends("postgresql")
async def test_a_released_database_comes_back_empty(backend, tmp_path):
    """tests/databases.py empties a database for the next test: the triggers log its
    deletions, so the log tables are emptied last, and the schema check still passes."""
    url = await databases.new_database(backend, tmp_path)
    dsn = url.replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:
        ws = uuid.uuid4()
        await conn.execute("INSERT INTO workspaces (id, name, created_at) VALUES ($1, 'w', now())", ws)
        await conn.execute("INSERT INTO datasets (workspace_id, id, name, data_type, externally_managed, created_at, "
                           "modified_at) VALUES ($1, $2, 'd', 'kv', false, now(), now())", ws, uuid.uuid4())
        assert await conn.fetchval("SELECT count(*) FROM data_changes") == 1
    finally:
        await conn.close()
    await databases.release_database(url)
    assert url.rsplit("/", 1)[1] in databases._free  # emptied, not dropped
    conn = await asyncpg.connect(dsn)
    try:
        for table in (DataChange.__tablename__, DataVersionCounter.__tablename__, "datasets", "workspaces"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    finally:
        await conn.close()
