"""Replenishment suggestions over HTTP, on both backends: every low level that what is on
order does not cover, how much it needs, and where that should come from.

The rules (``stockline.domain.replenishment``): quantity = the shortfall
``max(reorder_point + safety_stock + 1, safety_stock + ceil(daily_velocity * (lead time +
cover days))) - (available + in_transit + incoming)``, rounded up to a multiple of
``reorder_quantity`` when one is set; source = a transfer from the nearest location (same
region, then distance, then the most surplus) whose surplus covers the quantity, else the
cheapest supplier with a known lead time, else a partial transfer, else none.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_problem,
    collect,
    create_product,
    create_purchase_order,
    create_store,
    create_supplier,
    create_warehouse,
    price,
    receive,
    set_reorder,
)

SUGGESTIONS = "/v1/replenishment/suggestions"


async def _product(client: httpx.AsyncClient) -> str:
    return str((await create_product(client))["sku"])


async def _store(client: httpx.AsyncClient) -> str:
    return str((await create_store(client))["code"])


async def _warehouse(client: httpx.AsyncClient) -> str:
    return str((await create_warehouse(client))["code"])


async def _stock(client: httpx.AsyncClient, location_id: str, sku: str, on_hand: int,
                 reorder_point: int | None = None, **settings: int | None) -> None:
    if on_hand:
        await receive(client, location_id, sku, on_hand)
    if reorder_point is not None or settings:
        await set_reorder(client, location_id, sku, reorder_point, **settings)


async def _suggestions(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return await collect(client, SUGGESTIONS, params)


async def _one(client: httpx.AsyncClient, location_id: str, sku: str) -> dict[str, Any] | None:
    found = await _suggestions(client, location_id=location_id, sku=sku)
    assert len(found) <= 1
    return found[0] if found else None


# -- which supplier -----------------------------------------------------------------------

async def test_the_cheapest_supplier_with_a_known_lead_time_is_suggested(
        client: httpx.AsyncClient) -> None:
    sku, store = await _product(client), await _store(client)
    await _stock(client, store, sku, 2, reorder_point=5)
    await create_supplier(client, products={sku: "1.00"}, lead_time_days=None)
    await create_supplier(client, products={sku: "9.00"}, lead_time_days=2)
    cheap = (await create_supplier(client, products={sku: "4.00"}, lead_time_days=10))["code"]
    suggestion = await _one(client, store, sku)
    assert suggestion == {
        "location_id": store, "sku": sku, "available": 2, "reorder_point": 5,
        "reorder_quantity": None, "safety_stock": None, "on_order": 0, "quantity": 4,
        "daily_velocity": 0.0,
        "source": {"type": "supplier", "id": cheap, "unit_cost": price("4.00"),
                   "lead_time_days": 10, "surplus": None}}


async def test_equal_costs_go_to_the_shorter_lead_time(client: httpx.AsyncClient) -> None:
    sku, store = await _product(client), await _store(client)
    await _stock(client, store, sku, 0, reorder_point=1)
    await create_supplier(client, products={sku: "3.00"}, lead_time_days=9)
    quick = (await create_supplier(client, products={sku: "3.00"}, lead_time_days=1))["code"]
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert (suggestion["source"]["type"], suggestion["source"]["id"]) == ("supplier", quick)


# -- which location -----------------------------------------------------------------------

async def test_a_transfer_from_the_location_with_the_most_surplus_beats_a_supplier(
        client: httpx.AsyncClient) -> None:
    # Nothing says which is nearest (other regions, no coordinates): the most surplus wins.
    sku, store = await _product(client), await _store(client)
    busy = str((await create_store(client, region="elsewhere"))["code"])
    big, small = await _warehouse(client), await _warehouse(client)
    await _stock(client, store, sku, 0, reorder_point=4)                 # needs 5
    await _stock(client, big, sku, 40, reorder_point=10, safety_stock=5)  # surplus 25
    await _stock(client, small, sku, 12)                                  # surplus 12
    await _stock(client, busy, sku, 50, reorder_point=30)                 # surplus 20
    await create_supplier(client, products={sku: "0.01"}, lead_time_days=1)
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert suggestion["quantity"] == 5
    assert suggestion["source"] == {"type": "transfer", "id": big, "surplus": 25,
                                    "unit_cost": None, "lead_time_days": None}


async def test_a_supplier_beats_a_transfer_that_covers_only_part(
        client: httpx.AsyncClient) -> None:
    sku, store, warehouse = await _product(client), await _store(client), await _warehouse(client)
    await _stock(client, store, sku, 0, reorder_point=9)  # needs 10
    await _stock(client, warehouse, sku, 6)               # can spare 6
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert (suggestion["quantity"], suggestion["source"]["type"],
            suggestion["source"]["id"]) == (10, "supplier", supplier)


async def test_a_partial_transfer_when_no_supplier_can_be_planned(
        client: httpx.AsyncClient) -> None:
    sku, store, warehouse = await _product(client), await _store(client), await _warehouse(client)
    await _stock(client, store, sku, 0, reorder_point=19)  # needs 20
    await _stock(client, warehouse, sku, 5)
    await create_supplier(client, products={sku: "2.00"}, lead_time_days=None)
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert suggestion["quantity"] == 20
    assert (suggestion["source"]["type"], suggestion["source"]["id"],
            suggestion["source"]["surplus"]) == ("transfer", warehouse, 5)


async def test_no_source_when_nothing_can_be_spared_or_bought(client: httpx.AsyncClient) -> None:
    sku, store, other = await _product(client), await _store(client), await _store(client)
    await _stock(client, store, sku, 1, reorder_point=2)
    await _stock(client, other, sku, 3, reorder_point=3)  # at its own reorder point
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert suggestion["source"] is None
    # The other store is low too, and the first has nothing to spare either.
    other_one = await _one(client, other, sku)
    assert other_one is not None
    assert other_one["source"] is None


# -- how much -----------------------------------------------------------------------------

@pytest.mark.parametrize(("on_hand", "reorder", "expected"), [
    pytest.param(5, {"reorder_point": 5}, 1, id="at-the-reorder-point"),
    pytest.param(2, {"reorder_point": 5, "safety_stock": 3}, 7, id="safety-stock"),
    pytest.param(2, {"reorder_point": 5, "reorder_quantity": 24}, 24, id="one-pack"),
    pytest.param(0, {"reorder_point": 50, "reorder_quantity": 20}, 60, id="three-packs"),
])
async def test_quantity(client: httpx.AsyncClient, on_hand: int, reorder: dict[str, int],
                        expected: int) -> None:
    sku, store = await _product(client), await _store(client)
    await _stock(client, store, sku, on_hand, **reorder)
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert (suggestion["available"], suggestion["quantity"]) == (on_hand, expected)


async def test_what_is_on_order_lowers_the_quantity_and_covered_levels_are_left_out(
        client: httpx.AsyncClient) -> None:
    sku, store = await _product(client), await _store(client)
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    await _stock(client, store, sku, 2, reorder_point=10)  # needs 9
    first = await create_purchase_order(client, supplier, store, {sku: 5})
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert (suggestion["on_order"], suggestion["quantity"]) == (5, 4)
    await create_purchase_order(client, supplier, store, {sku: 4})
    assert await _one(client, store, sku) is None  # covered: 2 + 9 > 10
    draft = await create_purchase_order(client, supplier, store, {sku: 50}, draft=True)
    await client.post(f"/v1/purchase-orders/{first['id']}/cancel")
    suggestion = await _one(client, store, sku)  # a draft covers nothing
    assert suggestion is not None
    assert (suggestion["on_order"], suggestion["quantity"]) == (4, 5)
    await client.post(f"/v1/purchase-orders/{draft['id']}/order")
    assert await _one(client, store, sku) is None


async def test_a_received_order_is_no_longer_on_order(client: httpx.AsyncClient) -> None:
    sku, store = await _product(client), await _store(client)
    supplier = (await create_supplier(client, products={sku: "2.00"}))["code"]
    await _stock(client, store, sku, 0, reorder_point=10)
    order = await create_purchase_order(client, supplier, store, {sku: 11})
    assert await _one(client, store, sku) is None
    receipt = await client.post(f"/v1/purchase-orders/{order['id']}/receive",
                                json={"lines": [{"sku": sku, "quantity": 6}]})
    assert receipt.status_code == 200
    assert await _one(client, store, sku) is None  # 6 on hand, 5 incoming: still covered
    await client.post(f"/v1/purchase-orders/{order['id']}/cancel")
    suggestion = await _one(client, store, sku)
    assert suggestion is not None
    assert (suggestion["available"], suggestion["on_order"], suggestion["quantity"]) == (
        6, 0, 5)


# -- lists --------------------------------------------------------------------------------

SUGGESTED = ("supplier", "transfer", "none")
KINDS = (*SUGGESTED, "covered", "not-low", "no-point")


async def _mixed_location(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """A store with a SKU of each kind: low with each kind of source (``supplier``,
    ``transfer``, ``none``), low but ``covered`` by an order, ``not-low``, ``no-point``.

    Answers the store and the kind of each SKU.
    """
    store, warehouse = await _store(client), await _warehouse(client)
    kinds: dict[str, str] = {}
    for kind in KINDS:
        sku = await _product(client)
        if kind == "supplier":
            await create_supplier(client, products={sku: "1.00"})
        if kind == "transfer":
            await _stock(client, warehouse, sku, 100)
        if kind == "covered":
            supplier = (await create_supplier(client, products={sku: "1.00"}))["code"]
            await create_purchase_order(client, supplier, store, {sku: 10})
        if kind == "not-low":
            await _stock(client, store, sku, 8, reorder_point=3)
        elif kind == "no-point":
            await _stock(client, store, sku, 1)
        else:
            await _stock(client, store, sku, 1, reorder_point=3)
        kinds[sku] = kind
    return store, kinds


async def test_filters_by_location_sku_and_source_type(client: httpx.AsyncClient) -> None:
    store, kinds = await _mixed_location(client)
    suggested = {s["sku"]: (s["source"] or {"type": "none"})["type"]
                 for s in await _suggestions(client, location_id=store)}
    assert suggested == {sku: kind for sku, kind in kinds.items() if kind in SUGGESTED}
    for wanted in SUGGESTED:
        found = await _suggestions(client, location_id=store, source_type=wanted)
        assert [s["sku"] for s in found] == [sku for sku, k in kinds.items() if k == wanted]
    sku = next(sku for sku, kind in kinds.items() if kind == "transfer")
    by_sku = await _suggestions(client, sku=sku)
    assert [(s["location_id"], s["sku"]) for s in by_sku] == [(store, sku)]
    assert_problem(await client.get(SUGGESTIONS, params={"source_type": "ship"}), 422,
                   "validation_error")


async def test_below_reorder_point_agrees_with_the_suggestions(
        client: httpx.AsyncClient) -> None:
    store, kinds = await _mixed_location(client)
    low = await collect(client, "/v1/inventory",
                        {"location_id": store, "below_reorder_point": "true"})
    suggested = {s["sku"] for s in await _suggestions(client, location_id=store)}
    assert {lv["sku"] for lv in low} == {sku for sku, kind in kinds.items()
                                        if kind in (*SUGGESTED, "covered")}
    for lv in low:
        if lv["sku"] not in suggested:  # left out only because what is on order covers it
            on_order = lv["in_transit"] + lv["incoming"]
            assert lv["available"] + on_order > lv["reorder_point"] + (lv["safety_stock"] or 0)
    assert suggested == {sku for sku, kind in kinds.items() if kind in SUGGESTED}


async def test_pages_return_every_suggestion_exactly_once_in_order(
        client: httpx.AsyncClient) -> None:
    store = await _store(client)
    skus = sorted([await _product(client) for _ in range(7)])
    for n, sku in enumerate(skus):
        await _stock(client, store, sku, n % 3, reorder_point=2 + n % 3)
    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"location_id": store, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(SUGGESTIONS, params=params)).json()
        pages.append([s["sku"] for s in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [skus[0:2], skus[2:4], skus[4:6], skus[6:]]


async def test_pages_of_a_filtered_list_skip_what_the_filter_leaves_out(
        client: httpx.AsyncClient) -> None:
    store, warehouse = await _store(client), await _warehouse(client)
    skus = sorted([await _product(client) for _ in range(6)])
    for n, sku in enumerate(skus):
        await _stock(client, store, sku, 0, reorder_point=1)
        if n % 2:
            await _stock(client, warehouse, sku, 10)
    transfers = [s["sku"] for s in await collect(
        client, SUGGESTIONS, {"location_id": store, "source_type": "transfer"}, limit=1)]
    assert transfers == skus[1::2]
    unsourced = [s["sku"] for s in await collect(
        client, SUGGESTIONS, {"location_id": store, "source_type": "none"}, limit=2)]
    assert unsourced == skus[0::2]


async def test_the_whole_list_follows_the_order_of_the_low_levels(
        client: httpx.AsyncClient) -> None:
    store, sku = await _store(client), await _product(client)
    await _stock(client, store, sku, 0, reorder_point=1)
    found = [(s["location_id"], s["sku"]) for s in await _suggestions(client)]
    low = [(lv["location_id"], lv["sku"]) for lv in await collect(
        client, "/v1/inventory", {"below_reorder_point": "true"})]
    assert (store, sku) in found
    assert len(set(found)) == len(found)
    assert found == [key for key in low if key in set(found)]


async def test_a_bad_cursor_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(SUGGESTIONS, params={"cursor": "!!!"}), 422,
                   "validation_error")
