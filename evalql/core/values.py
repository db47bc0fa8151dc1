"""Normalisation of JSON metadata values (spec §4.3 string forms, §5.3 group keys).

One function decides how a JSON value is written as text, so that group keys,
group filter strings and filter comparisons can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import orjson

ValueKind = Literal["string", "number", "bool", "json", "null"]


def canonical_json(value: Any) -> str:
    """Sorted keys, separators `,`/`:`, non-ASCII kept (spec §5.3 step 3)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def number_text(value: int | float) -> str:
    """JSON text of a number; integral floats are written as integers (1.0 -> "1")."""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class NormalizedValue:
    kind: ValueKind
    text: str  # the string form of §4.3
    num: float | None  # numeric value for ordering numbers; None for other kinds


def normalize(value: Any) -> NormalizedValue:
    if value is None:
        return NormalizedValue("null", "null", None)
    if isinstance(value, bool):
        return NormalizedValue("bool", "true" if value else "false", None)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return NormalizedValue("string", repr(value), None)
        return NormalizedValue("number", number_text(value), float(value))
    if isinstance(value, str):
        return NormalizedValue("string", value, None)
    return NormalizedValue("json", canonical_json(value), None)


GroupKey = str | int | float


def group_key(is_text: bool, text: str) -> GroupKey:
    """The REST `group_key` of a group's stored normalised value (spec §5.3 step 3): the
    text of strings (and booleans and JSON), the number of numbers. Null values form no
    group."""
    if is_text:
        return text
    try:
        return int(text)
    except ValueError:
        return float(text)


def value_label(value: Any) -> str | None:
    """Feedback `values` label (spec §3.1): strings as-is, numbers/booleans as JSON text."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return orjson.dumps(value).decode()
    return None


# The run metadata keys that name a run's thread (spec §4.3), in the order they are tried.
THREAD_KEYS = ("thread_id", "session_id", "conversation_id")


def thread_id(extra: Any) -> str | None:
    """`extra.metadata.thread_id`, `…session_id` or `…conversation_id`, the first with a
    non-null value, in its §4.3 string form: what `eq(thread_id, …)` compares."""
    metadata = extra.get("metadata") if isinstance(extra, dict) else None
    if not isinstance(metadata, dict):
        return None
    for key in THREAD_KEYS:
        if metadata.get(key) is not None:
            return normalize(metadata[key]).text
    return None
