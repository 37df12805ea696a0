"""The read cache of single levels and products, end to end, on both backends: a writer
reads its own write (REST and GraphQL), a value planted in the cache changes no stock
decision (sale, hold, transfer, adjustment), and the metrics count where reads were
answered from."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from stockline.adapters.cache import level_key
from stockline.bootstrap import Container
from stockline.config import Settings
from stockline.domain.model import Level
from tests.factories import (
    admin_client,
    assert_problem,
    create_warehouse,
    hold_line,
    line,
    record_sale,
    stocked,
)
from tests.graphql_support import gql
from tests.metrics_support import scrape, value

LEVEL = "query($l: String!, $s: String!) { level(locationId: $l, sku: $s) { onHand version } }"
READ_AFTER = {"Stockline-Read-After": "0/16B3748"}  # a position (any: it is read past the cache)


async def on_hand(client: httpx.AsyncClient, store: str, sku: str, **headers: str) -> int:
    answer = await client.get(f"/v1/inventory/{store}/{sku}", headers=headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["on_hand"])


async def test_a_level_read_after_a_sale_on_the_same_server_sees_the_sale(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=10)
    assert await on_hand(client, store, sku) == 10
    assert await on_hand(client, store, sku) == 10  # now from the cache
    await record_sale(client, store, [line(sku, 3)])
    assert await on_hand(client, store, sku) == 7
    data = await gql(client, LEVEL, {"l": store, "s": sku})
    assert data["level"]["onHand"] == 7
    await record_sale(client, store, [line(sku, 2)])
    assert (await gql(client, LEVEL, {"l": store, "s": sku}))["level"]["onHand"] == 5
    assert await on_hand(client, store, sku) == 5


async def test_a_product_read_after_its_change_sees_the_change(
        client: httpx.AsyncClient) -> None:
    _, (sku,) = await stocked(client)
    assert (await client.get(f"/v1/products/{sku}")).json()["name"] != "Renamed"
    changed = await client.patch(f"/v1/products/{sku}", json={"name": "Renamed"})
    assert changed.status_code == 200, changed.text
    assert (await client.get(f"/v1/products/{sku}")).json()["name"] == "Renamed"
    query = "query($s: String!) { product(sku: $s) { name version } }"
    assert (await gql(client, query, {"s": sku}))["product"]["name"] == "Renamed"


@pytest.fixture
def poison(container: Container) -> Iterator[list[tuple[str, str]]]:
    """Levels to plant a false value for (1,000 on hand, at a version no change reaches);
    the plants are dug up afterwards."""
    planted: list[tuple[str, str]] = []
    yield planted
    assert container.cached.local is not None
    for store, sku in planted:
        container.cached.local.changed(level_key(store, sku), None)


def plant(container: Container, planted: list[tuple[str, str]], store: str, sku: str) -> None:
    assert container.cached.local is not None, "the cache is on in the tests"
    planted.append((store, sku))
    container.cached.local.offer(level_key(store, sku),
                                Level(location_id=store, sku=sku, on_hand=1000, version=10**9),
                                10**9, time.monotonic())


async def test_a_false_value_in_the_cache_changes_no_stock_decision(
        client: httpx.AsyncClient, container: Container,
        poison: list[tuple[str, str]]) -> None:
    store, (sku,) = await stocked(client, quantity=3)
    plant(container, poison, store, sku)
    assert await on_hand(client, store, sku) == 1000  # the reads do serve the plant
    assert_problem(await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 5)]}), 409, "insufficient_stock")
    assert_problem(await client.post("/v1/reservations", json={
        "location_id": store, "lines": [hold_line(sku, 4)]}), 409, "insufficient_stock")
    await record_sale(client, store, [line(sku, 2)])  # what the database holds decides
    assert_problem(await client.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 2)]}), 409, "insufficient_stock")
    warehouse = (await create_warehouse(client))["code"]
    assert_problem(await client.post("/v1/stock-movements/transfer", json={
        "from_location_id": store, "to_location_id": warehouse,
        "lines": [{"sku": sku, "quantity": 2}]}), 409, "insufficient_stock")
    assert_problem(await client.post("/v1/inventory/update", json={
        "location_id": store, "sku": sku, "delta": -2, "reason": "damage"}),
        409, "insufficient_stock")
    assert await on_hand(client, store, sku, **READ_AFTER) == 1
    assert await on_hand(client, store, sku) == 1000  # the plant outlived all of it


@pytest.fixture
async def metered(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on the session's container whose metrics its hooks now feed."""
    async with admin_client(settings, container) as client:
        yield client


async def test_reads_are_counted_by_where_they_were_answered_from(
        metered: httpx.AsyncClient) -> None:
    client = metered
    store, (sku,) = await stocked(client)
    before = await scrape(client)
    await on_hand(client, store, sku)  # filled (or already held: the receipt's read)
    await on_hand(client, store, sku)
    await on_hand(client, store, sku, **READ_AFTER)
    after = await scrape(client)

    def more(source: str) -> float:
        name = "stockline_cache_reads_total"
        return (value(after, name, kind="level", source=source)
                - value(before, name, kind="level", source=source))

    assert more("local") >= 1
    assert more("read_after") == 1
    assert more("local") + more("database") == 2
    assert value(after, "stockline_cache_served_age_seconds_count", kind="level",
                 tier="local") >= 1


async def test_a_read_after_that_is_no_position_is_refused_as_on_every_route(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client)
    bad = {"Stockline-Read-After": "yesterday"}
    for url in (f"/v1/inventory/{store}/{sku}", f"/v1/products/{sku}", "/v1/inventory"):
        assert_problem(await client.get(url, headers=bad), 400, "bad_request")
