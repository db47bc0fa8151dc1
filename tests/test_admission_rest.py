"""A comparison slot rests before the next queued comparison gets it, while other requests
are in flight (evalql/admission.py): the rest is the last use's time times `rest`, at most
MAX_REST; with nothing else in flight, nobody queued, or `rest` 0, the slot goes on at once.
And the app counts the HTTP requests in flight (evalql/in_flight.py) for it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from evalql.admission import MAX_REST, Admission, Limits
from evalql.app import create_app
from evalql.config import Settings
from evalql.db.tenant import Tenant
from evalql.in_flight import RequestsInFlight
from tests.conftest import Api
from tests.test_hardening_ops import Held

USE = 0.3  # seconds the first comparison holds its slot


def admission(rest: float, in_flight: RequestsInFlight) -> Admission:
    return Admission(Limits(running=1, running_per_workspace=1, waiting=4, waiting_per_workspace=4, wait=30.0,
                            rest=rest), in_flight=in_flight)


async def handed_on_after(slots: Admission, meanwhile=None) -> tuple[float, float]:
    """One comparison holds the slot for USE seconds while a second waits for it: (seconds
    from the first's end to the second's start, the rest the admission named meanwhile)."""
    loop = asyncio.get_running_loop()
    tenant = Tenant(uuid.uuid4(), True, None)  # type: ignore[arg-type]  # no database: slots only
    ended = asyncio.Event()
    times: dict[str, float] = {}
    named = {}

    async def first() -> None:
        async with slots.admitted(tenant):
            await asyncio.sleep(USE)
            named["rest"] = slots.rest_after(tenant.workspace_id, USE)
        times["ended"] = loop.time()
        ended.set()
        if meanwhile is not None:
            await meanwhile()

    async def second() -> None:
        while slots.running == 0:
            await asyncio.sleep(0)
        async with slots.admitted(tenant):
            times["started"] = loop.time()

    await asyncio.wait_for(asyncio.gather(first(), second()), 30)
    assert ended.is_set() and slots.running == 0 and slots.waiting == 0
    return times["started"] - times["ended"], named["rest"]


async def test_a_slot_rests_while_other_requests_are_in_flight():
    in_flight = RequestsInFlight()
    in_flight.count = 3  # the two comparisons' requests and one other
    gap, rest = await handed_on_after(admission(1.0, in_flight))
    assert rest == pytest.approx(USE)
    assert gap >= USE - 0.01  # the timer fires no earlier; the use measured is at least USE


async def test_the_rest_ends_once_the_other_requests_are_done():
    in_flight = RequestsInFlight()
    in_flight.count = 3

    async def others_finish() -> None:
        await asyncio.sleep(0.05)
        in_flight.count = 1  # only the waiting comparison's request is left

    gap, rest = await handed_on_after(admission(1.0, in_flight), others_finish)
    assert rest == pytest.approx(USE)
    assert 0.04 <= gap < USE - 0.1


async def test_no_rest_for_waiters_the_slot_would_not_let_run():
    """Two in all, one per workspace: b's waiter needs b's slot, not a's."""
    in_flight = RequestsInFlight()
    in_flight.count = 10
    slots = Admission(Limits(running=2, running_per_workspace=1, waiting=4, waiting_per_workspace=4, rest=1.0),
                      in_flight=in_flight)
    a, b = uuid.uuid4(), uuid.uuid4()
    await slots.acquire(a)
    await slots.acquire(b)
    waiter = asyncio.create_task(slots.acquire(b))
    while slots.waiting == 0:
        await asyncio.sleep(0)
    assert slots.rest_after(a, 0.5) == 0.0
    assert slots.rest_after(b, 0.5) == 0.5
    # Requests of exports (running or waiting) are not "other" requests.
    exports = Admission(Limits(running=10, running_per_workspace=10))
    for _ in range(10 - 3):  # in flight: the three comparisons' requests and seven exports
        await exports.acquire(a)
    slots.alongside = (exports,)
    assert slots.rest_after(b, 0.5) == 0.0
    slots.release(b)
    await waiter
    slots.release(a)
    slots.release(b)
    assert slots.running == 0


@pytest.mark.parametrize("rest, others", [(1.0, 0), (0.0, 5)], ids=["nothing else in flight", "rest 0"])
async def test_a_slot_goes_on_at_once(rest: float, others: int):
    in_flight = RequestsInFlight()
    in_flight.count = 2 + others
    gap, named = await handed_on_after(admission(rest, in_flight))
    assert named == 0.0
    assert gap < USE - 0.1  # no rest (which would be at least USE)


async def test_the_rest_is_bounded_and_needs_a_queue():
    in_flight = RequestsInFlight()
    in_flight.count = 10
    slots = admission(5.0, in_flight)
    tenant = Tenant(uuid.uuid4(), True, None)  # type: ignore[arg-type]
    assert slots.rest_after(tenant.workspace_id, 10.0) == 0.0  # nobody waits
    await slots.acquire(tenant.workspace_id)
    waiter = asyncio.create_task(slots.acquire(tenant.workspace_id))
    while slots.waiting == 0:
        await asyncio.sleep(0)
    assert slots.rest_after(tenant.workspace_id, 10.0) == MAX_REST
    assert slots.rest_after(tenant.workspace_id, 0.02) == pytest.approx(0.1)
    slots.release(tenant.workspace_id)
    await waiter
    slots.release(tenant.workspace_id)
    # A slot used outside `admitted` (released directly) never rests.
    assert slots.running == 0


async def test_the_app_counts_requests_in_flight(api: Api, database_url: str):
    """A request counts from the moment its body is here (one still arriving does not) until
    it is answered: here, one that waits for a lock the test holds on the database (SQLite's
    released within the server's 5 s busy timeout)."""
    counter = api.client._transport.app.state.in_flight  # type: ignore[attr-defined]
    assert counter.count == 0
    body_done = asyncio.Event()

    async def body():
        yield b'{"name": "in-fl'
        await body_done.wait()
        yield b'ight"}'

    request = asyncio.create_task(api.client.post("/api/v1/sessions", content=body(), headers={
        **api.headers(), "Content-Type": "application/json"}))
    await asyncio.sleep(0.2)  # the app reads what there is of the body
    assert counter.count == 0 and not request.done()
    async with asyncio.timeout(10), Held(database_url, "sessions"):
        body_done.set()
        while counter.count != 1:  # the body is here; the insert waits for the lock
            await asyncio.sleep(0.01)
        assert not request.done()
    response = await request
    assert response.status_code in (200, 201), response.text
    assert counter.count == 0


def test_the_rest_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    assert Settings.from_env("sqlite+aiosqlite:///:memory:").comparison_rest == 1.0
    monkeypatch.setenv("EVALQL_COMPARISON_REST", "0.5")
    app = create_app(Settings.from_env("sqlite+aiosqlite:///:memory:"))
    assert app.state.admission.limits.rest == 0.5 and app.state.admission.in_flight is app.state.in_flight
    assert app.state.export_admission.limits.rest == 0.0  # exports' slots never rest
    for wrong in ("-1", "nan", "inf"):
        monkeypatch.setenv("EVALQL_COMPARISON_REST", wrong)
        with pytest.raises(ValueError, match="EVALQL_COMPARISON_REST must be a finite number, 0 or more"):
            Settings.from_env("sqlite+aiosqlite:///:memory:")
