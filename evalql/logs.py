"""Logging of `evalql serve`: uvicorn's lines plus evalql's own loggers, with no secret in them.

API keys belong in a header (`X-API-Key`, `Authorization`), which no log line shows. A
client may still put one in the query string (`?api_key=…`), and uvicorn's access log
prints the request line as received; `RedactQueryKeys` replaces the value of every
key-looking query parameter by `[redacted]` before the line is formatted.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from uvicorn.config import LOGGING_CONFIG

# Query parameters whose value may be a credential: names compared case-insensitively,
# percent-decoded, `-` read as `_`.
SECRET_PARAMETERS = frozenset({"api_key", "apikey", "key", "token", "access_token", "x_api_key", "auth",
                               "authorization", "password", "secret"})
# evalql's keys (evalql/db/writes.py) wherever they appear in the target, named or not.
_EVALQL_KEY = re.compile(r"evq_[A-Za-z0-9_\-]+")
REDACTED = "[redacted]"


def redact_query(target: str) -> str:
    """`target` (a path with its query string) with secret parameters' values replaced."""
    path, question, query = target.partition("?")
    if not question:
        return _EVALQL_KEY.sub(REDACTED, target)
    parts = []
    for part in re.split(r"([&;])", query):
        name, equals, _value = part.partition("=")
        if equals and unquote_plus(name).strip().lower().replace("-", "_") in SECRET_PARAMETERS:
            part = f"{name}={REDACTED}"
        parts.append(part)
    return _EVALQL_KEY.sub(REDACTED, f"{path}?{''.join(parts)}")


class RedactQueryKeys(logging.Filter):
    """On `uvicorn.access`, whose records carry (client, method, path?query, version,
    status) as their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        elif isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def logging_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's own configuration (its formats, stdout for access lines), with the access
    lines redacted and evalql's loggers (`evalql.*`) on stderr at `level`."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_query_keys": {"()": RedactQueryKeys}}
    config["handlers"]["access"]["filters"] = ["redact_query_keys"]
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_query_keys"]
    config["loggers"]["evalql"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


__all__ = ["REDACTED", "RedactQueryKeys", "logging_config", "redact_query"]
