"""The Python client edits and closes locations, suppliers and products, filters lists by
status, and raises the typed refusals of a closed location or a discontinued product
(live server, both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from stockline.client import (
    Client,
    Line,
    LocationClosed,
    Money,
    ProductDiscontinued,
    VersionConflict,
)
from tests.conftest import LiveServer
from tests.factories import random_code, random_location, random_sku

USD = Money(Decimal("5.00"), "USD")


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.base_url, api_key=live_server.admin_key) as client:
        yield client


def test_a_location_is_edited_closed_and_reopened(api: Client) -> None:
    store, sku, region = random_location(), random_sku(), random_code("R")
    api.create_product(sku, "Cap", "hats", price=USD)
    api.create_location(store, "Store", region=region, address="1 Main St", capacity=10)
    api.update_inventory(store, sku, delta=4, reason="receipt")
    edited = api.update_location(store, name="Flagship", clear=["address"])
    assert (edited.name, edited.address, edited.capacity) == ("Flagship", None, 10)
    assert (edited.on_hand_units, edited.capacity_used) == (4, 0.4)
    assert api.update_location(store, status="closed").status == "closed"
    with pytest.raises(LocationClosed) as closed:
        api.record_sale(store, [Line(sku, 1, USD)])
    assert closed.value.location_id == store and api.level(store, sku).on_hand == 4
    assert [x.code for x in api.retail_locations(region=region, status="closed")] == [store]
    api.update_location(store, status="active")
    assert api.record_sale(store, [Line(sku, 1, USD)]).units == 1


def test_a_product_is_discontinued_and_a_supplier_edited(api: Client,
                                                         live_server: LiveServer) -> None:
    store, sku = random_location(), random_sku()
    api.create_product(sku, "Cap", "hats", price=USD)
    api.create_location(store, "Store")
    product = api.update_product(sku, status="discontinued", expected_version=1)
    assert (product.status, product.version) == ("discontinued", 2)
    with pytest.raises(VersionConflict):
        api.update_product(sku, name="Late", expected_version=1)
    with pytest.raises(ProductDiscontinued) as refused:
        api.update_inventory(store, sku, delta=1, reason="receipt")
    assert refused.value.skus == [sku]
    assert [p.sku for p in api.products(q=sku, status="discontinued")] == [sku]
    code = random_code("SUP")
    with httpx.Client(base_url=live_server.base_url,
                      headers={"X-API-Key": live_server.admin_key}) as http:
        created = http.post("/v1/suppliers", json={"code": code, "name": "Acme",
                                                   "lead_time_days": 5, "products": [
                                                       {"sku": sku, "cost": USD.to_json()}]})
        assert created.status_code == 201, created.text
    edited = api.update_supplier(code, name="Acme Ltd", clear=["lead_time_days"],
                                 status="closed")
    assert (edited.name, edited.lead_time_days, edited.status) == ("Acme Ltd", None, "closed")
    assert [s.code for s in api.suppliers(sku=sku, status="closed")] == [code]
