"""A plain-Python evaluator of example filters (spec §4.5, §4.4 binding), written from the
spec and independent of evalql (it never imports it): the SQL compiler of
evalql.filters.examples and this evaluator can only agree by both being right.

It has its own small parser (well-formed strings only; it does not validate).
Conventions (documented in evalql/filters/examples.py and followed here):
- `neq(f, v)` is `not(eq(f, v))`; `eq(f, null)` is "absent or null".
- `metadata.<k>`: equality/`in` by §4.3 string form; ordered comparisons numeric for a
  number literal against numeric values, code-point order for a string literal against
  string values, false otherwise.
- `has(metadata, '<object>')`: every key present with an equal string form.
- `inputs.<path>`/`outputs.<path>`: nodes are addressed like `input_key` (keys joined with
  '.', list elements share their parent's path); `eq` matches leaves (scalars, empty
  containers) by string form; `eq(…, null)` holds when no node at the path is non-null;
  `search` looks at string values at or below the path, ASCII case-insensitive.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

PAIRS = {"metadata_key": "key", "metadata_value": "value"}

_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
                    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<p>[(),.\[\]]))""")


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            if nxt == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        out.append(body[i])
        i += 1
    return "".join(out)


def tokens(text: str) -> list[tuple[str, Any]]:
    out, pos, text = [], 0, text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, text[pos:]
        pos = m.end()
        if m.group("num"):
            raw = m.group("num")
            out.append(("lit", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif m.group("str"):
            out.append(("str", _unescape(m.group("str")[1:-1])))
        elif m.group("name"):
            word = m.group("name")
            out.append(("lit", {"true": True, "false": False, "null": None}[word])
                       if word in ("true", "false", "null") else ("name", word))
        else:
            out.append(("p", m.group("p")))
    return out


def parse(text: str) -> Any:
    """("call", fn, args) | ("field", (segments…)) | ("lit", value) | ("list", [values])."""
    toks = tokens(text)
    pos = 0

    def peek(kind: str, value: Any = None) -> bool:
        return pos < len(toks) and toks[pos][0] == kind and (value is None or toks[pos][1] == value)

    def expr() -> Any:
        nonlocal pos
        kind, val = toks[pos]
        pos += 1
        if kind in ("lit", "str"):
            return ("lit", val)
        if kind == "p" and val == "[":
            items = []
            while not peek("p", "]"):
                items.append(expr()[1])
                if peek("p", ","):
                    pos += 1
            pos += 1
            return ("list", items)
        if peek("p", "("):
            pos += 1
            args = []
            while not peek("p", ")"):
                args.append(expr())
                if peek("p", ","):
                    pos += 1
            pos += 1
            return ("call", val, args)
        path = [val]
        while peek("p", "."):
            pos += 1
            path.append(toks[pos][1])
            pos += 1
        return ("field", tuple(path))

    tree = expr()
    assert pos == len(toks), text
    return tree


def string_form(value: Any) -> str:
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


def nodes(doc: Any) -> list[tuple[str, Any]]:
    """Every node below the top object, with its path (list elements share the parent's)."""
    out: list[tuple[str, Any]] = []

    def walk(path: str, value: Any) -> None:
        out.append((path, value))
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{path}.{k}", v)
        elif isinstance(value, list):
            for v in value:
                walk(path, v)

    if isinstance(doc, dict):
        for k, v in doc.items():
            walk(k, v)
    return out


def is_leaf(value: Any) -> bool:
    return not isinstance(value, (dict, list)) or not value


def fold(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def as_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def stored_metadata(e: dict[str, Any]) -> dict[str, Any]:
    md = dict(e.get("metadata") or {})
    if "split" in e or "dataset_split" not in md:
        split = e.get("split")
        md["dataset_split"] = ["base"] if split is None else ([split] if isinstance(split, str) else list(split))
    return md


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cmp(a: Any, fn: str, b: Any) -> bool:
    return {"eq": a == b, "gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[fn]


class ExampleOracle:
    def __init__(self, examples: list[dict[str, Any]]) -> None:
        self.examples = {uuid.UUID(str(e["id"])): e for e in examples}

    def select(self, text: str, ids: list[uuid.UUID] | None = None) -> set[uuid.UUID]:
        tree = parse(text)
        return {i for i in (ids if ids is not None else self.examples) if self.holds(tree, self.examples[i])}

    def holds(self, tree: Any, e: dict[str, Any]) -> bool:
        _, fn, args = tree
        if fn == "and":
            return self.conjunction(args, e)
        if fn == "or":
            return any(self.holds(a, e) for a in args)
        if fn == "not":
            return not self.holds(args[0], e)
        if self.is_pair(tree):
            return self.lone(tree, e)
        return self.plain(fn, args, e)

    # -- §4.4 binding over the example's metadata entries -------------------------------

    @staticmethod
    def is_pair(tree: Any) -> bool:
        return (tree[1] not in ("and", "or", "not") and tree[2][0][0] == "field"
                and tree[2][0][1] in [(p,) for p in PAIRS])

    def conjunction(self, args: list[Any], e: dict[str, Any]) -> bool:
        conds = [a for a in args if self.is_pair(a)]
        if not all(self.holds(a, e) for a in args if not self.is_pair(a)):
            return False
        keys = [c for c in conds if PAIRS[c[2][0][1][0]] == "key" and c[1] in ("eq", "in")]
        rest = conds
        if keys:
            bound = [c for c in conds if c in keys or PAIRS[c[2][0][1][0]] == "value"]
            entries = list(stored_metadata(e).items())
            if not any(all(self.entry(kv, c) for c in bound) for kv in entries):
                return False
            rest = [c for c in conds if not any(c is b for b in bound)]
        return all(self.lone(c, e) for c in rest)

    def lone(self, cond: Any, e: dict[str, Any]) -> bool:
        entries = list(stored_metadata(e).items())
        if cond[1] == "neq":
            return not any(self.entry(kv, ("call", "eq", cond[2])) for kv in entries)
        return any(self.entry(kv, cond) for kv in entries)

    @staticmethod
    def entry(kv: tuple[str, Any], cond: Any) -> bool:
        _, fn, (field, lit) = cond
        wanted = [string_form(v) for v in (lit[1] if fn == "in" else [lit[1]])]
        got = kv[0] if PAIRS[field[1][0]] == "key" else string_form(kv[1])
        return (got in wanted) != (fn == "neq")

    # -- plain fields --------------------------------------------------------------------

    def plain(self, fn: str, args: list[Any], e: dict[str, Any]) -> bool:
        path = args[0][1]
        md = stored_metadata(e)
        if fn == "has":
            want = json.loads(args[1][1])
            return all(k in md and string_form(md[k]) == string_form(v) for k, v in want.items())
        if fn == "exists":
            return args[1][1] in md
        if fn == "search":
            prefix = ".".join(path[1:])
            needle = fold(string_form(args[1][1]))
            return any(isinstance(v, str) and needle in fold(v)
                       for p, v in nodes(e.get(path[0])) if p == prefix or p.startswith(prefix + "."))
        lits = args[1][1] if fn == "in" else [args[1][1]]
        if path[0] == "id":
            own = uuid.UUID(str(e["id"]))
            hit = own in [uuid.UUID(v) for v in lits if v is not None]
            return hit != (fn == "neq")
        if path[0] in ("created_at", "modified_at"):
            own = e["created_at"]  # written with modified_at == created_at
            if lits[0] is None:
                return fn == "neq"
            other = as_time(lits[0])
            return own != other if fn == "neq" else _cmp(own, fn, other)
        if path[0] == "metadata":
            key = path[1]
            if fn == "in":
                return key in md and string_form(md[key]) in [string_form(v) for v in lits]
            lit = lits[0]
            if fn in ("eq", "neq"):
                if lit is None:
                    hit = md.get(key) is None
                else:
                    hit = key in md and string_form(md[key]) == string_form(lit)
                return hit != (fn == "neq")
            value = md.get(key)
            if _is_number(lit):
                return _is_number(value) and _cmp(float(value), fn, lit)
            return isinstance(value, str) and _cmp(value, fn, lit)
        # inputs.<path> / outputs.<path>
        prefix = ".".join(path[1:])
        at = [v for p, v in nodes(e.get(path[0])) if p == prefix]
        lit = lits[0]
        if lit is None:
            hit = not any(v is not None for v in at)
        else:
            hit = any(is_leaf(v) and string_form(v) == string_form(lit) for v in at)
        return hit != (fn == "neq")


__all__ = ["ExampleOracle", "parse", "string_form", "nodes"]
