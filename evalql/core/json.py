"""JSON in and out: bounded parsing of bodies and parts, and encoding of answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from evalql.core.fields import NUL_MESSAGE, nul_loc


def dumps(content: Any) -> bytes:
    try:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which JSON allows (a metadata value of
        # 1e300 is an integral number, so its group key is an int); stdlib json writes them.
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


# Bodies nest no deeper than this: the JSON encoders that store values and write answers
# back (orjson stops at 254 levels, the stdlib at Python's recursion limit) must not fail.
MAX_JSON_DEPTH = 200


def nesting_problems(value: Any, loc: Sequence[Any] = ("body",)) -> list[dict[str, Any]]:
    """A 422 problem if `value` nests deeper than MAX_JSON_DEPTH. Iterative, for the same reason."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return [{"loc": list(loc), "msg": f"JSON nesting is deeper than {MAX_JSON_DEPTH} levels",
                         "type": "value_error"}]
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return []


def parse_json(data: bytes, loc: Sequence[Any] = ("body",)) -> tuple[Any, list[dict[str, Any]]]:
    """(value, problems): text that is not JSON is a 422 `json_invalid` problem, and a
    value nested too deep to store or echo back a `value_error`."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return None, [{"loc": list(loc), "msg": f"JSON decode error: {exc}", "type": "json_invalid"}]
    # Nesting deeper than the bound needs more brackets than it: counting them (in C) spares
    # the walk over every value for almost all bodies.
    if data.count(b"{") + data.count(b"[") <= MAX_JSON_DEPTH:
        return value, []
    problems = nesting_problems(value, loc)
    return (None if problems else value), problems


# JSON spells NUL only as this escape (control characters are invalid in its strings).
NUL_ESCAPE = b"\\u0000"


def nul_problems(data: bytes, value: Any, loc: Sequence[Any] = ("body",)) -> list[dict[str, Any]]:
    """A 422 problem naming where the JSON `value` (parsed from `data`) holds a NUL character.
    PostgreSQL stores no NUL in text or JSONB, so the REST bodies refuse it anywhere, on both
    databases alike. Bodies without the escape (nearly all) are not walked."""
    if NUL_ESCAPE not in data:
        return []
    where = nul_loc(value)
    if where is None:
        return []  # the escape was text after an escaped backslash
    return [{"loc": [*loc, *where], "msg": f"{NUL_MESSAGE}; PostgreSQL cannot store it", "type": "value_error"}]
