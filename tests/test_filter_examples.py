"""The example filter compiler (evalql.filters.examples, spec §4.5) against the independent
evaluator of tests/example_filter_oracle.py, on the world of tests/worlds/example_filters.py,
on every backend; errors with offsets (§4.7); random well-formed trees; and
`Dataset.examples(filter:)` through GraphQL with paging."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from evalql.db.models import Example
from evalql.filters.errors import FilterError
from evalql.filters.examples import example_condition, validate_example_filter
from tests.example_filter_oracle import ExampleOracle
from tests.support.filter_trees import trees
from tests.worlds import example_filters as xw
from tests.worlds import rich

U = {n: str(xw.uid(n)) for n in (*xw.IDS, "o1", "D", "O")}


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        rec = await rich.load(db, api.workspace_id, xw.build())
    return rec


async def selected(api, text: str) -> set[str]:
    async with api.db_sessions() as db:
        cond = example_condition(text)
        ids = (await db.execute(select(Example.id).where(Example.workspace_id == api.workspace_id, cond))).scalars()
        return {xw.NAMES[i] for i in ids}


def expected(world, text: str) -> set[str]:
    return {xw.NAMES[i] for i in ExampleOracle(world.examples).select(text)}


CASES = [
    # id
    f'eq(id, "{U["x1"]}")', f'neq(id, "{U["x1"]}")', f'in(id, ["{U["x2"]}", "{U["x3"]}", "{U["D"]}"])',
    f'eq(id, "{U["x1"].upper()}")', "in(id, [])", "eq(id, null)", "neq(id, null)",
    # created_at / modified_at
    'gt(created_at, "2024-03-01T12:03:00Z")', 'gte(created_at, "2024-03-01T12:03:00+00:00")',
    'lt(created_at, "2024-03-01T13:03:00+01:00")', 'lte(modified_at, "2024-03-01T12:05:00Z")',
    'eq(created_at, "2024-03-01T12:04:00")', 'neq(modified_at, "2024-03-01T12:04:00Z")',
    'eq(modified_at, "2024-03-01T12:04:00.000001Z")', "eq(created_at, null)", "neq(modified_at, null)",
    # metadata: has / exists
    """has(metadata, '{"foo": "bar"}')""", """has(metadata, '{"foo": "bar", "tenant_id": "t-1"}')""",
    """has(metadata, '{}')""", """has(metadata, '{"rank": 2}')""", """has(metadata, '{"rank": 1.0}')""",
    """has(metadata, '{"rank": "1"}')""", """has(metadata, '{"flag": true}')""",
    """has(metadata, '{"flag": "true"}')""",
    """has(metadata, '{"tenant_id": null}')""", """has(metadata, '{"n": null}')""",
    """has(metadata, '{"nested": {"a": [1, "x"], "b": 1}}')""", """has(metadata, '{"tags": ["a", "b"]}')""",
    """has(metadata, '{"tags": ["b", "a"]}')""", """has(metadata, '{"dataset_split": ["base"]}')""",
    """has(metadata, '{"foo": "BAR"}')""", """has(metadata, '{"note": "quote \\' \\\\" \\\\\\\\ (x), [y]"}')""",
    """has(metadata, '{"unicode": "\\u00e9t\\u00e9"}')""", """has(metadata, '{"a.b": "dotted"}')""",
    'exists(metadata, "tenant_id")', 'exists(metadata, "n")', 'exists(metadata, "nope")', "exists(metadata, 'a.b')",
    'exists(metadata, "dataset_split")', "exists(metadata, 1)",
    # metadata.<key>: eq / neq / in
    'eq(metadata.foo, "bar")', 'neq(metadata.foo, "bar")', 'eq(metadata.foo, 1)', 'eq(metadata.one, "1")',
    "eq(metadata.rank, 1)", "eq(metadata.rank, 2)", "eq(metadata.rank, '2')", "eq(metadata.rank, 1000)",
    "eq(metadata.rank, 1.5)", "eq(metadata.flag, true)", "neq(metadata.flag, false)", 'eq(metadata.flag, "true")',
    "eq(metadata.tenant_id, null)", "neq(metadata.tenant_id, null)", "eq(metadata.n, null)", 'eq(metadata.n, "null")',
    'eq(metadata.tenant_id, "")', 'eq(metadata."a.b", "dotted")', "eq(metadata.'a.b', 'dotted')",
    'eq(metadata.tags, \'["a","b"]\')', """eq(metadata.nested, '{"a":[1,"x"],"b":1}')""",
    'eq(metadata.unicode, "été")', 'eq(metadata.dataset_split, \'["train","test"]\')',
    'in(metadata.foo, ["bar", "baz"])', 'in(metadata.rank, [1, 2, "10"])', "in(metadata.tenant_id, [null, 't-2'])",
    "in(metadata.foo, [])", 'in(metadata.zero, [0, false])', 'neq(metadata.nope, "x")', "eq(metadata.nope, null)",
    # metadata.<key>: ordered
    "gt(metadata.rank, 1)", "gte(metadata.rank, 1)", "lt(metadata.rank, 1.5)", "lte(metadata.rank, 1.5)",
    "gt(metadata.rank, -10)", "lt(metadata.rank, 0)", "gt(metadata.rank, 999.5)", 'gt(metadata.rank, "1")',
    'lt(metadata.foo, "bas")', 'gte(metadata.foo, "bar")', 'gt(metadata.foo, "BAR")', 'lt(metadata.unicode, "f")',
    'gt(metadata.unicode, "f")', 'gt(metadata.tenant_id, "")', 'gte(metadata.tenant_id, "")', "gt(metadata.flag, 0)",
    "lt(metadata.zero, 0.5)", "gt(metadata.score, 0.25)", 'lt(metadata.nope, "z")',
    # metadata_key / metadata_value (§4.4 over example metadata)
    "eq(metadata_key, 'tenant_id')", "neq(metadata_key, 'tenant_id')", "in(metadata_key, ['flag', 'one'])",
    "eq(metadata_value, 'bar')", "neq(metadata_value, 'bar')", "eq(metadata_value, 1)", "eq(metadata_value, null)",
    "in(metadata_value, ['t-1', 'baz'])", "and(eq(metadata_key, 'foo'), eq(metadata_value, 'bar'))",
    "and(eq(metadata_key, 'foo'), eq(metadata_value, 't-1'))",
    "and(eq(metadata_key, 'foo'), neq(metadata_value, 'bar'))",
    "and(neq(metadata_key, 'foo'), eq(metadata_value, 't-1'))",
    "and(neq(metadata_key, 'flag'), neq(metadata_value, 'bar'))",
    "and(in(metadata_key, ['foo', 'tenant_id']), eq(metadata_value, 't-1'), neq(metadata_value, 'bar'))",
    "and(eq(metadata_key, 'rank'), eq(metadata_value, 2), eq(metadata_key, 'foo'))",
    "or(and(eq(metadata_key, 'foo'), eq(metadata_value, 'baz')), not(eq(metadata_key, 'foo')))",
    # inputs.<path> / outputs.<path>
    'eq(inputs.question, "2+2")', 'neq(inputs.question, "2+2")', "eq(inputs.n, 4)", "eq(inputs.n, '1')",
    "eq(inputs.ctx.k, 3)", 'eq(inputs.ctx.docs.t, "b")', 'eq(inputs.list, "y")', 'eq(inputs.list.z, "deep")',
    'eq(inputs.a.b, "dot")', 'eq(inputs."a.b", "nested")', 'eq(inputs.a.b.c, "C")', "eq(inputs.flag, true)",
    "eq(inputs.f, 0.5)", "eq(inputs.empty, '{}')", "eq(inputs.lst, '[]')", "eq(inputs.ctx.docs, '[]')",
    "eq(inputs.nil, null)", "neq(inputs.nil, null)", "eq(inputs.question, null)", "neq(inputs.question, null)",
    "eq(inputs.ctx, null)", "eq(inputs.empty, null)", "eq(inputs.lst, null)", "eq(inputs.nil, 'null')",
    """eq(inputs.ctx, '{"k":3}')""", 'eq(outputs.answer, "Paris")', "eq(outputs.score, 1)", "eq(outputs.ok, true)",
    "eq(outputs.answer, null)", "neq(outputs.answer, null)", "eq(outputs.answer, 1)", 'eq(outputs.a.b, "nested")',
    'eq(inputs.question, "quote \' and \\"100%_done\\"")',
    # search
    'search(inputs.question, "what")', 'search(inputs.question, "ÉTÉ")', 'search(inputs.question, "Été")',
    'search(inputs.question, "100%_")', 'search(inputs.question, "%")', 'search(inputs.question, "_")',
    'search(inputs.ctx, "B")', 'search(inputs.a, "c")', 'search(inputs.list, "DEEP")', 'search(inputs.lis, "x")',
    'search(outputs.answer, "paris")', "search(outputs.answer, 4)", 'search(inputs.question, "")',
    'search(inputs.a.b, "o")', 'search(inputs.n, "4")',
    # logic
    "and(not(has(metadata, '{\"foo\": \"bar\"}')), exists(metadata, \"tenant_id\"))",
    'or(eq(metadata.foo, "baz"), search(outputs.answer, "paris"))', 'not(or(eq(metadata.rank, 1), eq(inputs.n, 4)))',
    'and(gt(created_at, "2024-03-01T12:02:00Z"), exists(metadata, "tenant_id"), neq(metadata.tenant_id, null))',
    'and(exists(metadata, "foo"), and(eq(metadata_key, "flag"), eq(metadata_value, false)))',
]


async def test_every_case_matches_oracle(api, world):
    mismatches = []
    for text in CASES:
        got, want = await selected(api, text), expected(world, text)
        if got != want:
            mismatches.append(f"{text}: sql {sorted(got)} oracle {sorted(want)}")
    assert not mismatches, "\n".join(mismatches)
    assert len(CASES) > 150


async def test_spec_example(api, world):
    text = """and(not(has(metadata, '{"foo": "bar"}')), exists(metadata, "tenant_id"))"""
    # tenant_id present (x1, x2, x4, x7, x8, o1) minus foo == "bar" (x1, x3, x7, o1)
    assert await selected(api, text) == {"x2", "x4", "x8"}
    assert expected(world, text) == {"x2", "x4", "x8"}


PINNED = [  # literal expectations that check the oracle as much as the compiler
    ("""has(metadata, '{"rank": 2}')""", {"x2"}),  # 2.0 stored, string form "2"
    ("eq(metadata.rank, '1000')", {"x5"}),  # 1e3 -> "1000"
    ("eq(metadata.tenant_id, null)", {"x3", "x4", "x5", "x6"}),
    ("gt(metadata.rank, 1)", {"x2", "x5", "x7"}),  # "10" is a string: not numeric
    ('gt(metadata.rank, "1")', {"x3"}),
    ('gt(metadata.foo, "BAR")', {"x1", "x2", "x3", "x7", "o1"}),  # code-point order: "1" < "BAR" < "bar"
    ("eq(inputs.ctx, null)", {"x2", "x3", "x4", "x5", "x6", "x8", "o1"}),
    ("eq(inputs.question, null)", {"x3", "x4", "x6", "x7", "x8"}),
    ('eq(inputs.list, "y")', {"x3"}),
    ('eq(inputs.a.b, "nested")', {"x3"}),
    ('search(inputs.ctx, "B")', {"x1"}),
    ('search(inputs.question, "ÉTÉ")', set()),  # ASCII-only case folding
    ('search(inputs.question, "WHAT is Été")', {"x1"}),
    ("and(eq(metadata_key, 'foo'), eq(metadata_value, 't-1'))", set()),
    ("and(neq(metadata_key, 'foo'), eq(metadata_value, 't-1'))", set()),
]


@pytest.mark.parametrize("text,want", PINNED)
async def test_pinned_answers(api, world, text, want):
    assert await selected(api, text) == want
    assert expected(world, text) == want


# §4.4 vectors on x1, metadata {foo: bar, tenant_id: t-1, rank: 1, score: 0.5, dataset_split: [base]}
# (the spec's conversation_id -> foo, X -> bar, user -> tenant_id, Y -> t-1).
BINDING_VECTORS = [
    ("eq(metadata_key, 'foo')", True),
    ("and(eq(metadata_key, 'foo'), eq(metadata_value, 'bar'))", True),
    ("and(eq(metadata_key, 'foo'), eq(metadata_value, 't-1'))", False),
    ("and(eq(metadata_key, 'foo'), neq(metadata_value, 'bar'))", False),
    ("and(neq(metadata_key, 'foo'))", False),
    ("and(neq(metadata_key, 'thread_id'), eq(metadata_value, 't-1'))", True),
    ("and(neq(metadata_key, 'thread_id'), neq(metadata_value, 'Z'))", True),
    ('and(in(metadata_key, ["session_id","foo","thread_id"]), eq(metadata_value, "bar"))', True),
]


@pytest.mark.parametrize("text,holds", BINDING_VECTORS)
async def test_binding_vectors(api, world, text, holds):
    assert ("x1" in await selected(api, text)) is holds
    assert ("x1" in expected(world, text)) is holds


# -- errors (§4.7): the problem and the offset ------------------------------------------------

ERRORS = [
    ("eq(latncy, 1)", "unknown field 'latncy'", 3),
    ("eq(feedback_key, 'x')", "unknown field 'feedback_key'", 3),
    ("has(tags, 'x')", "unknown field 'tags'", 4),
    ("and(eq(metadata.a.b, 1))", "unknown field 'metadata.a.b'", 7),
    ("eq(id.x, 'a')", "unknown field 'id.x'", 3),
    ("eq(metadata_key.x, 'a')", "unknown field 'metadata_key.x'", 3),
    ("eq(metadata, 'x')", "eq() is not allowed on field 'metadata'", 0),
    ("or(eq(id, null), eq(inputs, 1))", "eq() is not allowed on field 'inputs'", 17),
    ('gt(id, "00000000-0000-0000-0000-000000000000")', "gt() is not allowed on field 'id'", 0),
    ('in(created_at, ["2024-01-01"])', "in() is not allowed on field 'created_at'", 0),
    ("in(inputs.q, ['a'])", "in() is not allowed on field 'inputs.q'", 0),
    ("gt(outputs.q, 1)", "gt() is not allowed on field 'outputs.q'", 0),
    ("gt(metadata_value, 1)", "gt() is not allowed on field 'metadata_value'", 0),
    ("search(metadata_value, 'x')", "search() is not allowed on field 'metadata_value'", 0),
    ('search("x")', "search() takes a field in example filters", 0),
    ("search(metadata.foo, 'x')", "search() is not allowed on field 'metadata.foo'", 0),
    ("search(inputs, 'x')", "search() is not allowed on field 'inputs'", 0),
    ("search(inputs.q, null)", "search cannot be compared with null", 17),
    ("has(metadata.foo, 'x')", "has() is not allowed on field 'metadata.foo'", 0),
    ("has(metadata, '[1]')", "has(metadata, …) takes a JSON object string", 14),
    ("has(metadata, 'nope')", "has(metadata, …) takes a JSON object string", 14),
    ("has(metadata, 1)", "has(metadata, …) takes a JSON object string", 14),
    ("exists(inputs, 'q')", "exists() is not allowed on field 'inputs'", 0),
    ("exists(metadata.foo, 'q')", "exists() is not allowed on field 'metadata.foo'", 0),
    ("exists(metadata, null)", "exists cannot be compared with null", 17),
    ("and(eq(id, 'nope'))", "id takes a UUID, got 'nope'", 11),
    ("in(id, ['nope'])", "id takes a UUID", 8),
    ('eq(created_at, "yesterday")', "created_at takes an ISO-8601 timestamp", 15),
    ("gt(created_at, null)", "gt() cannot compare 'created_at' with null", 15),
    ("gt(metadata.rank, true)", "gt() on 'metadata.rank' takes a number or a string, got a boolean", 18),
    ("lte(metadata.rank, null)", "lte() on 'metadata.rank' takes a number or a string, got null", 19),
    ("eq(latency)", "eq() takes 2 arguments, got 1", 0),
    ("and(", "unexpected end of the filter", 4),
    ('like(name, "%x%")', "unknown function 'like'", 0),
]


@pytest.mark.parametrize("text,problem,offset", ERRORS)
def test_errors_name_the_problem_and_offset(text, problem, offset):
    with pytest.raises(FilterError) as caught:
        example_condition(text)
    assert problem in caught.value.problem, caught.value.message
    assert caught.value.offset == offset, caught.value.message
    with pytest.raises(FilterError):
        validate_example_filter(text)


def test_literals_are_bound_parameters():
    """Nothing from the string reaches the SQL text, on either dialect."""
    from sqlalchemy.dialects import postgresql, sqlite
    text = ("and(eq(metadata.\"x'; drop\", 'evil1'), has(metadata, '{\"evil2\": \"evil3\"}'), "
            "search(inputs.evil4, 'evil5'), exists(metadata, 'evil6'), eq(outputs.q.evil7, 'evil8'), "
            "eq(metadata_key, 'evil9'), gt(metadata.r, 'evil10'))")
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        sql = str(select(Example.id).where(example_condition(text)).compile(dialect=dialect))
        assert "evil" not in sql and "drop" not in sql, sql


# -- random well-formed trees: SQL == oracle -------------------------------------------------

def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


KEYS = ["foo", "tenant_id", "rank", "flag", "n", "one", "zero", "tags", "nested", "nope", "dataset_split"]
VALUES = ["'bar'", "'baz'", "'t-1'", "''", "1", "2", "'1'", "1.5", "-3", "true", "false", "null", "'10'", "'BAR'",
          "'[\"a\",\"b\"]'"]
HAS_OBJECTS = [{"foo": "bar"}, {"rank": 1}, {"rank": "2"}, {"flag": True}, {"tenant_id": None}, {},
               {"foo": "bar", "tenant_id": "t-1"}, {"tags": ["a", "b"]}, {"zero": 0, "one": "1"}]
PATHS = ["inputs.question", "inputs.n", "inputs.ctx.k", "inputs.ctx.docs.t", "inputs.list", "inputs.a.b",
         "inputs.nil", "inputs.empty", "inputs.ctx", "outputs.answer", "outputs.a.b", "outputs.ok", "inputs.zz"]
TIMES = ["2024-03-01T12:00:00Z", "2024-03-01T12:03:00Z", "2024-03-01T12:05:30+00:00", "2024-03-01T13:07:00+01:00"]

LEAVES = st.one_of(
    st.builds(lambda k, v, op: f"{op}(metadata.{k}, {v})", st.sampled_from(KEYS), st.sampled_from(VALUES),
              st.sampled_from(["eq", "neq"])),
    st.builds(lambda k, v, op: f"{op}(metadata.{k}, {v})", st.sampled_from(KEYS),
              st.sampled_from(["1", "1.5", "0", "-5", "'bar'", "'t'", "''", "'BAR'"]),
              st.sampled_from(["gt", "gte", "lt", "lte"])),
    st.builds(lambda k, vs: f"in(metadata.{k}, [{', '.join(vs)}])", st.sampled_from(KEYS),
              st.lists(st.sampled_from(VALUES), max_size=3)),
    st.builds(lambda o: f"has(metadata, {_q(json.dumps(o))})", st.sampled_from(HAS_OBJECTS)),
    st.builds(lambda k: f"exists(metadata, {_q(k)})", st.sampled_from(KEYS)),
    st.builds(lambda op, k: f"{op}(metadata_key, {_q(k)})", st.sampled_from(["eq", "neq"]), st.sampled_from(KEYS)),
    st.builds(lambda ks: f"in(metadata_key, [{', '.join(_q(k) for k in ks)}])", st.lists(st.sampled_from(KEYS),
                                                                                          max_size=3)),
    st.builds(lambda op, v: f"{op}(metadata_value, {v})", st.sampled_from(["eq", "neq"]), st.sampled_from(VALUES)),
    st.builds(lambda p, v, op: f"{op}({p}, {v})", st.sampled_from(PATHS),
              st.sampled_from(["'2+2'", "4", "3", "'b'", "'y'", "'nested'", "null", "true", "'{}'", "'Paris'"]),
              st.sampled_from(["eq", "neq"])),
    st.builds(lambda p, v: f"search({p}, {_q(v)})", st.sampled_from(PATHS), st.sampled_from(["a", "PAR", "%", "2"])),
    st.builds(lambda op, f, t: f"{op}({f}, {_q(t)})", st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
              st.sampled_from(["created_at", "modified_at"]), st.sampled_from(TIMES)),
    st.builds(lambda ids: f"in(id, [{', '.join(_q(U[i]) for i in ids)}])", st.lists(st.sampled_from(xw.IDS),
                                                                                     max_size=3)),
    st.builds(lambda op, i: f"{op}(id, {_q(U[i])})", st.sampled_from(["eq", "neq"]), st.sampled_from(xw.IDS)),
)
TREES = trees(LEAVES)


@settings(max_examples=60, deadline=None)
@given(text=TREES)
async def test_random_trees_match_oracle(api, world, text):
    assert await selected(api, text) == expected(world, text), text


# -- GraphQL: Dataset.examples(filter:) with paging -----------------------------------------

PAGE = """
query Page($ds: UUID!, $filter: String, $after: String, $splits: [String!]) {
  dataset(id: $ds) {
    examples(first: 2, after: $after, filter: $filter, splits: $splits) {
      edges { cursor node { id } } pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def all_pages(api, filter: str | None, splits: list[str] | None = None) -> list[str]:
    out, after = [], None
    for _ in range(20):
        res = await api.graphql(PAGE, {"ds": U["D"], "filter": filter, "after": after, "splits": splits})
        body = res.json()
        assert "errors" not in body, body
        page = body["data"]["dataset"]["examples"]
        out += [xw.NAMES[uuid.UUID(e["node"]["id"])] for e in page["edges"]]
        assert len(page["edges"]) <= 2
        if not page["pageInfo"]["hasNextPage"]:
            return out
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging does not end")


@pytest.mark.parametrize("text", [
    """and(not(has(metadata, '{"foo": "bar"}')), exists(metadata, "tenant_id"))""",
    'exists(metadata, "foo")', "eq(metadata.rank, 1)", 'search(inputs.question, "q")',
    "and(eq(metadata_key, 'foo'), eq(metadata_value, 'bar'))", 'eq(metadata.foo, "nobody")',
])
async def test_graphql_examples_filter_pages(api, world, text):
    """Only dataset D's examples, filtered, in (created_at, id) order, two per page."""
    want = [n for n in xw.IDS if n in expected(world, text)]
    assert await all_pages(api, text) == want


async def test_graphql_examples_filter_and_splits(api, world):
    text = 'exists(metadata, "foo")'
    want = [n for n in xw.IDS if n in expected(world, text) & {"x2"}]  # x2 is the one "train" example
    assert await all_pages(api, text, ["train"]) == want == ["x2"]
    assert await all_pages(api, None) == list(xw.IDS)


@pytest.mark.parametrize("text,message", [
    ("eq(latncy, 1)", "filter: Invalid filter: unknown field 'latncy' at offset 3"),
    ("and(", "filter: Invalid filter: unexpected end of the filter at offset 4"),
    ("has(metadata, 'x')", "filter: Invalid filter: has(metadata, …) takes a JSON object string, "
                           "e.g. '{\"key\": \"value\"}' at offset 14"),
])
async def test_graphql_bad_filter(api, world, text, message):
    res = await api.graphql(PAGE, {"ds": U["D"], "filter": text})
    body = res.json()
    assert body["data"]["dataset"] is None or body["data"]["dataset"]["examples"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == message
