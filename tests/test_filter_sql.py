"""The filter compiler (evalql.filters.runs) against the independent evaluator of
tests/filter_oracle.py, on the small world of tests/worlds/filters.py, on every backend.

Each field and operator of spec §4.3 has cases; a few are pinned to literal expectations
so the oracle is checked too (the §4.4 vectors, durations, scopes of §4.6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from evalql.db.models import Run
from evalql.filters.runs import run_condition, trace_condition
from tests.filter_oracle import FilterOracle
from tests.support.filter_trees import trees
from tests.worlds import filters as fw
from tests.worlds import rich

U = {n: str(fw.uid(n)) for n in ("r1", "r2", "r3", "r4", "r5", "r6", "e1", "e2", "S")}


@pytest.fixture
async def world(api):
    async with api.db_sessions() as db:
        rec = await rich.load(db, api.workspace_id, fw.build())
    return rec


async def selected(api, text: str, scope: str | None = None) -> set[str]:
    async with api.db_sessions() as db:
        cond = run_condition(text) if scope is None else trace_condition(text, scope)
        ids = (await db.execute(select(Run.id).where(Run.workspace_id == api.workspace_id, cond))).scalars()
        return {fw.NAMES[i] for i in ids}


def expected(world, text: str, scope: str | None = None) -> set[str]:
    oracle = FilterOracle(world)
    found = oracle.select(text) if scope is None else oracle.select_scoped(text, scope)
    return {fw.NAMES[i] for i in found}


CASES = [
    # uuids
    f'eq(id, "{U["r1"]}")', f'neq(id, "{U["r1"]}")', f'in(id, ["{U["r2"]}", "{U["r3"]}"])',
    f'eq(trace_id, "{U["r1"]}")', f'eq(parent_run_id, "{U["r1"]}")', "eq(parent_run_id, null)",
    f'neq(parent_run_id, "{U["r2"]}")', f'eq(reference_example_id, "{U["e1"]}")', "eq(reference_example_id, null)",
    f'in(session_id, ["{U["S"]}"])', f'eq(session_id, "{U["r1"]}")',
    # name, run_type, status
    'eq(name, "ChatOpenAI")', "neq(name, 'ChatOpenAI')", 'in(name, ["llm", "tool", "nope"])',
    'search(name, "chat")', 'search(name, "AIN")', 'eq(run_type, "llm")', 'neq(run_type, "chain")',
    'in(run_type, ["tool", "retriever"])', 'eq(status, "success")', 'eq(status, "pending")',
    'neq(status, "error")', 'in(status, ["error", "pending"])',
    # error
    "neq(error, null)", "eq(error, null)", 'search(error, "100%_")', 'search(error, "BOOM")', 'search(error, "%")',
    'eq(error, "rate limit")', 'neq(error, "rate limit")',
    # is_root
    "eq(is_root, true)", "eq(is_root, false)", "neq(is_root, true)",
    # times
    'gt(start_time, "2024-03-01T12:03:00Z")', 'gte(start_time, "2024-03-01T12:03:00+00:00")',
    'lt(start_time, "2024-03-01T13:03:00+01:00")', 'lte(end_time, "2024-03-01T12:05:00Z")',
    "eq(end_time, null)", "neq(end_time, null)", 'eq(start_time, "2024-03-01T12:01:00")',
    'neq(end_time, "2024-03-01T12:01:06Z")', "neq(first_token_time, null)", 'gt(first_token_time, "2024-03-01")',
    # latency
    'gt(latency, "5s")', 'lt(latency, "250ms")', 'lte(latency, "250ms")', "gte(latency, 2)", 'lt(latency, "1m")',
    'gt(latency, "0.1h")', "eq(latency, 0.25)", "neq(latency, 0.25)", "eq(latency, null)", "neq(latency, null)",
    "and(gte(latency, 2.5), lte(latency, 10))",
    # usage
    "gt(total_tokens, 5000)", "gte(total_tokens, 5000)", "eq(total_tokens, 0)", "neq(total_tokens, 0)",
    "lt(prompt_tokens, 100)", "gt(completion_tokens, 39)", "in(total_tokens, [100, 5000])",
    'gt(total_cost, "0.002")', "gte(total_cost, 0.002)", "eq(total_cost, 0.5)", 'lt(prompt_cost, "1")',
    "eq(completion_cost, null)", "neq(total_cost, null)", 'neq(total_cost, "0.5")',
    # execution_order
    "eq(execution_order, 1)", "gt(execution_order, 1)", "lte(execution_order, 1)",
    # tags
    'has(tags, "v2")', 'has(tags, "prod")', "has(tags, 'it\\'s')", 'has(tags, "nope")',
    'or(has(tags, "production"), has(tags, "v2"))', 'not(has(tags, "v2"))',
    # thread_id
    'eq(thread_id, "t-1")', 'eq(thread_id, "X")', 'eq(thread_id, "c-9")', 'neq(thread_id, "t-1")',
    'in(thread_id, ["X", "c-9"])',
    # metadata pairs (§4.4)
    "eq(metadata_key, 'conversation_id')", "neq(metadata_key, 'conversation_id')",
    "eq(metadata_value, 1)", "eq(metadata_value, '1')", "eq(metadata_value, null)", "neq(metadata_value, 'X')",
    "and(eq(metadata_key, 'model'), eq(metadata_value, 1))", "and(eq(metadata_key, 'model'), neq(metadata_value, 1))",
    "and(in(metadata_key, ['model', 'user']), eq(metadata_value, 'Y'))",
    "and(eq(metadata_key, 'model'), eq(metadata_key, 'user'))", "and(eq(metadata_key, 'user'), neq(metadata_key, 'model'))",
    'in(metadata_value, ["gpt-4", "c-9"])', "exists(metadata, 'model')", "not(exists(metadata, 'model'))",
    # example metadata
    "eq(example_metadata_key, 'rank')", "and(eq(example_metadata_key, 'category'), eq(example_metadata_value, 'geo'))",
    "and(eq(example_metadata_key, 'n'), eq(example_metadata_value, 2))",
    "and(eq(example_metadata_key, 'category'), eq(example_metadata_value, 2))",
    "neq(example_metadata_value, 'math')", "eq(example_metadata_value, '[\"base\"]')",
    # feedback
    'eq(feedback_key, "correctness")', 'neq(feedback_key, "correctness")', 'in(feedback_key, ["exact", "other"])',
    "gt(feedback_score, 4)", "eq(feedback_score, 0)", "neq(feedback_score, 1)", "in(feedback_score, [0.5, 5])",
    'and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))', 'and(eq(feedback_key, "other"), gt(feedback_score, 4))',
    'and(eq(feedback_key, "correctness"), gte(feedback_score, 0.8))',
    'and(eq(feedback_key, "correctness"), lt(feedback_score, 1))',
    'and(eq(feedback_key, "correctness"), neq(feedback_score, 1))',
    'and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))',
    'eq(feedback_value, "wrong")', "eq(feedback_value, 1)", "eq(feedback_value, '2')", "neq(feedback_value, 'yes')",
    'and(eq(feedback_key, "correctness"), eq(feedback_value, 2))', 'and(eq(feedback_key, "exact"), eq(feedback_value, 2))',
    'and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))',
    # inputs / outputs
    "eq(input_key, 'ctx.docs.t')", "eq(input_key, 'ctx.docs')", "eq(input_key, 'a.b')", "eq(input_key, 'list.z')",
    "eq(input_key, 'list')", "eq(input_value, 'b')", "eq(input_value, 1)", "eq(input_value, '1')",
    "eq(input_value, true)", "eq(input_value, 'true')", "eq(input_value, null)", "eq(input_value, '{}')",
    "eq(input_value, '[]')", "eq(input_value, 0.5)", "eq(input_value, 'deep')",
    "and(eq(input_key, 'ctx.docs.t'), eq(input_value, 'b'))", "and(eq(input_key, 'ctx.k'), eq(input_value, 'b'))",
    "and(eq(input_key, 'n'), in(input_value, [1, 2]))", "neq(input_key, 'q')", "neq(input_value, 'hi')",
    "and(eq(output_key, 'a.b'), eq(output_value, 'nested'))", "eq(output_value, 1)", "eq(output_key, 'docs.metadata.p')",
    "and(eq(output_key, 'score'), eq(output_value, '1'))", "exists(inputs, 'ctx')", "exists(inputs, 'ct')",
    "exists(outputs, 'a')", "exists(inputs, 'a.b')",
    # search
    'search("paris")', 'search("hello")', 'search("Été")', 'search("été")', 'search("ctx.docs")', 'search("boom")',
    "search(\"' and \\\" and \\\\\")", 'search("%")', 'search("_")', 'search("DEEP")', 'search("5")',
    # logic
    'and(eq(is_root, true), not(eq(status, "error")))', 'or(eq(run_type, "tool"), gt(latency, 10))',
    'not(or(eq(run_type, "tool"), gt(latency, 10)))', 'and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))',
    'and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))', 'not(not(eq(name, "llm")))',
    'and(eq(name, "ChatOpenAI"), eq(metadata_key, "conversation_id"), eq(metadata_value, "X"))',
    "and(eq(is_root, true), and(eq(metadata_key, 'model'), eq(metadata_value, 1)))",
]


async def test_every_field_and_operator_matches_oracle(api, world):
    """One world per backend for all cases (building it is the slow part); every mismatch is listed."""
    mismatches = []
    for text in CASES:
        got, want = await selected(api, text), expected(world, text)
        if got != want:
            mismatches.append(f"{text}: sql {sorted(got)} oracle {sorted(want)}")
    assert not mismatches, "\n".join(mismatches)
    assert len(CASES) > 160


BINDING_VECTORS = [  # spec §4.4, metadata = {"conversation_id": "X", "user": "Y"} (run r1)
    ("eq(metadata_key, 'conversation_id')", True),
    ("and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'X'))", True),
    ("and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'Y'))", False),
    ("and(eq(metadata_key, 'conversation_id'), neq(metadata_value, 'X'))", False),
    ("and(neq(metadata_key, 'conversation_id'))", False),
    ("and(neq(metadata_key, 'thread_id'), eq(metadata_value, 'Y'))", True),
    ("and(neq(metadata_key, 'thread_id'), neq(metadata_value, 'Z'))", True),
    ('and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "X"))', True),
    # feedback {star_rating: 5}, {other: 1} (run r1)
    ('and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))', True),
    ('and(eq(feedback_key, "other"), gt(feedback_score, 4))', False),
]


@pytest.mark.parametrize("text,holds", BINDING_VECTORS)
async def test_binding_vectors(api, world, text, holds):
    assert ("r1" in await selected(api, text)) is holds
    assert ("r1" in expected(world, text)) is holds


async def test_pinned_answers(api, world):
    """Literal expectations that check the oracle as much as the compiler."""
    assert await selected(api, 'gt(latency, "5s")') == {"r1", "r6"}
    assert await selected(api, 'lte(latency, "250ms")') == {"r3", "r5"}
    assert await selected(api, "eq(is_root, true)") == {"r1", "r4", "r5", "r6"}
    assert await selected(api, 'eq(thread_id, "t-1")') == {"r2", "r4"}
    assert await selected(api, "eq(input_key, 'ctx.docs.t')") == {"r1"}
    assert await selected(api, "eq(input_value, 'deep')") == {"r5"}  # nested lists share the key
    assert await selected(api, "and(eq(input_key, 'list.z'), eq(input_value, 'deep'))") == {"r5"}
    assert await selected(api, "eq(metadata_value, 1)") == {"r4", "r5"}  # 1 and "1" by string form
    assert await selected(api, 'search("ÉTÉ")') == set()  # ASCII-only case folding
    assert await selected(api, 'search("what is été")') == set()
    assert await selected(api, 'search("WHAT is Été")') == {"r1"}


# -- §4.6 scopes on a three-level trace r1 -> r2 -> r3 ------------------------------------

SCOPED = [
    ("trace", 'eq(name, "ChatOpenAI")', {"r1", "r2", "r3", "r5"}),
    ("trace", 'eq(run_type, "tool")', set()),
    ("trace", "eq(is_root, true)", {"r1", "r2", "r3", "r4", "r5", "r6"}),
    ("tree", 'eq(run_type, "tool")', {"r1", "r2", "r3"}),
    ("tree", 'and(eq(feedback_key, "exact"), eq(feedback_score, 0))', {"r1", "r2", "r3"}),
    ("tree", 'neq(error, null)', {"r1", "r2", "r3", "r6"}),
    ("tree", 'eq(name, "nope")', set()),
]


@pytest.mark.parametrize("scope,text,want", SCOPED)
async def test_trace_and_tree_filter(api, world, scope, text, want):
    assert await selected(api, text, scope) == want
    assert expected(world, text, scope) == want


async def test_scopes_and_filter_combine(api, world):
    """All given filters AND together: filter=eq(run_type, 'llm') with tree_filter on the tool."""
    async with api.db_sessions() as db:
        cond = [run_condition('eq(run_type, "llm")'), trace_condition('eq(run_type, "tool")', "tree")]
        ids = (await db.execute(select(Run.id).where(Run.workspace_id == api.workspace_id, *cond))).scalars()
        assert {fw.NAMES[i] for i in ids} == {"r2"}


# -- random well-formed trees: SQL == oracle -------------------------------------------------

def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


LEAVES = st.one_of(
    st.sampled_from(['eq(status, "success")', 'eq(run_type, "llm")', "eq(is_root, true)", "neq(error, null)",
                     'has(tags, "v2")', 'gt(latency, "1s")', "lt(total_tokens, 200)", 'eq(thread_id, "t-1")',
                     'search("paris")', "exists(metadata, 'model')", 'search(name, "chat")', "eq(end_time, null)"]),
    st.builds(lambda op, k: f"{op}(metadata_key, {_q(k)})", st.sampled_from(["eq", "neq"]),
              st.sampled_from(["model", "user", "thread_id", "conversation_id", "x"])),
    st.builds(lambda op, v: f"{op}(metadata_value, {v})", st.sampled_from(["eq", "neq"]),
              st.sampled_from(["1", "'1'", "'X'", "'Y'", "'gpt-4'", "null"])),
    st.builds(lambda op, k: f"{op}(feedback_key, {_q(k)})", st.sampled_from(["eq", "neq"]),
              st.sampled_from(["correctness", "exact", "star_rating"])),
    st.builds(lambda op, v: f"{op}(feedback_score, {v})", st.sampled_from(["eq", "neq", "gt", "lt", "gte"]),
              st.sampled_from(["0", "0.5", "1", "4"])),
    st.builds(lambda op, k: f"{op}(input_key, {_q(k)})", st.sampled_from(["eq", "neq"]),
              st.sampled_from(["question", "ctx.docs.t", "n", "list", "a.b"])),
    st.builds(lambda op, v: f"{op}(input_value, {v})", st.sampled_from(["eq", "neq"]),
              st.sampled_from(["1", "'b'", "true", "'x'", "'hi'"])),
    st.builds(lambda op, v: f"{op}(example_metadata_value, {v})", st.sampled_from(["eq", "neq"]),
              st.sampled_from(["'geo'", "2", "1"])),
)
TREES = trees(LEAVES)


@settings(max_examples=60, deadline=None)
@given(text=TREES)
async def test_random_trees_match_oracle(api, world, text):
    assert await selected(api, text) == expected(world, text), text
