"""A small world for the example filter tests (spec §4.5), as plain records.

Dataset D holds x1…x8 (created one minute apart from T0, in that order); dataset O holds
o1 (same metadata as x1) so dataset scoping can be checked. Stored metadata also carries
`dataset_split` (spec §7.3).

| ex | metadata                                                     | inputs / outputs (abridged)            |
|----|--------------------------------------------------------------|----------------------------------------|
| x1 | foo: bar, tenant_id: t-1, rank: 1, score: 0.5                | question "What is Été?", ctx.docs[].t  |
| x2 | foo: baz, tenant_id: t-2, rank: 2.0, tags: [a, b]            | question "2+2", n: 4                   |
| x3 | foo: bar, rank: "10", flag: true, nested: {b: 1, a: [1, x]}  | list [x, [y, {z: deep}]], "a.b", a.b   |
| x4 | tenant_id: null, rank: -3, "a.b": dotted, unicode: été       | nil null, empty {}, lst [], f 0.5      |
| x5 | foo: BAR, rank: 1e3, note: quote ' " \\ (x), [y]             | question: quote ' and "100%_done"      |
| x6 | (only dataset_split: [test])                                 | inputs {} / outputs null               |
| x7 | foo: bar, tenant_id: t-1, rank: 1.5, flag: false, n: null    | ctx {k: 3, docs: []}                   |
| x8 | foo: "1", one: 1, tenant_id: "", zero: 0                     | question null, a: {b: {c: "C"}}        |
"""

from __future__ import annotations

import datetime as dt
import uuid

from tests.oracle import Records

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
IDS = ("x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8")


def uid(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "example-filters/" + name)


def build() -> Records:
    rec = Records()
    ds, other = uid("D"), uid("O")
    rec.datasets = [{"id": ds, "name": "D"}, {"id": other, "name": "O"}]

    def ex(name: str, minute: int, metadata, inputs, outputs=None, dataset=ds, **extra):
        return {"id": uid(name), "dataset_id": dataset, "inputs": inputs, "outputs": outputs, "metadata": metadata,
                "created_at": T0 + dt.timedelta(minutes=minute), **extra}

    rec.examples = [
        ex("x1", 1, {"foo": "bar", "tenant_id": "t-1", "rank": 1, "score": 0.5},
           {"question": "What is Été?", "ctx": {"docs": [{"t": "a"}, {"t": "b"}], "k": 3}},
           {"answer": "Paris", "score": 1.0}),
        ex("x2", 2, {"foo": "baz", "tenant_id": "t-2", "rank": 2.0, "tags": ["a", "b"]},
           {"question": "2+2", "n": 4}, {"answer": "4", "ok": True}, split=["train", "test"]),
        ex("x3", 3, {"foo": "bar", "rank": "10", "flag": True, "nested": {"b": 1, "a": [1, "x"]}},
           {"list": ["x", ["y", {"z": "deep"}]], "a.b": "dot", "a": {"b": "nested"}}, {"a": {"b": "nested"}}),
        ex("x4", 4, {"tenant_id": None, "rank": -3, "a.b": "dotted", "unicode": "été"},
           {"nil": None, "empty": {}, "lst": [], "f": 0.5, "n": 1, "flag": True}, {"nil": None}),
        ex("x5", 5, {"foo": "BAR", "rank": 1e3, "note": "quote ' \" \\ (x), [y]"},
           {"question": "quote ' and \"100%_done\""}, {"answer": "PARIS is big"}),
        ex("x6", 6, None, {}, None, split="test"),
        ex("x7", 7, {"foo": "bar", "tenant_id": "t-1", "rank": 1.5, "flag": False, "n": None},
           {"ctx": {"k": 3, "docs": []}}, {"answer": None}),
        ex("x8", 8, {"foo": "1", "one": 1, "tenant_id": "", "zero": 0},
           {"question": None, "a": {"b": {"c": "C"}}}, {"answer": 1}),
        ex("o1", 0, {"foo": "bar", "tenant_id": "t-1", "rank": 1}, {"question": "other"}, dataset=other),
    ]
    return rec


NAMES = {uid(n): n for n in (*IDS, "o1")}
