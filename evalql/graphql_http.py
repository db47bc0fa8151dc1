"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): what a `/graphql`
request says and how its answer is sent.

- **Media types.** A client whose `Accept` prefers (or ties) `application/graphql-response+json`
  over `application/json` gets the former on every answer; anyone else gets `application/json`
  (no or an unsupported `Accept` included: the spec's "disregard the header" choice).
- **Status codes.** `application/json` keeps the legacy rules: 200 for every well-formed request,
  errors in the body. `application/graphql-response+json` follows the spec: a document that
  fails to parse or validate (our limits and cost budget included), or whose variables fail
  coercion, is a 400 whose body has no `data` entry. For both, a request that is not a
  well-formed GraphQL-over-HTTP request (not JSON, no `query`, …) is a 400, a body of another
  media type a 415, and errors whose `extensions.code` is in `STATUS_BY_CODE` give that status.
- **Request bodies.** JSON only: `application/json` (or another `…+json` type, or no content
  type), UTF-8; form, multipart, text and other types are refused with a 415 that names the
  expected type. The body is parsed by orjson; invalid UTF-8 and nesting past orjson's depth
  limit are a 400, never a 500. `NaN`/`Infinity` (not JSON, but written by some clients) are
  read as before and refused by the inputs that receive them, naming the variable.
Every answer is JSON, request errors included, in GraphQL's shape (`errors[].extensions.code`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from evalql.busy import RETRY_AFTER_SECONDS
from evalql.core.json import dumps

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"

STATUS_BY_CODE: dict[str, tuple[int, Mapping[str, str]]] = {
    # Our execution deadline passed (Settings.graphql_timeout): the work was cancelled. 504,
    # not 503: asking again at once would time out again; a smaller request may not.
    "TIMEOUT": (504, {}),
    # Too many comparisons at once (evalql/admission.py): come back, as REST's 503 says.
    "BUSY": (503, {"Retry-After": str(RETRY_AFTER_SECONDS)}),
}
"""The HTTP status (and headers) of an answer with an error of this `extensions.code`, for both
media types; the first error with a listed code decides. One entry per kind of failure that is
not the caller's document: a busy server or a database outage is `503` with `Retry-After`
(`busy.RETRY_AFTER_SECONDS`). A code raised by a resolver must also be one of
`schema.errors.EXPECTED_CODES`, or the error is masked as INTERNAL before it gets here."""


class RequestError(Exception):
    """A request that is not a well-formed GraphQL-over-HTTP request: answered at once."""

    def __init__(self, status: int, message: str, code: str = "BAD_USER_INPUT",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, dict(headers or {})


@dataclass
class Params:
    """The GraphQL request of a body: `query`, `variables`, `operationName`, `extensions`."""

    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] | None = field(default=None)


def response_media_type(accept: str | None) -> str:
    """`application/graphql-response+json` if the client prefers it or ties, else `application/json`."""
    quality: dict[str, float] = {}
    for part in (accept or "").split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        if kind in (GRAPHQL_RESPONSE, JSON, "application/*", "*/*") and math.isfinite(q):
            quality[kind] = max(quality.get(kind, 0.0), q)
    wildcard = max(quality.get("application/*", 0.0), quality.get("*/*", 0.0))
    graphql = quality.get(GRAPHQL_RESPONSE, 0.0)
    return GRAPHQL_RESPONSE if graphql > 0 and graphql >= quality.get(JSON, wildcard) else JSON


def check_content_type(content_type: str | None) -> None:
    """JSON or nothing; anything else is a 415 that says what to send."""
    if content_type is None or not content_type.strip():
        return
    kind, *params = (p.strip().lower() for p in content_type.split(";"))
    is_json = kind == JSON or (kind.startswith("application/") and kind.endswith("+json"))
    charset = next((p.partition("=")[2].strip().strip('"') for p in params if p.startswith("charset=")), "utf-8")
    if not is_json or charset not in ("utf-8", "utf8"):
        raise RequestError(415, f"Content-Type {content_type.strip()!r} is not supported: send the GraphQL request "
                                f"as {JSON} (UTF-8)", headers={"Accept-Post": JSON})


def parse_body(body: bytes, max_query_chars: int) -> Params:
    """The GraphQL request of a POST body, or a RequestError naming what is wrong with it."""
    if not body.strip():
        raise RequestError(400, "Request body is empty: send a JSON object such as "
                                '{"query": "{ viewer { readOnly } }"}')
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        data = _lenient(body, exc)
    if isinstance(data, list):
        raise RequestError(400, "Batching is not supported: send one operation as a JSON object")
    if not isinstance(data, dict):
        raise RequestError(400, f"Request body must be a JSON object with `query`, got a JSON {_kind(data)}")
    query = data.get("query")
    if not isinstance(query, str):
        raise RequestError(400, "query: required, a string with the GraphQL document" if query is None
                           else f"query: must be a string, got a JSON {_kind(query)}")
    if len(query) > max_query_chars:
        raise RequestError(400, f"Query exceeds {max_query_chars} characters")
    for name in ("variables", "extensions"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise RequestError(400, f"{name}: must be a JSON object or null, got a JSON {_kind(data[name])}")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, f"operationName: must be a string or null, got a JSON {_kind(operation_name)}")
    return Params(query, data.get("variables"), operation_name, data.get("extensions"))


def _lenient(body: bytes, exc: orjson.JSONDecodeError) -> Any:
    """A body orjson refuses, read as Python's JSON reader (Strawberry's, before) reads it: the
    `NaN`, `Infinity` and overflowing numbers some clients write (Python's own writer among
    them) reach the inputs, whose checks refuse them naming the variable and the member
    (graphql-core for `Float`, the core's records for JSON values). Anything else stays
    refused, with orjson's reason: lone surrogates (`"\\ud800"`) too, which no database stores."""
    try:
        data = json.loads(body)
        orjson.dumps(data)  # refuses strings with lone surrogates, as orjson.loads did
    except (ValueError, TypeError, RecursionError):  # invalid UTF-8 and JSON, surrogates, nesting
        raise RequestError(400, f"Request body is not valid JSON: {exc}") from None
    return data


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def error_response(status: int, message: str, code: str, media_type: str,
                   headers: Mapping[str, str] | None = None) -> Response:
    """A request error: `{"errors": [...]}` (with `"data": null` for application/json, as before)."""
    body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    if media_type == JSON:
        body = {"data": None, **body}
    return Response(dumps(body), status_code=status, media_type=media_type, headers=dict(headers or {}))


def coded_response(code: str, message: str, media_type: str) -> Response:
    """An error of a code listed in `STATUS_BY_CODE`, with its status and headers."""
    status, headers = STATUS_BY_CODE[code]
    return error_response(status, message, code, media_type, headers)


def result_status(answer: Mapping[str, Any], media_type: str) -> tuple[int, Mapping[str, str]]:
    """The status of an executed request's answer (`{"data", "errors", "extensions"}`)."""
    errors = answer.get("errors") or []
    for error in errors:
        listed = STATUS_BY_CODE.get(str((error.get("extensions") or {}).get("code")))
        if listed is not None:
            return listed
    if media_type == GRAPHQL_RESPONSE and errors and answer.get("data") is None and not any(
            e.get("path") for e in errors):
        # Nothing executed: the document failed to parse or validate, or its variables to
        # coerce (graphql-core answers those without data and without a path).
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        return (400 if codes <= {"BAD_USER_INPUT"} else 500), {}
    return 200, {}


def answer_response(answer: dict[str, Any], media_type: str) -> Response:
    status, headers = result_status(answer, media_type)
    if media_type == GRAPHQL_RESPONSE and status >= 300:
        answer.pop("data", None)  # the spec: a non-2xx answer has no data entry
    return Response(dumps(answer), status_code=status, media_type=media_type, headers=dict(headers))
