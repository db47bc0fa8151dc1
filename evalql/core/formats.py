"""Value formats of spec §1.5, shared by every answer: timestamps in UTC with microseconds
and "+00:00", costs as decimal strings without exponent, ids as lowercase hyphenated text,
previews of §5.6, and the few derived values both interfaces show (example names, app paths)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import orjson

from evalql.db.models import Run, TracerSession

PREVIEW_CHARS = 200


def ts(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def uid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def format_cost(value: Decimal | None) -> str | None:
    """Decimal string without exponent, trailing zeros dropped ("0.0012", "3")."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def metadata_of(extra: Any) -> dict[str, Any]:
    """`extra.metadata` of a run or a session, `{}` when absent (spec §2.3, §2.4)."""
    metadata = extra.get("metadata") if isinstance(extra, dict) else None
    return metadata or {}


def session_extra(session: TracerSession) -> dict[str, Any]:
    """`extra` as the SDK expects it: always an object, with `metadata` at least."""
    return session.extra if session.extra is not None else {"metadata": {}}


def example_name(example_id: uuid.UUID) -> str:
    return "#" + example_id.hex[:4]


def preview_text(value: Any) -> str | None:
    """Spec §5.6: the lone string value of a one-key object, else compact JSON; 200 code points."""
    if value is None:
        return None
    if isinstance(value, dict) and len(value) == 1:
        (only,) = value.values()
        if isinstance(only, str):
            return only[:PREVIEW_CHARS]
    return orjson.dumps(value).decode()[:PREVIEW_CHARS]


def app_path(run: Run) -> str:
    return f"/o/{run.workspace_id}/projects/p/{run.session_id}/r/{run.id}?trace_id={run.trace_id}"
