"""An independent, plain-Python oracle for `POST /datasets/{id}/group/runs`.

It computes the whole expected `{"groups": [...]}` answer of spec §5 (semantics §5.3,
statistics §3, shapes §2/§5.4, previews §5.6, filter strings §5.5) from the same Python
records a test world hands to `evalql.db.writes`. It never reads the database and never
imports evalql: every normalisation is written again here, straight from the spec, so
that the package and the oracle can only agree by both being right.

`Records` holds the inputs. Every id and timestamp must be explicit (the oracle cannot
guess server-side defaults); runs must list parents before children.

`compare(expected, got)` is a recursive comparer that returns readable mismatch paths:
floats with an absolute tolerance of 1e-6, `*_cost` strings by decimal value (and
without exponent), everything else exactly (booleans are never numbers, an expected
integer must come back as an integer).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

UTC = dt.UTC
MISSING = object()
PREVIEW_CHARS = 200
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
COST_FIELDS = ("prompt_cost", "completion_cost", "total_cost")


@dataclass
class Records:
    workspace_id: uuid.UUID | None = None
    datasets: list[dict[str, Any]] = field(default_factory=list)   # id, name
    examples: list[dict[str, Any]] = field(default_factory=list)   # id, dataset_id, inputs, outputs, metadata, split?, created_at
    sessions: list[dict[str, Any]] = field(default_factory=list)   # id, name, reference_dataset_id, start_time, extra?, description?
    runs: list[dict[str, Any]] = field(default_factory=list)       # LangSmith post records (parents first)
    feedback: list[dict[str, Any]] = field(default_factory=list)   # id, run_id | session_id, key, score, value, comment, error, created_at


# ---------------------------------------------------------------------------- formats

def ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


def as_dt(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def cost_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def compact_json(value: Any, sort: bool = False) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort)


def uid(value: Any) -> str | None:
    return None if value is None else str(uuid.UUID(str(value)))


# ---------------------------------------------------------------------------- §5.3 step 3

def group_key(value: Any) -> tuple[int, Any] | None:
    """(0, number) or (1, text); None for missing/null."""
    if value is MISSING or value is None:
        return None
    if value is True:
        return (1, "true")
    if value is False:
        return (1, "false")
    if isinstance(value, int):
        return (0, value)
    if isinstance(value, float):
        return (0, int(value)) if value.is_integer() else (0, value)
    if isinstance(value, str):
        return (1, value)
    return (1, compact_json(value, sort=True))


def quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def key_literal(key: tuple[int, Any]) -> str:
    kind, value = key
    return repr(value) if kind == 0 and isinstance(value, float) else (str(value) if kind == 0 else quote(value))


def group_filter(group_by: str, metadata_key: str, key: tuple[int, Any]) -> str:
    p = "metadata" if group_by == "run_metadata" else "example_metadata"
    return f"and(eq(is_root, true), and(eq({p}_key, {quote(metadata_key)}), eq({p}_value, {key_literal(key)})))"


# ---------------------------------------------------------------------------- §3 statistics

def percentile(values: list[float], p: float) -> float | None:
    xs = sorted(values)
    if not xs:
        return None
    h = p * (len(xs) - 1)
    lo, hi = math.floor(h), math.ceil(h)
    return xs[lo] + (xs[hi] - xs[lo]) * (h - lo)


def score_of(fb: dict[str, Any]) -> float | None:
    s = fb.get("score")
    if s is None:
        return None
    if isinstance(s, bool):
        return 1.0 if s else 0.0
    return float(s)


def value_label(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return None


def feedback_stats(entries: list[dict[str, Any]]) -> dict[str, Any]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for fb in entries:
        by_key.setdefault(fb["key"], []).append(fb)
    out = {}
    for key, items in by_key.items():
        scores = [s for s in (score_of(f) for f in items) if s is not None]
        n = len(scores)
        avg = sum(scores) / n if n else None
        values: dict[str, int] = {}
        for f in items:
            label = value_label(f.get("value"))
            if label is not None:
                values[label] = values.get(label, 0) + 1
        commented = sorted((f for f in items if f.get("comment")),
                           key=lambda f: (as_dt(f["created_at"]), uuid.UUID(str(f["id"]))))
        out[key] = {
            "n": n, "avg": avg,
            "stdev": math.sqrt(sum((s - avg) ** 2 for s in scores) / n) if n else None,
            "min": min(scores) if n else None, "max": max(scores) if n else None,
            "errors": sum(1 for f in items if f.get("error") is True),
            "values": values, "comments": [f["comment"] for f in commented],
            "contains_thread_feedback": False,
        }
    return out


# ---------------------------------------------------------------------------- §2.4 derivations

class Derived:
    """Per-run derived values over the whole world."""

    def __init__(self, records: Records):
        self.records = records
        self.runs = {uuid.UUID(str(r["id"])): r for r in records.runs}
        self.children: dict[uuid.UUID, list[uuid.UUID]] = {}
        for rid, r in self.runs.items():
            if r.get("parent_run_id"):
                self.children.setdefault(uuid.UUID(str(r["parent_run_id"])), []).append(rid)
        self._usage: dict[uuid.UUID, dict[str, Any]] = {}

    @staticmethod
    def own_usage(r: dict[str, Any]) -> dict[str, Any] | None:
        fields = TOKEN_FIELDS + COST_FIELDS
        # Explicit fields first, then the two usage_metadata places; the totals are completed
        # from their parts the same way for all three.
        explicit = {"input_tokens": r.get("prompt_tokens"), "output_tokens": r.get("completion_tokens"),
                    "total_tokens": r.get("total_tokens"), "input_cost": r.get("prompt_cost"),
                    "output_cost": r.get("completion_cost"), "total_cost": r.get("total_cost")}
        for meta in (explicit if any(r.get(f) is not None for f in fields) else None,
                     (r.get("outputs") or {}).get("usage_metadata"),
                     ((r.get("extra") or {}).get("metadata") or {}).get("usage_metadata")):
            if not isinstance(meta, dict):
                continue
            p, c, t = meta.get("input_tokens"), meta.get("output_tokens"), meta.get("total_tokens")
            pc, cc, tc = dec(meta.get("input_cost")), dec(meta.get("output_cost")), dec(meta.get("total_cost"))
            if t is None and (p is not None or c is not None):
                t = (p or 0) + (c or 0)
            if tc is None and pc is not None and cc is not None:
                tc = pc + cc
            if any(v is not None for v in (p, c, t, pc, cc, tc)):
                return {"prompt_tokens": p or 0, "completion_tokens": c or 0, "total_tokens": t or 0,
                        "prompt_cost": pc, "completion_cost": cc, "total_cost": tc}
        return None

    def usage(self, rid: uuid.UUID) -> dict[str, Any]:
        if rid not in self._usage:
            own = self.own_usage(self.runs[rid])
            if own is None:
                own = {**{f: 0 for f in TOKEN_FIELDS}, **{f: None for f in COST_FIELDS}}
                for child in self.children.get(rid, []):
                    sub = self.usage(child)
                    for f in TOKEN_FIELDS:
                        own[f] += sub[f]
                    for f in COST_FIELDS:
                        if sub[f] is not None:
                            own[f] = (own[f] or Decimal(0)) + sub[f]
            self._usage[rid] = own
        return self._usage[rid]

    def start(self, rid: uuid.UUID) -> dt.datetime:
        return as_dt(self.runs[rid]["start_time"])

    def end(self, rid: uuid.UUID) -> dt.datetime | None:
        return as_dt(self.runs[rid].get("end_time"))

    def status(self, rid: uuid.UUID) -> str:
        r = self.runs[rid]
        return "error" if r.get("error") is not None else ("success" if r.get("end_time") is not None else "pending")

    def latency(self, rid: uuid.UUID) -> float | None:
        end = self.end(rid)
        return None if end is None else (end - self.start(rid)).total_seconds()

    def first_token(self, rid: uuid.UUID) -> dt.datetime | None:
        r = self.runs[rid]
        if r.get("first_token_time") is not None:
            return as_dt(r["first_token_time"])
        times = [as_dt(e["time"]) for e in r.get("events") or [] if isinstance(e, dict)
                 and e.get("name") == "new_token" and e.get("time")]
        return min(times) if times else None

    def root(self, rid: uuid.UUID) -> uuid.UUID:
        while self.runs[rid].get("parent_run_id"):
            rid = uuid.UUID(str(self.runs[rid]["parent_run_id"]))
        return rid

    def trace_bounds(self, rid: uuid.UUID) -> tuple[dt.datetime, dt.datetime]:
        root = self.root(rid)
        starts = [self.start(x) for x in self.runs if self.root(x) == root]
        return min(starts), max(starts)


# ---------------------------------------------------------------------------- filters (subset of §4)

_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<p>[(),\[\]]))""")


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot tokenise {text[pos:]!r}")
        pos = m.end()
        if m.group("num"):
            out.append(("lit", float(m.group("num"))))
        elif m.group("str"):
            out.append(("lit", _unescape(m.group("str")[1:-1])))
        elif m.group("name"):
            word = m.group("name")
            out.append(("lit", {"true": True, "false": False, "null": None}[word]) if word in ("true", "false", "null")
                       else ("name", word))
        else:
            out.append(("p", m.group("p")))
    return out


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_filter(text: str) -> Any:
    toks = _tokens(text)
    pos = 0

    def expr():
        nonlocal pos
        kind, val = toks[pos]
        pos += 1
        if kind == "lit":
            return ("lit", val)
        if kind == "p" and val == "[":
            items = []
            while toks[pos] != ("p", "]"):
                items.append(expr()[1])
                if toks[pos] == ("p", ","):
                    pos += 1
            pos += 1
            return ("lit", items)
        if pos < len(toks) and toks[pos] == ("p", "("):
            pos += 1
            args = []
            while toks[pos] != ("p", ")"):
                args.append(expr())
                if toks[pos] == ("p", ","):
                    pos += 1
            pos += 1
            return ("call", val, args)
        return ("field", val)

    tree = expr()
    assert pos == len(toks), text
    return tree


def eval_filter(tree: Any, d: Derived, rid: uuid.UUID) -> bool:
    """Supported: and/or/not; eq/neq/in on status, name, run_type, error (null), is_root;
    gt/gte/lt/lte/eq/neq on latency (seconds) and total_tokens."""
    _, fn, args = tree
    if fn == "and":
        return all(eval_filter(a, d, rid) for a in args)
    if fn == "or":
        return any(eval_filter(a, d, rid) for a in args)
    if fn == "not":
        return not eval_filter(args[0], d, rid)
    (_, name), (_, lit) = args
    r = d.runs[rid]
    value = {"status": d.status(rid), "name": r.get("name"), "run_type": r.get("run_type"), "error": r.get("error"),
             "is_root": not r.get("parent_run_id"), "latency": d.latency(rid),
             "total_tokens": d.usage(rid)["total_tokens"]}[name]
    if fn == "eq":
        return value == lit
    if fn == "neq":
        return value != lit
    if fn == "in":
        return value in lit
    if value is None:
        return False
    return {"gt": value > lit, "gte": value >= lit, "lt": value < lit, "lte": value <= lit}[fn]


# ---------------------------------------------------------------------------- §2/§5.4 shapes

def preview(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict) and len(value) == 1:
        only = next(iter(value.values()))
        if isinstance(only, str):
            return only[:PREVIEW_CHARS]
    return compact_json(value)[:PREVIEW_CHARS]


def stored_example_metadata(e: dict[str, Any]) -> dict[str, Any]:
    md = dict(e.get("metadata") or {})
    if "split" in e or "dataset_split" not in md:
        split = e.get("split")
        md["dataset_split"] = ["base"] if split is None else ([split] if isinstance(split, str) else list(dict.fromkeys(split)))
    return md


def example_json(e: dict[str, Any]) -> dict[str, Any]:
    eid = uuid.UUID(str(e["id"]))
    created = ts(as_dt(e["created_at"]))
    return {"id": str(eid), "dataset_id": uid(e["dataset_id"]), "name": "#" + eid.hex[:4],
            "inputs": e.get("inputs") or {}, "outputs": e.get("outputs"), "metadata": stored_example_metadata(e),
            "source_run_id": None, "created_at": created, "modified_at": created, "attachment_urls": None}


def feedback_json(fb: dict[str, Any], is_root: bool) -> dict[str, Any]:
    score = fb.get("score")
    if score is not None and not isinstance(score, bool):
        score = float(score)
    created = ts(as_dt(fb["created_at"]))
    # §7.6: a trace_id without run_id means feedback on the trace's root run.
    return {"id": uid(fb["id"]), "run_id": uid(fb.get("run_id") or fb.get("trace_id")), "trace_id": uid(fb.get("trace_id") or fb.get("run_id")),
            "session_id": uid(fb.get("session_id")), "key": fb["key"], "score": score, "value": fb.get("value"),
            "comment": fb.get("comment"), "correction": None,
            "feedback_source": {"type": "api", "metadata": {}, "user_id": None, "user_name": None},
            "feedback_config": None, "feedback_group_id": None, "comparative_experiment_id": None,
            "start_time": None, "extra": None, "error": bool(fb.get("error")), "is_root": is_root,
            "created_at": created, "modified_at": created}


def run_json(d: Derived, rid: uuid.UUID, run_feedback: list[dict[str, Any]], workspace_id: uuid.UUID,
             as_preview: bool) -> dict[str, Any]:
    r = d.runs[rid]
    usage = d.usage(rid)
    lo, hi = d.trace_bounds(rid)
    trace = d.root(rid)
    start = d.start(rid)
    return {
        "id": str(rid), "name": r["name"], "run_type": r["run_type"], "status": d.status(rid),
        "start_time": ts(start), "end_time": ts(d.end(rid)),
        "inputs": None if as_preview else r.get("inputs"), "inputs_preview": preview(r.get("inputs")),
        "outputs": None if as_preview else r.get("outputs"), "outputs_preview": preview(r.get("outputs")),
        "error": r.get("error"), "extra": r.get("extra"), "events": None if as_preview else r.get("events"),
        "tags": r.get("tags") or [], "serialized": None if as_preview else r.get("serialized"),
        "execution_order": 1, "parent_run_id": None, "trace_id": str(trace),
        "dotted_order": start.strftime("%Y%m%dT%H%M%S%fZ") + str(rid),
        "session_id": uid(r["session_id"]), "reference_example_id": uid(r.get("reference_example_id")),
        **{f: usage[f] for f in TOKEN_FIELDS}, **{f: cost_text(usage[f]) for f in COST_FIELDS},
        "first_token_time": ts(d.first_token(rid)), "feedback_stats": feedback_stats(run_feedback),
        "app_path": f"/o/{workspace_id}/projects/p/{uid(r['session_id'])}/r/{rid}?trace_id={trace}",
        "manifest_id": None, "manifest_s3_id": None, "inputs_s3_urls": None, "outputs_s3_urls": None,
        "s3_urls": {}, "trace_min_start_time": ts(lo), "trace_max_start_time": ts(hi),
        "feedbacks": [feedback_json(f, True) for f in sorted(
            run_feedback, key=lambda f: (as_dt(f["created_at"]), uuid.UUID(str(f["id"]))))],
    }


def run_set_stats(d: Derived, rids: list[uuid.UUID], fb_by_run: dict[uuid.UUID, list[dict]]) -> dict[str, Any]:
    n = len(rids)
    latencies = [x for x in (d.latency(r) for r in rids) if x is not None]
    out: dict[str, Any] = {"count": n}
    for f in TOKEN_FIELDS:
        out[f] = sum(d.usage(r)[f] for r in rids)
    for f in COST_FIELDS:
        vals = [d.usage(r)[f] for r in rids if d.usage(r)[f] is not None]
        out[f] = cost_text(sum(vals, Decimal(0))) if vals else None
    starts = [d.start(r) for r in rids]
    out["min_start_time"] = ts(min(starts)) if starts else None
    out["max_start_time"] = ts(max(starts)) if starts else None
    out["latency_p50"], out["latency_p99"] = percentile(latencies, 0.5), percentile(latencies, 0.99)
    out["error_rate"] = sum(1 for r in rids if d.status(r) == "error") / n if n else None
    ft = [(d.first_token(r) - d.start(r)).total_seconds() for r in rids if d.first_token(r) is not None]
    out["first_token_p50"], out["first_token_p99"] = percentile(ft, 0.5), percentile(ft, 0.99)
    out["streaming_rate"] = len(ft) / n if n else None
    out["feedback_stats"] = feedback_stats([f for r in rids for f in fb_by_run.get(r, [])])
    return out


def session_json(s: dict[str, Any], workspace_id: uuid.UUID) -> dict[str, Any]:
    return {"id": uid(s["id"]), "name": s["name"], "description": s.get("description"), "tenant_id": str(workspace_id),
            "start_time": ts(as_dt(s["start_time"])), "end_time": ts(as_dt(s.get("end_time"))),
            "extra": s["extra"] if s.get("extra") is not None else {"metadata": {}},
            "default_dataset_id": None, "reference_dataset_id": uid(s.get("reference_dataset_id")), "trace_tier": None}


def test_run_number(records: Records, s: dict[str, Any]) -> int | None:
    ref = s.get("reference_dataset_id")
    if ref is None:
        return None
    peers = sorted((as_dt(x["start_time"]), uuid.UUID(str(x["id"]))) for x in records.sessions
                   if x.get("reference_dataset_id") is not None and uid(x["reference_dataset_id"]) == uid(ref))
    return peers.index((as_dt(s["start_time"]), uuid.UUID(str(s["id"])))) + 1


# ---------------------------------------------------------------------------- §5 the answer

def expected_group_runs(records: Records, dataset_id: Any, body: dict[str, Any]) -> dict[str, Any]:
    workspace_id = records.workspace_id
    dataset = uuid.UUID(str(dataset_id))
    order = list(dict.fromkeys(uuid.UUID(str(s)) for s in body["session_ids"]))
    position = {s: i for i, s in enumerate(order)}
    group_by, mkey = body["group_by"], body["metadata_key"]
    offset, limit = body.get("offset", 0), body.get("limit", 10)
    per_group_limit, as_preview = body.get("per_group_limit", 5), body.get("preview", False)
    filters = {uuid.UUID(str(k)): list(v) for k, v in (body.get("filters") or {}).items()}
    parsed = {s: [parse_filter(f) for f in fs] for s, fs in filters.items()}

    d = Derived(records)
    examples = {uuid.UUID(str(e["id"])): e for e in records.examples}
    sessions = {uuid.UUID(str(s["id"])): s for s in records.sessions}
    run_fb: dict[uuid.UUID, list[dict]] = {}
    session_fb: dict[uuid.UUID, list[dict]] = {}
    for fb in records.feedback:
        target = fb.get("run_id") or fb.get("trace_id")
        if target is not None:
            run_fb.setdefault(uuid.UUID(str(target)), []).append(fb)
        elif fb.get("session_id") is not None:
            session_fb.setdefault(uuid.UUID(str(fb["session_id"])), []).append(fb)

    # Steps 1-2: candidates with their group key.
    members: dict[tuple, list[uuid.UUID]] = {}
    for rid, r in d.runs.items():
        sid = uuid.UUID(str(r["session_id"]))
        ex = r.get("reference_example_id")
        if sid not in position or r.get("parent_run_id") or ex is None:
            continue
        example = examples.get(uuid.UUID(str(ex)))
        if example is None or uuid.UUID(str(example["dataset_id"])) != dataset:
            continue
        if not all(eval_filter(t, d, rid) for t in parsed.get(sid, [])):
            continue
        if group_by == "run_metadata":
            value = ((r.get("extra") or {}).get("metadata") or {}).get(mkey, MISSING)
        else:
            value = stored_example_metadata(example).get(mkey, MISSING)
        key = group_key(value)
        if key is not None:
            members.setdefault(key, []).append(rid)

    # Step 4: S(g), E(g), R(g).
    groups = []
    for key, rids in members.items():
        s_g = sorted({uuid.UUID(str(d.runs[r]["session_id"])) for r in rids}, key=position.__getitem__)
        per_session = {s: {uuid.UUID(str(d.runs[r]["reference_example_id"])) for r in rids
                           if uuid.UUID(str(d.runs[r]["session_id"])) == s} for s in s_g}
        e_g = set.intersection(*per_session.values())
        if e_g:
            r_g = [r for r in rids if uuid.UUID(str(d.runs[r]["reference_example_id"])) in e_g]
            groups.append((key, s_g, e_g, r_g))

    # Step 5: numbers ascending, then strings by code point.
    groups.sort(key=lambda g: g[0])
    out = []
    for key, s_g, e_g, r_g in groups[offset:offset + limit]:
        gfilter = group_filter(group_by, mkey, key)
        stats = run_set_stats(d, r_g, run_fb)
        session_items = []
        for s in s_g:
            mine = [r for r in r_g if uuid.UUID(str(d.runs[r]["session_id"])) == s]
            st = run_set_stats(d, mine, run_fb)
            fs = filters.get(s) or []
            session_items.append({
                **session_json(sessions[s], workspace_id),
                "last_run_start_time_live": st["max_start_time"],
                "run_count": st["count"], "latency_p50": st["latency_p50"], "latency_p99": st["latency_p99"],
                "first_token_p50": st["first_token_p50"], "first_token_p99": st["first_token_p99"],
                **{f: st[f] for f in TOKEN_FIELDS + COST_FIELDS},
                "last_run_start_time": st["max_start_time"],
                "feedback_stats": st["feedback_stats"],
                "session_feedback_stats": feedback_stats(session_fb.get(s, [])),
                "run_facets": [], "error_rate": st["error_rate"], "streaming_rate": st["streaming_rate"],
                "test_run_number": test_run_number(records, sessions[s]),
                "example_count": len(e_g), "min_start_time": st["min_start_time"],
                "max_start_time": st["max_start_time"],
                "filter": f"and({', '.join([gfilter, *fs])})" if fs else gfilter,
                "experiment_progress": None,
            })
        ordered_examples = sorted(e_g, key=lambda e: (as_dt(examples[e]["created_at"]), e))[:per_group_limit]
        example_items = []
        for e in ordered_examples:
            runs = sorted((r for r in r_g if uuid.UUID(str(d.runs[r]["reference_example_id"])) == e),
                          key=lambda r: (position[uuid.UUID(str(d.runs[r]["session_id"]))], d.start(r), r))
            example_items.append({**example_json(examples[e]),
                                  "runs": [run_json(d, r, run_fb.get(r, []), workspace_id, as_preview) for r in runs]})
        out.append({
            "group_key": key[1], "filter": gfilter, "count": stats["count"], "example_count": len(e_g),
            **{f: stats[f] for f in TOKEN_FIELDS + COST_FIELDS},
            "min_start_time": stats["min_start_time"], "max_start_time": stats["max_start_time"],
            "latency_p50": stats["latency_p50"], "latency_p99": stats["latency_p99"],
            "error_rate": stats["error_rate"], "feedback_stats": stats["feedback_stats"],
            "sessions": session_items, "examples": example_items,
        })
    return {"groups": out}


# ---------------------------------------------------------------------------- comparison

def compare(expected: Any, got: Any, path: str = "$", out: list[str] | None = None) -> list[str]:
    """Mismatches as readable `path: expected ... got ...` lines (empty when equal)."""
    out = [] if out is None else out
    last = path.rsplit(".", 1)[-1]
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            out.append(f"{path}: expected an object, got {got!r:.200}")
            return out
        for k in expected.keys() - got.keys():
            out.append(f"{path}.{k}: missing (expected {expected[k]!r:.200})")
        for k in got.keys() - expected.keys():
            out.append(f"{path}.{k}: unexpected key (got {got[k]!r:.200})")
        for k in expected.keys() & got.keys():
            compare(expected[k], got[k], f"{path}.{k}", out)
    elif isinstance(expected, list):
        if not isinstance(got, list):
            out.append(f"{path}: expected a list, got {got!r:.200}")
            return out
        want, have = _ids(expected), _ids(got)
        keyed = all(isinstance(i, dict) and ("id" in i or "group_key" in i) for i in expected + got)
        if keyed and want != have:
            # Report the identity/order difference once, then compare items matched by identity.
            out.append(f"{path}: expected items {want!r:.400}, got {have!r:.400}")
            by_id = {repr(k): g for k, g in zip(have, got, strict=False)}
            for k, e in zip(want, expected, strict=False):
                if repr(k) in by_id:
                    compare(e, by_id[repr(k)], f"{path}[{k!r}]", out)
        elif len(expected) != len(got):
            out.append(f"{path}: expected {len(expected)} items, got {len(got)}: expected {expected!r:.300} got {got!r:.300}")
        else:
            for i, (e, g) in enumerate(zip(expected, got, strict=False)):
                compare(e, g, f"{path}[{i}]", out)
    elif isinstance(expected, bool) or expected is None:
        if got is not expected:
            out.append(f"{path}: expected {expected!r}, got {got!r:.200}")
    elif isinstance(expected, int):
        if isinstance(got, bool) or not isinstance(got, int) or got != expected:
            out.append(f"{path}: expected int {expected!r}, got {got!r:.200}")
    elif isinstance(expected, float):
        if isinstance(got, bool) or not isinstance(got, (int, float)) or abs(got - expected) > 1e-6:
            out.append(f"{path}: expected {expected!r}, got {got!r:.200}")
    elif isinstance(expected, str) and last.endswith("_cost") and not path.endswith("]"):
        if not isinstance(got, str) or "e" in got.lower() or Decimal(got) != Decimal(expected):
            out.append(f"{path}: expected cost {expected!r}, got {got!r:.200}")
    elif expected != got or type(expected) is not type(got):
        out.append(f"{path}: expected {expected!r:.300}, got {got!r:.300}")
    return out


def _ids(items: list[Any]) -> list[Any]:
    return [(i["group_key"] if "group_key" in i else i.get("id")) if isinstance(i, dict) else i for i in items]
