"""The Python client moves a sale on after the till, and lists sales by their states."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stockline.client import Client
from stockline.client.errors import InvalidState
from tests.conftest import LiveServer
from tests.e2e.test_client import sold, stocked


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
