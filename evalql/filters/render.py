"""Writing filter strings (spec §4.1 literals, §5.5 group and session filters).

Group filters are built as trees and written by `render`, the inverse of
`evalql.filters.syntax.parse`: `parse(render(tree)) == tree` up to offsets, so a value
with quotes, backslashes, commas or parentheses can never change the structure.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalql.core.values import GroupKey, number_text
from evalql.filters.ast import And, Compare, Exists, Expr, Field, Has, In, Lit, LiteralValue, Not, Or, Search
from evalql.filters.syntax import KEYWORDS

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


def literal(value: LiteralValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    return quote(value)


def _field(field: Field) -> str:
    head, *rest = field.path
    return ".".join([head, *(k if k.isidentifier() and k.isascii() and k not in KEYWORDS else quote(k) for k in rest)])


def render(expr: Expr) -> str:
    if isinstance(expr, (And, Or)):
        return f"{'and' if isinstance(expr, And) else 'or'}({', '.join(render(i) for i in expr.items)})"
    if isinstance(expr, Not):
        return f"not({render(expr.item)})"
    if isinstance(expr, Compare):
        return f"{expr.op}({_field(expr.field)}, {literal(expr.value.value)})"
    if isinstance(expr, In):
        return f"in({_field(expr.field)}, [{', '.join(literal(v.value) for v in expr.values)}])"
    if isinstance(expr, Has):
        return f"has({_field(expr.field)}, {literal(expr.value.value)})"
    if isinstance(expr, Exists):
        return f"exists({_field(expr.field)}, {literal(expr.key.value)})"
    if isinstance(expr, Search):
        if expr.field is None:
            return f"search({literal(expr.value.value)})"
        return f"search({_field(expr.field)}, {literal(expr.value.value)})"
    raise TypeError(f"not a filter expression: {expr!r}")


def _eq(name: str, value: LiteralValue) -> Compare:
    return Compare("eq", Field((name,), 0), Lit(value, 0), 0)


def group_filter_tree(group_by: str, metadata_key: str, key: GroupKey) -> Expr:
    prefix = "metadata" if group_by == "run_metadata" else "example_metadata"
    return And((_eq("is_root", True),
                And((_eq(f"{prefix}_key", metadata_key), _eq(f"{prefix}_value", key)), 0)), 0)


def group_filter(group_by: str, metadata_key: str, key: GroupKey) -> str:
    return render(group_filter_tree(group_by, metadata_key, key))


def session_filter(group: str, session_filters: Sequence[str]) -> str:
    return f"and({', '.join([group, *session_filters])})" if session_filters else group
