"""GraphQL errors with `extensions.code` (graphql.md §2)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class CodedError(GraphQLError):
    code = "INTERNAL"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, extensions={"code": self.code}, **kwargs)


class BadUserInput(CodedError):
    code = "BAD_USER_INPUT"


class NotFound(CodedError):
    code = "NOT_FOUND"


class Unauthenticated(CodedError):
    code = "UNAUTHENTICATED"


class Forbidden(CodedError):
    code = "FORBIDDEN"


EXPECTED_CODES = frozenset({"BAD_USER_INPUT", "NOT_FOUND", "UNAUTHENTICATED", "FORBIDDEN"})
