"""Example selection helpers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement

from evalql.db.dialect import JsonHasAnyOf
from evalql.db.models import Example


def in_any_split(splits: Sequence[str]) -> ColumnElement[bool]:
    """The example lists one of `splits` in `metadata.dataset_split` (spec §7.3)."""
    return JsonHasAnyOf(Example.metadata_, "dataset_split", splits)
