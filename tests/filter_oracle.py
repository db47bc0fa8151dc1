"""A plain-Python evaluator of the run filter language (spec §4.2–§4.4, §4.6), written from
the spec and independent of evalql (it never imports it): the SQL compiler and this
evaluator can only agree by both being right.

Filters are parsed with `tests.oracle.parse_filter` (its own tokenizer), and evaluated
over `tests.oracle.Records` with `tests.oracle.Derived` for the derived run values.

Conventions evalql documents and this oracle follows:
- `neq(f, v)` is `not(eq(f, v))`; ordered comparisons are false on null.
- `search` is case-insensitive for ASCII letters, over the name, the error, and the keys
  (flattened paths) and string values of inputs and outputs.
- `feedback_value` compares the string form of string, number and boolean values.
- `thread_id` is the first non-null of metadata thread_id, session_id, conversation_id.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from decimal import Decimal
from typing import Any

from tests.oracle import Derived, Records, as_dt, parse_filter, stored_example_metadata

PAIRS = {
    "metadata_key": ("metadata", "key"), "metadata_value": ("metadata", "value"),
    "feedback_key": ("feedback", "key"), "feedback_score": ("feedback", "score"),
    "feedback_value": ("feedback", "value"),
    "input_key": ("input", "key"), "input_value": ("input", "value"),
    "output_key": ("output", "key"), "output_value": ("output", "value"),
    "example_metadata_key": ("example_metadata", "key"), "example_metadata_value": ("example_metadata", "value"),
}
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def string_form(value: Any) -> str:
    """§4.3: strings as themselves, true/false/null, numbers as JSON text (integral floats
    as integers), objects and arrays as canonical JSON."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def flatten(obj: Any) -> list[tuple[str, Any]]:
    """Leaves (scalars and empty containers) of an object: keys joined with '.', list
    elements under their parent's key."""
    out: list[tuple[str, Any]] = []

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{path}.{k}", v)
        elif isinstance(value, list) and value:
            for v in value:
                walk(path, v)
        else:
            out.append((path, value))

    if isinstance(obj, dict):
        for k, v in obj.items():
            walk(k, v)
    return out


def fold(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


class FilterOracle:
    def __init__(self, records: Records) -> None:
        self.records = records
        self.d = Derived(records)
        self.examples = {uuid.UUID(str(e["id"])): e for e in records.examples}
        self.feedback: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for fb in records.feedback:
            target = fb.get("run_id") or fb.get("trace_id")
            if target is not None:
                self.feedback.setdefault(uuid.UUID(str(target)), []).append(fb)

    def select(self, text: str, run_ids: list[uuid.UUID] | None = None) -> set[uuid.UUID]:
        tree = parse_filter(text)
        return {rid for rid in (run_ids or list(self.d.runs)) if self.holds(tree, rid)}

    def select_scoped(self, text: str, scope: str) -> set[uuid.UUID]:
        """§4.6: trace → the root of the run's trace satisfies it; tree → some run of its trace."""
        tree = parse_filter(text)
        out = set()
        for rid in self.d.runs:
            root = self.d.root(rid)
            trace = [x for x in self.d.runs if self.d.root(x) == root]
            if scope == "trace" and self.holds(tree, root) or scope == "tree" and any(self.holds(tree, x) for x in trace):
                out.add(rid)
        return out

    # -- evaluation --------------------------------------------------------------------

    def holds(self, tree: Any, rid: uuid.UUID) -> bool:
        _, fn, args = tree
        if fn == "and":
            return self.conjunction(args, rid)
        if fn == "or":
            return any(self.holds(a, rid) for a in args)
        if fn == "not":
            return not self.holds(args[0], rid)
        if fn in ("eq", "neq", "in", "gt", "gte", "lt", "lte") and args[0][1] in PAIRS:
            return self.lone(tree, rid)
        return self.plain(fn, args, rid)

    def conjunction(self, args: list[Any], rid: uuid.UUID) -> bool:
        pairs: dict[str, list[Any]] = {}
        for a in args:
            if a[0] == "call" and a[1] not in ("and", "or", "not") and a[2][0][0] == "field" and a[2][0][1] in PAIRS:
                pairs.setdefault(PAIRS[a[2][0][1]][0], []).append(a)
            elif not self.holds(a, rid):
                return False
        for pair, conds in pairs.items():
            keys = [c for c in conds if PAIRS[c[2][0][1]][1] == "key" and c[1] in ("eq", "in")]
            if keys:
                bound = [c for c in conds if c in keys or PAIRS[c[2][0][1]][1] != "key"]
                if not any(all(self.entry_holds(pair, e, c) for c in bound) for e in self.entries(pair, rid)):
                    return False
                rest = [c for c in conds if not any(c is b for b in bound)]
            else:
                rest = conds
            if not all(self.lone(c, rid) for c in rest):
                return False
        return True

    def lone(self, cond: Any, rid: uuid.UUID) -> bool:
        _, fn, args = cond
        pair = PAIRS[args[0][1]][0]
        if fn == "neq":
            return not any(self.entry_holds(pair, e, ("call", "eq", args)) for e in self.entries(pair, rid))
        return any(self.entry_holds(pair, e, cond) for e in self.entries(pair, rid))

    def entries(self, pair: str, rid: uuid.UUID) -> list[dict[str, Any]]:
        r = self.d.runs[rid]
        if pair == "metadata":
            return [{"key": k, "value": v} for k, v in ((r.get("extra") or {}).get("metadata") or {}).items()]
        if pair == "example_metadata":
            ex = r.get("reference_example_id")
            example = self.examples.get(uuid.UUID(str(ex))) if ex else None
            return [] if example is None else [{"key": k, "value": v}
                                               for k, v in stored_example_metadata(example).items()]
        if pair == "feedback":
            return [{"key": f["key"], "score": _score(f.get("score")), "value": f.get("value"), "feedback": True}
                    for f in self.feedback.get(rid, [])]
        source = r.get("inputs") if pair == "input" else r.get("outputs")
        return [{"key": k, "value": v} for k, v in flatten(source)]

    def entry_holds(self, pair: str, entry: dict[str, Any], cond: Any) -> bool:
        _, fn, args = cond
        role = PAIRS[args[0][1]][1]
        lits = args[1][1] if fn == "in" else [args[1][1]]
        if role == "key":
            hit = entry["key"] in [string_form(v) for v in lits]
            return not hit if fn == "neq" else hit
        if role == "score":
            score = entry["score"]
            if fn == "neq":
                return not (score is not None and score == lits[0])
            if score is None:
                return False
            return any(_compare(score, "eq" if fn == "in" else fn, v) for v in lits)
        value = entry["value"]
        if entry.get("feedback") and (value is None or isinstance(value, (dict, list))):
            hit = False
        else:
            hit = string_form(value) in [string_form(v) for v in lits]
        return not hit if fn == "neq" else hit

    def plain(self, fn: str, args: list[Any], rid: uuid.UUID) -> bool:
        r = self.d.runs[rid]
        if fn == "search":
            if len(args) == 1:
                needle = fold(string_form(args[0][1]))
                texts = [r.get("name"), r.get("error")]
                for source in (r.get("inputs"), r.get("outputs")):
                    for k, v in flatten(source):
                        texts += [k, v if isinstance(v, str) else None]
            else:
                needle, texts = fold(string_form(args[1][1])), [r.get(args[0][1])]
            return any(t is not None and needle in fold(t) for t in texts)
        name = args[0][1]
        if fn == "has":
            return args[1][1] in (r.get("tags") or [])
        if fn == "exists":
            key = args[1][1]
            if name == "metadata":
                return key in ((r.get("extra") or {}).get("metadata") or {})
            source = r.get("inputs") if name == "inputs" else r.get("outputs")
            return any(k == key or k.startswith(key + ".") for k, _ in flatten(source))
        value, coerce = self.field(name, rid)
        lits = [coerce(v) for v in (args[1][1] if fn == "in" else [args[1][1]])]
        if fn == "in":
            return value is not None and value in lits
        if fn in ("eq", "neq") and lits[0] is None:
            return (value is None) == (fn == "eq")
        if fn == "eq":
            return value is not None and value == lits[0]
        if fn == "neq":
            return not (value is not None and value == lits[0])
        return value is not None and _compare(value, fn, lits[0])

    def field(self, name: str, rid: uuid.UUID) -> tuple[Any, Any]:
        d, r = self.d, self.d.runs[rid]
        same = lambda v: v  # noqa: E731
        if name in ("id", "trace_id", "parent_run_id", "reference_example_id", "session_id"):
            raw = {"id": rid, "trace_id": d.root(rid)}.get(name, r.get(name))
            return (None if raw is None else uuid.UUID(str(raw))), (lambda v: None if v is None else uuid.UUID(v))
        if name in ("name", "run_type", "error"):
            return r.get(name), (lambda v: None if v is None else string_form(v))
        if name == "status":
            return d.status(rid), same
        if name == "is_root":
            return not r.get("parent_run_id"), same
        if name in ("start_time", "end_time", "first_token_time"):
            value = {"start_time": d.start(rid), "end_time": d.end(rid), "first_token_time": d.first_token(rid)}[name]
            return value, (lambda v: None if v is None else as_dt(v))
        if name == "latency":
            return d.latency(rid), _seconds
        if name in ("total_tokens", "prompt_tokens", "completion_tokens"):
            return d.usage(rid)[name], same
        if name in ("total_cost", "prompt_cost", "completion_cost"):
            return d.usage(rid)[name], (lambda v: None if v is None else Decimal(str(v)))
        if name == "execution_order":
            return 1, same
        if name == "thread_id":
            md = (r.get("extra") or {}).get("metadata") or {}
            found = next((md[k] for k in ("thread_id", "session_id", "conversation_id") if md.get(k) is not None), None)
            return (None if found is None else string_form(found)), (lambda v: string_form(v))
        raise KeyError(name)


def _score(score: Any) -> float | None:
    if score is None:
        return None
    return float(score)


def _seconds(v: Any) -> float | None:
    if v is None or isinstance(v, (int, float)):
        return v
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)(ms|s|m|h)", v)
    return float(m.group(1)) * UNITS[m.group(2)]


def _compare(a: Any, fn: str, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and fn == "eq":
        return math.isclose(a, b, rel_tol=0, abs_tol=0)
    return {"eq": a == b, "gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[fn]


__all__ = ["FilterOracle", "flatten", "string_form", "dt"]
