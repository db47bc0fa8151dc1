"""GraphQL errors with `extensions.code` (graphql.md §2)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graphql import GraphQLError

from evalql.core.errors import NotFoundError


class CodedError(GraphQLError):
    code = "INTERNAL"

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, extensions={"code": self.code}, **kwargs)


class BadUserInput(CodedError):
    code = "BAD_USER_INPUT"


class NotFound(CodedError):
    code = "NOT_FOUND"


@contextmanager
def not_found_as_graphql() -> Iterator[None]:
    """The core's NotFoundError (a row missing, or another workspace's: alike, spec §1.2) as
    this interface's NOT_FOUND, with the same message REST answers 404 with."""
    try:
        yield
    except NotFoundError as exc:
        raise NotFound(exc.detail) from None


class Unauthenticated(CodedError):
    code = "UNAUTHENTICATED"


class Forbidden(CodedError):
    code = "FORBIDDEN"


class Busy(CodedError):
    """Too many comparisons at once (evalql/admission.py): HTTP 503 with `Retry-After`
    in REST; here `extensions.retryAfter` says the same seconds."""

    code = "BUSY"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.extensions = {"code": self.code, "retryAfter": retry_after}


EXPECTED_CODES = frozenset({"BAD_USER_INPUT", "NOT_FOUND", "UNAUTHENTICATED", "FORBIDDEN", "BUSY"})
