"""`evalql serve | seed | keys create|list|revoke | migrate | export`."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from evalql.config import Settings
from evalql.db import keys, rls, writes
from evalql.db.backend import is_postgresql
from evalql.db.engine import DatabaseUrlError, create_engine, session_factory
from evalql.db.migrate import SchemaOutOfDate, ensure_schema, upgrade
from evalql.db.roles import RoleError, ensure_app_role

T = TypeVar("T")


class CliError(Exception):
    """A failure the user can fix; printed as one line, without a traceback."""


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _database(url: str | None, *, admin: bool = False) -> tuple[Settings, Any]:
    """`admin`: a command for the tables' owner (migrate, keys), which takes
    EVALQL_ADMIN_DATABASE_URL before EVALQL_DATABASE_URL."""
    try:
        settings = Settings.from_env(url)
        if admin and url is None and settings.admin_database_url:
            settings = Settings.from_env(settings.admin_database_url)
        engine = create_engine(settings.database_url, pool_size=settings.pool_size, max_overflow=settings.max_overflow,
                               pool_timeout=settings.pool_timeout, check_tenancy=settings.check_tenancy)
    except (DatabaseUrlError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return settings, engine


async def _prepare(engine: Any, *, migrate: bool = False) -> None:
    """Migrate (`evalql migrate`), or make sure the schema is current: the SQLite default
    migrates itself, a PostgreSQL database must be migrated deliberately."""
    try:
        await (upgrade(engine) if migrate else ensure_schema(engine))
    except SchemaOutOfDate as exc:
        raise CliError(str(exc)) from None
    except (OperationalError, DBAPIError, OSError) as exc:
        raise CliError(f"Cannot open the database {engine.url.render_as_string(hide_password=True)}: "
                       f"{getattr(exc, 'orig', exc)}") from None


async def _default_workspace(engine: Any, *, demo: bool) -> tuple[str | None, Any]:
    """Creates the default workspace (and prints its first key) if the database has none;
    loads the demo when asked. Returns (new key or None, demo summary or None)."""
    from evalql.demo import load_demo

    async with session_factory(engine)() as db:
        workspace, created = await writes.get_or_create_workspace(db, writes.DEFAULT_WORKSPACE)
        rls.bind(db, workspace.id)
        key = await writes.create_api_key(db, workspace.id) if created else None
        summary = await load_demo(db, workspace.id) if demo else None
        await db.commit()
    return key, summary


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn binds its own socket: the connections of a server that just exited
        # (TIME_WAIT, for a minute) do not hold the port, a server still listening does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(f"Port {port} on {host} is already in use: stop the other server "
                               f"or pick another with --port") from None
            raise CliError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None


def cmd_serve(args: argparse.Namespace) -> None:
    import dataclasses

    _check_port(args.host, args.port)  # first: a port in use is said at once, before the app is imported
    from evalql.app import create_app
    from evalql.serving import serve

    settings, engine = _database(args.database_url)
    overrides = {name: getattr(args, name) for name in ("graceful_timeout", "header_timeout")
                 if getattr(args, name) is not None}
    settings = dataclasses.replace(settings, **overrides)

    async def prepare() -> tuple[str | None, Any, bool]:
        await _prepare(engine)
        try:
            async with engine.connect() as conn:
                bypasses = is_postgresql(conn) and not await rls.row_security_active(conn)
            return (*await _default_workspace(engine, demo=args.demo), bypasses)
        finally:
            await engine.dispose()

    key, summary, bypasses = asyncio.run(prepare())
    base = f"http://{args.host}:{args.port}"
    if key is not None:  # the first line, alone on stdout: the one thing to copy
        print(key, flush=True)
        print("evalql: ^ the API key of the new default workspace, shown once: keep it", file=sys.stderr)
        print(f"evalql: send it as the header  X-API-Key: {key}", file=sys.stderr)
    print(f"evalql: database {_safe(settings.database_url)}", file=sys.stderr)
    if bypasses:
        print("evalql: warning: this database role bypasses row-level security (a superuser, BYPASSRLS, or "
              "the tables' owner): serve as the role `evalql migrate` makes (see the README)", file=sys.stderr)
    if summary is not None:
        print(f"evalql: demo dataset {summary.dataset_id} with {len(summary.session_ids)} sessions", file=sys.stderr)
    if key is None:  # the key was printed by the first start only
        print("evalql: API keys are printed once, when made: `evalql keys create` makes another, "
              "`evalql keys list` shows the existing ones", file=sys.stderr)
    print(f"evalql: comparison page at {base}/ (it asks for the key once)", file=sys.stderr)
    print(f"evalql: GraphiQL at {base}/graphql (put the key in its Headers tab); "
          f"REST at {base}/api/v1 (reference: {base}/docs)", file=sys.stderr)
    serve(create_app(settings), settings, host=args.host, port=args.port)


def cmd_seed(args: argparse.Namespace) -> None:
    if not args.demo:
        raise CliError("Nothing to seed: pass --demo")
    settings, engine = _database(args.database_url)

    async def run() -> Any:
        await _prepare(engine)
        try:
            return await _default_workspace(engine, demo=True)
        finally:
            await engine.dispose()

    key, summary = asyncio.run(run())
    if key is not None:
        print(f"evalql: created the default workspace; its API key (shown once): {key}", file=sys.stderr)
    print(f"evalql: demo dataset {summary.dataset_id} loaded in {_safe(settings.database_url)}", file=sys.stderr)


def _in_session(url: str | None, work: Callable[[AsyncSession], Awaitable[T]], *, admin: bool = False) -> T:
    """`work` in a session of the database (checked or migrated first, as every command does);
    it commits what it writes."""
    _settings, engine = _database(url, admin=admin)

    async def run() -> T:
        await _prepare(engine)
        try:
            async with session_factory(engine)() as db:
                return await work(db)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _across_workspaces(db: AsyncSession) -> None:
    """Listing and revoking keys reads every workspace's: row-level security shows the
    service's role none of them (PostgreSQL)."""
    if await rls.row_security_active(db):
        raise CliError("`evalql keys list|revoke` reads keys of every workspace: connect as the tables' owner "
                       "(EVALQL_ADMIN_DATABASE_URL, or --database-url), not as the service's role, which "
                       "row-level security confines to one workspace")


def cmd_keys_create(args: argparse.Namespace) -> None:
    async def create(db: AsyncSession) -> tuple[str, str]:
        workspace = await writes.workspace_named(db, args.workspace)
        if workspace is None:
            # The default workspace is made on first use, as `serve` makes it; any other
            # name must be asked for, so that a typo does not make a new, empty workspace.
            if args.workspace != writes.DEFAULT_WORKSPACE and not args.create_workspace:
                names = ", ".join(repr(n) for n in await keys.workspace_names(db)) or "none yet"
                raise CliError(f"No workspace named {args.workspace!r} (workspaces: {names}); "
                               "pass --create-workspace to create it")
            workspace = await writes.create_workspace(db, args.workspace)
        rls.bind(db, workspace.id)  # the service's role may add keys to one workspace at a time
        key = await writes.create_api_key(db, workspace.id, read_only=args.read_only)
        await db.commit()
        return key, workspace.name

    key, workspace = _in_session(args.database_url, create, admin=True)
    print(key)
    scope = "read-only" if args.read_only else "read-write"
    print(f"evalql: a {scope} key of workspace {workspace!r}, shown once: keep it "
          f"(`evalql keys list` shows it as {key[:10]}…)", file=sys.stderr)


def cmd_keys_list(args: argparse.Namespace) -> None:
    async def listing(db: AsyncSession) -> list[keys.KeyInfo]:
        await _across_workspaces(db)
        return await keys.list_keys(db, args.workspace, include_revoked=args.all)

    found = _in_session(args.database_url, listing, admin=True)
    if not found:
        print("evalql: no API keys" + (f" in workspace {args.workspace!r}" if args.workspace else "")
              + "; `evalql keys create` makes one", file=sys.stderr)
        return
    rows = [("ID", "WORKSPACE", "KEY", "SCOPE", "CREATED (UTC)", "REVOKED (UTC)")]
    rows += [(str(k.id), k.workspace, f"{k.prefix}…", k.scope, f"{k.created_at:%Y-%m-%d %H:%M:%S}",
              f"{k.revoked_at:%Y-%m-%d %H:%M:%S}" if k.revoked_at else "-") for k in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def cmd_keys_revoke(args: argparse.Namespace) -> None:
    async def revoke(db: AsyncSession) -> keys.KeyInfo:
        await _across_workspaces(db)
        try:
            revoked = await keys.revoke_key(db, args.key)
        except keys.KeyNotFound as exc:
            raise CliError(str(exc)) from None
        await db.commit()
        return revoked

    revoked = _in_session(args.database_url, revoke, admin=True)
    print(f"evalql: revoked the {revoked.scope} key {revoked.prefix}… (id {revoked.id}) of workspace "
          f"{revoked.workspace!r}; it is refused from the next request on", file=sys.stderr)


def cmd_migrate(args: argparse.Namespace) -> None:
    settings, engine = _database(args.database_url, admin=True)

    async def run() -> Any:
        try:
            await _prepare(engine, migrate=True)
            if not settings.app_role:
                return None
            try:
                return await ensure_app_role(engine, settings.app_role, settings.app_password)
            except RoleError as exc:
                raise CliError(str(exc)) from None
        finally:
            await engine.dispose()

    role = asyncio.run(run())
    print(f"evalql: schema is up to date in {_safe(settings.database_url)}", file=sys.stderr)
    if role is not None:
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url).set(username=role.name, password="***" if settings.app_password else None)
        print(f"evalql: the service's role {role.name!r} ({'created' if role.created else 'already there'}; "
              "row-level security confines it to one workspace per transaction): serve with", file=sys.stderr)
        print(f"  EVALQL_DATABASE_URL='{url.render_as_string(hide_password=False)}'", file=sys.stderr)


# The group request's fields, as `export` spells them.
EXPORT_FLAGS = {"session_ids": "--session-ids", "group_by": "--group-by", "metadata_key": "--metadata-key",
                "filters": "--filter"}


def export_request(args: argparse.Namespace) -> Any:
    """The group query of the flags, checked by the group request's own rules
    (every problem in one error, named by its flag)."""
    import uuid

    from evalql.core.group_request import to_query, validate_group_request

    raw: dict[str, Any] = {"session_ids": [s.strip() for s in args.session_ids.split(",") if s.strip()],
                           "group_by": args.group_by, "metadata_key": args.metadata_key}
    for item in args.filter:
        session, equals, text = item.partition("=")
        if not equals:
            raise CliError(f"--filter {item!r}: expected SESSION_ID=FILTER")
        raw.setdefault("filters", {}).setdefault(session.strip(), []).append(text)
    try:
        dataset_id = uuid.UUID(args.dataset_id)
    except ValueError:
        raise CliError(f"--dataset-id {args.dataset_id!r} is not a UUID") from None
    request, problems = validate_group_request(raw)
    if request is None:
        raise CliError("; ".join(
            " ".join([EXPORT_FLAGS.get(str(p["loc"][0]), str(p["loc"][0])), *map(str, p["loc"][1:])]) + f": {p['msg']}"
            for p in problems))
    return to_query(dataset_id, request)


def cmd_export(args: argparse.Namespace) -> None:
    from evalql.core.errors import NotFoundError
    from evalql.db.tenant import Tenant
    from evalql.engine.answer import ComparisonEngine
    from evalql.rest.export import ExportFormat, ExportTable, open_export, render

    query = export_request(args)
    settings, engine = _database(args.database_url)

    async def run() -> None:
        await _prepare(engine)
        comparisons = ComparisonEngine(max_bytes=settings.engine_memory_mb * 2**20,
                                       snapshots=settings.snapshot_directory())
        try:
            async with session_factory(engine)() as db:
                workspace = await writes.workspace_named(db, args.workspace)
                if workspace is None:
                    raise CliError(f"No workspace named {args.workspace!r}")
                tenant = Tenant(workspace.id, True, db)
                try:
                    export = await open_export(comparisons, tenant, query, ExportTable(args.table))
                except NotFoundError as exc:
                    raise CliError(exc.detail) from None
                out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
                try:
                    async for chunk in render(export, ExportFormat(args.format)):
                        out.write(chunk)
                except BrokenPipeError:  # `evalql export … | head`: the reader has what it wanted
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                finally:
                    if args.output:
                        out.close()
                    else:
                        out.flush()
        finally:
            await comparisons.close()
            await engine.dispose()

    asyncio.run(run())


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL (default: $EVALQL_DATABASE_URL, else a SQLite file in the user data dir)")
    top = argparse.ArgumentParser(prog="evalql", description="Compare LLM experiment sessions, grouped by metadata.")
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="serve the GraphQL and REST API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load the demo dataset and experiments first")
    serve.add_argument("--graceful-timeout", type=float, default=None, metavar="SECONDS",
                       help="on SIGTERM/SIGINT, how long requests in flight may finish before they are cut "
                            "(default: $EVALQL_GRACEFUL_TIMEOUT, else 30)")
    serve.add_argument("--header-timeout", type=float, default=None, metavar="SECONDS",
                       help="how long a connection may take to send a request's headers "
                            "(default: $EVALQL_HEADER_TIMEOUT, else 10)")
    serve.set_defaults(func=cmd_serve)

    seed = sub.add_parser("seed", parents=[common], help="load data without serving")
    seed.add_argument("--demo", action="store_true", help="the demo dataset and experiments")
    seed.set_defaults(func=cmd_seed)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", parents=[common], help="create a key and print it once")
    create.add_argument("--workspace", default=writes.DEFAULT_WORKSPACE,
                        help=f"workspace name (default {writes.DEFAULT_WORKSPACE!r}, made on first use)")
    create.add_argument("--create-workspace", action="store_true", help="create the workspace if it does not exist")
    create.add_argument("--read-only", action="store_true", help="a key that can only read")
    create.set_defaults(func=cmd_keys_create)
    listing = keys_sub.add_parser("list", parents=[common], help="list the keys (never the keys themselves)")
    listing.add_argument("--workspace", default=None, help="only this workspace's keys")
    listing.add_argument("--all", action="store_true", help="revoked keys too")
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys_sub.add_parser("revoke", parents=[common], help="revoke a key: refused from the next request on")
    revoke.add_argument("key", help="the key's id, or its prefix as `keys list` prints it")
    revoke.set_defaults(func=cmd_keys_revoke)

    migrate = sub.add_parser("migrate", parents=[common], help="create or upgrade the database schema")
    migrate.set_defaults(func=cmd_migrate)

    export = sub.add_parser("export", parents=[common],
                            help="the comparison (groups x sessions, or examples x sessions) as CSV or JSON")
    export.add_argument("--dataset-id", required=True)
    export.add_argument("--session-ids", required=True, help="comma-separated session (experiment) ids")
    export.add_argument("--group-by", required=True, choices=["run_metadata", "example_metadata"])
    export.add_argument("--metadata-key", required=True)
    export.add_argument("--filter", action="append", default=[], metavar="SESSION_ID=FILTER",
                        help="a filter on one session's runs (repeatable; a session's filters are AND-ed)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--table", choices=["groups", "examples"], default="groups",
                        help="groups: a row per group x session; examples: a row per run of each group's examples")
    export.add_argument("--output", default=None, help="a file (default: standard output)")
    export.add_argument("--workspace", default=writes.DEFAULT_WORKSPACE,
                        help=f"workspace name (default {writes.DEFAULT_WORKSPACE!r})")
    export.set_defaults(func=cmd_export)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        print(f"evalql: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
