"""The filter parser (spec §4.1, §4.2, §4.7, §4.8): acceptance and rejection suites, limits,
offsets, and hypothesis: any string gives a tree or a FilterError, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalql.filters.ast import And, Compare, Field, In, Lit, Search
from evalql.filters.errors import MAX_DEPTH, MAX_LENGTH, MAX_PREDICATES, FilterError
from evalql.filters.render import group_filter, group_filter_tree, quote, render
from evalql.filters.runs import validate_run_filter
from evalql.filters.syntax import parse

ACCEPTED = """
neq(error, null)
eq(is_root, true)
gt(latency, "5s")
gt(start_time, "2023-07-15T12:34:56Z")
search("image classification")
search(name, "ChatOpenAI")
has(tags, "2aa1cf4")
in(trace_id, ["0e01bf50-474d-4536-810f-67d3ee7ea3e7", "a8024e23-5b82-47fd-970e-f6a5ba3f5097"])
eq(thread_id, "thread_abc123")
eq(metadata_key, 'user_id')
and(gte(latency, 2.5), lte(latency, 10))
and(neq(metadata_key, 'conversation_id'))
or(has(tags, "production"), has(tags, "v2"))
and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))
and(eq(feedback_key, "correctness"), gte(feedback_score, 0.8))
and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))
and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))
and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'), eq(metadata_value, '69b12c91-b1e2-46ce-91de-794c077e8151'))
and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))
and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "t-1"))
and(eq(is_root, true), and(eq(metadata_key, 'model'), eq(metadata_value, 'gpt-4')))
and(eq(is_root, true), and(eq(example_metadata_key, 'category'), eq(example_metadata_value, 'geo')))
""".strip().splitlines()


@pytest.mark.parametrize("text", ACCEPTED)
def test_acceptance_suite(text):
    tree = validate_run_filter(text)  # parses and compiles against the run fields
    assert render(parse(render(tree))) == render(tree)


REJECTED = [
    ("eq(latency)", "eq() takes 2 arguments, got 1", 0),
    ("eq(latncy, 1)", "unknown field 'latncy'", 3),
    ("and(", "unexpected end of the filter", 4),
    ('gt(latency, "5 parsecs")', "latency takes seconds or a duration", 12),
    ('like(name, "%x%")', "unknown function 'like'", 0),
    ('eq(name, "unterminated)', "unterminated string", 9),
    # more of §4.7: operator not allowed, uncoercible literals, structure
    ('gt(name, "a")', "gt() is not allowed on field 'name'", 0),
    ('has(name, "a")', "has() is not allowed on field 'name'", 0),
    ('eq(is_root, "yes")', "is_root takes true or false", 12),
    ('eq(id, "nope")', "id takes a UUID", 7),
    ('eq(status, "done")', "status takes one of success, error, pending", 11),
    ('gt(start_time, "yesterday")', "start_time takes an ISO-8601 timestamp", 15),
    ('gt(total_tokens, "many")', "total_tokens takes a number", 17),
    ("gt(latency, null)", "gt() cannot compare 'latency' with null", 12),
    ("eq(1, name)", "the first argument of eq() must be a field", 3),
    ("and(name)", "and() takes function calls as arguments", 4),
    ("and()", "and() takes at least 1 argument, got 0", 0),
    ("not(eq(name, 'a'), eq(name, 'b'))", "not() takes 1 argument, got 2", 0),
    ("in(name, 'a')", "in() takes a list", 9),
    ("eq(name, gpt4)", "unknown value 'gpt4' in eq(): quote strings", 9),
    ("eq(name, 'a') x", "unexpected 'x' after the end of the filter", 14),
    ("eq(name, 'a\\q')", "invalid escape '\\q' in string", 11),
    ("eq(name, 'a' 'b')", "expected ',' or ')'", 13),
    ("", "empty filter", 0),
    ("name", "expected a function call", 0),
    ("EQ(name, 'a')", "unknown function 'EQ'", 0),
    ("eq(metadata.model, 'a')", "unknown field 'metadata.model'", 3),
    ("search(tags, 'a')", "search() is not allowed on field 'tags'", 0),
    ("gt(metadata_key, 'a')", "gt() is not allowed on field 'metadata_key'", 0),
    ("eq(name, 1x)", "invalid number", 9),
    ("eq(name, #)", "unexpected character '#'", 9),
]


@pytest.mark.parametrize("text,words,offset", REJECTED)
def test_rejection_suite(text, words, offset):
    with pytest.raises(FilterError) as caught:
        validate_run_filter(text)
    error = caught.value
    assert words in error.problem, error.message
    assert error.offset == offset, error.message
    assert error.message == f"Invalid filter: {error.problem} at offset {offset}"


def test_spec_example_message():
    with pytest.raises(FilterError) as caught:
        validate_run_filter("eq(latncy, 1)")
    assert caught.value.message == "Invalid filter: unknown field 'latncy' at offset 3"


def test_limits():
    leaf = "eq(name, 'a')"
    nested = leaf
    for _ in range(MAX_DEPTH - 1):
        nested = f"not({nested})"
    validate_run_filter(nested)  # depth 16
    with pytest.raises(FilterError, match=f"deeper than {MAX_DEPTH} levels"):
        validate_run_filter(f"not({nested})")
    many = f"and({', '.join([leaf] * MAX_PREDICATES)})"
    validate_run_filter(many)
    with pytest.raises(FilterError, match=f"more than {MAX_PREDICATES} predicates"):
        validate_run_filter(f"and({', '.join([leaf] * (MAX_PREDICATES + 1))})")
    long = f"eq(name, '{'x' * (MAX_LENGTH - 12)}')"
    assert len(long) == MAX_LENGTH
    validate_run_filter(long)
    with pytest.raises(FilterError, match=f"longer than {MAX_LENGTH} characters") as caught:
        validate_run_filter(long + " ")
    assert caught.value.offset == MAX_LENGTH


def test_tree_shape_and_offsets():
    tree = parse("and(eq(name, 'x'), in(status, ['error']), search(\"a\\u00e9\"))")
    assert tree == And((Compare("eq", Field(("name",), 7), Lit("x", 13), 4),
                        In(Field(("status",), 22), (Lit("error", 31),), 19),
                        Search(None, Lit("aé", 49), 42)), 0)
    assert parse('eq(inputs.a."b.c", -1.5e2)') == Compare("eq", Field(("inputs", "a", "b.c"), 3), Lit(-150.0, 19), 0)
    assert parse("eq(x, 10)").value == Lit(10, 6)  # integers stay integers


# -- rendering: the inverse of parsing -------------------------------------------------

TRICKY = ["gpt')), or(eq(is_root, true", "o'neil\\", 'say "hi", (x) [y]', "été 😀", '{"a":[1,"x"]}', "tab\there\nnl",
          "\\u0041", "", "null", "true", "1", "\x01\x7f"]  # NUL is refused (test_nul_and_surrogates_are_refused)


@pytest.mark.parametrize("value", TRICKY)
def test_quote_round_trips(value):
    tree = parse(f"eq(metadata_value, {quote(value)})")
    assert tree.value.value == value


@pytest.mark.parametrize("key", [*TRICKY, 1, -3, 2.5, 1e-07, 2**60])
def test_group_filter_round_trips(key):
    text = group_filter("run_metadata", "it's, (key)", key)
    assert render(parse(text)) == text
    value = parse(text).items[1].items[1].value.value
    assert value == key or (isinstance(key, float) and value == key)
    assert render(group_filter_tree("run_metadata", "it's, (key)", key)) == text


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_random_strings_give_a_tree_or_a_filter_error(text):
    try:
        parse(text)
    except FilterError as exc:
        assert 0 <= exc.offset <= len(text)
        assert exc.message.startswith("Invalid filter: ")


ALPHABET = st.sampled_from(list("()[],.'\"\\ -0123456789eE") + ["eq", "and", "or", "not", "in", "name", "null",
                                                                "true", "latency", "tags", "has", "search", "u00"])


@settings(max_examples=500, deadline=None)
@given(st.lists(ALPHABET, max_size=30).map("".join))
def test_random_token_soup_gives_a_tree_or_a_filter_error(text):
    try:
        validate_run_filter(text)
    except FilterError as exc:
        assert 0 <= exc.offset <= len(text)


@pytest.mark.parametrize("text", ['eq(name, "\x00")', 'eq(name, "\\u0000")', 'eq(name, "\\ud800")',
                                  'eq(name, "\\udc00\\ud800")', 'eq(name, "\ud800")', 'eq(metadata."\\u0000", 1)'])
def test_nul_and_surrogates_are_refused(text):
    """Neither is text a database can compare with (PostgreSQL refuses NUL; a lone surrogate
    is no character, and no driver encodes it)."""
    with pytest.raises(FilterError, match="NUL|lone surrogate"):
        parse(text)


def test_surrogate_pair_escapes_are_one_character():
    assert parse('eq(name, "\\ud83d\\ude00")').value.value == "\U0001f600"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30))
def test_any_string_value_round_trips(value):
    assert parse(f"eq(name, {quote(value)})").value.value == value
