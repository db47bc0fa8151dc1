"""The Strawberry schema with the limits of graphql.md §2."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection, MaskErrors, MaxAliasesLimiter, MaxTokensLimiter,
    QueryDepthLimiter, SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig

from evalql.schema.errors import EXPECTED_CODES
from evalql.schema.query import Query
from evalql.schema.scalars import SCALARS

log = logging.getLogger("evalql.graphql")

MAX_DEPTH = 12
MAX_ALIASES = 15
MAX_TOKENS = 2000


def _unexpected(error: GraphQLError) -> bool:
    """Errors raised by resolvers that are not one of our coded errors are bugs: mask them."""
    code = (error.extensions or {}).get("code")
    if code in EXPECTED_CODES:
        return False
    if error.original_error is None or error.path is None:
        # Syntax, validation, limit and variable-coercion errors happen before any
        # resolver runs (no path): their message is for the user.
        return False
    log.error("unexpected GraphQL error at %s", error.path, exc_info=error.original_error)
    return True


class CodedMaskErrors(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked


class UserErrorCodes(SchemaExtension):
    """Give document errors (syntax, validation, limits) `extensions.code = BAD_USER_INPUT`."""

    def on_execute(self):  # type: ignore[override]
        yield

    def on_operation(self):  # type: ignore[override]
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or []:
            if (error.original_error is None or error.path is None) and not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    # Factories, not instances: extensions keep per-operation state, so each request
    # gets fresh ones.
    extensions: list = [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        UserErrorCodes,
        lambda: CodedMaskErrors(should_mask_error=_unexpected, error_message="Internal error"),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        extensions=extensions,
        # Serialise exactly as REST does (UTC "+00:00" with microseconds, decimal strings).
        config=StrawberryConfig(disable_field_suggestions=not introspection, scalar_map=SCALARS),
    )


__all__ = ["build_schema"]
