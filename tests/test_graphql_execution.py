"""The executor's direct path for plain leaf fields (`evalql/schema/execution.py`) answers
exactly as graphql-core's full path does: same data, same key order, same errors at the
same paths, for the cases that leave the direct path (nulls in non-null fields, attributes
that raise, values a scalar refuses, lists that are not lists)."""

from __future__ import annotations

import enum
import uuid
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import parse as graphql_parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from evalql.schema import ValidateOnce, build_schema
from evalql.schema.execution import EvalqlExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    count: int | None
    maybe_name: str | None
    tags: list[str]
    loose_tags: list[str | None] | None
    colour: Colour
    ident: uuid.UUID
    score: float | None = None

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times


class Broken:
    """Attributes that a plain read cannot serve: the full path must report them."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    @property
    def count(self) -> int:
        raise ValueError("count is broken")


def _items() -> list[Any]:
    good = Item(name="a", count=3, maybe_name=None, tags=["x", "y"], loose_tags=["p", None], colour=Colour.BLUE,
                ident=uuid.UUID(int=5), score=0.5)
    null_in_non_null = Item(name=None, count=1, maybe_name="m", tags=[], loose_tags=None,  # type: ignore[arg-type]
                            colour=Colour.RED, ident=uuid.UUID(int=6))
    null_item = Item(name="c", count=None, maybe_name=None, tags=["ok", None], loose_tags=[],  # type: ignore[list-item]
                     colour=Colour.RED, ident=uuid.UUID(int=7))
    not_a_list = Item(name="d", count="seven", maybe_name=None, tags="xy", loose_tags=None,  # type: ignore[arg-type]
                      colour="purple", ident=uuid.UUID(int=8))  # type: ignore[arg-type]
    raising = Broken(name="e", maybe_name=None, tags=[], loose_tags=None, colour=Colour.RED, ident=uuid.UUID(int=9),
                     score=None)
    return [good, null_in_non_null, null_item, not_a_list, raising]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return _items()

    @strawberry.field
    def first(self) -> Item:
        return _items()[0]


DOCUMENT = """{
  items { second: name count maybeName tags looseTags colour ident score shout(times: 2) name __typename }
  first { ident tags colour name count }
  again: first { name }
}"""


class CountingContext(EvalqlExecutionContext):
    """Records the fields that took graphql-core's full path."""

    full_path: list[tuple] = []

    def execute_field(self, parent_type: Any, source: Any, field_details_list: Any, path: Any,
                      position_context: Any) -> Any:
        CountingContext.full_path.append(tuple(path.as_list()))
        return super().execute_field(parent_type, source, field_details_list, path, position_context)


def _execute(context_class: type) -> tuple[Any, list[tuple[str, list]]]:
    schema = strawberry.Schema(query=Query, execution_context_class=context_class)
    result = schema.execute_sync(DOCUMENT)
    errors = sorted((e.message, e.path or []) for e in result.errors or [])
    return result.data, errors


def test_direct_path_answers_as_the_full_path():
    ours, our_errors = _execute(EvalqlExecutionContext)
    stock, stock_errors = _execute(StrawberryGraphQLCoreExecutionContext)
    assert ours == stock
    assert [list(item) for item in ours["items"] if item] == [list(item) for item in stock["items"] if item]
    assert list(ours) == ["items", "first", "again"]
    assert our_errors == stock_errors
    # The cases were exercised: each odd item produced its error.
    paths = {tuple(path) for _, path in our_errors}
    assert ("items", 1, "second") in paths  # null in a non-null field
    assert ("items", 2, "tags", 1) in paths  # null item in a list of non-null
    assert ("items", 3, "count") in paths  # a value Int refuses
    assert ("items", 4, "count") in paths  # an attribute that raises
    # Plain leaves of well-formed values took the direct path; arguments, objects, lists of
    # objects, __typename and the odd values took the full one.
    CountingContext.full_path.clear()
    assert _execute(CountingContext) == (ours, our_errors)
    full = set(CountingContext.full_path)
    assert {("items", 0, "second"), ("items", 0, "tags"), ("items", 0, "ident"), ("first", "name")}.isdisjoint(full)
    assert {("items",), ("first",), ("items", 0, "shout"), ("items", 0, "__typename"), ("items", 1, "second"),
            ("items", 3, "count"), ("items", 4, "count")} <= full
    assert ours["items"][0] == {"second": "a", "count": 3, "maybeName": None, "tags": ["x", "y"],
                                "looseTags": ["p", None], "colour": "BLUE", "ident": str(uuid.UUID(int=5)),
                                "score": 0.5, "shout": "AA", "name": "a", "__typename": "Item"}


def test_valid_documents_are_parsed_once_and_errors_every_time(monkeypatch):
    import strawberry.schema.schema as strawberry_schema

    parsed: list[str] = []

    def counting_parse(source: Any, **options: Any) -> Any:
        parsed.append(source)
        return graphql_parse(source, **options)

    monkeypatch.setattr(strawberry_schema, "parse", counting_parse)
    schema = build_schema()
    for _ in range(3):
        result = schema.execute_sync("{ __typename }")
        assert result.data == {"__typename": "Query"} and not result.errors
    assert parsed == ["{ __typename }"]
    for _ in range(2):
        result = schema.execute_sync("{ __typename ")
        assert result.errors and "Syntax Error" in result.errors[0].message
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert parsed == ["{ __typename }", "{ __typename ", "{ __typename "]


@pytest.mark.parametrize("text", ["{ nope }", "{ __typename nope }"])
def test_invalid_documents_are_validated_every_time(text):
    schema = build_schema()
    for _ in range(2):
        result = schema.execute_sync(text)
        assert result.errors and "Cannot query field 'nope'" in result.errors[0].message
        assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}


# --- completed results of pure selections, kept between requests -----------------------------------

CALLS: dict[str, int] = {"stats": 0, "loaded": 0}


@strawberry.type
class Stat:
    name: str
    value: float | None


@strawberry.type
class Thing:
    data: strawberry.Private[dict]
    label: str
    __evalql_pure__: ClassVar[frozenset[str]] = frozenset({"stats"})

    def result_key(self) -> tuple[object, ...] | None:
        return (self.data,) if self.data.get("cacheable", True) else None

    @strawberry.field
    def stats(self) -> list[Stat]:
        CALLS["stats"] += 1
        return [Stat(name=k, value=v) for k, v in self.data["stats"].items()]

    @strawberry.field
    def loaded(self) -> str:  # not declared pure: a selection with it is never kept
        CALLS["loaded"] += 1
        return "loaded"

    @strawberry.field
    def scaled(self, by: int = 1) -> int:  # takes an argument: never kept
        return len(self.label) * by


THINGS: list[dict] = []


@strawberry.type
class ThingQuery:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [Thing(data=d, label=d["label"]) for d in THINGS]


def _things_schema() -> strawberry.Schema:
    # Documents parsed once, as evalql's schema does (`schema.ValidateOnce`): the same text
    # gives the same nodes, which is what a kept result is keyed by.
    return strawberry.Schema(query=ThingQuery, execution_context_class=EvalqlExecutionContext,
                             extensions=[ValidateOnce])


def test_pure_selections_are_completed_once_per_object():
    schema = _things_schema()
    first, second = {"label": "a", "stats": {"x": 1.0}}, {"label": "bb", "stats": {"y": None}}
    THINGS[:] = [first, second]
    CALLS.update(stats=0, loaded=0)
    query = "{ things { label stats { name value } __typename } }"
    expected = {"things": [{"label": "a", "stats": [{"name": "x", "value": 1.0}], "__typename": "Thing"},
                           {"label": "bb", "stats": [{"name": "y", "value": None}], "__typename": "Thing"}]}
    assert schema.execute_sync(query).data == expected and CALLS["stats"] == 2
    assert schema.execute_sync(query).data == expected and CALLS["stats"] == 2  # both kept
    # A new object (the engine replaces what changed) is completed again; the other is kept.
    replaced = {"label": "a", "stats": {"x": 2.0}}
    THINGS[:] = [replaced, second]
    assert schema.execute_sync(query).data["things"][0]["stats"] == [{"name": "x", "value": 2.0}]
    assert CALLS["stats"] == 3
    # Another selection of the same objects is its own entry.
    assert schema.execute_sync("{ things { stats { name } } }").data == {
        "things": [{"stats": [{"name": "x"}]}, {"stats": [{"name": "y"}]}]}
    assert CALLS["stats"] == 5


@pytest.mark.parametrize("query", [
    "{ things { label loaded stats { name } } }",  # a field that is not pure
    "{ things { label scaled(by: 2) stats { name } } }",  # an argument
    "{ things { label stats { name @include(if: true) } } }",  # a directive
])
def test_impure_selections_are_completed_every_time(query):
    schema = _things_schema()
    THINGS[:] = [{"label": "a", "stats": {"x": 1.0}}]
    CALLS.update(stats=0)
    results = [schema.execute_sync(query) for _ in range(2)]
    assert results[0].data == results[1].data and not results[0].errors
    assert CALLS["stats"] == 2


def test_objects_without_a_key_or_with_errors_are_not_kept():
    schema = _things_schema()
    CALLS.update(stats=0)
    THINGS[:] = [{"label": "a", "stats": {"x": 1.0}, "cacheable": False}]
    for _ in range(2):
        schema.execute_sync("{ things { stats { name } } }")
    assert CALLS["stats"] == 2
    THINGS[:] = [{"label": "a", "stats": {"x": "not a number"}}]  # Float refuses it: an error
    for _ in range(2):
        result = schema.execute_sync("{ things { stats { value } } }")
        assert result.errors and result.data == {"things": [{"stats": [{"value": None}]}]}
    assert CALLS["stats"] == 4
