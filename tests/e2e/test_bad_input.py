"""Bad input of every kind: a 4xx problem with a stable code, never a 5xx, and no change.

Each refused write is checked against a snapshot of the level, the ledger, the sales of
the stocked store and the product, taken before and after it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_problem,
    create_store,
    create_warehouse,
    error_fields,
    ledger,
    level,
    line,
    random_code,
    record_sale,
    sales_at,
    stocked,
    without_credentials,
)

param = pytest.param


@dataclass(frozen=True)
class World:
    """A store holding 10 of ``sku``, and enough of everything to page through."""

    store: str
    sku: str
    warehouse: str


@pytest.fixture(scope="module")
async def world(app_client: httpx.AsyncClient) -> World:
    store, (sku, _) = await stocked(app_client, quantity=10, skus=2)
    other_store, (other_sku,) = await stocked(app_client, quantity=10)
    for _ in range(2):
        await record_sale(app_client, other_store, [line(other_sku)])
    await create_store(app_client)
    warehouse = (await create_warehouse(app_client))["code"]
    await create_warehouse(app_client)
    return World(store=store, sku=sku, warehouse=warehouse)


class Ref(Enum):
    """Placeholders in the tables, filled in per test."""

    STORE = "store"
    SKU = "sku"
    WAREHOUSE = "warehouse"
    NEW = "a fresh code, unused so far"
    FUTURE = "a day from now"


DROP = object()  # the key is left out of the body


def render(value: Any, world: World, new: str) -> Any:
    if isinstance(value, Ref):
        return {Ref.STORE: world.store, Ref.SKU: world.sku, Ref.WAREHOUSE: world.warehouse,
                Ref.NEW: new,
                Ref.FUTURE: (datetime.now(UTC) + timedelta(days=1)).isoformat()}[value]
    if isinstance(value, dict):
        return {k: render(v, world, new) for k, v in value.items() if v is not DROP}
    if isinstance(value, list):
        return [render(v, world, new) for v in value]
    return value


async def snapshot(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """What a bad write could touch: the level, its ledger, the store's sales, the product."""
    product = await client.get(f"/v1/products/{world.sku}")
    return {"level": await level(client, world.store, world.sku),
            "ledger": await ledger(client, world.store, world.sku),
            "sales": await sales_at(client, world.store),
            "product": product.json()}


async def nothing_named(client: httpx.AsyncClient, code: str) -> None:
    """No product or location was created under ``code``."""
    for path in ("/v1/products", "/v1/warehouses", "/v1/retail-locations"):
        assert (await client.get(f"{path}/{code}")).status_code == 404, path


async def refused(client: httpx.AsyncClient, world: World, new: str | None,
                  send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """Send a request that must be refused, and check it changed nothing.

    ``new`` is the code a wrongly accepted create would have used, if any.
    """
    before = await snapshot(client, world)
    response = await send()
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert await snapshot(client, world) == before
    if new is not None:
        await nothing_named(client, new)
    return response


def assert_names(problem: dict[str, Any], field: str) -> None:
    fields = error_fields(problem)
    assert any(f == field or f.startswith(field + ".") for f in fields), (field, fields)


BAD_CODES = [
    param("X" * 65, id="65-chars"),
    param("", id="empty"),
    param("A B", id="space"),
    param("A/B", id="slash"),
    param("SKÜ-1", id="unicode"),
    param("A\x00B", id="nul"),
    param("A\nB", id="newline"),
    param("A\tB", id="tab"),
    param("a';--", id="quote"),
]
# Every code goes through one pattern: the full list on one field of each body, these on the rest.
SOME_BAD_CODES = [p for p in BAD_CODES if p.id in ("65-chars", "space", "unicode")]

# -- POST /v1/inventory/update ------------------------------------------------------------

UPDATE = {"location_id": Ref.STORE, "sku": Ref.SKU, "delta": 1, "reason": "receipt"}


def update(**changes: Any) -> dict[str, Any]:
    return {**UPDATE, **changes}


def count(**changes: Any) -> dict[str, Any]:
    return {**UPDATE, "delta": DROP, "quantity": 3, "reason": "count", **changes}


UPDATE_CASES = [
    # wrong JSON types
    param(update(delta="5"), "delta", id="delta-string"),
    param(update(delta=5.0), "delta", id="delta-integral-float"),
    param(update(delta=2.5), "delta", id="delta-float"),
    param(update(delta=True), "delta", id="delta-bool"),
    param(update(delta=[5]), "delta", id="delta-list"),
    param(update(delta={"value": 5}), "delta", id="delta-object"),
    param(update(location_id=123), "location_id", id="location-number"),
    param(update(sku=["SKU"]), "sku", id="sku-list"),
    param(update(reason=1), "reason", id="reason-number"),
    param(update(reason="theft"), "reason", id="reason-unknown"),
    param(update(reason="RECEIPT"), "reason", id="reason-upper-case"),
    param(update(note=5), "note", id="note-number"),
    param(update(expected_version="0"), "expected_version", id="expected-version-string"),
    param(count(quantity="3"), "quantity", id="quantity-string"),
    param(count(quantity=3.0), "quantity", id="quantity-float"),
    param(count(quantity=False), "quantity", id="quantity-bool"),
    # missing fields
    param(update(location_id=DROP), "location_id", id="no-location"),
    param(update(sku=DROP), "sku", id="no-sku"),
    param(update(reason=DROP), "reason", id="no-reason"),
    # unknown and server-owned fields are refused, not ignored
    param(update(on_hand=100), "on_hand", id="extra-on-hand"),
    param(update(version=1), "version", id="extra-version"),
    param(update(available=100), "available", id="extra-available"),
    param(update(actor="mallory"), "actor", id="extra-actor"),
    param(update(colour="red"), "colour", id="extra-unknown"),
    # zero, negative and huge amounts
    param(update(delta=0), "delta", id="delta-zero"),
    param(update(delta=-3), "delta", id="receipt-with-negative-delta"),
    param(update(delta=-3, reason="found"), "delta", id="found-with-negative-delta"),
    param(update(delta=3, reason="damage"), "delta", id="damage-with-positive-delta"),
    param(update(delta=3, reason="loss"), "delta", id="loss-with-positive-delta"),
    param(update(delta=1_000_000_001), "delta", id="delta-over-a-billion"),
    param(update(delta=10**30), "delta", id="delta-huge"),
    param(update(delta=2**63), "delta", id="delta-past-int64"),
    param(update(delta=-(10**30), reason="adjustment"), "delta", id="delta-huge-negative"),
    param(count(quantity=-1), "quantity", id="quantity-negative"),
    param(count(quantity=1_000_000_001), "quantity", id="quantity-over-a-billion"),
    param(count(quantity=10**30), "quantity", id="quantity-huge"),
    param(update(expected_version=-1), "expected_version", id="expected-version-negative"),
    param(update(expected_version=2**63), "expected_version", id="expected-version-past-int64"),
    param(update(expected_version=10**30), "expected_version", id="expected-version-huge"),
    # delta and quantity: exactly one
    param(count(delta=3), "delta", id="both-delta-and-quantity"),
    param(update(delta=DROP), "delta", id="neither-delta-nor-quantity"),
    param(update(delta=None), "delta", id="delta-null"),
    param(update(delta=3, reason="count"), "quantity", id="count-with-a-delta"),
    # codes and text
    *[param(update(location_id=p.values[0]), "location_id", id=f"location-{p.id}")
      for p in SOME_BAD_CODES],
    *[param(update(sku=p.values[0]), "sku", id=f"sku-{p.id}") for p in BAD_CODES],
    param(update(lot="lot 1"), "lot", id="lot-with-space"),
    param(update(note="n" * 501), "note", id="note-too-long"),
    param(update(note="a\x00b"), "note", id="note-with-nul"),
]


@pytest.mark.parametrize(("body", "field"), UPDATE_CASES)
async def test_bad_inventory_update_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, world: World, body: dict[str, Any], field: str) -> None:
    sent = render(body, world, "UNUSED")
    response = await refused(client, world, None,
                             lambda: client.post("/v1/inventory/update", json=sent))
    assert_names(assert_problem(response, 422, "validation_error"), field)


@pytest.mark.parametrize(("reason", "change"), [
    ("receipt", -3), ("found", -3), ("return", -3), ("damage", 2), ("loss", 2)])
async def test_absolute_quantity_must_move_stock_the_way_its_reason_says(
        client: httpx.AsyncClient, world: World, reason: str, change: int) -> None:
    """A receipt never lowers stock and a loss never raises it, however it is expressed."""
    counted = (await level(client, world.store, world.sku))["on_hand"] + change
    sent = render(count(reason=reason, quantity=counted), world, "UNUSED")
    response = await refused(client, world, None,
                             lambda: client.post("/v1/inventory/update", json=sent))
    error_fields(assert_problem(response, 422, "validation_error"))


# -- POST /v1/sales/record ----------------------------------------------------------------

LINE = {"sku": Ref.SKU, "quantity": 1, "unit_price": {"amount": "10.00", "currency": "USD"}}
SALE = {"location_id": Ref.STORE, "lines": [LINE]}


def sale(**changes: Any) -> dict[str, Any]:
    return {**SALE, **changes}


def with_line(**changes: Any) -> dict[str, Any]:
    return sale(lines=[{**LINE, **changes}])


def with_price(**changes: Any) -> dict[str, Any]:
    return with_line(unit_price={**LINE["unit_price"], **changes})  # type: ignore[dict-item]


def euro_line() -> dict[str, Any]:
    return {**LINE, "unit_price": {"amount": "10.00", "currency": "EUR"}}


SALE_CASES = [
    # lines: wrong types, missing, empty, too many
    param(sale(lines=LINE), "lines", id="lines-object-for-list"),
    param(sale(lines="SKU-1"), "lines", id="lines-string"),
    param(sale(lines=None), "lines", id="lines-null"),
    param(sale(lines=DROP), "lines", id="no-lines"),
    param(sale(lines=[]), "lines", id="lines-empty"),
    param(sale(lines=[LINE] * 501), "lines", id="501-lines"),
    param(sale(lines=[LINE, euro_line()]), "lines", id="two-currencies"),
    param(sale(location_id=DROP), "location_id", id="no-location"),
    param(sale(location_id=7), "location_id", id="location-number"),
    # quantities
    param(with_line(quantity="1"), "lines.0.quantity", id="quantity-string"),
    param(with_line(quantity=1.0), "lines.0.quantity", id="quantity-integral-float"),
    param(with_line(quantity=1.5), "lines.0.quantity", id="quantity-float"),
    param(with_line(quantity=True), "lines.0.quantity", id="quantity-bool"),
    param(with_line(quantity=None), "lines.0.quantity", id="quantity-null"),
    param(with_line(quantity=DROP), "lines.0.quantity", id="no-quantity"),
    param(with_line(quantity=0), "lines.0.quantity", id="quantity-zero"),
    param(with_line(quantity=-1), "lines.0.quantity", id="quantity-negative"),
    param(with_line(quantity=1_000_001), "lines.0.quantity", id="quantity-over-a-million"),
    param(with_line(quantity=10**30), "lines.0.quantity", id="quantity-huge"),
    param(with_line(sku=DROP), "lines.0.sku", id="line-without-sku"),
    param(with_line(sku=42), "lines.0.sku", id="line-sku-number"),
    *[param(with_line(sku=p.values[0]), "lines.0.sku", id=f"line-sku-{p.id}")
      for p in BAD_CODES],
    *[param(sale(location_id=p.values[0]), "location_id", id=f"location-{p.id}")
      for p in SOME_BAD_CODES],
    param(with_line(discount="1.00"), "lines.0.discount", id="line-extra-field"),
    # money
    param(with_line(unit_price=DROP), "lines.0.unit_price", id="no-unit-price"),
    param(with_line(unit_price="10.00"), "lines.0.unit_price", id="price-string"),
    param(with_line(unit_price=10), "lines.0.unit_price", id="price-number"),
    param(with_price(amount="10.00001"), "lines.0.unit_price.amount", id="amount-5-decimals"),
    param(with_price(amount="-1.00"), "lines.0.unit_price.amount", id="amount-negative"),
    param(with_price(amount=10), "lines.0.unit_price.amount", id="amount-number"),
    param(with_price(amount=10.5), "lines.0.unit_price.amount", id="amount-float"),
    param(with_price(amount="ten"), "lines.0.unit_price.amount", id="amount-words"),
    param(with_price(amount="1e3"), "lines.0.unit_price.amount", id="amount-exponent"),
    param(with_price(amount="NaN"), "lines.0.unit_price.amount", id="amount-nan"),
    param(with_price(amount=""), "lines.0.unit_price.amount", id="amount-empty"),
    param(with_price(amount="1000000000000.00"), "lines.0.unit_price.amount",
          id="amount-a-trillion"),
    param(with_price(currency="usd"), "lines.0.unit_price.currency", id="currency-lower-case"),
    param(with_price(currency="US"), "lines.0.unit_price.currency", id="currency-2-letters"),
    param(with_price(currency="USDX"), "lines.0.unit_price.currency", id="currency-4-letters"),
    param(with_price(currency=840), "lines.0.unit_price.currency", id="currency-number"),
    param(with_price(currency=DROP), "lines.0.unit_price.currency", id="no-currency"),
    param(with_price(rate="1.1"), "lines.0.unit_price.rate", id="price-extra-field"),
    param(with_line(quantity=1_000_000, unit_price={"amount": "999999999999.9999",
                                                    "currency": "USD"}),
          "lines", id="total-too-large"),
    # server-owned and unknown fields
    param(sale(id="sale_01ABC"), "id", id="extra-id"),
    param(sale(total={"amount": "0.00", "currency": "USD"}), "total", id="extra-total"),
    param(sale(status="completed"), "status", id="extra-status"),
    param(sale(actor="mallory"), "actor", id="extra-actor"),
    param(sale(created_at="2024-01-01T00:00:00Z"), "created_at", id="extra-created-at"),
    # enums and text
    param(sale(channel="fax"), "channel", id="channel-unknown"),
    param(sale(channel=1), "channel", id="channel-number"),
    param(sale(payment_status="stolen"), "payment_status", id="payment-status-unknown"),
    param(sale(external_ref="r" * 101), "external_ref", id="external-ref-too-long"),
    param(sale(external_ref=""), "external_ref", id="external-ref-empty"),
    param(sale(external_ref="a\x00b"), "external_ref", id="external-ref-with-nul"),
    # occurred_at
    param(sale(occurred_at="2024-01-01T10:00:00"), "occurred_at", id="occurred-at-naive"),
    param(sale(occurred_at="2024-01-01"), "occurred_at", id="occurred-at-date-only"),
    param(sale(occurred_at="yesterday"), "occurred_at", id="occurred-at-words"),
    param(sale(occurred_at=Ref.FUTURE), "occurred_at", id="occurred-at-future"),
    param(sale(occurred_at="0001-01-01T00:00:00+14:00"), "occurred_at",
          id="occurred-at-before-year-1-in-utc"),
    param(sale(occurred_at="9999-12-31T23:59:59-14:00"), "occurred_at",
          id="occurred-at-after-year-9999-in-utc"),
]


@pytest.mark.parametrize(("body", "field"), SALE_CASES)
async def test_bad_sale_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, world: World, body: dict[str, Any], field: str) -> None:
    sent = render(body, world, "UNUSED")
    response = await refused(client, world, None,
                             lambda: client.post("/v1/sales/record", json=sent))
    assert_names(assert_problem(response, 422, "validation_error"), field)


# -- products -----------------------------------------------------------------------------

PRODUCT = {"sku": Ref.NEW, "name": "Bad input product", "category": "bad-input",
           "attributes": {"size": "42"}, "price": {"amount": "10.00", "currency": "USD"}}


def product(**changes: Any) -> dict[str, Any]:
    return {**PRODUCT, **changes}


def price_of(**changes: Any) -> dict[str, Any]:
    return {"amount": "10.00", "currency": "USD", **changes}


PRODUCT_CASES = [
    param(product(sku=DROP), "sku", id="no-sku"),
    param(product(name=DROP), "name", id="no-name"),
    param(product(category=DROP), "category", id="no-category"),
    param(product(sku=123), "sku", id="sku-number"),
    *[param(product(sku=p.values[0]), "sku", id=f"sku-{p.id}") for p in BAD_CODES],
    param(product(name=123), "name", id="name-number"),
    param(product(name=None), "name", id="name-null"),
    param(product(name=""), "name", id="name-empty"),
    param(product(name="n" * 201), "name", id="name-too-long"),
    param(product(name="a\x00b"), "name", id="name-with-nul"),
    param(product(category=["shoes"]), "category", id="category-list"),
    param(product(category="c" * 101), "category", id="category-too-long"),
    param(product(attributes=["size", "42"]), "attributes", id="attributes-list"),
    param(product(attributes="size=42"), "attributes", id="attributes-string"),
    param(product(attributes={"size": {"eu": 42}}), "attributes", id="attribute-object"),
    param(product(attributes={"size": [42, 43]}), "attributes", id="attribute-list"),
    param(product(attributes={"size": None}), "attributes", id="attribute-null-on-create"),
    param(product(attributes={"shoe size": "42"}), "attributes", id="attribute-key-space"),
    param(product(attributes={"k" * 65: "x"}), "attributes", id="attribute-key-too-long"),
    param(product(attributes={f"k{i}": i for i in range(51)}), "attributes",
          id="51-attributes"),
    param(product(attributes={"size": "v" * 201}), "attributes", id="attribute-too-long"),
    param(product(attributes={"size": 10**30}), "attributes", id="attribute-huge-int"),
    param(product(attributes={"size": "a\x00b"}), "attributes", id="attribute-with-nul"),
    param(product(price="10.00"), "price", id="price-string"),
    param(product(price=10), "price", id="price-number"),
    param(product(price=price_of(amount="10.00001")), "price.amount", id="amount-5-decimals"),
    param(product(price=price_of(amount="-10.00")), "price.amount", id="amount-negative"),
    param(product(price=price_of(amount=10)), "price.amount", id="amount-number"),
    param(product(price=price_of(currency="usd")), "price.currency", id="currency-lower-case"),
    param(product(price=price_of(currency=DROP)), "price.currency", id="no-currency"),
    param(product(price=price_of(tax="0.2")), "price.tax", id="price-extra-field"),
    param(product(version=5), "version", id="extra-version"),
    param(product(created_at="2024-01-01T00:00:00Z"), "created_at", id="extra-created-at"),
    param(product(colour="red"), "colour", id="extra-unknown"),
]


@pytest.mark.parametrize(("body", "field"), PRODUCT_CASES)
async def test_bad_product_is_refused_and_not_created(
        client: httpx.AsyncClient, world: World, body: dict[str, Any], field: str) -> None:
    new = random_code("NEW")
    sent = render(body, world, new)
    response = await refused(client, world, new, lambda: client.post("/v1/products", json=sent))
    assert_names(assert_problem(response, 422, "validation_error"), field)


PATCH_CASES = [
    param({}, "body", id="empty"),
    param({"sku": "OTHER-SKU"}, "sku", id="sku-is-not-patchable"),
    param({"version": 9}, "version", id="version"),
    param({"name": None}, "name", id="name-null"),
    param({"category": None}, "category", id="category-null"),
    param({"attributes": None}, "attributes", id="attributes-null"),
    param({"price": None}, "price", id="price-null"),
    param({"name": 5}, "name", id="name-number"),
    param({"name": ""}, "name", id="name-empty"),
    param({"name": "a\x00b"}, "name", id="name-with-nul"),
    param({"category": "c" * 101}, "category", id="category-too-long"),
    param({"attributes": ["size"]}, "attributes", id="attributes-list"),
    param({"attributes": {"size": {"eu": 42}}}, "attributes", id="attribute-object"),
    param({"attributes": {"shoe size": 42}}, "attributes", id="attribute-key-space"),
    param({"price": {"amount": "1.00001", "currency": "USD"}}, "price.amount",
          id="amount-5-decimals"),
    param({"price": {"amount": "1.00", "currency": "usd"}}, "price.currency",
          id="currency-lower-case"),
]


@pytest.mark.parametrize(("body", "field"), PATCH_CASES)
async def test_bad_product_patch_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, world: World, body: dict[str, Any], field: str) -> None:
    response = await refused(client, world, None,
                             lambda: client.patch(f"/v1/products/{world.sku}", json=body))
    assert_names(assert_problem(response, 422, "validation_error"), field)


# -- locations ----------------------------------------------------------------------------

WAREHOUSE = {"code": Ref.NEW, "name": "Bad input warehouse"}
STORE = {"code": Ref.NEW, "name": "Bad input store", "region": "north"}

LOCATION_CHANGES: list[tuple[str, dict[str, Any], str]] = [
    *[(f"code-{p.id}", {"code": p.values[0]}, "code") for p in SOME_BAD_CODES],
    ("no-code", {"code": DROP}, "code"),
    ("no-name", {"name": DROP}, "name"),
    ("code-number", {"code": 5}, "code"),
    ("name-with-nul", {"name": "a\x00b"}, "name"),
    ("latitude-91", {"latitude": 91}, "latitude"),
    ("latitude-string", {"latitude": "45"}, "latitude"),
    ("longitude--181", {"longitude": -181}, "longitude"),
    ("capacity-negative", {"capacity": -1}, "capacity"),
    ("capacity-float", {"capacity": 1.5}, "capacity"),
    ("capacity-string", {"capacity": "100"}, "capacity"),
    ("capacity-huge", {"capacity": 10**13}, "capacity"),
    ("address-too-long", {"address": "a" * 501}, "address"),
    ("hours-list", {"operating_hours": ["mon"]}, "operating_hours"),
    ("hours-bad-day", {"operating_hours": {"Monday": "9-5"}}, "operating_hours"),
    ("hours-number", {"operating_hours": {"mon": 9}}, "operating_hours"),
    ("hours-with-nul", {"operating_hours": {"mon": "a\x00"}}, "operating_hours"),
    ("extra-type", {"type": "warehouse"}, "type"),
    ("extra-created-at", {"created_at": "2024-01-01T00:00:00Z"}, "created_at"),
]
LOCATION_CASES = [
    *[param(path, {**base, **changes}, field, id=f"{kind}-{name}")
      for kind, path, base in (("warehouse", "/v1/warehouses", WAREHOUSE),
                               ("store", "/v1/retail-locations", STORE))
      for name, changes, field in LOCATION_CHANGES],
    *[param("/v1/warehouses", {**WAREHOUSE, "code": p.values[0]}, "code",
            id=f"warehouse-code-{p.id}") for p in BAD_CODES if p not in SOME_BAD_CODES],
    param("/v1/warehouses", {**WAREHOUSE, "region": "north"}, "region",
          id="warehouse-has-no-region"),
    param("/v1/retail-locations", {**STORE, "region": "r" * 101}, "region",
          id="store-region-too-long"),
    param("/v1/retail-locations", {**STORE, "region": 5}, "region", id="store-region-number"),
]


@pytest.mark.parametrize(("path", "body", "field"), LOCATION_CASES)
async def test_bad_location_is_refused_and_not_created(
        client: httpx.AsyncClient, world: World, path: str, body: dict[str, Any],
        field: str) -> None:
    new = random_code("NEW")
    sent = render(body, world, new)
    response = await refused(client, world, new, lambda: client.post(path, json=sent))
    assert_names(assert_problem(response, 422, "validation_error"), field)


SETTINGS_CASES = [
    param({"reorder_point": -1}, "reorder_point", id="negative"),
    param({"reorder_point": "5"}, "reorder_point", id="string"),
    param({"reorder_point": 5.5}, "reorder_point", id="float"),
    param({"reorder_point": True}, "reorder_point", id="bool"),
    param({"reorder_point": 10**30}, "reorder_point", id="huge"),
    param({"reorder_quantity": -1}, "reorder_quantity", id="reorder-quantity-negative"),
    param({"safety_stock": [1]}, "safety_stock", id="safety-stock-list"),
    param({"reorder_point": 5, "on_hand": 100}, "on_hand", id="extra-on-hand"),
    param({"reorder_point": 5, "version": 1}, "version", id="extra-version"),
]


@pytest.mark.parametrize(("body", "field"), SETTINGS_CASES)
async def test_bad_reorder_settings_are_refused_and_change_nothing(
        client: httpx.AsyncClient, world: World, body: dict[str, Any], field: str) -> None:
    url = f"/v1/inventory/{world.store}/{world.sku}/settings"
    response = await refused(client, world, None, lambda: client.put(url, json=body))
    assert_names(assert_problem(response, 422, "validation_error"), field)


# -- unknown SKUs and locations -----------------------------------------------------------

UNKNOWN_CASES = [
    param("GET", "/v1/products/{new}", None, "product", id="get-product"),
    param("PATCH", "/v1/products/{new}", {"name": "x"}, "product", id="patch-product"),
    param("GET", "/v1/warehouses/{new}", None, "warehouse", id="get-warehouse"),
    param("GET", "/v1/warehouses/{store}", None, "warehouse", id="store-as-warehouse"),
    param("GET", "/v1/retail-locations/{new}", None, "retail location", id="get-store"),
    param("GET", "/v1/retail-locations/{warehouse}", None, "retail location",
          id="warehouse-as-store"),
    param("GET", "/v1/inventory/{new}/{sku}", None, "location", id="level-unknown-location"),
    param("GET", "/v1/inventory/{store}/{new}", None, "product", id="level-unknown-sku"),
    param("PUT", "/v1/inventory/{new}/{sku}/settings", {"reorder_point": 1}, "location",
          id="settings-unknown-location"),
    param("PUT", "/v1/inventory/{store}/{new}/settings", {"reorder_point": 1}, "product",
          id="settings-unknown-sku"),
    param("POST", "/v1/inventory/update", update(location_id=Ref.NEW), "location",
          id="receipt-unknown-location"),
    param("POST", "/v1/inventory/update", update(sku=Ref.NEW), "product",
          id="receipt-unknown-sku"),
    param("POST", "/v1/inventory/update", update(sku=Ref.NEW, delta=-1, reason="adjustment"),
          "product", id="removal-unknown-sku"),
    param("POST", "/v1/inventory/update", count(location_id=Ref.NEW), "location",
          id="count-unknown-location"),
    param("POST", "/v1/inventory/update", count(sku=Ref.NEW), "product",
          id="count-unknown-sku"),
    param("POST", "/v1/sales/record", sale(location_id=Ref.NEW), "location",
          id="sale-unknown-location"),
    param("POST", "/v1/sales/record", with_line(sku=Ref.NEW), "product",
          id="sale-unknown-sku"),
    param("POST", "/v1/sales/record", sale(lines=[LINE, {**LINE, "sku": Ref.NEW}]), "product",
          id="sale-one-unknown-sku-among-known"),
    param("GET", "/v1/sales/sale_{new}", None, "sale", id="get-sale"),
]


@pytest.mark.parametrize(("method", "url", "body", "resource"), UNKNOWN_CASES)
async def test_unknown_sku_or_location_is_404_and_changes_nothing(
        client: httpx.AsyncClient, world: World, method: str, url: str,
        body: dict[str, Any] | None, resource: str) -> None:
    new = random_code("NEW").replace("-", "")
    path = url.format(new=new, store=world.store, sku=world.sku, warehouse=world.warehouse)
    sent = render(body, world, new) if body is not None else None
    response = await refused(client, world, new,
                             lambda: client.request(method, path, json=sent))
    problem = assert_problem(response, 404, "not_found")
    assert problem["resource"] == resource, problem
    assert problem["key"] in (new, world.store, world.warehouse, f"sale_{new}"), problem


# -- codes in paths and query strings -----------------------------------------------------

BAD_PATH_CODES = [
    param("X" * 65, id="65-chars"),
    param("A%20B", id="space"),
    param("SK%C3%9C", id="unicode"),
    param("A%00B", id="nul"),
    param("A%0AB", id="newline"),
    param("A%2CB", id="comma"),
]
PATHS = [
    param("GET", "/v1/products/{bad}", None, "sku", id="get-product"),
    param("PATCH", "/v1/products/{bad}", {"name": "x"}, "sku", id="patch-product"),
    param("GET", "/v1/warehouses/{bad}", None, "code", id="get-warehouse"),
    param("GET", "/v1/retail-locations/{bad}", None, "code", id="get-store"),
    param("GET", "/v1/inventory/{bad}/{sku}", None, "location_id", id="level-location"),
    param("GET", "/v1/inventory/{store}/{bad}", None, "sku", id="level-sku"),
    param("PUT", "/v1/inventory/{bad}/{sku}/settings", {"reorder_point": 1}, "location_id",
          id="settings-location"),
    param("PUT", "/v1/inventory/{store}/{bad}/settings", {"reorder_point": 1}, "sku",
          id="settings-sku"),
    param("GET", "/v1/sales/{bad}", None, "sale_id", id="get-sale"),
]


@pytest.mark.parametrize("bad", BAD_PATH_CODES)
@pytest.mark.parametrize(("method", "url", "body", "field"), PATHS)
async def test_bad_code_in_path_is_422(client: httpx.AsyncClient, world: World, method: str,
                                       url: str, body: dict[str, Any] | None, field: str,
                                       bad: str) -> None:
    path = url.format(bad=bad, store=world.store, sku=world.sku)
    if method == "GET":
        response = await client.get(path)
    else:
        response = await refused(client, world, None,
                                 lambda: client.request(method, path, json=body))
    assert_names(assert_problem(response, 422, "validation_error"), field)


@pytest.mark.parametrize(("method", "url", "body"), [
    param("GET", "/v1/products/A%2FB", None, id="get-product"),
    param("PATCH", "/v1/products/A%2FB", {"name": "x"}, id="patch-product"),
    param("GET", "/v1/inventory/{store}/A%2FB", None, id="level"),
    param("PUT", "/v1/inventory/{store}/A%2FB/settings", {"reorder_point": 1}, id="settings"),
])
async def test_slash_in_a_path_code_is_an_unknown_route(
        client: httpx.AsyncClient, world: World, method: str, url: str,
        body: dict[str, Any] | None) -> None:
    path = url.format(store=world.store)
    response = await refused(client, world, None,
                             lambda: client.request(method, path, json=body))
    assert_problem(response, 404, "not_found")


QUERY_CASES = [
    *[param(path, {name: p.values[0]}, name, id=f"{path.rsplit('/', 1)[1]}-{name}-{p.id}")
      for path in ("/v1/inventory", "/v1/sales", "/v1/stock-movements")
      for name, codes in (("sku", BAD_CODES), ("location_id", SOME_BAD_CODES)) for p in codes],
    param("/v1/inventory", {"location_type": "shop"}, "location_type", id="location-type"),
    param("/v1/inventory", {"below_reorder_point": "maybe"}, "below_reorder_point",
          id="below-reorder-point"),
    param("/v1/sales", {"channel": "fax"}, "channel", id="sales-channel"),
    param("/v1/sales", {"from": "yesterday"}, "from", id="sales-from-words"),
    param("/v1/sales", {"from": "2024-01-01T00:00:00"}, "from", id="sales-from-naive"),
    param("/v1/sales", {"to": "2024-01-01T00:00:00"}, "to", id="sales-to-naive"),
    param("/v1/sales", {"from": "0001-01-01T00:00:00+14:00"}, "from",
          id="sales-from-before-year-1-in-utc"),
    param("/v1/sales", {"to": "9999-12-31T23:59:59-14:00"}, "to",
          id="sales-to-after-year-9999-in-utc"),
    param("/v1/stock-movements", {"type": "theft"}, "type", id="movements-type"),
    param("/v1/stock-movements", {"from": "2024-01-01T00:00:00"}, "from",
          id="movements-from-naive"),
    param("/v1/stock-movements", {"to": "soon"}, "to", id="movements-to-words"),
    param("/v1/stock-movements", {"from": "0001-01-01T00:00:00+14:00"}, "from",
          id="movements-from-before-year-1-in-utc"),
    param("/v1/products", {"q": "q" * 201}, "q", id="products-q-too-long"),
    param("/v1/products", {"q": "a\x00b"}, "q", id="products-q-with-nul"),
    param("/v1/products", {"category": "c" * 101}, "category", id="products-category-too-long"),
    param("/v1/products", {"category": "a\x00b"}, "category", id="products-category-with-nul"),
    param("/v1/products", {"attr.": "x"}, "attr.", id="products-attr-without-name"),
    param("/v1/products", {"attr.shoe size": "42"}, "attr.shoe size",
          id="products-attr-name-with-space"),
    param("/v1/products", {"attr.size": "v" * 201}, "attr.size", id="products-attr-too-long"),
    param("/v1/products", {"attr.size": "a\x00b"}, "attr.size", id="products-attr-with-nul"),
    param("/v1/retail-locations", {"region": "r" * 101}, "region", id="stores-region-too-long"),
    param("/v1/retail-locations", {"region": "a\x00b"}, "region", id="stores-region-with-nul"),
]


@pytest.mark.parametrize(("path", "params", "field"), QUERY_CASES)
async def test_bad_query_parameter_is_422(client: httpx.AsyncClient, path: str,
                                          params: dict[str, str], field: str) -> None:
    response = await client.get(path, params=params)
    assert_names(assert_problem(response, 422, "validation_error"), field)


LISTS = ["/v1/products", "/v1/warehouses", "/v1/retail-locations", "/v1/inventory",
         "/v1/sales", "/v1/stock-movements"]


@pytest.mark.parametrize("limit", ["0", "501", "1000000", "-1", "abc", "2.5", "1e2"])
@pytest.mark.parametrize("path", LISTS)
async def test_limit_out_of_range_or_not_an_integer_is_422(client: httpx.AsyncClient,
                                                           path: str, limit: str) -> None:
    response = await client.get(path, params={"limit": limit})
    assert_names(assert_problem(response, 422, "validation_error"), "limit")


@pytest.mark.parametrize("path", LISTS)
async def test_limit_of_500_is_accepted(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path, params={"limit": 500})).status_code == 200


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_CURSORS = [
    param("!!!!", id="not-base64"),
    param("abc", id="short-garbage"),
    param(base64.urlsafe_b64encode(b"not json").decode(), id="not-json"),
    param(cursor_of({"sku": "A"}), id="object"),
    param(cursor_of([]), id="empty-list"),
    param(cursor_of([True, True, True]), id="wrong-shape"),
    param(cursor_of(None), id="null"),
    param("A" * 513, id="too-long"),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
@pytest.mark.parametrize("path", LISTS)
async def test_malformed_cursor_is_422(client: httpx.AsyncClient, path: str,
                                       cursor: str) -> None:
    response = await client.get(path, params={"cursor": cursor})
    assert_names(assert_problem(response, 422, "validation_error"), "cursor")


def _flip_first(cursor: str) -> str:
    return ("B" if cursor[0] == "A" else "A") + cursor[1:]


@pytest.mark.parametrize("tamper", [
    param(_flip_first, id="first-char-changed"),
    param(lambda c: c[: len(c) // 2], id="cut-in-half"),
    param(lambda c: c + "x", id="char-appended"),
])
@pytest.mark.parametrize("path", LISTS)
async def test_tampered_cursor_is_422(client: httpx.AsyncClient, world: World, path: str,
                                      tamper: Callable[[str], str]) -> None:
    page = (await client.get(path, params={"limit": 1})).json()
    assert page["next_cursor"], "the world fixture gives every list at least two items"
    response = await client.get(path, params={"limit": 1, "cursor": tamper(page["next_cursor"])})
    assert_names(assert_problem(response, 422, "validation_error"), "cursor")


@pytest.mark.parametrize(("path", "key"), [
    param("/v1/products", ["A\x00"], id="products-nul"),
    param("/v1/warehouses", ["A\x00"], id="warehouses-nul"),
    param("/v1/retail-locations", ["A\x00"], id="stores-nul"),
    param("/v1/inventory", ["A\x00", "B"], id="inventory-nul"),
    param("/v1/sales", ["2024-01-01T00:00:00+00:00", "sale_\x00"], id="sales-nul"),
    param("/v1/sales", ["2024-01-01T00:00:00", "sale_X"], id="sales-naive-time"),
    param("/v1/sales", ["yesterday", "sale_X"], id="sales-not-a-time"),
    param("/v1/stock-movements", [2**63], id="movements-past-int64"),
    param("/v1/stock-movements", [-(2**63) - 1], id="movements-below-int64"),
    param("/v1/stock-movements", ["1"], id="movements-string-id"),
    param("/v1/products", [1], id="products-number"),
])
async def test_cursor_carrying_a_key_no_list_gave_out_is_422(
        client: httpx.AsyncClient, path: str, key: list[Any]) -> None:
    response = await client.get(path, params={"cursor": cursor_of(key)})
    assert_names(assert_problem(response, 422, "validation_error"), "cursor")


# -- what the body is, rather than what it says -------------------------------------------

WRITES = [
    param("POST", "/v1/products", product(), id="products"),
    param("PATCH", "/v1/products/{sku}", {"name": "Renamed"}, id="patch-product"),
    param("POST", "/v1/warehouses", WAREHOUSE, id="warehouses"),
    param("POST", "/v1/retail-locations", STORE, id="retail-locations"),
    param("POST", "/v1/inventory/update", update(), id="inventory-update"),
    param("PUT", "/v1/inventory/{store}/{sku}/settings", {"reorder_point": 3}, id="settings"),
    param("POST", "/v1/sales/record", sale(), id="sales-record"),
]
JSON = {"Content-Type": "application/json"}


def _form(body: dict[str, Any]) -> dict[str, Any]:
    return {"data": {k: str(v) for k, v in body.items() if not isinstance(v, dict | list)}}


BODY_SHAPES: list[Any] = [
    param(lambda b: {"content": b'{"sku": ', "headers": JSON}, 422, "validation_error",
          id="malformed-json"),
    param(lambda b: {"content": json.dumps(b)[:-1].encode(), "headers": JSON}, 422,
          "validation_error", id="truncated-json"),
    param(lambda b: {"content": b'{"a": 1,}', "headers": JSON}, 422, "validation_error",
          id="trailing-comma"),
    param(lambda b: {"content": b"", "headers": JSON}, 422, "validation_error", id="empty-body"),
    param(lambda b: {"json": [b]}, 422, "validation_error", id="array"),
    param(lambda b: {"json": 42}, 422, "validation_error", id="number"),
    param(lambda b: {"json": "text"}, 422, "validation_error", id="string"),
    param(lambda b: {"json": None}, 422, "validation_error", id="null"),
    param(lambda b: {"content": json.dumps(b).encode(), "headers": {"Content-Type": "text/plain"}},
          415, "unsupported_media_type", id="text-plain"),
    param(_form, 415, "unsupported_media_type", id="form-encoded"),
    param(lambda b: {"content": json.dumps(b).encode()}, 415, "unsupported_media_type",
          id="no-content-type"),
    param(lambda b: {"content": b'{"name": "\xff\xfe"}', "headers": JSON}, 400, "bad_request",
          id="invalid-utf8"),
    param(lambda b: {"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON}, 400,
          "bad_request", id="nested-too-deep"),
]


# Every shape on the two stock-changing routes, the commonest mistakes on every route.
SHAPE_CASES = [
    param(*write.values, *shape.values, id=f"{write.id}-{shape.id}")
    for write in WRITES for shape in BODY_SHAPES
    if write.id in ("inventory-update", "sales-record")
    or shape.id in ("malformed-json", "array", "text-plain", "no-content-type")
]


@pytest.mark.parametrize(("method", "url", "body", "shape", "status", "code"), SHAPE_CASES)
async def test_body_that_is_not_a_json_object_is_refused_and_changes_nothing(
        client: httpx.AsyncClient, world: World, method: str, url: str, body: dict[str, Any],
        shape: Callable[[dict[str, Any]], dict[str, Any]], status: int, code: str) -> None:
    new = random_code("NEW")
    path = url.format(store=world.store, sku=world.sku)
    kwargs = shape(render(body, world, new))
    response = await refused(client, world, new,
                             lambda: client.request(method, path, **kwargs))
    problem = assert_problem(response, status, code)
    if status == 422:
        assert error_fields(problem) == ["body"], problem


ONE_MIB = 1024 * 1024


async def _chunks(payload: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(payload), 64 * 1024):
        yield payload[start:start + 64 * 1024]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("method", "url", "body"), WRITES)
async def test_body_over_one_mib_is_413_and_changes_nothing(
        client: httpx.AsyncClient, world: World, method: str, url: str, body: dict[str, Any],
        streamed: bool) -> None:
    new = random_code("NEW")
    path = url.format(store=world.store, sku=world.sku)
    payload = json.dumps({**render(body, world, new), "padding": "x" * ONE_MIB}).encode()
    content: bytes | AsyncIterator[bytes] = _chunks(payload) if streamed else payload
    response = await refused(client, world, new, lambda: client.request(
        method, path, content=content, headers=JSON))
    assert_problem(response, 413, "payload_too_large")
    assert response.headers["X-Request-ID"]


async def test_body_just_under_one_mib_is_read_and_validated(client: httpx.AsyncClient,
                                                             world: World) -> None:
    body = {**update(), "location_id": world.store, "sku": world.sku,
            "note": "x" * (ONE_MIB - 1024)}
    response = await refused(client, world, None,
                             lambda: client.post("/v1/inventory/update", json=body))
    assert_names(assert_problem(response, 422, "validation_error"), "note")


async def test_nan_and_infinity_are_not_numbers(client: httpx.AsyncClient, world: World) -> None:
    for raw in (b"NaN", b"Infinity", b"-Infinity"):
        content = (b'{"location_id": "%s", "sku": "%s", "delta": %s, "reason": "receipt"}'
                   % (world.store.encode(), world.sku.encode(), raw))
        response = await refused(client, world, None, lambda c=content: client.post(
            "/v1/inventory/update", content=c, headers=JSON))
        assert_names(assert_problem(response, 422, "validation_error"), "delta")


# -- headers ------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [
    param("k" * 256, id="256-chars"),
    param("", id="empty"),
    param("a\x01b", id="control-char"),
    param("a\x7fb", id="delete-char"),
    param("tab\tkey", id="tab"),
    param(b"caf\xe9", id="latin-1"),
    param("caf\u00e9".encode(), id="utf-8"),
])
async def test_bad_idempotency_key_is_422_and_the_write_is_not_applied(
        client: httpx.AsyncClient, world: World, key: str | bytes) -> None:
    body = render(sale(), world, "UNUSED")
    response = await refused(client, world, None, lambda: client.post(
        "/v1/sales/record", json=body, headers={"Idempotency-Key": key}))  # type: ignore[dict-item]
    assert_names(assert_problem(response, 422, "validation_error"), "Idempotency-Key")


async def test_idempotency_key_of_255_printable_chars_is_accepted(
        client: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(client, quantity=1)
    key = ("!~" + random_code("K")) * 20
    response = await client.post("/v1/inventory/update", headers={"Idempotency-Key": key[:255]},
                                 json={"location_id": store, "sku": sku, "delta": 1,
                                       "reason": "receipt"})
    assert response.status_code == 200, response.text


CREDENTIALS = [
    param({}, id="none"),
    param({"X-API-Key": "wrong"}, id="wrong-key"),
    param({"X-API-Key": ""}, id="empty-key"),
    param({"X-API-Key": "TEST-ADMIN-KEY"}, id="key-in-other-case"),
    param({"X-API-Key": "test-admin-key-and-more"}, id="key-with-suffix"),
    param({"X-API-Key": "test-admin"}, id="key-prefix"),
    param({"Authorization": "Bearer wrong"}, id="wrong-bearer"),
    param({"Authorization": "Bearer "}, id="empty-bearer"),
    param({"Authorization": "Basic dGVzdC1hZG1pbi1rZXk6"}, id="basic-scheme"),
    param({"Authorization": "test-admin-key"}, id="no-scheme"),
]
GUARDED = [
    param("GET", "/v1/inventory/{store}/{sku}", None, id="get-level"),
    param("GET", "/v1/stock-movements", None, id="ledger"),
    param("GET", "/metrics", None, id="metrics"),
    param("POST", "/v1/inventory/update", update(), id="inventory-update"),
    param("POST", "/v1/sales/record", sale(), id="sales-record"),
    param("POST", "/v1/products", product(), id="create-product"),
    param("PATCH", "/v1/products/{sku}", {"name": "Hijacked"}, id="patch-product"),
    param("POST", "/v1/warehouses", WAREHOUSE, id="create-warehouse"),
    param("POST", "/v1/retail-locations", STORE, id="create-store"),
    param("PUT", "/v1/inventory/{store}/{sku}/settings", {"reorder_point": 3}, id="settings"),
    param("GET", "/v1/products/{sku}", None, id="get-product"),
    param("GET", "/v1/warehouses", None, id="list-warehouses"),
    param("GET", "/v1/retail-locations", None, id="list-stores"),
    param("GET", "/v1/inventory", None, id="list-levels"),
    param("GET", "/v1/sales", None, id="list-sales"),
    param("POST", "/v1/sales/record", sale(lines=[]), id="invalid-body"),
]


async def _unauthorized(client: httpx.AsyncClient, world: World, method: str, url: str,
                        body: dict[str, Any] | None, headers: dict[str, str]) -> None:
    new = random_code("NEW")
    path = url.format(store=world.store, sku=world.sku)
    sent = render(body, world, new) if body is not None else None
    response = await refused(client, world, new, lambda: without_credentials(
        client, method, path, headers=headers, json=sent))
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "url", "body"), [
    param("GET", "/v1/products", None, id="list-products"),
    param("POST", "/v1/sales/record", sale(), id="sales-record"),
])
@pytest.mark.parametrize("headers", CREDENTIALS)
async def test_missing_or_wrong_credential_is_401_and_changes_nothing(
        client: httpx.AsyncClient, world: World, method: str, url: str,
        body: dict[str, Any] | None, headers: dict[str, str]) -> None:
    await _unauthorized(client, world, method, url, body, headers)


@pytest.mark.parametrize(("method", "url", "body"), GUARDED)
async def test_every_route_but_health_and_docs_needs_a_credential(
        client: httpx.AsyncClient, world: World, method: str, url: str,
        body: dict[str, Any] | None) -> None:
    await _unauthorized(client, world, method, url, body, {})


# -- routes and methods -------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/nope"),
    ("GET", "/v1"),
    ("GET", "/v2/products"),
    ("GET", "/products"),
    ("POST", "/v1/products/A/B"),
    ("GET", "/v1/inventory/A/B/C"),
    ("DELETE", "/v1/nope"),
])
async def test_unknown_route_is_404_problem(client: httpx.AsyncClient, method: str,
                                            path: str) -> None:
    assert_problem(await client.request(method, path), 404, "not_found")


@pytest.mark.parametrize(("method", "url", "allowed"), [
    ("DELETE", "/v1/products", "GET"),
    ("PUT", "/v1/products", "POST"),
    ("DELETE", "/v1/products/{sku}", "PATCH"),
    ("PUT", "/v1/products/{sku}", "GET"),
    ("POST", "/v1/inventory", "GET"),
    ("GET", "/v1/inventory/update", "POST"),
    ("DELETE", "/v1/inventory/{store}/{sku}", "GET"),
    ("POST", "/v1/inventory/{store}/{sku}/settings", "PUT"),
    ("PATCH", "/v1/warehouses", "POST"),
    ("POST", "/v1/sales", "GET"),
    ("DELETE", "/v1/stock-movements", "GET"),
    ("POST", "/healthz", "GET"),
])
async def test_wrong_method_is_405_problem_and_changes_nothing(
        client: httpx.AsyncClient, world: World, method: str, url: str, allowed: str) -> None:
    path = url.format(store=world.store, sku=world.sku)
    response = await refused(client, world, None, lambda: client.request(method, path))
    assert_problem(response, 405, "method_not_allowed")
    assert allowed in response.headers["Allow"]


@pytest.mark.parametrize("body", [b'{"sku": ', b"[1, 2", b"\xff\xfe", b"{}"])
async def test_without_a_credential_any_body_gets_401_first(client: httpx.AsyncClient,
                                                            body: bytes) -> None:
    response = await client.post("/v1/sales/record", content=body,
                                 headers={"X-API-Key": "", "Content-Type": "application/json"})
    assert_problem(response, 401, "unauthorized")
    response = await client.post("/v1/sales/record", content=body,
                                 headers={"X-API-Key": "wrong", "Content-Type": "text/plain"})
    assert_problem(response, 401, "unauthorized")
