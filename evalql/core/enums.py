"""The enumerations of the domain (spec §2, §5.1), defined once: pydantic validates them
in REST bodies and ingest records, Strawberry exposes the same classes as GraphQL enums
(`schema/enums.py`), and the filter language checks `run_type` against `RunType`."""

from __future__ import annotations

import enum


class GroupBy(enum.Enum):
    RUN_METADATA = "run_metadata"
    EXAMPLE_METADATA = "example_metadata"


class RunType(str, enum.Enum):
    LLM = "llm"
    CHAIN = "chain"
    TOOL = "tool"
    RETRIEVER = "retriever"
    EMBEDDING = "embedding"
    PROMPT = "prompt"
    PARSER = "parser"


class RunStatus(str, enum.Enum):
    SUCCESS = "success"
    ERROR = "error"
    PENDING = "pending"


class SortOrder(enum.Enum):
    """The direction of §6's `sort_params` (LangSmith's default: DESC)."""

    ASC = "ASC"
    DESC = "DESC"
