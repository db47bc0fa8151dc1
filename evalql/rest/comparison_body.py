"""The body of a comparison route (group/runs, `datasets/{id}/runs`): the engine's answer,
rendered once per view and kept with it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from contextlib import nullcontext
from typing import Any

from starlette.requests import Request

from evalql.db.tenant import Tenant
from evalql.engine.answer import Answer


async def comparison_body(request: Request, tenant: Tenant, cached: Callable[[], Awaitable[Answer | None]],
                          compute: Callable[[], Awaitable[Answer]], view: Hashable,
                          render: Callable[[Any], bytes]) -> bytes:
    """An answer already computed at this data version (`cached`) is served at once;
    anything else takes a comparison slot (evalql/admission.py) to `compute`. A repeated
    request at an unchanged data version gets the same answer, so its body is rendered once
    per `view`: a page of a few hundred runs takes tens of milliseconds to render, in a
    worker thread, so that the event loop goes on serving other requests meanwhile (the GIL
    changes hands every few milliseconds)."""
    answer = await cached()
    async with nullcontext() if answer is not None else request.app.state.admission.admitted(tenant):
        if answer is None:
            answer = await compute()
        body: bytes | None = answer.renderings.get(view)
        if body is None:
            body = answer.renderings[view] = await asyncio.to_thread(render, answer.result)
        return body
