"""Ingest request bodies (spec §7.5.3, §7.5.4) turned into one validated `Batch`.

Every problem in the body is collected and reported together (422), before anything
is written.
"""

from __future__ import annotations

import uuid
from typing import Any

from evalql.core.feedback import validated_feedback  # the POST /feedback body, shared
from evalql.core.fields import NUL, NUL_MESSAGE
from evalql.core.json import nul_problems, parse_json
from evalql.core.problems import InvalidInput, Problem
from evalql.ingest.apply import Attachment, Batch, Located
from evalql.ingest.multipart import Part, parse_parts
from evalql.ingest.records import validate_record

OUT_OF_BAND = frozenset({"inputs", "outputs", "events", "extra", "error", "serialized"})
KINDS = ("post", "patch")


def _problem(loc: list[Any], msg: str, type_: str = "value_error") -> Problem:
    return {"loc": loc, "msg": msg, "type": type_}


def _json(data: bytes, loc: list[Any], problems: list[Problem]) -> Any:
    """The JSON of a body or part; None, with the problem, if it is not JSON or holds a NUL
    anywhere (a run's inputs and outputs are searched and filtered as text in SQL)."""
    value, found = parse_json(data, loc)
    if not found:
        found = nul_problems(data, value, loc)
    problems += found
    return None if found else value


def _uuid(text: str, loc: list[Any], problems: list[Problem]) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        problems.append(_problem(loc, f"{text!r} is not a valid UUID", "uuid_parsing"))
        return None


def _with_id(raw: Any, run_id: str, loc: list[Any], problems: list[Problem]) -> Any:
    """The record's id is the one its part name or path gives; a different body id is an error."""
    if not isinstance(raw, dict):
        problems.append(_problem(loc, "Input should be a valid dictionary (a JSON object)", "dict_type"))
        return None
    given = raw.get("id")
    if given is not None and str(given).lower() != run_id:
        problems.append(_problem([*loc, "id"], f"id {given} does not match the run id {run_id}"))
        return None
    return {**raw, "id": run_id}


def json_batch(body: bytes) -> Batch:
    """`POST /runs/batch`: `{"post": [record…], "patch": [record…]}`."""
    problems: list[Problem] = []
    raw = _json(body, ["body"], problems)
    if problems:
        raise InvalidInput(problems)
    if not isinstance(raw, dict):
        raise InvalidInput([_problem(["body"], "The body must be a JSON object with `post` and `patch` lists",
                                      "dict_type")])
    batch = Batch()
    for kind in KINDS:
        records = raw.get(kind)
        if records is None:
            continue
        if not isinstance(records, list):
            problems.append(_problem(["body", kind], "Input should be a valid list", "list_type"))
            continue
        for i, record in enumerate(records):
            given, found = validate_record(record, kind, ["body", kind, i])
            problems += found
            if given is not None:
                (batch.posts if kind == "post" else batch.patches).append(Located(given, ["body", kind, i]))
    if problems:
        raise InvalidInput(problems)
    return batch


def single_record(body: bytes, kind: str, path_id: uuid.UUID | None = None) -> Batch:
    """`POST /runs` (one post) and `PATCH /runs/{id}` (one patch)."""
    problems: list[Problem] = []
    raw = _json(body, ["body"], problems)
    if path_id is not None and not problems:
        raw = _with_id(raw, str(path_id), ["body"], problems)
    if problems:
        raise InvalidInput(problems)
    given, problems = validate_record(raw, kind, ["body"])
    if given is None:
        raise InvalidInput(problems)
    located = Located(given, ["body"])
    return Batch(posts=[located]) if kind == "post" else Batch(patches=[located])


class _Record:
    def __init__(self, kind: str, run_id: str, part: str) -> None:
        self.kind, self.run_id, self.part = kind, run_id, part
        self.main: Any = None
        self.fields: dict[str, tuple[str, Any]] = {}  # field -> (part name, value)


def multipart_batch(parts: list[Part]) -> Batch:
    """Parts grouped by record (spec §7.5.4); records keep the order of their main parts."""

    problems: list[Problem] = []
    records: dict[tuple[str, str], _Record] = {}
    order: list[tuple[str, str]] = []
    has_main: set[tuple[str, str]] = set()
    batch = Batch()
    seen: set[str] = set()
    # The SDK names about five parts per record by the same id text: parse each text once.
    canonical: dict[str, str | None] = {}
    for part in parts:
        loc = ["body", part.name]
        if part.name in seen:
            problems.append(_problem(loc, f"Part {part.name!r} appears more than once"))
            continue
        seen.add(part.name)
        prefix, _, rest = part.name.partition(".")
        if prefix in KINDS:
            id_text, _, field = rest.partition(".")
            if id_text not in canonical:
                parsed = _uuid(id_text, loc, problems)
                canonical[id_text] = None if parsed is None else str(parsed)
            elif canonical[id_text] is None:
                _uuid(id_text, loc, problems)  # every part under a bad id is reported
            run_id = canonical[id_text]
            if run_id is None:
                continue
            if field and field not in OUT_OF_BAND:
                problems.append(_problem(loc, f"Unknown field part {field!r}: expected one of {sorted(OUT_OF_BAND)}"))
                continue
            value = _json(part.data, loc, problems)
            key = (prefix, run_id)
            record = records.get(key)
            if record is None:
                record = records[key] = _Record(prefix, run_id, f"{prefix}.{id_text}")
            if field:
                record.fields[field] = (part.name, value)
            else:
                record.main = _with_id(value, run_id, loc, problems) if value is not None else None
                record.part = part.name
                order.append(key)
                has_main.add(key)
        elif prefix == "feedback":
            feedback_id = _uuid(rest, loc, problems)
            raw = _json(part.data, loc, problems)
            if feedback_id is None or raw is None:
                continue
            raw = _with_id(raw, str(feedback_id), loc, problems)
            if raw is None:
                continue
            feedback, found = validated_feedback(raw, loc, depth_checked=True)  # parsed by _json
            problems += found
            if feedback is not None:
                batch.feedback.append(feedback.record())
        elif prefix == "attachment":
            id_text, _, name = rest.partition(".")
            attached_to = _uuid(id_text, loc, problems)
            if attached_to is None:
                continue
            if not name or "." in name or len(name) > 255:
                problems.append(_problem(loc, "An attachment part is named attachment.<run_id>.<name>, "
                                              "the name 1..255 characters without '.'"))
                continue
            mime = part.content_type.split(";", 1)[0].strip() or "application/octet-stream"
            if NUL in name or NUL in mime:  # both are stored as text
                problems.append(_problem(loc, f"The attachment's name and Content-Type: {NUL_MESSAGE}"))
                continue
            batch.attachments.append(Attachment(attached_to, name, mime, part.data))
        else:
            problems.append(_problem(loc, f"Unknown part name prefix {prefix!r}: expected post., patch., "
                                          "feedback. or attachment."))
    for key, record in records.items():
        if key not in has_main:
            for part_name, _ in record.fields.values():
                problems.append(_problem(["body", part_name],
                                         f"Field part without its main part {record.kind}.{record.run_id}"))
    for key in order:
        record = records[key]
        if record.main is None:
            continue
        fields = {name: value for name, (_, value) in record.fields.items() if value is not None}
        given, found = validate_record({**record.main, **fields}, record.kind, ["body", record.part])
        problems += [_relocate(p, record) for p in found]
        if given is not None:
            (batch.posts if record.kind == "post" else batch.patches).append(Located(given, ["body", record.part]))
    if problems:
        raise InvalidInput(problems)
    return batch


def _relocate(problem: Problem, record: _Record) -> Problem:
    """A problem inside an out-of-band field is located at that field's part."""
    loc = problem["loc"]
    if len(loc) > 2 and loc[2] in record.fields:
        return {**problem, "loc": ["body", record.fields[loc[2]][0], *loc[3:]]}
    return problem


def batch_of(route: str, body: bytes, content_type: str | None, run_id: uuid.UUID | None = None) -> Batch:
    """The validated batch of one ingest request's decoded body. `route` names the body
    (spec §7.5.3, §7.5.4): `post`, `patch` (with the path's run id), `batch` or `multipart`.
    Raises InvalidInput."""
    if route == "multipart":
        return multipart_batch(parse_parts(body, content_type))
    if route == "batch":
        return json_batch(body)
    if route == "post":
        return single_record(body, "post")
    if route == "patch":
        return single_record(body, "patch", run_id)
    raise ValueError(f"no ingest route {route!r}")
