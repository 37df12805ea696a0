"""The Python client moves a sale on after the till, and lists sales by their states."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stockline.client import Client, Line
from stockline.client.errors import InvalidState, NotFound
from tests.conftest import LiveServer
from tests.e2e.test_client import sold, stocked
from tests.factories import random_location


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.base_url, api_key=live_server.admin_key) as client:
        yield client


def test_a_sale_is_paid_shipped_and_found_by_its_states(api: Client) -> None:
    store, sku = stocked(api, 10)
    order = api.record_sale(store, [sold(sku)], channel="ecommerce", payment_status="pending")
    till = api.record_sale(store, [sold(sku)])
    assert (order.fulfillment_status, till.fulfillment_status) == ("unfulfilled", "delivered")
    paid = api.update_sale(order.id, payment_status="paid", fulfillment_status="fulfilled")
    assert (paid.payment_status, paid.fulfillment_status) == ("paid", "fulfilled")
    with pytest.raises(InvalidState):
        api.update_sale(order.id, payment_status="pending")
    assert api.get_sale(order.id) == paid
    listed = api.sales(location_id=store, fulfillment_status="fulfilled", payment_status="paid")
    assert [s.id for s in listed] == [order.id]


def test_a_return_at_another_store_restocks_there_against_the_sale(api: Client) -> None:
    store, sku = stocked(api, 5)
    other = random_location()
    api.create_location(other, "Other store", region="us-east")
    sale = api.record_sale(store, [sold(sku, 2)])
    returned = api.return_sale(sale.id, [Line(sku, 1)], restock=True, reason="wrong_size",
                               location_id=other)
    assert (returned.location_id, returned.sale_status) == (other, "partially_returned")
    assert (api.level(store, sku).on_hand, api.level(other, sku).on_hand) == (3, 1)
    (entry,) = api.movements(location_id=other, sku=sku)
    assert (entry.type, entry.delta, entry.reference) == ("return", 1, sale.id)
    with pytest.raises(NotFound):
        api.return_sale(sale.id, [Line(sku, 1)], restock=True, reason="wrong_size",
                        location_id=random_location())
    assert api.get_sale(sale.id).lines[0].returned_quantity == 1
