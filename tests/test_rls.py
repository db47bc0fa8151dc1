"""Row-level security on PostgreSQL (evalql/db/rls.py, migration 0006, evalql/db/roles.py):
the service connects as a role that is no superuser, owns nothing and has no BYPASSRLS, and
the database confines each transaction to the workspace bound to its session, behind the
application's own scoping. The rest of the PostgreSQL suite runs its apps as that role too
(tests/conftest.py, `databases.app_url`)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers

from evalql import cli
from evalql.auth import authenticate
from evalql.db import rls, writes
from evalql.db.changes import current_version
from evalql.db.engine import create_engine, session_factory, single_read_engine
from evalql.db.models import TENANT_MODELS, ApiKey, Dataset, Run
from evalql.db.read_snapshot import begin_read_snapshot
from evalql.db.roles import ensure_app_role
from evalql.db.tenant import Tenant, owned, readable
from evalql.engine.log_pruner import LogPruner
from tests import databases
from tests.support.app import second_workspace
from tests.support.statements import counting
from tests.support.whole_database import everywhere
from tests.support.world import build_world
from tests.test_cli_keys import status

pytestmark = pytest.mark.backends("postgresql")

WORKSPACE_TABLES = [model.__table__.name for model in (*TENANT_MODELS, ApiKey)]  # type: ignore[attr-defined]


@pytest.fixture
async def two_worlds(api):
    """Runs, feedback, examples … in the test's workspace and in another, seeded as the owner."""
    other, _, _ = await second_workspace(api.db_sessions)
    async with api.db_sessions() as db:
        await build_world(db, api.workspace_id, n_examples=3, n_sessions=1, seed=1, name="mine")
        await build_world(db, other, n_examples=4, n_sessions=2, seed=2, name="theirs")
        await db.commit()
    return other


async def my_run_count(api) -> int:
    async with api.db_sessions() as db:
        return await db.scalar(readable(api.workspace_id, Run, func.count()))


async def test_the_service_role_is_no_superuser_and_row_security_binds_it(api):
    async with api.app_engine.connect() as conn:
        role = (await conn.execute(text(
            "SELECT current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = current_user"))).one()
        assert tuple(role) == (databases.APP_ROLE, False, False, False, False)
        assert await rls.row_security_active(conn)
    async with api.db_sessions() as db:  # as the owner: every table with a workspace_id has its policy
        tables = (await db.execute(everywhere(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner), "
            "       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
            "FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind = 'r'")))).all()
    by_name = {name: (enabled, forced, owner, policies) for name, enabled, forced, owner, policies in tables}
    for name in WORKSPACE_TABLES:
        enabled, forced, owner, policies = by_name[name]
        assert (enabled, policies) == (True, 1), name
        assert owner != databases.APP_ROLE  # an owner is not bound by the policies
    assert not any(owner == databases.APP_ROLE for _, _, owner, _ in by_name.values())


async def test_a_statement_that_forgets_the_workspace_sees_only_the_bound_one(api, two_worlds):
    """As the service's role, bound by authentication (mid-transaction, as a request does):
    a SELECT without any workspace condition on each workspace table returns only the
    caller's rows; a session bound to nothing sees no row at all."""
    mine = await my_run_count(api)
    assert mine > 0
    app_sessions = session_factory(api.app_engine)
    # `everywhere`: the test-time tenancy check (tests/conftest.py) would refuse these
    # unscoped statements before they reached the database; it is bypassed on purpose, so
    # that what is tested is the database's own policies.
    async with app_sessions() as db:
        principal = await authenticate(db, Headers({"x-api-key": api.key}))
        Tenant(principal.workspace_id, principal.read_only, db)
        assert len((await db.execute(everywhere(select(Run.id)))).all()) == mine
        for name in WORKSPACE_TABLES:
            found = set((await db.execute(everywhere(text(f"SELECT DISTINCT workspace_id FROM {name}")))).scalars())
            assert found <= {api.workspace_id}, name
        await db.commit()
        # The session's next transaction is bound again.
        assert len((await db.execute(everywhere(select(Run.id)))).all()) == mine
    async with app_sessions() as db:
        assert await db.scalar(everywhere(select(func.count()).select_from(Run))) == 0
        assert await db.scalar(everywhere(select(func.count()).select_from(ApiKey))) == 0  # hashes too


async def test_a_pooled_connection_carries_no_workspace_over(api, two_worlds):
    engine = create_engine(databases.app_url(str(api.app_engine.url.render_as_string(hide_password=False))),
                           pool_size=1, max_overflow=0)
    try:
        sessions = session_factory(engine)
        async with sessions() as db:
            rls.bind(db, api.workspace_id)
            assert await db.scalar(everywhere(select(func.count()).select_from(Run))) == await my_run_count(api)
            await db.commit()
        async with sessions() as db:  # the same (only) connection, for an unbound session
            assert await db.scalar(text("SELECT current_setting('evalql.workspace_id', true)")) in ("", None)
            assert await db.scalar(everywhere(select(func.count()).select_from(Run))) == 0
    finally:
        await engine.dispose()


async def test_single_reads_bind_their_own_pool_and_each_request_binds_it_again(api, two_worlds):
    """Single reads (evalql/db/engine.py `single_read_engine`) run each statement in its own
    transaction, so authentication binds their connection rather than a transaction. Their
    pool is their own (here of one connection, which every session below shares): each
    session binds it again before anything else runs, so none sees what the last one bound."""
    other = two_worlds
    async with api.db_sessions() as db:
        other_key = await writes.create_api_key(db, other)
        await db.commit()
        theirs = await db.scalar(readable(other, Run, func.count()))
    engine = single_read_engine(api.app_engine, pool_size=2, max_overflow=0, pool_timeout=5)
    assert engine is not api.app_engine and engine.pool.size() == 1
    sessions = session_factory(engine, single_reads=True)
    try:
        for key, count in ((api.key, await my_run_count(api)), (other_key, theirs), (api.key, await my_run_count(api))):
            async with sessions() as db:
                Tenant((await authenticate(db, Headers({"x-api-key": key}))).workspace_id, True, db)
                assert await db.scalar(everywhere(select(func.count()).select_from(Run))) == count
                # No transaction: each statement is its own (in one, both would have the same id).
                ids = [await db.scalar(text("SELECT txid_current()")) for _ in range(2)]
                assert ids[0] != ids[1]
        async with sessions() as db:  # a statement before the key lookup would read the last binding
            with pytest.raises(RuntimeError, match="must bind its workspace"):
                await db.execute(everywhere(select(func.count()).select_from(Run)))
            with pytest.raises(RuntimeError, match="must bind its workspace"):
                await db.scalar(everywhere(select(func.count()).select_from(Run)))
            with pytest.raises(Exception, match="Invalid API key"):  # a refused key binds nothing …
                await authenticate(db, Headers({"x-api-key": "evq_not-a-key"}))
            with pytest.raises(RuntimeError, match="must bind its workspace"):  # … so nothing else runs
                await db.execute(everywhere(select(func.count()).select_from(Run)))
        async with sessions() as db:  # and a single read writes nothing, not even in its own workspace
            Tenant((await authenticate(db, Headers(api.headers()))).workspace_id, False, db)
            with pytest.raises(RuntimeError, match="may not write"):
                await db.execute(everywhere(update(Run).values(name="renamed")))
            db.add(owned(api.workspace_id, Dataset, name="added"))
            with pytest.raises(RuntimeError, match="may not write"):
                await db.flush()
    finally:
        await engine.dispose()
    async with api.db_sessions() as db:
        assert "renamed" not in set((await db.execute(readable(api.workspace_id, Run, Run.name))).scalars())
        assert await db.scalar(readable(api.workspace_id, Dataset, func.count()).where(Dataset.name == "added")) == 0


async def test_writes_to_another_workspace_are_refused(api, two_worlds):
    other = two_worlds
    async with session_factory(api.app_engine)() as db:
        Tenant(api.workspace_id, False, db)
        db.add(owned(other, Dataset, name="intruder"))
        with pytest.raises(DBAPIError, match="row-level security"):
            await db.flush()
        await db.rollback()
        # Unscoped UPDATE and DELETE reach only the bound workspace's rows.
        changed = await db.execute(everywhere(update(Run).where(Run.workspace_id == other).values(name="hijacked")))
        assert changed.rowcount == 0
        changed = await db.execute(everywhere(update(Run).values(name="renamed")))
        assert changed.rowcount == await my_run_count(api)
        await db.commit()
    async with api.db_sessions() as db:
        names = set((await db.execute(readable(other, Run, Run.name))).scalars())
        assert "renamed" not in names and "hijacked" not in names


async def test_the_log_pruner_works_through_every_workspace_as_the_service_role(api, two_worlds):
    other = two_worlds
    pruned = await LogPruner(session_factory(api.app_engine), horizon=0).prune_once()
    assert set(pruned) == {api.workspace_id, other}
    async with api.db_sessions() as db:
        for workspace_id in (api.workspace_id, other):
            version = await current_version(db, workspace_id)
            assert version.pruned_through == version.version > 0


async def test_requests_as_the_service_role_see_their_workspace(api, two_worlds):
    """Through the app (REST and GraphQL), whose engine is the service's role."""
    response = await api.client.get("/api/v1/datasets", headers=api.headers())
    assert response.status_code == 200, response.text
    assert [d["name"] for d in response.json()] == ["mine"]
    response = await api.graphql("{ datasets(first: 10) { edges { node { name } } } }")
    assert response.json()["data"] == {"datasets": {"edges": [{"node": {"name": "mine"}}]}}


async def test_authentication_binds_the_transaction_in_its_own_statement(api, two_worlds):
    """The key lookup sets the transaction's workspace as it finds the key: a request sends
    no `set_config` statement of its own, and still sees its rows, and only its own (the
    policies would show none if the setting were missing)."""
    async with api.db_sessions() as db:
        run_id = await db.scalar(readable(api.workspace_id, Run, Run.id).limit(1))
    with counting(api) as statements:
        response = await api.client.get(f"/api/v1/runs/{run_id}", headers=api.headers())
        listed = await api.client.get("/api/v1/datasets", headers=api.headers())
    assert response.status_code == 200, response.text
    assert [d["name"] for d in listed.json()] == ["mine"]
    lookups = [s for s in statements if "evalql_key_lookup" in s]
    assert len(lookups) == 2 and all("set_config" in s for s in lookups)
    assert not [s for s in statements if "set_config" in s and "evalql_key_lookup" not in s], statements
    # A bad key binds nothing, and is refused.
    async with api.db_sessions() as db:
        with pytest.raises(Exception, match="Invalid API key"):
            await authenticate(db, Headers({"x-api-key": "evq_not-a-key"}))
        assert rls.bound_workspace(db) is None


async def test_a_session_bound_elsewhere_is_not_rebound_by_a_key_lookup(api, two_worlds):
    """Authentication in a session already bound (a subscription checking its key again)
    leaves the binding to the session's owner: the lookup sets nothing."""
    async with api.db_sessions() as db:
        rls.bind(db, two_worlds)
        with counting(api) as statements:
            principal = await authenticate(db, Headers(api.headers()))
        assert principal.workspace_id == api.workspace_id
        assert rls.bound_workspace(db) == two_worlds
        assert not [s for s in statements if "set_config" in s and "evalql_key_lookup" in s]
        setting = await db.scalar(text(f"SELECT current_setting('{rls.SETTING}', true)"))
        assert setting == str(two_worlds)


def test_migrate_makes_the_role_and_keys_list_needs_the_owner(database_url, capsys, monkeypatch):
    monkeypatch.delenv("EVALQL_ADMIN_DATABASE_URL", raising=False)
    monkeypatch.delenv("EVALQL_APP_ROLE", raising=False)
    assert cli.main(["migrate", "--database-url", database_url]) == 0
    err = capsys.readouterr().err
    # The template made it already (as a first `migrate` does): made again, it is kept.
    assert f"role {databases.APP_ROLE!r} (already there" in err
    assert f"EVALQL_DATABASE_URL='postgresql+asyncpg://{databases.APP_ROLE}@" in err
    as_service = databases.app_url(database_url)
    assert cli.main(["keys", "create", "--database-url", as_service]) == 0  # one workspace: allowed
    assert capsys.readouterr().out.startswith("evq_")
    assert cli.main(["keys", "list", "--database-url", as_service]) == 2
    assert "connect as the tables' owner" in capsys.readouterr().err
    # EVALQL_ADMIN_DATABASE_URL is what `keys` and `migrate` use when no URL is given.
    monkeypatch.setenv("EVALQL_DATABASE_URL", as_service)
    monkeypatch.setenv("EVALQL_ADMIN_DATABASE_URL", database_url)
    assert cli.main(["keys", "list"]) == 0
    assert "default" in capsys.readouterr().out


async def test_concurrent_migrations_make_the_role_once(new_database):
    """Roles belong to the whole server: migrations of several databases at once (the
    suite's processes) all succeed, whichever makes the role."""
    name = f"evalql_rls_{uuid.uuid4().hex[:12]}"
    urls = [await new_database() for _ in range(2)]
    engines = [create_engine(url) for url in urls]
    try:
        made = await asyncio.gather(*(ensure_app_role(engine, name) for engine in engines))
        assert sum(role.created for role in made if role is not None) == 1
        for url in urls:
            service = create_engine(databases.app_url(url).replace(f"{databases.APP_ROLE}@", f"{name}@"))
            try:
                async with service.connect() as conn:
                    assert await rls.row_security_active(conn)
            finally:
                await service.dispose()
    finally:
        for engine in engines:
            await engine.dispose()
        for url in urls:  # its grants go with the databases; then the role can go
            await databases.drop_database(url)
        await databases._admin(f'DROP ROLE IF EXISTS "{name}"')


async def test_serve_and_seed_as_the_service_role_make_the_first_key_and_the_demo(database_url):
    """What `evalql serve --demo` (and `seed --demo`) do before serving, as the service's
    role on a fresh database: the default workspace, its key (bound to it) and the demo;
    the key then works, and the policies bind the role (no warning: see the next test)."""
    engine = create_engine(databases.app_url(database_url))
    try:
        key, summary = await cli._default_workspace(engine, demo=True)
        async with engine.connect() as conn:
            assert await rls.row_security_active(conn)  # `serve` warns when this is false
    finally:
        await engine.dispose()
    assert key is not None and summary is not None
    assert await status(databases.app_url(database_url), key) == 200


async def test_the_superuser_is_not_bound_so_serve_would_warn(database_url):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert not await rls.row_security_active(conn)
    finally:
        await engine.dispose()


async def test_a_read_snapshot_begun_after_binding_keeps_its_isolation_and_its_workspace(api, two_worlds):
    """An export binds its session after authentication, then ends that transaction and
    begins a REPEATABLE READ one (evalql/db/read_snapshot.py): that one is bound too, and
    its isolation level is not lost to the workspace's setting."""
    async with session_factory(api.app_engine)() as db:
        await authenticate(db, Headers({"x-api-key": api.key}))
        Tenant(api.workspace_id, True, db)
        await begin_read_snapshot(db)
        assert await db.scalar(text("SELECT current_setting('transaction_isolation')")) == "repeatable read"
        assert len((await db.execute(everywhere(select(Run.id)))).all()) == await my_run_count(api)
