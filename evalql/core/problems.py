"""Problems with a request, as both interfaces report them (spec §1.4): where (`loc`, a path
in the caller's own field names), what (`msg`) and which kind (`type`).

The core validates in its own terms and raises `InvalidInput`; REST answers it as a 422
list, GraphQL as a BAD_USER_INPUT error, each spelling `loc` its own way.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

Problem = dict[str, Any]


def problem(loc: list[Any], msg: str, type_: str, input_: Any = None) -> Problem:
    found: Problem = {"loc": loc, "msg": msg, "type": type_}
    if input_ is not None:
        found["input"] = input_
    return found


def problems_from(exc: ValidationError, prefix: list[Any]) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False, include_context=False):
        item = problem([*prefix, *err["loc"]], err["msg"], err["type"])
        if "input" in err and _jsonable(err["input"]):
            item["input"] = err["input"]
        out.append(item)
    return out


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


class InvalidInput(Exception):
    """The request cannot be served as sent: every problem found, reported together."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems
