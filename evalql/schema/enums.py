"""GraphQL enums (graphql.md §1)."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum
class GroupBy(enum.Enum):
    RUN_METADATA = "run_metadata"
    EXAMPLE_METADATA = "example_metadata"


@strawberry.enum
class RunType(enum.Enum):
    LLM = "llm"
    CHAIN = "chain"
    TOOL = "tool"
    RETRIEVER = "retriever"
    EMBEDDING = "embedding"
    PROMPT = "prompt"
    PARSER = "parser"


@strawberry.enum
class RunStatus(enum.Enum):
    SUCCESS = "success"
    ERROR = "error"
    PENDING = "pending"
