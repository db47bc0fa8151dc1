"""A check that every statement touching a tenant table stays in one workspace.

The builders of evalql/db/tenant.py make scoping structural; this check makes a
statement that bypasses them fail loudly. It runs on the Core/ORM statement before
SQLAlchemy compiles it (`before_execute`), so it sees structure, not SQL text.

The rule, per query level (a SELECT, or an UPDATE/DELETE target), for each tenant
table in its FROM list (tables and their aliases; see `TENANT_TABLES`):

* it is scoped when a top-level AND term of its WHERE, or of the ON clause of a join
  that constrains it, is `<it>.workspace_id = <bound value>`;
* or when such a term is `<it>.workspace_id = <other>.workspace_id` and <other> is
  scoped: a joined table, a table of an enclosing query it is correlated to, or a
  subquery/CTE (whose own levels pass the check, so its rows are the tenant's);
* or when such a term is constant false (SQLAlchemy folds `x AND false()`, the
  filter of an empty IN list, to `false`): no row of any workspace is read.

A LEFT JOIN's ON clause constrains only its right side; a condition under OR constrains
nothing. Subqueries in FROM, WHERE, the columns, ORDER BY … are checked as their own
levels. INSERT … SELECT checks its SELECT; a plain INSERT's rows carry workspace_id
(a NOT NULL key column), set by `owned_rows`/`owned`. Exempt: non-tenant tables
(workspaces, api_keys, alembic_version), scratch tables (per-connection TEMPORARY
tables filled by a checked INSERT … SELECT), DDL, and statements run with the
`ALL_WORKSPACES` execution option (migrations; tests inspecting the whole database).
Textual SQL cannot be checked, so it may not name a tenant table at all.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ClauseElement, operators
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import (
    AsBoolean,
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ColumnClause,
    ColumnElement,
    False_,
    Grouping,
    TextClause,
)
from sqlalchemy.sql.selectable import Alias, CompoundSelect, FromClause, Join, Select, TableClause

from evalql.db.models import TENANT_MODELS

TENANT_TABLES = frozenset(model.__table__.name for model in TENANT_MODELS)  # type: ignore[attr-defined]
ALL_WORKSPACES = "evalql_all_workspaces"  # execution option: this statement deliberately spans workspaces

# Called with each violation before it is raised, so a test can fail on one that
# application code caught and swallowed (tests/conftest.py).
observers: list[Callable[[UnscopedStatement], None]] = []


class UnscopedStatement(Exception):
    """A statement reads or writes a tenant table without confining it to one workspace."""


def check(statement: Any) -> None:
    """Raise `UnscopedStatement` unless every tenant table in `statement` is scoped."""
    missing = unscoped_tables(statement)
    if missing:
        error = UnscopedStatement(f"tenant table(s) {', '.join(missing)} not scoped to a workspace in: {statement}")
        for observer in list(observers):
            observer(error)
        raise error


def unscoped_tables(statement: Any) -> list[str]:
    """The tenant tables of `statement` that no workspace condition confines (empty: it passes)."""
    checker = _Checker()
    if isinstance(statement, (Select, CompoundSelect)):
        checker.query(statement, {})
    elif isinstance(statement, (Update, Delete)):
        values = list((getattr(statement, "_values", None) or {}).values())  # UPDATE … SET x = (SELECT …)
        froms = [statement.table, *_from_objects(statement._where_criteria)]  # and UPDATE … FROM / DELETE … USING
        checker.level(froms, (), statement.whereclause, [statement.whereclause, *values], {})
    elif isinstance(statement, Insert) and statement.select is not None:
        checker.query(statement.select, {})
    elif isinstance(statement, TextClause):
        words = set(re.findall(r"[a-z_][a-z0-9_]*", statement.text.lower()))
        checker.missing += [f"{name} (named in textual SQL)" for name in sorted(words & TENANT_TABLES)]
    return list(dict.fromkeys(checker.missing))  # a subquery reached twice reports once


def install(target: Any) -> None:
    """Check every statement `target` executes: an (Async)Engine, or the `Engine` class
    for every engine of the process. Idempotent."""
    target = getattr(target, "sync_engine", target)
    if not event.contains(target, "before_execute", _before_execute):
        event.listen(target, "before_execute", _before_execute)


def installed(engine: Any) -> bool:
    """Whether statements of `engine` are checked (installed on it or on every engine)."""
    engine = getattr(engine, "sync_engine", engine)
    return any(event.contains(target, "before_execute", _before_execute) for target in (engine, Engine))


def _before_execute(conn: Any, clauseelement: Any, multiparams: Any, params: Any, execution_options: Any) -> None:
    if not execution_options.get(ALL_WORKSPACES):
        check(clauseelement)


Env = dict[Any, bool]  # query levels enclosing this one: their FROM entries -> scoped?


def _key(element: Any) -> Any:
    """The plain element behind an ORM-annotated copy, so that a FROM entry and the
    `.table` of a column naming it compare equal."""
    return element._deannotate() if isinstance(element, ClauseElement) else element


def _tenant_table(leaf: FromClause) -> str | None:
    """The tenant table `leaf` reads (itself or aliased), if any. Scratch tables are
    TEMPORARY and never share a tenant table's name."""
    table = leaf.element if isinstance(leaf, Alias) else leaf
    if isinstance(table, TableClause) and table.name in TENANT_TABLES:
        return table.name
    return None


def _derived_body(leaf: FromClause) -> Any:
    """The query behind a subquery, CTE or aliased SELECT in FROM."""
    body = getattr(leaf, "element", None)
    return body if isinstance(body, (Select, CompoundSelect)) else None


def _conjuncts(clause: Any) -> Iterator[Any]:
    """The top-level AND terms of a condition (terms under OR constrain nothing)."""
    if clause is None:
        return
    if isinstance(clause, Grouping):
        yield from _conjuncts(clause.element)
    elif isinstance(clause, BooleanClauseList) and clause.operator is operator.and_:
        for part in clause.clauses:
            yield from _conjuncts(part)
    else:
        yield clause


def _is_false(term: Any) -> bool:
    """Constant false (as a WHERE, SQLAlchemy wraps it: `AsBoolean(false, is_true)`)."""
    if isinstance(term, AsBoolean) and term.operator is operators.is_true:
        term = term.element
    return isinstance(term, False_)


def _workspace_column_of(element: Any) -> Any:
    """The FROM entry whose `workspace_id` column `element` is, else None."""
    if isinstance(element, ColumnClause) and element.name == "workspace_id" and element.table is not None:
        return _key(element.table)
    return None


def _from_objects(elements: Iterable[Any]) -> list[Any]:
    return [entry for element in elements for entry in element._from_objects]


def _nested_queries(element: Any) -> list[Any]:
    """SELECTs nested in an expression (EXISTS, IN, scalar subqueries), not descending
    into them nor into FROM entries (their own levels check those). A loop, not
    recursion: this walk is most of the check's cost."""
    found, stack = [], list(element.get_children())
    while stack:
        child = stack.pop()
        if isinstance(child, (Select, CompoundSelect)):
            found.append(child)
        elif isinstance(child, (ColumnClause, BindParameter)):  # no expression below (a column's table is a FROM)
            continue
        elif isinstance(child, ColumnElement) or not isinstance(child, FromClause):  # func.f(…) is both
            stack.extend(child.get_children())
    return found[::-1]


class _Checker:
    def __init__(self) -> None:
        self.missing: list[str] = []
        self.seen_derived: set[Any] = set()  # a CTE is checked once (and a recursive one ends)

    def query(self, query: Any, env: Env) -> None:
        if isinstance(query, CompoundSelect):
            for part in query.selects:
                self.query(part, env)
            return
        # The FROM list as SQLAlchemy derives it: select_from(), the tables of the columns
        # and of the WHERE, and .join() targets. (`get_final_froms()` says the same but
        # compiles the statement to do it, which would make the check cost more than
        # the statement's own compilation.)
        froms = [*query._from_obj, *_from_objects(query._raw_columns), *_from_objects(query._where_criteria)]
        joins = [(target, onclause, flags) for target, onclause, _, flags in query._setup_joins]
        self.level(froms, joins, query.whereclause, [query], env)

    def level(self, froms: Iterable[FromClause], joins: Iterable[Any], where: Any, expressions: list[Any],
              env: Env) -> None:
        leaves: dict[Any, Any] = {}  # key -> FROM entry, each once
        conditions: list[tuple[Any, frozenset[Any] | None]] = []  # (term, entries it constrains; None: all)
        for entry in froms:
            self._flatten(entry, leaves, conditions, expressions)
        for target, onclause, flags in joins:  # `.join()`: each joins the FROM list built so far
            joined = self._flatten(target, leaves, conditions, expressions)
            constrained = frozenset() if flags.get("full") else joined if flags.get("isouter") else None
            conditions += [(term, constrained) for term in _conjuncts(onclause)]
        own = [leaf for key, leaf in leaves.items() if key not in env]  # the rest is correlated to an enclosing level
        scoped = {key for key, ok in env.items() if ok}
        for leaf in own:
            body = _derived_body(leaf)
            if body is not None:
                if _key(leaf) not in self.seen_derived:
                    self.seen_derived.add(_key(leaf))
                    self.query(body, env)
                scoped.add(_key(leaf))  # violations inside it are reported already
        own_keys = frozenset(_key(leaf) for leaf in own)
        conditions += [(term, None) for term in _conjuncts(where)]
        self._propagate(conditions, own_keys, scoped)
        self.missing += [name for leaf in own if (name := _tenant_table(leaf)) and _key(leaf) not in scoped]
        inner = {**env, **{key: key in scoped for key in own_keys}}
        for expression in expressions:
            if not isinstance(expression, ClauseElement):
                continue
            for nested in _nested_queries(expression):
                self.query(nested, inner)

    def _flatten(self, entry: Any, leaves: dict[Any, Any], conditions: list[Any], expressions: list[Any]) -> frozenset:
        """Joins into their FROM entries; each ON term constrains the right side, and the
        left side too unless the join is outer."""
        if not isinstance(entry, Join):
            leaves.setdefault(_key(entry), entry)
            return frozenset({_key(entry)})
        left = self._flatten(entry.left, leaves, conditions, expressions)
        right = self._flatten(entry.right, leaves, conditions, expressions)
        constrained = frozenset() if entry.full else right if entry.isouter else left | right
        conditions += [(term, constrained) for term in _conjuncts(entry.onclause)]
        expressions.append(entry.onclause)
        return left | right

    @staticmethod
    def _propagate(conditions: list[Any], own: frozenset[Any], scoped: set[Any]) -> None:
        """Scope spreads from bound workspace conditions along workspace_id equalities."""
        changed = True
        while changed:
            changed = False
            for term, constrained in conditions:
                allowed = own if constrained is None else constrained & own
                if _is_false(term):  # `x AND false()` folds to false: no row of any workspace
                    changed |= not allowed <= scoped
                    scoped |= allowed
                    continue
                if not (isinstance(term, BinaryExpression) and term.operator is operator.eq):
                    continue
                sides = [(term.left, term.right), (term.right, term.left)]
                for side, other in sides:
                    target = _workspace_column_of(side)
                    if target is None or target not in allowed or target in scoped:
                        continue
                    source = _workspace_column_of(other)
                    if isinstance(other, BindParameter) or (source is not None and source in scoped):
                        scoped.add(target)
                        changed = True
