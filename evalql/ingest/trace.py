"""Trace fields given by a client (spec §2.4, §7.5.1): checked against the invariants of
`dotted_order` before anything is written."""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from typing import Any

STAMP_LEN = len("20240919T171648521691Z")
# %Y%m%dT%H%M%S%fZ with every field at its full width; datetime() then checks the ranges.
STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{6})Z")


@functools.lru_cache(maxsize=16_384)  # a trace's root segment starts the dotted order of each of its runs
def _segment(segment: str) -> tuple[dt.datetime, uuid.UUID] | None:
    stamp = STAMP.fullmatch(segment, 0, STAMP_LEN)
    if len(segment) != STAMP_LEN + 36 or stamp is None:
        return None
    try:
        year, month, day, hour, minute, second, micro = map(int, stamp.groups())
        return (dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=dt.UTC),
                uuid.UUID(segment[STAMP_LEN:]))
    except ValueError:
        return None


def parse_dotted_order(text: str) -> list[tuple[dt.datetime, uuid.UUID]] | None:
    """Segments `<%Y%m%dT%H%M%S%fZ><uuid>` joined by `.`, or None if malformed. (A regular
    expression and datetime() rather than strptime, which cost as much as the rest of
    checking a batch.)"""
    found = []
    for segment in text.split("."):
        parsed = _segment(segment)
        if parsed is None:
            return None
        found.append(parsed)
    return found


def trace_problems(given: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, message) for each invariant a post record's trace fields break.

    A record giving only `trace_id` is checked once its dotted order is derived
    (`derived_trace_problem`)."""
    text = given.get("dotted_order")
    if text is None:
        return []
    segments = parse_dotted_order(text)
    if segments is None:
        return [("dotted_order", "is not a list of `<%Y%m%dT%H%M%S%fZ><uuid>` segments joined by '.'")]
    ids = [run_id for _, run_id in segments]
    problems = []
    if str(ids[-1]) != given["id"]:
        problems.append(("dotted_order", f"must end with the run's own id {given['id']}, not {ids[-1]}"))
    trace_id = given.get("trace_id")
    if trace_id is not None and str(ids[0]) != trace_id:
        problems.append(("trace_id", f"{trace_id} is not the first id of dotted_order ({ids[0]})"))
    parent = given.get("parent_run_id")
    if parent is None and len(ids) > 1:
        problems.append(("parent_run_id", f"is missing, but dotted_order names parent {ids[-2]}"))
    elif parent is not None and (len(ids) < 2 or str(ids[-2]) != parent):
        problems.append(("parent_run_id", f"{parent} is not the penultimate id of dotted_order"))
    return problems


def derived_trace_problem(given: dict[str, Any], trace_id: uuid.UUID) -> tuple[str, str] | None:
    """A given `trace_id` must equal the one derived from the parent chain."""
    if "trace_id" in given and "dotted_order" not in given and given["trace_id"] != str(trace_id):
        return ("trace_id", f"{given['trace_id']} is not the trace of its parent run ({trace_id})")
    return None
