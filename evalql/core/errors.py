"""Domain errors shared by REST (status codes) and GraphQL (`extensions.code`)."""

from __future__ import annotations


class NotFoundError(Exception):
    """A resource is missing, or belongs to another workspace (indistinguishable, spec §1.2)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
