"""The GraphQL executor: graphql-core's, with two costs of a comparison page removed.

A `groupRuns` page returns a thousand or more leaf fields (ids, times, tokens, scores of
runs and stats blocks). graphql-core executes each one in full: a response path, a
resolve-info tuple, the resolver call, an awaitable check and a recursive completion, about
15 µs per field, 20 ms per page — more than the engine spends computing the answer.

1. Leaf fields that are plain attributes (Strawberry "basic" fields: no resolver, no
   arguments, no field extensions; no resolve middleware in the request) are read and
   serialised directly, with the very `coerce_output_value` the full path uses. Anything
   unusual — a null in a non-null field, an attribute that raises, a value the scalar
   refuses, a list that is not a list — goes through the full path, which then reports the
   error exactly as before. Results keep the selection's key order.
2. The completed result of an object whose selection is *pure* — every field a function of
   the object's own data: plain leaves, `__typename`, and fields its type declares pure
   (`__evalql_pure__`), with pure selections in turn, no arguments, no directives — is kept
   between requests, keyed by the selection's nodes (parsed documents are cached, so the
   same text gives the same nodes) and by the objects its type names in `result_key()`.
   A group query's runs are such objects: the engine keeps their ORM rows and feedback
   between requests and replaces them when the change log names them, so right after a
   write one run of a page is completed again and the others come from here. Results that
   took an error or an awaitable are not kept.
3. The per-list `@stream` check is skipped: the schema has no `@stream` directive
   (validation refuses documents that use one), and graphql-core 3.3 hashes the field's
   whole document subtree on every list it completes to look for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

_FULL_PATH = object()  # "execute this field the ordinary way"
RESULTS_KEPT = 5_000  # completed objects kept per schema: a few pages of runs (a run's is 1-5 kB)
LeafReader = Callable[[Any], Any]  # source object -> serialised value, or _FULL_PATH


def _coercer(leaf: GraphQLLeafType, non_null: bool) -> Callable[[Any], Any]:
    coerce = leaf.coerce_output_value

    def coerced(value: Any) -> Any:
        if value is None:
            return _FULL_PATH if non_null else None
        out = coerce(value)
        return _FULL_PATH if out is None or out is Undefined else out

    return coerced


def _leaf_reader(field: GraphQLField) -> LeafReader | None:
    """A direct reader for a plain-attribute leaf field, or None for any other field."""
    definition = (field.extensions or {}).get("strawberry-definition")
    if (not isinstance(definition, StrawberryField) or not definition.is_basic_field or field.args
            or definition.default_resolver is not getattr):
        return None
    attr, field_type = definition.python_name, field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    inner: Any = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if is_leaf_type(inner):
        scalar = _coercer(inner, non_null)

        def read(source: Any) -> Any:
            try:
                return scalar(getattr(source, attr))
            except Exception:
                return _FULL_PATH

        return read
    if not isinstance(inner, GraphQLList):
        return None
    item: Any = inner.of_type
    item_non_null = isinstance(item, GraphQLNonNull)
    if item_non_null:
        item = item.of_type
    if not is_leaf_type(item):
        return None
    element = _coercer(item, item_non_null)

    def read_list(source: Any) -> Any:
        try:
            value = getattr(source, attr)
            if value is None:
                return _FULL_PATH if non_null else None
            if not isinstance(value, list | tuple):
                return _FULL_PATH
            out = [element(v) for v in value]
        except Exception:
            return _FULL_PATH
        return _FULL_PATH if _FULL_PATH in out else out

    return read_list


def _python_name(field: GraphQLField) -> str | None:
    definition = (field.extensions or {}).get("strawberry-definition")
    return getattr(definition, "python_name", None)


def _pure_fields(parent_type: GraphQLObjectType) -> frozenset[str]:
    """The GraphQL names of the fields `parent_type`'s class declares pure (Python names
    in its `__evalql_pure__`): functions of the object's own data, whatever their resolver."""
    origin = getattr((parent_type.extensions or {}).get("strawberry-definition"), "origin", None)
    declared: frozenset[str] = getattr(origin, "__evalql_pure__", frozenset())
    return frozenset(name for name, field in parent_type.fields.items() if _python_name(field) in declared)


class Results:
    """Completed results of pure selections, by (type, selection nodes, key objects). Each
    entry keeps its nodes and objects, so that an id is only trusted with its object."""

    def __init__(self, limit: int = RESULTS_KEPT) -> None:
        self.limit = limit
        self.entries: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}

    def get(self, key: tuple[Any, ...], held: tuple[Any, ...]) -> Any:
        found = self.entries.get(key)  # equal keys: as many held objects, by the same ids
        if found is None or any(a is not b for a, b in zip(found[0], held, strict=True)):
            return None
        return found[1]

    def put(self, key: tuple[Any, ...], held: tuple[Any, ...], result: Any) -> None:
        if len(self.entries) >= self.limit:  # the oldest quarter goes
            for old in list(self.entries)[: self.limit // 4 or 1]:
                del self.entries[old]
        self.entries[key] = (held, result)


class EvalqlExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def get_stream_usage(self, field_details_list: Any, path: Any) -> None:
        return None

    def _leaf_readers(self, parent_type: GraphQLObjectType) -> dict[str, LeafReader | None]:
        # Per schema and type: a schema's fields never change.
        cache: dict[str, dict[str, LeafReader | None]] = self.schema.__dict__.setdefault("_evalql_leaf_readers", {})
        readers = cache.get(parent_type.name)
        if readers is None:
            readers = cache[parent_type.name] = {name: _leaf_reader(f) for name, f in parent_type.fields.items()}
        return readers

    def _pure_selection(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> tuple[Any, ...] | None:
        """The field nodes of a pure selection (module docstring, point 2), or None; worked out
        once per selection and request (graphql-core hands every item of a list the same one)."""
        memo: dict[int, tuple[Any, tuple[Any, ...] | None]] = self.__dict__.setdefault("_evalql_pure", {})
        found = memo.get(id(grouped_field_set))
        if found is None or found[0] is not grouped_field_set:  # kept with it: its id is not reused
            found = memo[id(grouped_field_set)] = (grouped_field_set,
                                                   self._pure_nodes(parent_type, grouped_field_set))
        return found[1]

    def _pure_nodes(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> tuple[Any, ...] | None:
        readers, declared = self._leaf_readers(parent_type), _pure_fields(parent_type)
        nodes: list[Any] = []
        for details in grouped_field_set.values():
            if any(d.node.arguments or d.node.directives for d in details):
                return None
            nodes.extend(d.node for d in details)
            name = details[0].node.name.value
            if name == "__typename" or readers.get(name) is not None:
                continue
            inner: Any = parent_type.fields[name].type if name in parent_type.fields else None
            while isinstance(inner, GraphQLNonNull | GraphQLList):
                inner = inner.of_type
            if name not in declared or not isinstance(inner, GraphQLObjectType):
                return None
            below = self._pure_selection(inner, self.collect_subfields(inner, details)[0])
            if below is None:
                return None
            nodes.extend(below)
        return tuple(nodes)

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None,
                       grouped_field_set: Any, position_context: Any) -> Any:
        manager = self.middleware_manager
        if manager is not None and manager._middleware_resolvers:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        # Looked up on the class: an instance of a `Computed` type answers a missing attribute
        # by raising from __getattr__, which costs more than the lookup.
        result_key: Callable[[Any], tuple[Any, ...] | None] | None = getattr(type(source_value), "result_key", None)
        nodes = self._pure_selection(parent_type, grouped_field_set) if result_key is not None else None
        objects = result_key(source_value) if result_key is not None and nodes is not None else None
        if nodes is None or objects is None:
            return self._execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: Results = self.schema.__dict__.setdefault("_evalql_results", Results())
        key, held = (parent_type.name, *map(id, nodes), *map(id, objects)), (*nodes, *objects)
        found = results.get(key, held)
        if found is not None:
            return found
        errors = len(self.collected_errors.errors)
        completed = self._execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        if not self.is_awaitable(completed) and len(self.collected_errors.errors) == errors:
            results.put(key, held, completed)
        return completed

    def _execute_fields(self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None,
                        grouped_field_set: Any, position_context: Any) -> Any:
        readers = self._leaf_readers(parent_type)
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                read = None if node.arguments else readers.get(node.name.value)
                if read is not None:
                    value = read(source_value)
                    if value is not _FULL_PATH:
                        results[response_name] = value
                        continue
                result = self.execute_field(parent_type, source_value, field_details_list,
                                            Path(path, response_name, parent_type.name), position_context)
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gather_fields(results, awaitable_fields)

    async def _gather_fields(self, results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
        # As graphql-core's own execute_fields: one awaited field directly, several together.
        if len(awaitable_fields) == 1:
            name = awaitable_fields[0]
            results[name] = await results[name]
            return results
        awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
        return results
