"""The pure rules: money, codes, ids, inventory changes, times, reorder points, events."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockline.domain.errors import InsufficientStock, InvalidInput, ShortLine
from stockline.domain.events import InventoryChanged, LowStock, ProductChanged, SaleRecorded
from stockline.domain.ids import new_id
from stockline.domain.model import Level, Product, Sale, SaleLine, crossed_reorder_point
from stockline.domain.rules import MAX_CLOCK_SKEW, check_inventory_change, check_occurred_at
from stockline.domain.values import (
    AMOUNT_SCALE,
    MAX_AMOUNT,
    Channel,
    FulfillmentStatus,
    Money,
    PaymentStatus,
    Reason,
    is_code,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_UNITS = int(MAX_AMOUNT) * AMOUNT_SCALE - 1
currencies = st.sampled_from(["USD", "EUR", "JPY", "GBP"])


# Money


@pytest.mark.parametrize(("amount", "formatted"), [
    ("89.99", "89.99"),
    ("89.9", "89.90"),
    ("5", "5.00"),
    ("0", "0.00"),
    ("0.10000", "0.10"),
    ("1.2345", "1.2345"),
    ("1.2340", "1.234"),
    ("1E+2", "100.00"),
    ("999999999999.9999", "999999999999.9999"),
])
def test_money_formats_two_decimals_when_exact_and_up_to_four_otherwise(
        amount: str, formatted: str) -> None:
    assert Money.parse(amount, "USD").format() == formatted


@pytest.mark.parametrize("amount", [
    "abc", "", "12,50", "NaN", "sNaN", "Infinity", "-Infinity", "-1", "-0.01",
    "1.23456", "0.00001", "1000000000000", "1E+12", "1e400",
])
def test_money_refuses_what_is_not_a_non_negative_amount_below_a_trillion(amount: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        Money.parse(amount, "USD")


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "", "U$D", "123"])
def test_money_needs_an_iso_4217_currency(currency: str) -> None:
    with pytest.raises(ValueError, match="currency"):
        Money.parse("1.00", currency)


def test_negative_zero_is_zero_and_formats_without_a_sign() -> None:
    zero = Money.parse("-0.00", "USD")
    assert zero == Money.parse("0", "USD")
    assert zero.format() == "0.00"
    assert zero.units == 0


def test_money_units_are_ten_thousandths() -> None:
    price = Money.parse("89.99", "USD")
    assert price.units == 899_900
    assert Money.from_units(899_900, "USD") == price
    assert Money.from_units(1, "EUR").format() == "0.0001"


def test_money_times_a_quantity_keeps_its_currency_and_the_limit() -> None:
    assert Money.parse("19.99", "EUR").times(3) == Money.parse("59.97", "EUR")
    with pytest.raises(ValueError, match="trillion"):
        Money.parse("999999999999", "USD").times(2)


@given(units=st.integers(min_value=0, max_value=MAX_UNITS), currency=currencies)
def test_money_survives_a_round_trip_through_its_string(units: int, currency: str) -> None:
    money = Money.from_units(units, currency)
    text = money.format()
    assert re.fullmatch(r"\d{1,12}\.\d{2,4}", text), text
    again = Money.parse(text, currency)
    assert again == money
    assert again.units == units
    assert again.format() == text


@given(amount=st.decimals(min_value=0, max_value=MAX_AMOUNT - Decimal("0.0001"), places=4,
                          allow_nan=False, allow_infinity=False))
def test_any_amount_with_at_most_four_places_parses_to_the_same_value(amount: Decimal) -> None:
    money = Money.parse(str(amount), "USD")
    assert money.amount == amount
    assert Decimal(money.format()) == amount


# Codes and ids


@pytest.mark.parametrize("code", ["A", "a" * 64, "RUN-PEG41-42.BLK_2", "0", "...", ".a", "-_-"])
def test_codes_of_up_to_64_safe_characters_are_valid(code: str) -> None:
    assert is_code(code)


@pytest.mark.parametrize("code", ["", "a" * 65, "has space", "a/b", "é", "sku\n", "\nsku",
                                  "sku\x00", "SKU#1", "a+b", ".", ".."])
def test_other_codes_are_invalid(code: str) -> None:
    assert not is_code(code)


def test_new_id_is_a_prefix_and_26_crockford_characters() -> None:
    ident = new_id("sale")
    assert re.fullmatch(rf"sale_[{CROCKFORD}]{{26}}", ident), ident


def test_new_id_starts_with_the_milliseconds_it_was_made_at() -> None:
    before = int(time.time() * 1000)
    ident = new_id("mv")
    after = int(time.time() * 1000)
    value = 0
    for char in ident.removeprefix("mv_"):
        value = value * 32 + CROCKFORD.index(char)
    assert before <= value >> 80 <= after


def test_ids_made_later_sort_after_earlier_ones() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id("sale"))
        time.sleep(0.002)
    assert ids == sorted(ids)


def test_ids_do_not_repeat() -> None:
    assert len({new_id("x") for _ in range(5000)}) == 5000


# Inventory change rules


@pytest.mark.parametrize(("reason", "delta", "quantity"), [
    (Reason.RECEIPT, 5, None),
    (Reason.FOUND, 1, None),
    (Reason.RETURN, 2, None),
    (Reason.DAMAGE, -1, None),
    (Reason.LOSS, -3, None),
    (Reason.ADJUSTMENT, 4, None),
    (Reason.ADJUSTMENT, -4, None),
    (Reason.COUNT, None, 0),
    (Reason.COUNT, None, 12),
    (Reason.ADJUSTMENT, None, 7),
])
def test_allowed_inventory_changes(reason: Reason, delta: int | None,
                                   quantity: int | None) -> None:
    check_inventory_change(reason, delta, quantity)


@pytest.mark.parametrize(("reason", "delta", "quantity", "field"), [
    (Reason.RECEIPT, None, None, "delta"),
    (Reason.RECEIPT, 5, 5, "delta"),
    (Reason.ADJUSTMENT, 0, None, "delta"),
    (Reason.RECEIPT, -5, None, "delta"),
    (Reason.FOUND, -1, None, "delta"),
    (Reason.RETURN, -1, None, "delta"),
    (Reason.DAMAGE, 1, None, "delta"),
    (Reason.LOSS, 2, None, "delta"),
    (Reason.COUNT, 3, None, "quantity"),
    (Reason.COUNT, -3, None, "quantity"),
    (Reason.COUNT, None, -1, "quantity"),
    (Reason.RECEIPT, None, 3, "quantity"),
    (Reason.FOUND, None, 3, "quantity"),
    (Reason.RETURN, None, 3, "quantity"),
    (Reason.DAMAGE, None, 3, "quantity"),
    (Reason.LOSS, None, 0, "quantity"),
])
def test_refused_inventory_changes_name_the_field(reason: Reason, delta: int | None,
                                                  quantity: int | None, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_inventory_change(reason, delta, quantity)
    assert refused.value.field == field


def test_occurred_at_must_carry_a_time_zone() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_occurred_at(datetime(2026, 3, 1, 11, 0), NOW)  # noqa: DTZ001 - naive on purpose
    assert refused.value.field == "occurred_at"


def test_occurred_at_may_be_in_the_past_or_within_the_clock_skew() -> None:
    check_occurred_at(NOW - timedelta(days=400), NOW)
    check_occurred_at(NOW + MAX_CLOCK_SKEW, NOW)
    check_occurred_at((NOW + timedelta(minutes=4)).astimezone(timezone(timedelta(hours=-7))),
                      NOW)


def test_occurred_at_past_the_clock_skew_is_refused() -> None:
    with pytest.raises(InvalidInput, match="future"):
        check_occurred_at(NOW + MAX_CLOCK_SKEW + timedelta(seconds=1), NOW)


# Levels and the reorder point


def level(on_hand: int = 0, reserved: int = 0, reorder_point: int | None = None) -> Level:
    return Level(location_id="STORE-1", sku="SKU-A", on_hand=on_hand, reserved=reserved,
                 reorder_point=reorder_point, reorder_quantity=20, safety_stock=2, version=3,
                 updated_at=NOW)


def test_available_is_on_hand_less_reserved() -> None:
    assert level(on_hand=10, reserved=4).available == 6


@pytest.mark.parametrize(("before", "on_hand", "reorder_point", "crossed"), [
    (10, 5, 5, True),     # lands on the point
    (10, 0, 5, True),     # falls through it
    (6, 5, 5, True),
    (10, 6, 5, False),    # still above
    (5, 3, 5, False),     # was already at the point
    (3, 1, 5, False),     # was already under it
    (3, 8, 5, False),     # went up
    (10, 0, None, False),  # no point set
    (1, 0, 0, True),      # a point of zero: crossed when it runs out
])
def test_crossed_reorder_point_only_downwards_from_above(
        before: int, on_hand: int, reorder_point: int | None, crossed: bool) -> None:
    assert crossed_reorder_point(before, level(on_hand, reorder_point=reorder_point)) is crossed


def test_reorder_point_counts_available_not_on_hand() -> None:
    after = level(on_hand=8, reserved=4, reorder_point=5)
    assert after.is_at_or_below_reorder_point()
    assert crossed_reorder_point(9, after)
    assert not level(on_hand=8).is_at_or_below_reorder_point()


# Sales and events


def a_sale() -> Sale:
    return Sale(id="sale_01", location_id="STORE-1", currency="USD", channel=Channel.POS,
                payment_status=PaymentStatus.PAID, fulfillment_status=FulfillmentStatus.DELIVERED,
                external_ref="pos-77", actor="clerk",
                occurred_at=NOW, created_at=NOW,
                lines=(SaleLine(sku="SKU-A", quantity=2, unit_price=Money.parse("19.99", "USD")),
                       SaleLine(sku="SKU-B", quantity=1, unit_price=Money.parse("0.0150", "USD"))))


def test_sale_totals_add_up_its_lines() -> None:
    sale = a_sale()
    assert sale.lines[0].total == Money.parse("39.98", "USD")
    assert sale.total == Money.parse("39.995", "USD")
    assert sale.units == 3


def test_inventory_changed_carries_the_new_level() -> None:
    event = InventoryChanged(occurred_at=NOW, level=level(on_hand=7, reserved=2,
                                                          reorder_point=3),
                             delta=-1, cause="sale", reference="sale_01")
    assert (event.type, event.location_id, event.sku) == ("inventory.changed", "STORE-1",
                                                          "SKU-A")
    assert event.data() == {"on_hand": 7, "reserved": 2, "available": 5, "in_transit": 0,
                            "incoming": 0, "reorder_point": 3, "version": 3, "delta": -1,
                            "cause": "sale", "reference": "sale_01"}


def test_low_stock_carries_the_reorder_settings() -> None:
    event = LowStock(occurred_at=NOW, level=level(on_hand=2, reorder_point=3))
    data = event.data()
    assert event.type == "inventory.low_stock"
    assert (event.location_id, event.sku) == ("STORE-1", "SKU-A")
    assert data["available"] == 2
    assert data["reorder_point"] == 3
    assert data["reorder_quantity"] == 20
    assert data["safety_stock"] == 2


def test_sale_recorded_carries_lines_and_total_as_money_strings() -> None:
    event = SaleRecorded(occurred_at=NOW, sale=a_sale())
    assert (event.type, event.location_id, event.sku) == ("sale.recorded", "STORE-1", None)
    assert event.data() == {
        "sale_id": "sale_01",
        "channel": "pos",
        "total": {"amount": "39.995", "currency": "USD"},
        "lines": [{"sku": "SKU-A", "quantity": 2,
                   "unit_price": {"amount": "19.99", "currency": "USD"}},
                  {"sku": "SKU-B", "quantity": 1,
                   "unit_price": {"amount": "0.015", "currency": "USD"}}],
        "external_ref": "pos-77",
    }


@pytest.mark.parametrize("price", [None, Money.parse("89.9", "EUR")])
def test_product_changed_carries_the_product(price: Money | None) -> None:
    product = Product(sku="SKU-A", name="Pegasus", category="shoes",
                      attributes={"size": 42, "color": "black"}, price=price, version=2,
                      created_at=NOW, updated_at=NOW)
    event = ProductChanged(occurred_at=NOW, product=product, created=False)
    assert (event.type, event.location_id, event.sku) == ("product.changed", None, "SKU-A")
    assert event.data() == {
        "created": False, "name": "Pegasus", "category": "shoes",
        "attributes": {"size": 42, "color": "black"},
        "price": None if price is None else {"amount": "89.90", "currency": "EUR"},
        "status": "active", "version": 2,
    }


def test_every_event_payload_is_json() -> None:
    events = [InventoryChanged(occurred_at=NOW, level=level(3), delta=3, cause="receipt",
                               reference=None),
              LowStock(occurred_at=NOW, level=level(1, reorder_point=1)),
              SaleRecorded(occurred_at=NOW, sale=a_sale())]
    for event in events:
        assert orjson.loads(orjson.dumps(event.data())) == event.data()


def test_insufficient_stock_names_every_short_line() -> None:
    error = InsufficientStock("STORE-1", (ShortLine("SKU-A", 5, 2), ShortLine("SKU-B", 1, 0)))
    message = str(error)
    assert "STORE-1" in message
    assert "SKU-A (requested 5, available 2)" in message
    assert "SKU-B (requested 1, available 0)" in message
