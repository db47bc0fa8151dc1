"""JSON answers, encoded by orjson (`core.json.dumps`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from evalql.core.json import dumps


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(content), status_code=status, headers=headers, media_type="application/json")
