"""The Strawberry schema with the limits of graphql.md §2."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig

from evalql.db.outage import is_statement_timeout
from evalql.schema.cost import DEFAULT_MAX_COST, CostLimit
from evalql.schema.errors import EXPECTED_CODES
from evalql.schema.execution import EvalqlExecutionContext
from evalql.schema.mutation import Mutation
from evalql.schema.query import Query
from evalql.schema.scalars import SCALARS
from evalql.schema.subscription import Subscription

log = logging.getLogger("evalql.graphql")

MAX_DEPTH = 12
MAX_ALIASES = 15
MAX_TOKENS = 2000


def _unexpected(error: GraphQLError) -> bool:
    """Errors raised by resolvers that are not one of our coded errors are bugs: masked in
    the answer, logged with their traceback for the operator."""
    code = (error.extensions or {}).get("code")
    if code in EXPECTED_CODES:
        return False
    # Syntax, validation, limit and variable-coercion errors happen before any resolver
    # runs (no path): their message is for the user.
    return error.original_error is not None and error.path is not None


class EvalqlSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """The caller's mistakes are not the server's: INFO, one line, no traceback.
        (Strawberry's default logs every error at ERROR with a traceback.)"""
        for error in errors:
            if is_statement_timeout(error.original_error):  # answered 504 TIMEOUT (graphql_app.py)
                log.warning("GraphQL statement cancelled by the statement timeout at %s", error.path)
            elif _unexpected(error):
                log.error("unexpected GraphQL error at %s", error.path, exc_info=error.original_error)
            else:
                log.info("GraphQL request refused: %s", error.message)


class ValidateOnce(SchemaExtension):
    """A document that parsed and passed validation (limits included) once is neither parsed
    nor validated again: a page that polls one query pays for both once. Keyed by the
    document's text, per schema (the rules of one schema never change); documents with
    errors are parsed and validated every time, so their errors and codes are as ever.
    (Strawberry's ValidationCache keys on the parsed document and on the limit rules, which
    are new objects on every request, so it never hits; its ParserCache also caches
    documents that fail, bypassing our syntax-error codes.) The parsed document is shared
    by the requests that send the same text: graphql-core never modifies one."""

    SIZE = 256

    def _valid(self) -> OrderedDict[str, DocumentNode]:
        return self.execution_context.schema.__dict__.setdefault("_evalql_valid", OrderedDict())

    def on_parse(self):
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            context.graphql_document = self._valid().get(context.query)
        yield

    def on_validate(self):
        context = self.execution_context
        valid = self._valid()
        text = context.query
        if text is not None and text in valid:
            context.pre_execution_errors = []
            valid.move_to_end(text)
        yield
        document = context.graphql_document
        if text is not None and document is not None and context.pre_execution_errors == [] and text not in valid:
            valid[text] = document
            while len(valid) > self.SIZE:
                valid.popitem(last=False)


class CodedMaskErrors(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        # Kept, never shown: a database outage is answered 503 (evalql/graphql_app.py).
        masked.original_error = error.original_error
        return masked


class UserErrorCodes(SchemaExtension):
    """Give document errors (syntax, validation, limits) `extensions.code = BAD_USER_INPUT`."""

    def on_execute(self):
        yield

    def on_operation(self):
        yield
        self._code(self.execution_context.result)

    def on_stream_result(self, result):
        # A subscription's results (evalql/graphql_ws.py) are sent before its operation ends.
        self._code(result)
        yield

    @staticmethod
    def _code(result: object) -> None:
        for error in getattr(result, "errors", None) or []:
            if (error.original_error is None or error.path is None) and not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}


def build_schema(*, introspection: bool = True, max_cost: int = DEFAULT_MAX_COST) -> strawberry.Schema:
    # Factories, not instances: extensions keep per-operation state, so each request
    # gets fresh ones.
    extensions: list = [
        ValidateOnce,
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: CostLimit(budget=max_cost),
        UserErrorCodes,
        lambda: CodedMaskErrors(should_mask_error=_unexpected, error_message="Internal error"),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return EvalqlSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=EvalqlExecutionContext,
        # Serialise exactly as REST does (UTC "+00:00" with microseconds, decimal strings).
        config=StrawberryConfig(disable_field_suggestions=not introspection, scalar_map=SCALARS),
    )


__all__ = ["build_schema"]
