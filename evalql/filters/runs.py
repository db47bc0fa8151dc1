"""Filter trees to SQL conditions over runs (spec §4.2–§4.4, §4.6).

Field names come only from the whitelist below, every literal is a bound parameter, and
every condition is two-valued (never NULL), so `not(...)` is always the complement.
`neq(f, v)` is `not(eq(f, v))`: a run whose `f` is null passes it; ordered comparisons
are false on null.

Key/value pairs (§4.4) are EXISTS over their entries: run metadata and example metadata
from their normalised entry tables, feedback from the run's run-level feedback rows,
inputs/outputs from a query-time walk of the JSON (`evalql.db.json_walk`).
Inside one `and(...)`, a positive key condition binds the pair's value (and score)
conditions of that same `and` to one entry.

The conditions are dialect-neutral: where SQLite and PostgreSQL differ, they hold named
constructs (`evalql.db.dialect`, `evalql.db.json_walk`) that render each database's SQL
when the statement compiles.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, false, not_, or_, select, true
from sqlalchemy.orm import aliased

from evalql.core.enums import RunType
from evalql.core.values import THREAD_KEYS, normalize
from evalql.db.dialect import JsonHasElement
from evalql.db.json_walk import json_walk
from evalql.db.models import ExampleMetadata, Feedback, Run, RunMetadata
from evalql.filters import literals as lit_
from evalql.filters.ast import And, Compare, Exists, Expr, Field, Has, In, Lit, Not, Or, Search
from evalql.filters.errors import FilterError
from evalql.filters.matching import canonical_number, contains_text
from evalql.filters.syntax import parse

RUN_TYPES = tuple(t.value for t in RunType)
STATUSES = ("success", "error", "pending")
ORDERED = ("eq", "neq", "gt", "gte", "lt", "lte")
EQUALITY = ("eq", "neq", "in")


@dataclass(frozen=True)
class Simple:
    """A run column: its coercion and the operators it takes."""

    column: str
    coerce: Callable[[Lit, str], Any]
    ops: tuple[str, ...]
    nullable: bool = False


SIMPLE: dict[str, Simple] = {
    **{f: Simple(f, lit_.as_uuid, EQUALITY, f in ("parent_run_id", "reference_example_id"))
       for f in ("id", "trace_id", "parent_run_id", "reference_example_id", "session_id")},
    "name": Simple("name", lit_.as_text, EQUALITY),
    "run_type": Simple("run_type", lambda lit, f: lit_.as_choice(lit, f, RUN_TYPES), EQUALITY),
    "status": Simple("status", lambda lit, f: lit_.as_choice(lit, f, STATUSES), EQUALITY),
    "error": Simple("error", lit_.as_text, ("eq", "neq"), True),
    "is_root": Simple("is_root", lit_.as_bool, ("eq", "neq")),
    **{f: Simple(f, lit_.as_timestamp, ORDERED, f != "start_time")
       for f in ("start_time", "end_time", "first_token_time")},
    "latency": Simple("latency", lit_.as_seconds, ORDERED, True),
    **{f: Simple(f, lit_.as_int32_operand, (*ORDERED, "in"))
       for f in ("total_tokens", "prompt_tokens", "completion_tokens")},
    **{f: Simple(f, lit_.as_decimal, (*ORDERED, "in"), True) for f in ("total_cost", "prompt_cost", "completion_cost")},
}
SEARCHABLE = ("name", "error")

# field name -> (pair, role)
PAIRS: dict[str, tuple[str, str]] = {
    "metadata_key": ("metadata", "key"), "metadata_value": ("metadata", "value"),
    "feedback_key": ("feedback", "key"), "feedback_score": ("feedback", "score"),
    "feedback_value": ("feedback", "value"),
    "input_key": ("input", "key"), "input_value": ("input", "value"),
    "output_key": ("output", "key"), "output_value": ("output", "value"),
    "example_metadata_key": ("example_metadata", "key"), "example_metadata_value": ("example_metadata", "value"),
}
OTHER_FIELDS = ("execution_order", "tags", "thread_id", "metadata", "inputs", "outputs")
RUN_FIELDS = (*SIMPLE, *OTHER_FIELDS, *PAIRS)


@dataclass
class Entries:
    """One correlated view of a pair's entries: FROM, correlation, key, value match, score."""

    source: Any
    where: list[ColumnElement[bool]]
    key: SQLColumnExpression[str]
    match: Callable[[list[str]], ColumnElement[bool]]
    score: SQLColumnExpression[float | None] | None = None
    correlate: Any = None
    text: ColumnElement[str] | None = None  # string values, for search (inputs/outputs)

    def exists(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        stmt = select(1).select_from(self.source).where(*self.where, *conditions)
        return exists(stmt.correlate(self.correlate))


def _texts_in(column: SQLColumnExpression[Any], texts: list[str]) -> ColumnElement[bool]:
    return column.in_(texts) if texts else false()


def feedback_labels(text: str) -> list[str]:
    """The §3.1 labels (strings as-is, numbers and booleans as JSON text) whose string form
    is `text`: the float 1.0 is labelled "1.0" but its string form is "1"."""
    labels = [text]
    number = canonical_number(text)
    if number is not None and float(number).is_integer() and abs(number) < 2**53:
        labels.append(orjson.dumps(float(number)).decode())
    return labels


class RunFilter:
    """Compiles trees over `run` (the `Run` entity or an alias of it)."""

    def __init__(self, run: Any = Run, prefix: str = "f") -> None:
        self.run, self.prefix = run, prefix
        self._names = itertools.count(1)

    def name(self, what: str) -> str:
        return f"{self.prefix}_{what}_{next(self._names)}"

    # -- logical -----------------------------------------------------------------------

    def compile(self, expr: Expr) -> ColumnElement[bool]:
        if isinstance(expr, And):
            return self.conjunction(expr.items)
        if isinstance(expr, Or):
            return or_(*[self.compile(i) for i in expr.items])
        if isinstance(expr, Not):
            return not_(self.compile(expr.item))
        paired = self.pair_of(expr)
        if paired is not None:
            return self.lone(*paired)
        if isinstance(expr, (Compare, In)):
            return self.comparison(expr)
        if isinstance(expr, Has):
            return self.has(expr)
        if isinstance(expr, Search):
            return self.search(expr)
        if isinstance(expr, Exists):
            return self.exists(expr)
        raise TypeError(expr)

    def conjunction(self, items: Sequence[Expr]) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        by_pair: dict[str, list[Compare | In]] = {}
        for item in items:
            paired = self.pair_of(item)
            if paired is None:
                parts.append(self.compile(item))
            else:
                by_pair.setdefault(paired[0], []).append(paired[1])
        for pair, conditions in by_pair.items():
            keys = [c for c in conditions if PAIRS[c.field.name][1] == "key" and _positive(c)]
            if not keys:
                parts += [self.lone(pair, c) for c in conditions]
                continue
            bound = [c for c in conditions if c in keys or PAIRS[c.field.name][1] != "key"]
            entries = self.entries(pair)
            parts.append(entries.exists(*[self.entry_condition(entries, c) for c in bound]))
            parts += [self.lone(pair, c) for c in conditions if not any(c is b for b in bound)]
        return and_(*parts) if parts else true()

    # -- key/value pairs (§4.4) ----------------------------------------------------------

    def pair_of(self, expr: Expr) -> tuple[str, Compare | In] | None:
        """(pair, the condition) when `expr` tests a key/value pair's field, else None."""
        field = getattr(expr, "field", None)
        if field is None or field.name not in PAIRS:
            return None
        self.plain(field)
        if not isinstance(expr, (Compare, In)):
            raise FilterError(f"{_op(expr)}() is not allowed on field '{field.name}'", expr.offset)
        role = PAIRS[field.name][1]
        allowed = (*ORDERED, "in") if role == "score" else EQUALITY
        if _op(expr) not in allowed:
            raise FilterError(f"{_op(expr)}() is not allowed on field '{field.name}'", expr.offset)
        return PAIRS[field.name][0], expr

    def lone(self, pair: str, c: Compare | In) -> ColumnElement[bool]:
        """Outside a binding: an existence test over all entries (`neq`: no entry has it)."""
        entries = self.entries(pair)
        if isinstance(c, Compare) and c.op == "neq":
            return not_(entries.exists(self.entry_condition(entries, Compare("eq", c.field, c.value, c.offset))))
        return entries.exists(self.entry_condition(entries, c))

    def entry_condition(self, entries: Entries, c: Compare | In) -> ColumnElement[bool]:
        role = PAIRS[c.field.name][1]
        name = c.field.name
        if role == "score":
            assert entries.score is not None
            score = entries.score
            if isinstance(c, In):
                return and_(score.is_not(None), score.in_([lit_.as_number(v, name) for v in c.values]) if c.values
                            else false())
            value = lit_.as_number(c.value, name)
            if c.op == "neq":
                return not_(and_(score.is_not(None), score == value))
            return and_(score.is_not(None), _ordered(score, c.op, value))
        if role == "key":
            texts = [lit_.as_text(v, name) for v in (c.values if isinstance(c, In) else (c.value,))]
            condition = _texts_in(entries.key, texts)
        else:
            texts = [normalize(v.value).text for v in (c.values if isinstance(c, In) else (c.value,))]
            condition = entries.match(texts)
        return not_(condition) if isinstance(c, Compare) and c.op == "neq" else condition

    def entries(self, pair: str) -> Entries:
        run = self.run
        if pair == "metadata":
            md = aliased(RunMetadata, name=self.name("md"))
            return Entries(md, [md.workspace_id == run.workspace_id, md.run_id == run.id], md.key,
                           lambda texts: _texts_in(md.value, texts), correlate=run)
        if pair == "example_metadata":
            em = aliased(ExampleMetadata, name=self.name("em"))
            return Entries(em, [em.workspace_id == run.workspace_id, em.example_id == run.reference_example_id],
                           em.key, lambda texts: _texts_in(em.value, texts), correlate=run)
        if pair == "feedback":
            fb = aliased(Feedback, name=self.name("fb"))
            return Entries(fb, [fb.workspace_id == run.workspace_id, fb.run_id == run.id], fb.key,
                           lambda texts: _texts_in(fb.value_label, [t for x in texts for t in feedback_labels(x)]),
                           score=fb.score, correlate=run)
        column = run.inputs if pair == "input" else run.outputs
        walk = json_walk(column, run, self.name("walk"))
        return Entries(walk.cte, [walk.leaf()], walk.path,
                       lambda texts: or_(*[walk.equals(t, canonical_number(t)) for t in texts]) if texts else false(),
                       correlate=run, text=walk.string_value())

    # -- plain fields --------------------------------------------------------------------

    def plain(self, field: Field) -> None:
        if len(field.path) > 1:
            raise FilterError(f"unknown field '{'.'.join(field.path)}'", field.offset)
        if field.name not in RUN_FIELDS:
            raise FilterError(f"unknown field '{field.name}'", field.offset)

    def comparison(self, c: Compare | In) -> ColumnElement[bool]:
        field = c.field
        self.plain(field)
        op = _op(c)
        if field.name == "execution_order":
            if op not in (*ORDERED, "in"):
                raise FilterError(f"{op}() is not allowed on field 'execution_order'", c.offset)
            if isinstance(c, In):
                return true() if 1 in [lit_.as_number(v, field.name) for v in c.values] else false()
            return true() if _python_ordered(1, op, lit_.as_number(c.value, field.name)) else false()
        if field.name == "thread_id":
            if op not in EQUALITY:
                raise FilterError(f"{op}() is not allowed on field 'thread_id'", c.offset)
            texts = [lit_.as_text(v, field.name) for v in (c.values if isinstance(c, In) else (c.value,))]
            found = self.thread_in(texts)
            return not_(found) if op == "neq" else found
        spec = SIMPLE.get(field.name)
        if spec is None or op not in spec.ops:
            raise FilterError(f"{op}() is not allowed on field '{field.name}'", c.offset)
        column = getattr(self.run, spec.column)
        if isinstance(c, In):
            values = [spec.coerce(v, field.name) for v in c.values]
            return and_(column.is_not(None), column.in_(values)) if values else false()
        if c.value.value is None:
            if op not in ("eq", "neq"):
                raise FilterError(f"{op}() cannot compare '{field.name}' with null", c.value.offset)
            return column.is_(None) if op == "eq" else column.is_not(None)
        value = spec.coerce(c.value, field.name)
        if op == "neq":
            equal = column == value
            return not_(and_(column.is_not(None), equal)) if spec.nullable else column != value
        condition = _ordered(column, op, value)
        return and_(column.is_not(None), condition) if spec.nullable else condition

    def thread_in(self, texts: list[str]) -> ColumnElement[bool]:
        """`extra.metadata.thread_id`, `…session_id` or `…conversation_id`: the first one present
        with a non-null value is the run's thread id."""
        options = []
        for i, key in enumerate(THREAD_KEYS):
            earlier = [self.metadata_has(k) for k in THREAD_KEYS[:i]]
            entries = self.entries("metadata")
            options.append(and_(*[not_(e) for e in earlier],
                                entries.exists(entries.key == key, _texts_in(entries.source.value, texts))))
        return or_(*options)

    def metadata_has(self, key: str) -> ColumnElement[bool]:
        entries = self.entries("metadata")
        return entries.exists(entries.key == key, entries.source.kind != "null")

    def has(self, c: Has) -> ColumnElement[bool]:
        self.plain(c.field)
        if c.field.name != "tags":
            raise FilterError(f"has() is not allowed on field '{c.field.name}'", c.offset)
        return JsonHasElement(self.run.tags, lit_.as_text(c.value, "tags"))

    def search(self, c: Search) -> ColumnElement[bool]:
        needle = lit_.as_text(c.value, "search")
        if c.field is not None:
            self.plain(c.field)
            if c.field.name not in SEARCHABLE:
                raise FilterError(f"search() is not allowed on field '{c.field.name}'", c.offset)
            return contains_text(getattr(self.run, c.field.name), needle)
        parts = [contains_text(self.run.name, needle), contains_text(self.run.error, needle)]
        for pair in ("input", "output"):
            entries = self.entries(pair)
            assert entries.text is not None
            parts.append(entries.exists(or_(contains_text(entries.key, needle), contains_text(entries.text, needle))))
        return or_(*parts)

    def exists(self, c: Exists) -> ColumnElement[bool]:
        self.plain(c.field)
        key = lit_.as_text(c.key, "exists")
        if c.field.name == "metadata":
            entries = self.entries("metadata")
            return entries.exists(entries.key == key)
        if c.field.name in ("inputs", "outputs"):
            entries = self.entries("input" if c.field.name == "inputs" else "output")
            return entries.exists(or_(entries.key == key, entries.key.startswith(key + ".", autoescape=True)))
        raise FilterError(f"exists() is not allowed on field '{c.field.name}'", c.offset)


def _positive(c: Compare | In) -> bool:
    return isinstance(c, In) or c.op == "eq"


def _op(expr: Expr) -> str:
    if isinstance(expr, Compare):
        return expr.op
    return {In: "in", Has: "has", Search: "search", Exists: "exists"}.get(type(expr), "?")


def _ordered(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    return getattr(operator, op if op in ("gt", "lt") else {"eq": "eq", "neq": "ne", "gte": "ge", "lte": "le"}[op])(
        column, value)


def _python_ordered(left: Any, op: str, right: Any) -> bool:
    return bool(_ordered(left, op, right))


# -- entry points ---------------------------------------------------------------------------

def run_condition(text_or_tree: str | Expr, *, run: Any = Run, prefix: str = "f") -> ColumnElement[bool]:
    """The SQL condition on `run` of a filter string (or tree); `FilterError` if invalid.
    Dialect-neutral: it becomes SQLite's or PostgreSQL's SQL when its statement compiles."""
    tree = parse(text_or_tree) if isinstance(text_or_tree, str) else text_or_tree
    return RunFilter(run, prefix).compile(tree)


def validate_run_filter(text: str) -> Expr:
    """Parse and check `text` against the run fields without a database (validateFilter).

    Every `FilterError` is raised while the tree is turned into its (dialect-neutral)
    expression, so building that expression and dropping it is the whole check; nothing
    is compiled to SQL."""
    tree = parse(text)
    RunFilter().compile(tree)
    return tree


def trace_condition(text_or_tree: str | Expr, scope: str, *, run: Any = Run,
                    prefix: str = "t") -> ColumnElement[bool]:
    """Spec §4.6 scopes of a run query: `trace_filter` must hold for the root run of the
    candidate's trace, `tree_filter` for at least one run of it."""
    if scope not in ("trace", "tree"):
        raise ValueError(scope)
    other = aliased(Run, name=f"{prefix}_{scope}_run")
    condition = run_condition(text_or_tree, run=other, prefix=f"{prefix}_{scope}")
    where = [other.workspace_id == run.workspace_id, other.trace_id == run.trace_id, condition]
    if scope == "trace":
        where.append(other.is_root.is_(True))
    return exists(select(1).select_from(other).where(*where).correlate(run))
