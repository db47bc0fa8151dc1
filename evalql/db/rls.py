"""Row-level security on PostgreSQL: which workspace a transaction may see.

The application scopes every statement itself (evalql/db/tenant.py); row-level security
is the database's second line behind it. Migration 0006 gives every table with a
`workspace_id` a policy `workspace_id = <the transaction's workspace>`, read from the
transaction-local setting `evalql.workspace_id`, and the service connects as a role that
owns no table and is no superuser (evalql/db/roles.py), so the policies bind it: a
statement that forgets its workspace still sees and writes only the bound workspace's
rows, and no rows at all when no workspace is bound.

A session is bound to a workspace with `bind` (a `Tenant` does it when it is made, ingest
and the log pruner do it themselves), or by authentication's key lookup itself, whose
statement sets the setting as it finds the key (`set_workspace_column`, evalql/db/keys.py).
The setting is then set at the start of each of the
session's transactions (`after_begin`), and, when the session is bound in the middle of a
transaction (after authentication read the key), by the session's next statement
(`SerializedSession`, evalql/db/engine.py, asks `pending`). It is transaction-local
(`set_config(…, true)`): a pooled connection carries nothing over to its next user.

Single reads run without a transaction (`EACH_STATEMENT`: autocommit, which saves the
BEGIN and ROLLBACK round trips, evalql/db/engine.py). A transaction-local setting would
end with the statement that set it, so theirs is the connection's (`set_config(…, false)`).
Their connections are a pool of their own, which nothing else draws from, and a session
of theirs runs nothing before the statement that binds it (`check_bound`): each request
binds its connection before it reads, so what the last one left is never seen.
SQLite has no roles nor policies: nothing is set there.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Text, bindparam, cast, event, false, func, select, text, true
from sqlalchemy.orm import Session

from evalql.db.backend import is_postgresql

SETTING = "evalql.workspace_id"  # read by the policies of migration 0006
_WORKSPACE = "evalql.rls.workspace"  # session.info: the workspace the session is bound to
_PENDING = "evalql.rls.pending"  # session.info: bound mid-transaction, not yet set in it
# session.info: the session runs each statement in its own transaction (autocommit, single
# reads: evalql/db/engine.py), so its binding is set for the connection, not a transaction.
EACH_STATEMENT = "evalql.rls.each_statement"
# A statement's execution option: it binds the session's workspace itself (the key lookup).
BINDS = "evalql_binds_workspace"

def _sync(session: Any) -> Session:
    return getattr(session, "sync_session", session)


def bind(session: Any, workspace_id: uuid.UUID) -> None:
    """Bind `session` (sync or async) to `workspace_id` for its transactions from now on.
    Binding another workspace later is a deliberate switch (the log pruner's)."""
    sync = _sync(session)
    if sync.info.get(_WORKSPACE) == workspace_id and not sync.info.get(_PENDING):
        return
    sync.info[_WORKSPACE] = workspace_id
    if sync.in_transaction():
        sync.info[_PENDING] = True


def set_workspace_column(workspace_id: Any, *, local: bool = True) -> Any:
    """A select-list column that binds the statement's transaction (`local`; else the
    connection, until it is bound again) to `workspace_id` (an expression): `SET_WORKSPACE` alone,
    or beside what a statement reads (the key lookup, then `bound_by_statement`)."""
    return func.set_config(SETTING, cast(workspace_id, Text), true() if local else false()).label("bound_workspace")


# {local: statement}: transaction-local, or the connection's (sessions of EACH_STATEMENT).
SET_WORKSPACE = {local: select(set_workspace_column(bindparam("workspace", type_=Text), local=local))
                 for local in (True, False)}


def each_statement(session: Any) -> bool:
    """Whether `session` runs each statement in its own transaction (on PostgreSQL, its
    bindings are then the connection's, `SET_WORKSPACE[False]`)."""
    return bool(_sync(session).info.get(EACH_STATEMENT))


def set_workspace(session: Any) -> Any:
    """The statement that binds `session`'s transaction, or its connection."""
    return SET_WORKSPACE[not each_statement(session)]


def check_bound(session: Any, statement: Any) -> None:
    """A session of EACH_STATEMENT runs nothing before it is bound but the statement that
    binds it: its connection still carries the binding of the request that used it last."""
    if not each_statement(session) or bound_workspace(session) is not None:
        return
    options = statement.get_execution_options() if hasattr(statement, "get_execution_options") else {}
    if not options.get(BINDS):
        raise RuntimeError("a single-read session's first statement must bind its workspace (the key lookup)")


def bound_by_statement(session: Any, workspace_id: uuid.UUID) -> None:
    """`session` is bound to `workspace_id`, and its open transaction already knows it (a
    statement with `set_workspace_column` just ran in it): nothing is left pending."""
    sync = _sync(session)
    sync.info[_WORKSPACE] = workspace_id
    sync.info.pop(_PENDING, None)


def bound_workspace(session: Any) -> uuid.UUID | None:
    return _sync(session).info.get(_WORKSPACE)


def pending(session: Any) -> dict[str, str] | None:
    """The parameters of `SET_WORKSPACE` if the session's open transaction still has to
    be told its workspace (and forgets that it has to); else None."""
    sync = _sync(session)
    if not sync.info.pop(_PENDING, False) or sync.bind is None or not is_postgresql(sync.bind):
        return None
    if not sync.in_transaction():  # ended since (commit, rollback): the next one begins bound
        return None
    return {"workspace": str(sync.info[_WORKSPACE])}


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, _transaction: Any, connection: Any) -> None:
    session.info.pop(_PENDING, None)
    workspace_id = session.info.get(_WORKSPACE)
    if workspace_id is not None and is_postgresql(connection):
        connection.execute(set_workspace(session), {"workspace": str(workspace_id)})


# Whether row-level security applies to the connected role on `runs` (PostgreSQL's own
# answer: false for a superuser, a role with BYPASSRLS, or the table's owner).
# (The table's name is a parameter: textual SQL may not name a tenant table, see tenancy_check.)
ROW_SECURITY_ACTIVE = text("SELECT row_security_active(CAST(:table AS text))").bindparams(table="runs")


async def row_security_active(conn: Any) -> bool:
    """On PostgreSQL, whether the policies bind the connected role; SQLite: False."""
    if not is_postgresql(conn):
        return False
    return bool((await conn.execute(ROW_SECURITY_ACTIVE)).scalar())


__all__ = ["BINDS", "EACH_STATEMENT", "SETTING", "bind", "bound_by_statement", "bound_workspace", "check_bound",
           "each_statement", "pending", "row_security_active", "set_workspace", "set_workspace_column"]
