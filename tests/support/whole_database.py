"""Tests that look at the database as a whole, past the workspaces.

The tenancy check (evalql/db/tenancy_check.py) refuses any statement on a tenant table
that is not confined to one workspace, test code included. A test that means every
workspace — "a refused request wrote nothing anywhere" — says so with `everywhere`.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.sql import Executable

from evalql.db.tenancy_check import ALL_WORKSPACES

S = TypeVar("S", bound=Executable)


def everywhere(statement: S) -> S:
    return statement.execution_options(**{ALL_WORKSPACES: True})
