"""Fields computed from a type's private row, resolved as *basic* GraphQL fields.

A Strawberry method resolver runs its argument parsing and extension chain on every call
(~20 µs); a basic field (no resolver) is one `getattr`. A comparison page resolves a
thousand or more small fields (runs, their feedback, every stats block), so the simple
ones are declared here as basic fields (`name: T = computed()`) whose value `__getattr__`
computes from the class's `_values` table on first access. Fields that take arguments or
load rows keep their resolvers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

Values = dict[str, Callable[[Any], Any]]
T = TypeVar("T")


def computed(description: str | None = None) -> Any:
    """A basic GraphQL field that is not an argument of the type's constructor. Its
    description is given to Strawberry's field by `described` (Strawberry's own
    `strawberry.field(description=…)` without a resolver makes the field an argument of
    the constructor)."""
    return dataclasses.field(init=False, metadata={"description": description} if description else {})


def described(cls: type[T]) -> type[T]:
    """Class decorator, outside `@strawberry.type`: the descriptions of its `computed` fields."""
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    for field in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        description = fields[field.python_name].metadata.get("description") if field.python_name in fields else None
        if description:
            field.description = description
    return cls


def attributes(owner: str, *names: str) -> Values:
    """Fields that are the same-named attribute of `owner` (the private row or stats the
    type wraps): `attributes("row", "id")` is `{"id": lambda self: self.row.id}`."""
    return {name: attrgetter(f"{owner}.{name}") for name in names}


class Computed:
    _values: ClassVar[Values] = {}
    _all_values: ClassVar[Values] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        merged: Values = {}
        for base in reversed(cls.__mro__):
            merged.update(base.__dict__.get("_values", {}))
        cls._all_values = merged

    def __getattr__(self, name: str) -> Any:
        # Reached only for attributes that are not set: the computed fields.
        compute = type(self)._all_values.get(name)
        if compute is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return compute(self)
