"""Levels as they were at a past instant (``as_of``) equal a replay of the ledger, on both
backends: one level, a location's list, lotted levels, scope and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.factories import (
    assert_problem,
    create_product,
    create_store,
    create_warehouse,
    insert_api_key,
    ledger,
    line,
    receive,
    receive_transfer,
    record_sale,
    send_as,
    ship_transfer,
)


def replayed(entries: list[dict[str, Any]], as_of: str) -> int:
    """on_hand at ``as_of`` by replaying the ledger: the running sum of the deltas of the
    entries recorded by then, in the order they were recorded."""
    when = datetime.fromisoformat(as_of)
    return sum(e["delta"] for e in entries if datetime.fromisoformat(e["recorded_at"]) <= when)


def just_before(stamp: str) -> str:
    return (datetime.fromisoformat(stamp) - timedelta(microseconds=1)).isoformat()


async def as_of(client: httpx.AsyncClient, location_id: str, sku: str,
                when: str) -> dict[str, Any]:
    response = await client.get(f"/v1/inventory/{location_id}/{sku}", params={"as_of": when})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def busy_day(client: httpx.AsyncClient) -> tuple[str, str, str]:
    """A warehouse and a store trading one SKU: receipts, transfers both ways, sales."""
    warehouse = (await create_warehouse(client))["code"]
    store = (await create_store(client))["code"]
    sku = (await create_product(client))["sku"]
    await receive(client, warehouse, sku, 40)
    first = await ship_transfer(client, warehouse, store, (sku, 15))
    await receive_transfer(client, first["id"], (sku, 10))
    await record_sale(client, store, [line(sku, 3)])
    await receive_transfer(client, first["id"])
    await record_sale(client, store, [line(sku, 4)])
    await receive(client, store, sku, 6)
    back = await ship_transfer(client, store, warehouse, (sku, 5))
    await receive_transfer(client, back["id"])
    await record_sale(client, store, [line(sku, 1)])
    return warehouse, store, sku


async def test_a_level_as_of_each_ledger_entry_equals_the_replay(
        client: httpx.AsyncClient) -> None:
    warehouse, store, sku = await busy_day(client)
    for location in (warehouse, store):
        entries = await ledger(client, location, sku)
        assert len(entries) >= 3
        for entry in entries:
            past = await as_of(client, location, sku, entry["recorded_at"])
            assert past["on_hand"] == replayed(entries, entry["recorded_at"])
            assert past["last_movement_at"] is not None
            assert (past["reserved"], past["available"], past["in_transit"]) == (None,) * 3
        now = (await client.get(f"/v1/inventory/{location}/{sku}")).json()
        latest = await as_of(client, location, sku, datetime.now(UTC).isoformat())
        assert latest["on_hand"] == now["on_hand"] == replayed(entries, latest["as_of"])
        assert latest["last_movement_id"] == entries[-1]["id"]


async def test_before_the_first_entry_a_level_had_nothing(client: httpx.AsyncClient) -> None:
    _, store, sku = await busy_day(client)
    first = (await ledger(client, store, sku))[0]["recorded_at"]
    past = await as_of(client, store, sku, just_before(first))
    assert (past["on_hand"], past["last_movement_id"], past["last_movement_at"]) == (0, None,
                                                                                   None)
    # a plain date is the start of that UTC day
    day = (datetime.fromisoformat(first) - timedelta(days=1)).date().isoformat()
    past = await as_of(client, store, sku, day)
    assert past["on_hand"] == 0
    assert past["as_of"].startswith(day + "T00:00:00")


async def test_a_lotted_level_as_of_is_the_sum_of_its_lots_then(
        client: httpx.AsyncClient) -> None:
    store, sku = (await create_store(client))["code"], (await create_product(client))["sku"]
    for lot, units in (("L-1", 5), ("L-2", 7)):
        assert (await client.post("/v1/inventory/update", json={
            "location_id": store, "sku": sku, "delta": units, "reason": "receipt",
            "lot": lot})).status_code == 200
    await record_sale(client, store, [line(sku, 6)])  # takes from both lots
    entries = await ledger(client, store, sku)
    assert {e["lot"] for e in entries} == {"L-1", "L-2"}
    for entry in entries:
        past = await as_of(client, store, sku, entry["recorded_at"])
        assert past["on_hand"] == replayed(entries, entry["recorded_at"])
    assert (await as_of(client, store, sku, datetime.now(UTC).isoformat()))["on_hand"] == 6


async def test_a_locations_list_as_of_equals_the_replay_per_sku(
        client: httpx.AsyncClient) -> None:
    warehouse, store, sku = await busy_day(client)
    other = (await create_product(client))["sku"]
    await receive(client, store, other, 9)
    entries = {s: await ledger(client, store, s) for s in (sku, other)}
    cut = entries[sku][3]["recorded_at"]
    expected = {s: replayed(e, cut) for s, e in entries.items()
                if any(datetime.fromisoformat(x["recorded_at"]) <= datetime.fromisoformat(cut)
                       for x in e)}
    seen: dict[str, int] = {}
    params: dict[str, Any] = {"location_id": store, "as_of": cut, "limit": 1}
    while True:
        page = (await client.get("/v1/inventory", params=params)).json()
        seen.update({x["sku"]: x["on_hand"] for x in page["items"]})
        assert all(x["location_id"] == store and x["reserved"] is None for x in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == expected
    narrowed = (await client.get("/v1/inventory", params={
        "location_id": store, "sku": sku, "as_of": cut})).json()["items"]
    assert [(x["sku"], x["on_hand"]) for x in narrowed] == [(sku, expected[sku])]


async def test_a_store_key_cannot_read_another_locations_past(
        client: httpx.AsyncClient, database_url: str) -> None:
    """Store staff see today's stock everywhere, but the past is the ledger, which they
    read at their own stores only; a partner reads no ledger at all."""
    warehouse, store, sku = await busy_day(client)
    staff = (await insert_api_key(database_url, "store_staff", location_ids=[store])).key
    partner = (await insert_api_key(database_url, "partner", location_ids=[warehouse])).key
    when = datetime.now(UTC).isoformat()
    own = await send_as(client, staff, "GET", f"/v1/inventory/{store}/{sku}",
                        params={"as_of": when})
    assert own.status_code == 200, own.text
    today = await send_as(client, staff, "GET", f"/v1/inventory/{warehouse}/{sku}")
    assert today.status_code == 200, today.text
    for key in (staff, partner):
        for url, params in ((f"/v1/inventory/{warehouse}/{sku}", {"as_of": when}),
                            ("/v1/inventory", {"as_of": when, "location_id": warehouse})):
            assert_problem(await send_as(client, key, "GET", url, params=params), 403,
                           "forbidden")


async def test_bad_or_future_as_of_is_a_422(client: httpx.AsyncClient) -> None:
    _, store, sku = await busy_day(client)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for url, params in (
            (f"/v1/inventory/{store}/{sku}", {"as_of": "yesterday"}),
            (f"/v1/inventory/{store}/{sku}", {"as_of": "2024-13-01"}),
            (f"/v1/inventory/{store}/{sku}", {"as_of": future}),
            ("/v1/inventory", {"as_of": future, "location_id": store}),
            ("/v1/inventory", {"as_of": "2024-01-01"}),
            ("/v1/inventory", {"as_of": "2024-01-01", "location_id": store,
                               "below_reorder_point": "true"})):
        assert_problem(await client.get(url, params=params), 422, "validation_error")


async def test_as_of_of_an_unknown_location_or_sku_is_a_404(client: httpx.AsyncClient) -> None:
    _, store, sku = await busy_day(client)
    for url in (f"/v1/inventory/NOPE-{sku}/{sku}", f"/v1/inventory/{store}/NOPE-{sku}"):
        assert_problem(await client.get(url, params={"as_of": "2024-01-01"}), 404, "not_found")
