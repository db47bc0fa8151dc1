"""The one error a filter string can raise (spec §4.7), and the parser's limits."""

from __future__ import annotations

MAX_LENGTH = 4096
MAX_DEPTH = 16
MAX_PREDICATES = 64


class FilterError(ValueError):
    """`problem` names what is wrong, `offset` the character where it is (0-based).

    `str(error)` is the message of spec §4.7: "Invalid filter: <problem> at offset <n>".
    """

    def __init__(self, problem: str, offset: int) -> None:
        self.problem, self.offset = problem, offset
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"Invalid filter: {self.problem} at offset {self.offset}"
