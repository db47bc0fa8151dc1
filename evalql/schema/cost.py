"""What a GraphQL operation may cost, estimated before anything runs, and refused over a budget.

Depth, alias and token limits bound a document's *text*; they do not bound its *answer*: 15
aliases of `examples(first: 100) { … runs { feedbacks children } }` resolved 46,500 objects
(9.6 s, +150 MB) within all three. So, as GitHub's GraphQL API (node limit) and Shopify's
(calculated query cost) do, the operation's nodes are estimated from the validated document
and its variables, and an operation over the budget (`Settings.graphql_max_cost`,
`EVALQL_GRAPHQL_MAX_COST`) is refused before any resolver or statement runs.

The estimate counts objects: every field of an object type (or a list of them) adds the
number of objects it may answer, times the number of parents it answers for, down the
nesting. Scalars and lists of scalars count nothing (their size is bounded by the objects
that carry them and by the token limit). A list's size is its page size where the schema has
one (`first` of a connection, `input.limit` and `input.perGroupLimit` of the comparison
queries, `valuesPerKey`; defaults and maxima as the schema declares them), the number of
sessions asked for where runs come one per session (`ExampleWithRuns.runs`,
`Example.runs`), and otherwise an assumed size (`ASSUMED_LIST_SIZE`; runs per example and
session: `ASSUMED_REPETITIONS`). Fields are merged by response key as execution merges them
(aliases are separate fields, a fragment spread twice in one selection counts once),
fragments and inline fragments are expanded, variables are read with their defaults, and
introspection (`__schema`, `__type`: as large as the schema, whatever the request) counts nothing;
`@skip`/`@include` are ignored (an upper bound). Each (selection, sizes) pair is costed once,
so fragments nested many times over cost the estimate no more time than the document's size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    get_named_type,
    get_operation_ast,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

# The maxima the resolvers enforce (a larger value is refused there, so it costs no more)
# and the defaults they apply, from where the requests declare them.
from evalql.core import dataset_runs_request as dr
from evalql.core import group_request as gr
from evalql.queries.metadata_keys import MAX_VALUES_PER_KEY
from evalql.schema.connection import MAX_FIRST

DEFAULT_MAX_COST = 25_000
"""The default budget, in objects. The comparison page's largest requests, at 10 sessions, are
4,221 (`groupRuns`: 20 groups with every session's stats and deltas) and 3,672 (`datasetRuns`: 51
examples with their runs' feedback); the issue's 15 aliases of `examples(first: 100) { … runs
{ feedbacks children } }` over 3 sessions are 52,530 (one alias of it: 3,502). A client asking
for every field of 200 examples' runs at once is over it, and is told to ask for less."""

ASSUMED_LIST_SIZE = 5
"""Objects assumed in a list the schema does not bound by an argument: a run's children and
feedback, a run set's feedback keys, a metadata key list, a key's value counts."""

ASSUMED_REPETITIONS = 1
"""Runs assumed per example and session (repetitions are rare; the budget has room for them)."""



@dataclass(frozen=True)
class Sizes:
    """What a field's list sizes depend on, handed down from the fields above it."""

    page: int = 1  # a connection's `first`, for its `edges`
    sessions: int = 1  # sessions of the comparison above (runs per example)
    per_group: int = 1  # examples per group of `groupRuns`
    values: int = ASSUMED_LIST_SIZE  # `valuesPerKey` of the metadata key list above


class Arguments:
    """A field's argument values: literals, variables (with their declared defaults), and
    the schema's defaults for what the document leaves out."""

    def __init__(self, field: GraphQLField, node: FieldNode, variables: dict[str, Any]) -> None:
        self.field, self.variables = field, variables
        self.given = {arg.name.value: arg.value for arg in node.arguments or ()}

    def value(self, name: str) -> Any:
        if name in self.given:
            found = value_from_ast_untyped(self.given[name], self.variables)
            if found is not Undefined:
                return found
        argument = self.field.args.get(name)
        return None if argument is None or argument.default_value is Undefined else argument.default_value

    def input_field(self, argument: str, name: str) -> Any:
        """`input.limit`: as given, else the input type's default."""
        value = self.value(argument)
        if isinstance(value, dict) and value.get(name) is not None:
            return value[name]
        arg = self.field.args.get(argument)
        input_type = get_named_type(arg.type) if arg is not None else None
        if isinstance(input_type, GraphQLInputObjectType) and name in input_type.fields:
            default = input_type.fields[name].default_value
            return None if default is Undefined else default
        return None


def _count(value: Any, default: int, maximum: int | None = None) -> int:
    """A size from an argument value: a non-integer counts as the default (execution refuses
    it), a negative one as nothing, one past the resolver's maximum as that maximum."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    value = max(value, 0)
    return min(value, maximum) if maximum is not None else value


def _distinct(value: Any) -> int:
    return len({str(v) for v in value}) if isinstance(value, list) else 1


Rule = Callable[[Arguments, Sizes], tuple[int, Sizes]]


def _connection(args: Arguments, sizes: Sizes) -> tuple[int, Sizes]:
    return 1, Sizes(page=_count(args.value("first"), 20, MAX_FIRST), sessions=sizes.sessions)


def _group_runs(args: Arguments, sizes: Sizes) -> tuple[int, Sizes]:
    sessions = min(_distinct(args.input_field("input", "sessionIds")), gr.MAX_SESSIONS)
    return (_count(args.input_field("input", "limit"), gr.DEFAULT_GROUPS, gr.MAX_GROUPS),
            Sizes(sessions=sessions,
                  per_group=_count(args.input_field("input", "perGroupLimit"), gr.DEFAULT_PER_GROUP, gr.MAX_PER_GROUP)))


def _dataset_runs(args: Arguments, sizes: Sizes) -> tuple[int, Sizes]:
    sessions = min(_distinct(args.input_field("input", "sessionIds")), gr.MAX_SESSIONS)
    return _count(args.input_field("input", "limit"), dr.DEFAULT_EXAMPLES, dr.MAX_EXAMPLES), Sizes(sessions=sessions)


def _metadata_keys(args: Arguments, sizes: Sizes) -> tuple[int, Sizes]:
    return ASSUMED_LIST_SIZE, Sizes(values=_count(args.value("valuesPerKey"), 10, MAX_VALUES_PER_KEY))


RULES: dict[str, Rule] = {
    "Query.datasets": _connection,
    "Dataset.examples": _connection,
    "Dataset.sessions": _connection,
    "Session.runs": _connection,
    "Query.groupRuns": _group_runs,
    "Query.datasetRuns": _dataset_runs,
    "ExampleGroupWithSessions.examples": lambda args, sizes: (sizes.per_group, sizes),
    "ExampleGroupWithSessions.sessions": lambda args, sizes: (sizes.sessions, sizes),
    "ExampleWithRuns.runs": lambda args, sizes: (sizes.sessions * ASSUMED_REPETITIONS, sizes),
    "Example.runs": lambda args, sizes: (_distinct(args.value("sessionIds")) * ASSUMED_REPETITIONS, sizes),
    "Dataset.exampleMetadataKeys": _metadata_keys,
    "Dataset.runMetadataKeys": _metadata_keys,
    "MetadataKey.values": lambda args, sizes: (sizes.values, sizes),
}
"""List sizes of the fields that have one, by `Type.field` in GraphQL's names. Other lists of
objects have `ASSUMED_LIST_SIZE`, a connection's `edges` its `first`, single objects 1."""


def _object_type(field: GraphQLField) -> tuple[GraphQLObjectType | None, bool]:
    """The object type a field answers (None for scalars and enums), and whether it is a list."""
    kind: Any = field.type
    is_list = False
    while isinstance(kind, (GraphQLNonNull, GraphQLList)):
        is_list = is_list or isinstance(kind, GraphQLList)
        kind = kind.of_type
    return (kind if isinstance(kind, GraphQLObjectType) else None), is_list


class Estimate:
    """The objects one operation of a validated document may answer."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: Mapping[str, Any] | None) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = dict(_variable_defaults(operation))
        self.variables.update(variables or {})
        self._memo: dict[tuple[tuple[int, ...], str, Sizes], int] = {}
        root = {OperationType.QUERY: schema.query_type, OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type}[operation.operation]
        self.total = 0 if root is None else self._selection([operation.selection_set], root, Sizes())

    def _selection(self, selection_sets: Iterable[SelectionSetNode], parent: GraphQLNamedType, sizes: Sizes) -> int:
        """Objects below one object of type `parent` for these (merged) selection sets."""
        if not isinstance(parent, GraphQLObjectType):
            return 0
        fields: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(selection_set, parent, fields, set())
        key = (tuple(id(n) for nodes in fields.values() for n in nodes), parent.name, sizes)
        if key in self._memo:
            return self._memo[key]
        total = 0
        for nodes in fields.values():
            field = parent.fields.get(nodes[0].name.value)
            child, is_list = _object_type(field) if field is not None else (None, False)
            if field is None or child is None:
                continue
            count, below = self._size(parent, nodes[0], field, is_list, sizes)
            subsets = [n.selection_set for n in nodes if n.selection_set is not None]
            total += count * (1 + self._selection(subsets, child, below))
        self._memo[key] = total
        return total

    def _size(self, parent: GraphQLObjectType, node: FieldNode, field: GraphQLField, is_list: bool,
              sizes: Sizes) -> tuple[int, Sizes]:
        name = node.name.value
        rule = RULES.get(f"{parent.name}.{name}")
        if rule is not None:
            return rule(Arguments(field, node, self.variables), sizes)
        if name == "edges" and parent.name.endswith("Connection"):
            return sizes.page, sizes
        return (ASSUMED_LIST_SIZE if is_list else 1), sizes

    def _collect(self, selection_set: SelectionSetNode, parent: GraphQLObjectType, fields: dict[str, list[FieldNode]],
                 spread: set[str]) -> None:
        """Fields by response key, fragments expanded, as execution collects them."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if selection.type_condition is None or selection.type_condition.name.value == parent.name:
                    self._collect(selection.selection_set, parent, fields, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in spread or fragment is None or fragment.type_condition.name.value != parent.name:
                    continue
                spread.add(name)
                self._collect(fragment.selection_set, parent, fields, spread)


def _variable_defaults(operation: OperationDefinitionNode) -> Iterable[tuple[str, Any]]:
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            yield definition.variable.name.value, value_from_ast_untyped(definition.default_value)


def estimate(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
             variables: Mapping[str, Any] | None) -> int:
    return Estimate(schema, document, operation, variables).total


class CostLimit(SchemaExtension):
    """Refuses a query or mutation whose estimate is over `budget` before it executes (its
    result is set, so Strawberry runs nothing), with BAD_USER_INPUT stating both numbers, and
    tells every answer its estimate (`extensions.cost`), so clients can plan. Subscriptions
    are not estimated: their events are small, and graphql_ws.py bounds how many run."""

    def __init__(self, *, budget: int) -> None:
        self.budget = budget
        self.cost: int | None = None

    def on_execute(self):
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document is not None else None
        if operation is not None and operation.operation is not OperationType.SUBSCRIPTION:
            self.cost = self._estimate(document, operation, context.variables)  # type: ignore[arg-type]
            if self.cost > self.budget:
                context.result = ExecutionResult(data=None, errors=[GraphQLError(
                    f"Query cost {self.cost} exceeds the budget of {self.budget} (objects the answer may hold, "
                    "estimated from page sizes down the nesting): ask for smaller pages or fewer nested lists",
                    extensions={"code": "BAD_USER_INPUT", "cost": self._numbers()})])
        yield

    SIZE = 256

    def _estimate(self, document: DocumentNode, operation: OperationDefinitionNode,
                  variables: dict[str, Any] | None) -> int:
        """Kept per (document, operation, variables): a page that polls one query with the same
        variables pays for the estimate once (parsed documents are shared, `ValidateOnce`)."""
        schema = self.execution_context.schema
        kept: OrderedDict[tuple, tuple[DocumentNode, int]] = schema.__dict__.setdefault(
            "_evalql_costs", OrderedDict())
        try:
            key = (id(document), id(operation), orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))
        except orjson.JSONEncodeError:  # integers past 64 bits: not kept
            return estimate(schema._schema, document, operation, variables)
        found = kept.get(key)
        if found is not None and found[0] is document:  # the very document, not one at its old address
            kept.move_to_end(key)
            return found[1]
        cost = estimate(schema._schema, document, operation, variables)
        kept[key] = (document, cost)
        while len(kept) > self.SIZE:
            kept.popitem(last=False)
        return cost

    def get_results(self) -> dict[str, Any]:
        return {} if self.cost is None else {"cost": self._numbers()}

    def _numbers(self) -> dict[str, int]:
        return {"estimate": self.cost or 0, "budget": self.budget}
