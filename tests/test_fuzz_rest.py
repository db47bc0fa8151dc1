"""A fuzz test of every REST operation (issue 13, item 3): hostile bodies and query strings,
sent with a valid key, answer 2xx or 4xx with a JSON body, never a 500, and a 4xx leaves
the database as it was. Both databases.

The operations come from the OpenAPI document (`rest/openapi.py` over `rest/routes.py`), so
a new route is fuzzed without touching this file. Each example is one request, drawn at two
levels:
- structure: JSON built from the operation's body schema and query parameters, with wrong
  types and edge values (NUL, lone surrogates, integers beyond 64 bits, huge strings, deep
  nesting, ids of the workspace's own records and of none);
- bytes: random bytes, truncated and invalid UTF-8 JSON, deep brackets, huge numbers,
  `\\ud800` and `\\u0000` escapes, broken multipart and gzip, other Content-Types.

Bounded for CI: a fixed number of examples per operation, derandomized (the same examples
on every run), no deadline, no shrinking database.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from evalql.db.models import Base
from evalql.rest.openapi import build_openapi
from evalql.rest.routes import API_PREFIX, ROUTES
from tests.support.whole_database import everywhere
from tests.test_ingest_runs import at, new_id, post

DOC = build_openapi(ROUTES)
SCHEMAS = DOC["components"]["schemas"]
OPERATIONS = [(method.upper(), path, op) for path, ops in DOC["paths"].items() for method, op in ops.items()]
# CI sends the same 15 requests per operation every run; a longer hunt on a machine of one's
# own: EVALQL_FUZZ_EXAMPLES=500 EVALQL_FUZZ_SEED=<n> (another seed, other requests).
EXAMPLES_PER_OPERATION = int(os.environ.get("EVALQL_FUZZ_EXAMPLES", "15"))
FUZZ_SEED = os.environ.get("EVALQL_FUZZ_SEED")

# The change log is pruned in the background (engine/log_pruner.py): not data a request writes.
SNAPSHOT_TABLES = [t for t in Base.metadata.sorted_tables if t.name != "data_changes"]

# -- values ------------------------------------------------------------------------------

SURROGATE = "\udc00"  # stands for a lone surrogate: orjson cannot write one, so it is spliced in as an escape
EDGE_TEXT = ["", " ", "x", "\x00", "a\x00b", "é😀", SURROGATE, "null", "-1", "1e999", "9" * 40,
             "2024-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00",
             "2024-13-45T25:61:00", "not-a-uuid", str(uuid.UUID(int=0)), "x" * 5000, "%00", "../..",
             'eq(name, "\\ud800")', "gt(total_tokens, 99999999999999999999)", 'eq(name, "\\u0000")',
             'search("\\u0000")', "and(", "k", "m"]
EDGE_NUMBERS: list[Any] = [0, -1, 1, 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, 0.5, -0.0, 1e308, 5e-324]

texts = st.sampled_from(EDGE_TEXT) | st.text(max_size=12)
numbers = st.sampled_from(EDGE_NUMBERS) | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(texts, inner, max_size=3), max_leaves=5)


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


DEEP = [deep(260), [deep(3)] * 3]  # deeper than the bodies' bound (core/json.py), and not
PATH_TEXT = [t for t in EDGE_TEXT if t and "/" not in t]


class Ids:
    """The ids of the records the test made first, by path parameter and schema field name."""

    def __init__(self) -> None:
        self.by_kind: dict[str, str] = {}

    def known(self, name: str) -> st.SearchStrategy[str]:
        # The one map of the API is the group request's filters, keyed by session id.
        kind = "session" if name == "filters" else next((k for k in self.by_kind if k in name), None)
        return st.sampled_from([self.by_kind[kind]] if kind else list(self.by_kind.values()))

    def for_name(self, name: str) -> st.SearchStrategy[str]:
        return self.known(name) | st.uuids().map(str) | st.sampled_from(["x", str(uuid.UUID(int=0)), "\x00"])


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


# Texts a valid body carries: the seeded metadata keys, and filter strings with the literals
# that reached SQL (a group request's `filters` is a list of them).
VALID_TEXT = ["m", "k", "x", "é😀", 'search("x")', 'eq(input_value, "x")', 'eq(name, "\\ud800")',
              'eq(name, "\\u0000")', "gt(total_tokens, 99999999999999999999)", "lt(total_cost, \"1e999999\")",
              "gt(feedback_score, 99999999999999999999)", "gt(total_tokens, 5000000000)"]


@st.composite
def from_schema(draw: Any, schema: dict[str, Any], ids: Ids, name: str = "", depth: int = 0,
                valid: bool = False) -> Any:
    """A value of `schema`: with `valid`, one that its validation accepts (as far as the schema
    tells: ids of seeded records, numbers in range, the required fields), to reach the code
    behind validation; otherwise with edge values, and a wrong-typed one at times."""
    schema = resolve(schema)
    if not valid and (depth > 4 or draw(st.integers(0, 9)) == 0):
        return draw(json_values | st.sampled_from(DEEP))
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        if valid:
            options = [o for o in options if o.get("type") != "null"] or options
        return draw(from_schema(draw(st.sampled_from(options)), ids, name, depth, valid))
    if "enum" in schema:
        return draw(st.sampled_from(schema["enum"]))
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return draw(ids.known(name) if valid else ids.for_name(name))
        if fmt == "date-time":
            return draw(st.sampled_from([at(0), at(1e6), *([] if valid else EDGE_TEXT[10:15])]))
        return draw(st.sampled_from(VALID_TEXT) if valid else texts)
    if kind in ("integer", "number"):
        if valid:
            low, high = schema.get("minimum", 0), schema.get("maximum", 100)
            return draw(st.integers(int(low), int(high)))
        return draw(numbers)
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "array":
        items = schema.get("items", {})
        low = schema.get("minItems", 0) if valid else 0
        return draw(st.lists(from_schema(items, ids, name, depth + 1, valid), min_size=low, max_size=max(low, 3)))
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        chosen = draw(st.lists(st.sampled_from(sorted(properties)), unique=True)) if properties else []
        if valid or draw(st.booleans()):  # the required fields too, so that more bodies get past them
            chosen = list(dict.fromkeys([*schema.get("required", []), *chosen]))
        value = {key: draw(from_schema(properties[key], ids, key, depth + 1, valid)) for key in chosen}
        mapped = schema.get("additionalProperties")
        if isinstance(mapped, dict) and mapped:  # a map (group filters by session): keys may be ids
            keys = ids.known(name) if valid else ids.for_name(name) | texts
            value.update(draw(st.dictionaries(keys, from_schema(mapped, ids, name, depth + 1, valid), max_size=2)))
        elif not valid and (not properties or draw(st.booleans())):
            value.update(draw(st.dictionaries(texts, json_values, max_size=2)))
        return value
    return draw(json_values)


def raw_json(value: Any) -> bytes:
    """JSON text of `value`, lone surrogates as `\\ud800` escapes and any integer size."""
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return text.replace(SURROGATE.encode("utf-8", "surrogatepass"), b"\\ud800")


BYTE_BODIES = [b"", b"{", b"[" * 10_000, b"{\"a\":" * 3000, b"\xff\xfe{}", b'{"name": "\xed\xa0\x80"}',
               b'{"name": "\\ud800"}', b'{"name": "\\u0000"}', b"1" * 5000, b"-1e999999", b"null", b"[]",
               b'{"a": 1e400}', b"\x00" * 10, b"\x1f\x8b\x08\x00garbage", b'{"a": "\\"}']


@st.composite
def byte_body(draw: Any, structured: bytes) -> bytes:
    how = draw(st.integers(0, 3))
    if how == 0:
        return draw(st.sampled_from(BYTE_BODIES))
    if how == 1:
        return draw(st.binary(max_size=64))
    if how == 2:
        return structured[:draw(st.integers(0, max(len(structured) - 1, 0)))]
    cut = draw(st.integers(0, len(structured)))
    return structured[:cut] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\\ud800"])) + structured[cut:]


BOUNDARY_LENGTHS = [1, 70, 257, 5000]


@st.composite
def multipart(draw: Any, ids: Ids) -> tuple[bytes, str]:
    boundary = "b" * draw(st.sampled_from(BOUNDARY_LENGTHS))
    run_id = draw(ids.for_name("run"))
    names = [f"post.{run_id}", f"post.{run_id}.inputs", f"patch.{run_id}", f"feedback.{new_id()}",
             f"attachment.{run_id}.a", f"attachment.{run_id}.a\x00", "nonsense", f"post.{run_id}.nope"]
    parts = []
    for name in draw(st.lists(st.sampled_from(names), max_size=4)):
        record = post(run_id) if draw(st.booleans()) else draw(json_values)
        data = raw_json(record) if draw(st.booleans()) else draw(byte_body(raw_json(record)))
        mime = draw(st.sampled_from(["application/json", "text/plain", "a\x00b"]))
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\nContent-Type: {mime}\r\n'
                     f"Content-Length: {len(data)}\r\n\r\n".encode("utf-8", "surrogatepass") + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    if draw(st.integers(0, 3)) == 0:
        body = body[:draw(st.integers(0, len(body)))]
    return body, f"multipart/form-data; boundary={boundary}"


CONTENT_TYPES = [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1",
                 "application/problem+json", "multipart/form-data", "multipart/form-data; boundary=" + "b" * 300]


@st.composite
def requests(draw: Any, method: str, path: str, op: dict[str, Any], ids: Ids) -> dict[str, Any]:
    """One request of the operation: path, query string, headers, body. A third are valid as
    far as the document tells (to reach the code behind validation, where the SQL is), the
    rest hostile at the structure or the byte level."""
    level = draw(st.sampled_from(["valid", "structure", "bytes"]))
    valid = level == "valid"
    url = path
    query: list[tuple[str, str]] = []
    for param in op.get("parameters", []):
        name = param["name"]
        if param["in"] == "path":
            ids_of = ids.known if valid else ids.for_name
            value = draw(ids_of(name) if "id" in name else st.sampled_from(PATH_TEXT))
            url = url.replace("{" + name + "}", quote(value.encode("utf-8", "surrogatepass"), safe=""))
        elif draw(st.booleans()):
            value = draw(from_schema(param.get("schema", {}), ids, name, valid=valid))
            for item in (value if isinstance(value, list) else [value]):
                query.append((name, item if isinstance(item, str) else raw_json(item).decode("utf-8", "surrogatepass")))
    raw_query = "&".join(f"{quote(k)}={_quoted(v)}" for k, v in query).encode()
    if not valid and draw(st.integers(0, 3)) == 0:  # percent escapes that are not UTF-8, or a lone surrogate's
        raw_query += draw(st.sampled_from([b"&name=%FF", b"&filter=%ED%A0%80", b"&limit=%00", b"&&=&"]))
    headers: dict[str, str] = {}
    content = b""
    body = op.get("requestBody")
    if body is not None:
        media = next(iter(body["content"]))
        if media == "multipart/form-data":
            content, content_type = draw(multipart(ids))
        else:
            structured = raw_json(draw(from_schema(body["content"][media]["schema"], ids, valid=valid)))
            content, content_type = (draw(byte_body(structured)) if level == "bytes" else structured), media
        headers["Content-Type"] = content_type if valid else draw(st.sampled_from([content_type, *CONTENT_TYPES])) \
            or content_type
        if not valid and draw(st.integers(0, 3)) == 0:
            encoding = draw(st.sampled_from(["gzip", "gzip-damaged", "zstd", "br"]))
            if encoding.startswith("gzip"):
                content = gzip.compress(content)
                if encoding == "gzip-damaged":
                    content = content[:-8] + bytes(4) + content[-4:]
                encoding = "gzip"
            headers["Content-Encoding"] = encoding
    return {"method": method, "url": httpx.URL(url, query=raw_query), "headers": headers, "content": content}


def _quoted(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# -- the test ------------------------------------------------------------------------------

async def snapshot(api) -> tuple[int, ...]:
    """Row counts of every table (and the data versions, which any logged write raises)."""
    async with api.db_sessions() as db:
        counts = select(*[select(func.count()).select_from(t).scalar_subquery() for t in SNAPSHOT_TABLES])
        row = (await db.execute(everywhere(counts))).one()
        versions = await db.scalar(everywhere(select(func.coalesce(func.sum(Base.metadata.tables["data_versions"].c.version), 0))))
        return (*row, versions)


async def seeded(api) -> Ids:
    """One of each record, so that valid ids reach the code behind the lookups."""
    ids = Ids()
    headers = api.headers()
    ids.by_kind["dataset"] = (await api.client.post("/datasets", json={"name": "fuzz"}, headers=headers)).json()["id"]
    ids.by_kind["example"] = (await api.client.post("/examples", json={
        "dataset_id": ids.by_kind["dataset"], "inputs": {"q": "x"}, "metadata": {"k": 1}}, headers=headers)).json()["id"]
    ids.by_kind["run"] = run_id = new_id()
    response = await api.client.post("/runs", json=post(run_id, session_name="fuzz", inputs={"a": "x"},
                                                        reference_example_id=ids.by_kind["example"],
                                                        extra={"metadata": {"m": 1}}), headers=headers)
    assert response.status_code == 202, response.text
    ids.by_kind["session"] = (await api.client.get("/sessions", params={"name": "fuzz"}, headers=headers)).json()[0]["id"]
    ids.by_kind["feedback"] = (await api.client.post("/feedback", json={"run_id": run_id, "key": "k", "score": 1},
                                                     headers=headers)).json()["id"]
    return ids


def drawn(method: str, path: str, op: dict[str, Any], ids: Ids) -> list[dict[str, Any]]:
    """The operation's requests, drawn by hypothesis up front (its runner drives no async
    test inside another one): derandomized, so every run sends the same ones."""
    out: list[dict[str, Any]] = []

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=FUZZ_SEED is None, database=None,
              suppress_health_check=list(HealthCheck))
    @seed(int(FUZZ_SEED or 0))
    @given(data=st.data())
    def collect(data: st.DataObject) -> None:
        out.append(data.draw(requests(method, API_PREFIX + path if data.draw(st.booleans()) else path, op, ids)))

    collect()
    return out


async def test_no_500_and_no_write_on_4xx(api):
    """All operations against one database (a database per operation would cost more than
    the requests); the deletes come last, so the others meet the seeded records."""
    ids = await seeded(api)
    for method, path, op in sorted(OPERATIONS, key=lambda o: o[0] == "DELETE"):
        for request in drawn(method, path, op, ids):
            before = await snapshot(api)
            shown = f"{request['method']} {request['url']} {request['headers']} {request['content'][:300]!r}"
            try:
                response = await api.client.request(request["method"], request["url"], content=request["content"],
                                                    headers={**api.headers(), **request["headers"]})
            except Exception as exc:  # the app raised: a 500 (the transport re-raises it)
                raise AssertionError(f"{shown} raised {exc!r}") from exc
            assert response.status_code < 500, (shown, response.status_code, response.text[:500])
            if response.headers.get("content-type", "").startswith("application/json") or response.status_code >= 400:
                orjson.loads(response.content)  # a JSON body
            if 400 <= response.status_code < 500:
                assert await snapshot(api) == before, (shown, response.text[:500])


def test_every_route_is_fuzzed():
    """Every REST route is in the document the fuzz test iterates (so it is fuzzed)."""
    documented = {(m, re.sub(r"\{[^}]+\}", "{}", p)) for m, p, _ in OPERATIONS}
    for route in ROUTES:
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                assert (method, re.sub(r"\{[^}]+\}", "{}", route.path)) in documented, (method, route.path)
