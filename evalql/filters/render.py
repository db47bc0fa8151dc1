"""Writing filter strings (spec §4.1 literals, §5.5 group and session filters)."""

from __future__ import annotations

from collections.abc import Sequence

from evalql.values import GroupKey, number_text

_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t"}


def quote(text: str) -> str:
    """A single-quoted literal that the filter grammar reads back as `text`."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def literal(value: GroupKey) -> str:
    if isinstance(value, bool):  # never a group key, but keep the grammar's spelling
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    return quote(value)


def group_filter(group_by: str, metadata_key: str, key: GroupKey) -> str:
    prefix = "metadata" if group_by == "run_metadata" else "example_metadata"
    return (f"and(eq(is_root, true), and(eq({prefix}_key, {quote(metadata_key)}), "
            f"eq({prefix}_value, {literal(key)})))")


def session_filter(group: str, session_filters: Sequence[str]) -> str:
    return f"and({', '.join([group, *session_filters])})" if session_filters else group
