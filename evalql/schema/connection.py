"""Relay connections with keyset cursors over (timestamp, id), stable under inserts."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from sqlalchemy import Select, tuple_

from evalql.db.derive import parse_timestamp
from evalql.db.tenant import Tenant
from evalql.schema.errors import BadUserInput

T = TypeVar("T")
MAX_FIRST = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def encode_cursor(time: dt.datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([time.isoformat(), str(row_id)])).decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        time, row_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return parse_timestamp(str(time)), uuid.UUID(row_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadUserInput("after: not a cursor returned by this API") from None


async def keyset_page(
    tenant: Tenant, stmt: Select, time_col: Any, id_col: Any, *, first: int, after: str | None,
    descending: bool, node: Callable[[Any], T],
) -> Connection[T]:
    """One page of `stmt` (selecting one ORM entity) ordered by (time_col, id_col)."""
    if not 1 <= first <= MAX_FIRST:
        raise BadUserInput(f"first: must be between 1 and {MAX_FIRST}, got {first}")
    key = tuple_(time_col, id_col)
    if after is not None:
        position = tuple_(*decode_cursor(after))
        stmt = stmt.where(key < position if descending else key > position)
    order = (time_col.desc(), id_col.desc()) if descending else (time_col, id_col)
    rows = list(await tenant.db.scalars(stmt.order_by(*order).limit(first + 1)))
    time_name, id_name = time_col.key, id_col.key
    page: Connection[Any] = connection_of(rows, first, lambda r: encode_cursor(getattr(r, time_name),
                                                                               getattr(r, id_name)))
    for edge in page.edges:
        edge.node = node(edge.node)
    return page


def connection_of(nodes: list[T], first: int, cursor: Callable[[T], str]) -> Connection[T]:
    """The connection of a page read with one row more than `first` (that row, if any, says
    a next page exists)."""
    edges = [Edge(cursor=cursor(n), node=n) for n in nodes[:first]]
    return Connection(edges=edges, page_info=PageInfo(has_next_page=len(nodes) > first,
                                                      end_cursor=edges[-1].cursor if edges else None))
