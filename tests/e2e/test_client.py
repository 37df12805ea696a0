"""stockline.client against a real server, on SQLite and PostgreSQL: the everyday
operations, lists across pages, idempotent retries, typed problems, and an event stream
that survives a dropped connection and a restarted server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from stockline.client import (
    AsyncClient,
    Client,
    Event,
    InsufficientStock,
    InvalidState,
    Line,
    Money,
    NotFound,
    ValidationFailed,
)
from tests.conftest import LiveServer, start_server, stop_server
from tests.factories import (
    create_api_key,
    create_purchase_order,
    create_supplier,
    create_webhook,
    random_code,
    random_location,
    random_sku,
)

USD = Money(Decimal("25.00"), "USD")
WAIT = 60.0  # seconds, at most, for an event (a bound for a loaded machine, not a target)


def sold(sku: str, quantity: int = 1) -> Line:
    return Line(sku, quantity, USD)


def stocked(api: Client, quantity: int = 10) -> tuple[str, str]:
    """A new store holding ``quantity`` of a new product."""
    store, sku = random_location(), random_sku()
    api.create_product(sku, "Trail shoe", "footwear", attributes={"size": "42"}, price=USD)
    api.create_location(store, "Store", region="us-east")
    api.update_inventory(store, sku, delta=quantity, reason="receipt")
    return store, sku


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.base_url, api_key=live_server.admin_key) as client:
        yield client


def test_a_location_keeps_its_time_zone(api: Client) -> None:
    store = random_location()
    made = api.create_location(store, "Store", time_zone="America/New_York")
    assert made.time_zone == api.get_location(store).time_zone == "America/New_York"


def test_a_level_is_read_as_it_was(api: Client) -> None:
    store, sku = stocked(api, 10)
    before = datetime.now(UTC)
    api.update_inventory(store, sku, delta=-4, reason="damage")
    then = api.level(store, sku, as_of=before)
    assert (then.on_hand, then.version, then.lots) == (10, None, None)
    assert then.as_of is not None
    assert api.level(store, sku).on_hand == 6
    listed = list(api.inventory(location_id=store, as_of=before))
    assert [(lv.sku, lv.on_hand) for lv in listed] == [(sku, 10)]


def test_sell_count_move_and_hold_stock(api: Client) -> None:
    store, sku = stocked(api, 10)
    warehouse = random_location()
    api.create_location(warehouse, "Depot", kind="warehouse", capacity=1000)
    sale = api.record_sale(store, [sold(sku, 2)], customer_ref="LOYALTY-1")
    assert (sale.location_id, sale.units, sale.total) == (store, 2, Money(Decimal("50.00"),
                                                                          "USD"))
    assert api.get_sale(sale.id) == sale
    level = api.level(store, sku)
    assert (level.on_hand, level.available) == (8, 8)
    counted = api.update_inventory(store, sku, quantity=7, reason="count",
                                   expected_version=level.version)
    assert counted.on_hand == 7

    shipped = api.transfer(store, warehouse, [Line(sku, 3)], note="overstock")
    assert shipped.status == "in_transit" and api.level(warehouse, sku).in_transit == 3
    received = api.receive_transfer(shipped.id, [Line(sku, 1)])
    assert received.status == "partially_received"
    assert api.receive_transfer(shipped.id).status == "received"
    assert api.level(warehouse, sku).on_hand == 3

    hold = api.reserve(store, [sold(sku, 2)], ttl_seconds=600)
    assert hold.status == "active" and api.level(store, sku).reserved == 2
    committed = api.commit_reservation(hold.id)
    assert committed.units == 2 and api.get_reservation(hold.id).sale_id == committed.id
    other = api.reserve(store, [sold(sku, 1)])
    assert api.release_reservation(other.id).status == "released"
    with pytest.raises(InvalidState):
        api.commit_reservation(other.id)
    returned = api.return_sale(sale.id, [Line(sku, 1)], restock=True, reason="changed_mind")
    assert returned.sale_status == "partially_returned"
    assert api.level(store, sku).on_hand == 7 - 3 - 2 + 1


def test_a_short_shipment_is_closed_with_the_rest_lost_or_returned(api: Client) -> None:
    store, sku = stocked(api, 10)
    warehouse = random_location()
    api.create_location(warehouse, "Depot", kind="warehouse", capacity=1000)
    short = api.transfer(store, warehouse, [Line(sku, 4)])
    api.receive_transfer(short.id, [Line(sku, 1)])
    lost = api.close_transfer(short.id, "lost", note="crate missing")
    assert (lost.status, lost.remainder, lost.closed_at is not None) == ("closed", "lost", True)
    assert [(ln.received_quantity, ln.lost_quantity, ln.in_transit) for ln in lost.lines] == [
        (1, 3, 0)]
    back = api.transfer(store, warehouse, [Line(sku, 2)])
    returned = api.close_transfer(back.id, "return")
    assert [(ln.cancelled_quantity, ln.lost_quantity) for ln in returned.lines] == [(2, 0)]
    assert (api.level(store, sku).on_hand, api.level(warehouse, sku).on_hand) == (6, 1)
    with pytest.raises(InvalidState):
        api.close_transfer(back.id, "lost")


def test_lists_are_followed_across_pages(api: Client) -> None:
    store, sku = stocked(api, 20)
    category = random_code("cat").lower()
    made = {api.create_product(random_sku(), f"Ball {n}", category).sku for n in range(5)}
    assert {p.sku for p in api.products(category=category, page_size=2)} == made
    sales = [api.record_sale(store, [sold(sku)]).id for _ in range(5)]
    assert sorted(s.id for s in api.sales(location_id=store, page_size=2)) == sorted(sales)
    moves = list(api.movements(location_id=store, sku=sku, page_size=2))
    assert [m.delta for m in moves] == [20] + [-1] * 5 and moves[-1].balance_after == 15
    holds = [api.reserve(store, [sold(sku)]).id for _ in range(3)]
    assert sorted(r.id for r in api.reservations(location_id=store, page_size=2)) == sorted(
        holds)
    other = random_location()
    api.create_location(other, "Other store")
    sent = [api.transfer(store, other, [Line(sku, 1)]).id for _ in range(3)]
    assert sorted(t.id for t in api.transfers(location_id=store, page_size=1)) == sorted(sent)
    assert sorted(lv.location_id for lv in api.inventory(sku=sku, page_size=1)) == sorted(
        [store, other])
    logged = list(api.events_log(after=0, types="sale.recorded", location_id=store,
                                 page_size=2))
    assert [e.data["sale_id"] for e in logged] == sales


async def test_the_operational_lists_are_read(live_server: LiveServer) -> None:
    began = datetime.now(UTC) - timedelta(seconds=1)
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key}) as raw, \
            AsyncClient(live_server.base_url, api_key=live_server.admin_key) as api:
        store, sku = random_location(), random_sku()
        await api.create_product(sku, "Kettlebell", "fitness")
        await api.create_location(store, "Gym store")
        await api.update_inventory(store, sku, delta=2, reason="receipt")
        await api.set_reorder_settings(store, sku, reorder_point=5, reorder_quantity=10)
        supplier = await create_supplier(raw, products={sku: "12.50"})
        order = await create_purchase_order(raw, supplier["code"], store, {sku: 1}, draft=True)
        key = await create_api_key(raw, name=random_code("client"))
        hook = await create_webhook(raw, "https://example.com/in", ["sale.recorded"],
                                    location_ids=[store])
        suggested = [x async for x in api.replenishment_suggestions(location_id=store)]
        assert [(x.sku, x.quantity, x.source and x.source.id) for x in suggested] == [
            (sku, 10, supplier["code"])]
        assert order["id"] in [o.id async for o in api.purchase_orders(location_id=store)]
        assert supplier["code"] in [x.code async for x in api.suppliers(page_size=500)]
        assert key["id"] in [k.id async for k in api.api_keys(page_size=500)]
        assert hook["id"] in [w.id async for w in api.webhooks(page_size=500)]
        assert [d async for d in api.webhook_deliveries(hook["id"])] == []
        posted = [entry.route async for entry in api.audit(method="POST", start=began,
                                                           page_size=3)]
        assert "/v1/api-keys" in posted and "/v1/webhooks" in posted


def test_a_retried_sale_is_recorded_once(api: Client) -> None:
    store, sku = stocked(api, 5)
    first = api.record_sale(store, [sold(sku)], idempotency_key="till-3-0042")
    again = api.record_sale(store, [sold(sku)], idempotency_key="till-3-0042")
    assert again == first and api.level(store, sku).on_hand == 4


class LosesFirstAnswer(httpx.BaseTransport):
    """Sends each request to the server, but loses the first write's answer on the way
    back, as a connection that breaks after the server committed."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost: list[httpx.Response] = []
        self.answers: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.method == "POST" and not self.lost:
            self.lost.append(response)
            raise httpx.RemoteProtocolError("connection reset after the request was sent")
        self.answers.append(response)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_sale_whose_answer_was_lost_is_retried_with_its_key(live_server: LiveServer) -> None:
    with Client(live_server.base_url, api_key=live_server.admin_key) as api:
        store, sku = stocked(api, 5)
    flaky = LosesFirstAnswer()
    with Client(live_server.base_url, api_key=live_server.admin_key, transport=flaky,
                backoff=0.0) as api:
        sale = api.record_sale(store, [sold(sku, 2)])
        assert api.level(store, sku).on_hand == 3  # sold once
    lost, replayed = flaky.lost[0], flaky.answers[0]
    assert lost.status_code == 201 and lost.json()["id"] == sale.id
    assert replayed.headers["idempotent-replayed"] == "true"


def test_problems_arrive_as_typed_exceptions(api: Client) -> None:
    store, sku = stocked(api, 3)
    with pytest.raises(InsufficientStock) as short:
        api.record_sale(store, [sold(sku, 4)])
    assert [(x.sku, x.requested, x.available) for x in short.value.lines] == [(sku, 4, 3)]
    assert short.value.status == 409 and api.level(store, sku).on_hand == 3
    with pytest.raises(NotFound) as missing:
        api.get_sale("sal_doesnotexist")
    assert (missing.value.resource, missing.value.key) == ("sale", "sal_doesnotexist")
    with pytest.raises(ValidationFailed) as invalid:
        api.update_inventory(store, sku, reason="receipt", delta=0, quantity=2)
    assert invalid.value.errors and invalid.value.code == "validation_error"


def test_events_replay_from_a_point_and_carry_the_sale(api: Client) -> None:
    store, sku = stocked(api, 5)
    start = api.newest_event_id()
    sale = api.record_sale(store, [sold(sku)])
    stream = api.events(after=start, types="sale.recorded", location_id=store)
    first = next(stream)
    stream.close()
    assert (first.type, first.location_id, first.data["sale_id"]) == (
        "sale.recorded", store, sale.id)


# -- the stream across failures (AsyncClient) ----------------------------------------------

class Unreliable(httpx.AsyncBaseTransport):
    """Forwards to the server on ``port`` (a restarted server has another); ``cut()`` loses
    the next chunk of the event stream and breaks its connection."""

    def __init__(self, port: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.port, self.armed, self.cuts = port, False, 0

    def cut(self) -> None:
        self.armed = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=self.port)
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/v1/events/stream":
            return response
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=Cuttable(response, self), extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Cuttable(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response, owner: Unreliable) -> None:
        self.response, self.owner = response, owner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.response.aiter_raw():
            if self.owner.armed:
                self.owner.armed, self.owner.cuts = False, self.owner.cuts + 1
                raise httpx.ReadError("connection reset by peer")
            yield chunk

    async def aclose(self) -> None:
        await self.response.aclose()


def port_of(server: LiveServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


async def next_sale(events: AsyncGenerator[Event, None]) -> str:
    found = await asyncio.wait_for(anext(events), WAIT)
    return str(found.data["sale_id"])


async def following_sales(api: AsyncClient
                          ) -> tuple[str, str, AsyncGenerator[Event, None]]:
    """A new store with stock of a new product, and its sales' events from now on."""
    sku, store = random_sku(), random_location()
    await api.create_product(sku, "Racket", "rackets")
    await api.create_location(store, "Store")
    await api.update_inventory(store, sku, delta=10, reason="receipt")
    events = api.events(after=await api.newest_event_id(), types=["sale.recorded"],
                        location_id=store)
    return store, sku, events


async def test_a_dropped_stream_resumes_without_gap_or_duplicate(
        live_server: LiveServer) -> None:
    link = Unreliable(port_of(live_server))
    async with AsyncClient(live_server.base_url, api_key=live_server.admin_key,
                           transport=link) as api:
        store, sku, events = await following_sales(api)
        sales = [(await api.record_sale(store, [sold(sku)])).id]
        assert await next_sale(events) == sales[0]
        link.cut()
        sales += [(await api.record_sale(store, [sold(sku)])).id for _ in range(2)]
        assert [await next_sale(events), await next_sale(events)] == sales[1:]
        sales.append((await api.record_sale(store, [sold(sku)])).id)
        assert await next_sale(events) == sales[3]  # and no second copy came before it
        await events.aclose()
        listed = [sale.id async for sale in api.sales(location_id=store, page_size=1)]
        assert sorted(listed) == sorted(sales)
    assert link.cuts == 1


@pytest.mark.slow
async def test_the_stream_follows_a_restarted_server(server_database_url: str,
                                                     tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    server = start_server(server_database_url, before)
    link = Unreliable(port_of(server))
    try:
        async with AsyncClient(server.base_url, api_key=server.admin_key,
                               transport=link) as api:
            store, sku, events = await following_sales(api)
            first = (await api.record_sale(store, [sold(sku)])).id
            assert await next_sale(events) == first
            waiting = asyncio.create_task(next_sale(events))
            await asyncio.to_thread(stop_server, server)
            server = await asyncio.to_thread(start_server, server_database_url, after)
            link.port = port_of(server)
            second = (await api.record_sale(store, [sold(sku)])).id
            third = (await api.record_sale(store, [sold(sku)])).id
            assert [await waiting, await next_sale(events)] == [second, third]
            await events.aclose()
    finally:
        stop_server(server)
