"""The typed syntax tree of a filter string (spec §4.1/§4.2), with character offsets.

The parser only builds well-formed trees: logical nodes hold expressions, comparisons
hold a field and literal(s). Which fields exist, and which operators and literals they
take, is decided by the compilers (runs, examples), which know their whitelists.
"""

from __future__ import annotations

from dataclasses import dataclass

LiteralValue = str | int | float | bool | None

COMPARISONS = ("eq", "neq", "gt", "gte", "lt", "lte")
LOGICAL = ("and", "or", "not")
FUNCTIONS = (*LOGICAL, *COMPARISONS, "has", "search", "in", "exists")


@dataclass(frozen=True, slots=True)
class Lit:
    value: LiteralValue
    offset: int


@dataclass(frozen=True, slots=True)
class Field:
    """`name` or a dotted path `metadata.key` / `inputs.a.b` (keys may be quoted strings)."""

    path: tuple[str, ...]
    offset: int

    @property
    def name(self) -> str:
        return self.path[0]


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr
    offset: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # eq | neq | gt | gte | lt | lte
    field: Field
    value: Lit
    offset: int


@dataclass(frozen=True, slots=True)
class In:
    field: Field
    values: tuple[Lit, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Has:
    field: Field
    value: Lit
    offset: int


@dataclass(frozen=True, slots=True)
class Search:
    field: Field | None  # None: the one-argument form over name, error, inputs, outputs
    value: Lit
    offset: int


@dataclass(frozen=True, slots=True)
class Exists:
    field: Field
    key: Lit
    offset: int


Expr = And | Or | Not | Compare | In | Has | Search | Exists
Predicate = Compare | In | Has | Search | Exists
