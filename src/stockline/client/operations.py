"""Each operation once: its route, its body and the type of its answer (a ``Call``).
``Client`` and ``AsyncClient`` take their methods from here, so both send the same
requests; every write carries an Idempotency-Key (a new one unless given)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote

from stockline.client.bulk import Batch, ImportKind, ImportResult, Upload, upload_bytes
from stockline.client.calls import Call, body, query, read, write
from stockline.client.models import (
    InventoryChange,
    Level,
    Line,
    Location,
    Money,
    Product,
    PurchaseOrder,
    Reservation,
    Sale,
    SaleReturn,
    Supplier,
    Transfer,
)

Attributes = Mapping[str, str | int | float | bool]


def _p(value: str) -> str:
    """A path segment (codes are safe already; ids from elsewhere may not be)."""
    return quote(value, safe="")


def _lines(lines: Sequence[Line]) -> list[dict[str, Any]]:
    return [line.to_json() for line in lines]


def _money(value: Money | None) -> dict[str, str] | None:
    return None if value is None else value.to_json()


# -- catalog and locations ------------------------------------------------------------------

def create_product(sku: str, name: str, category: str, *, attributes: Attributes | None = None,
                   price: Money | None = None, idempotency_key: str | None = None
                   ) -> Call[Product]:
    """Create a product (POST /v1/products)."""
    return write("/v1/products", Product, body(
        sku=sku, name=name, category=category,
        attributes=dict(attributes) if attributes is not None else None,
        price=_money(price)), idempotency_key)


def update_product(sku: str, *, name: str | None = None, category: str | None = None,
                   attributes: Mapping[str, str | int | float | bool | None] | None = None,
                   price: Money | None = None, status: str | None = None,
                   expected_version: int | None = None, idempotency_key: str | None = None
                   ) -> Call[Product]:
    """Change what is given (PATCH /v1/products/{sku}); an attribute set to None is removed.
    ``status``: ``active`` or ``discontinued``; ``expected_version``: refused with
    ``VersionConflict`` when the product moved on."""
    return write(f"/v1/products/{_p(sku)}", Product, body(
        name=name, category=category,
        attributes=dict(attributes) if attributes is not None else None,
        price=_money(price), status=status, expected_version=expected_version),
        idempotency_key, method="PATCH")


def _patch(clear: Sequence[str], **values: Any) -> dict[str, Any]:
    """A PATCH body: the values given, and null for each field named in ``clear``."""
    return {**body(**values), **dict.fromkeys(clear)}


def get_product(sku: str) -> Call[Product]:
    """One product (GET /v1/products/{sku})."""
    return read(f"/v1/products/{_p(sku)}", Product)


LocationKind = Literal["warehouse", "retail"]
Remainder = Literal["lost", "return"]
_LOCATION_PATHS: dict[str, str] = {"warehouse": "/v1/warehouses",
                                   "retail": "/v1/retail-locations"}


def create_location(code: str, name: str, *, kind: LocationKind = "retail",
                    region: str | None = None, address: str | None = None,
                    latitude: float | None = None, longitude: float | None = None,
                    capacity: int | None = None,
                    operating_hours: Mapping[str, str] | None = None,
                    time_zone: str | None = None,
                    idempotency_key: str | None = None) -> Call[Location]:
    """Create a store (``kind="retail"``, POST /v1/retail-locations, may have a
    ``region``) or a warehouse (``kind="warehouse"``, POST /v1/warehouses); ``time_zone``
    is an IANA name (``Europe/Paris``)."""
    return write(_LOCATION_PATHS[kind], Location, body(
        code=code, name=name, region=region, address=address, latitude=latitude,
        longitude=longitude, capacity=capacity,
        operating_hours=dict(operating_hours) if operating_hours is not None else None,
        time_zone=time_zone), idempotency_key)


def update_location(code: str, *, kind: LocationKind = "retail", name: str | None = None,
                    region: str | None = None, address: str | None = None,
                    latitude: float | None = None, longitude: float | None = None,
                    capacity: int | None = None,
                    operating_hours: Mapping[str, str] | None = None,
                    status: str | None = None, clear: Sequence[str] = (),
                    idempotency_key: str | None = None) -> Call[Location]:
    """Change what is given of a store or a warehouse (PATCH); ``clear`` names the optional
    fields to empty (``["address", "capacity"]``). ``status``: ``active`` or ``closed`` (a
    closed location refuses new sales, receipts and inbound transfers)."""
    return write(f"{_LOCATION_PATHS[kind]}/{_p(code)}", Location, _patch(
        clear, name=name, region=region, address=address, latitude=latitude,
        longitude=longitude, capacity=capacity, status=status,
        operating_hours=dict(operating_hours) if operating_hours is not None else None),
        idempotency_key, method="PATCH")


def get_location(code: str, *, kind: LocationKind = "retail") -> Call[Location]:
    """One store or warehouse."""
    return read(f"{_LOCATION_PATHS[kind]}/{_p(code)}", Location)


# -- inventory ------------------------------------------------------------------------------

def level(location_id: str, sku: str, *, as_of: datetime | None = None) -> Call[Level]:
    """One level (GET /v1/inventory/{location_id}/{sku}); a SKU never stocked there
    answers zeros at version 0. With ``as_of``, the level as it was then (from the
    ledger: what nothing records over time, such as ``version`` and ``lots``, is None)."""
    return read(f"/v1/inventory/{_p(location_id)}/{_p(sku)}", Level, query(as_of=as_of))


def update_inventory(location_id: str, sku: str, *, reason: str, delta: int | None = None,
                     quantity: int | None = None, note: str | None = None,
                     lot: str | None = None, expires_on: date | None = None,
                     expected_version: int | None = None,
                     idempotency_key: str | None = None) -> Call[Level]:
    """Change one level by ``delta``, or to a counted ``quantity`` (give one of them);
    ``reason``: receipt, adjustment, count, damage, loss, found, return.
    ``expected_version``: refused with ``VersionConflict`` when the level moved on."""
    return write("/v1/inventory/update", Level, _change(InventoryChange(
        location_id=location_id, sku=sku, delta=delta, quantity=quantity, reason=reason,
        note=note, lot=lot, expires_on=expires_on, expected_version=expected_version)),
        idempotency_key)


def update_inventory_batch(items: Sequence[InventoryChange | Mapping[str, Any]], *,
                           idempotency_key: str | None = None) -> Call[Batch]:
    """Change many levels at once (POST /v1/inventory/batch, 1 to 500 items), in order,
    each applied or refused on its own; each result says what ``update_inventory`` would
    for that item alone (``.ok``, ``.level``, ``.problem``). An item may also be a mapping,
    sent as it is. One Idempotency-Key covers the batch: a retry applies nothing twice."""
    return write("/v1/inventory/batch", Batch, {"items": [
        _change(x) if isinstance(x, InventoryChange) else dict(x) for x in items]},
        idempotency_key)


def _change(change: InventoryChange) -> dict[str, Any]:
    return body(location_id=change.location_id, sku=change.sku, delta=change.delta,
                quantity=change.quantity, reason=change.reason, note=change.note,
                lot=change.lot,
                expires_on=change.expires_on.isoformat() if change.expires_on else None,
                expected_version=change.expected_version)


def set_reorder_settings(location_id: str, sku: str, *, reorder_point: int | None = None,
                         reorder_quantity: int | None = None, safety_stock: int | None = None,
                         idempotency_key: str | None = None) -> Call[Level]:
    """Reorder point, reorder quantity and safety stock of a level."""
    return write(f"/v1/inventory/{_p(location_id)}/{_p(sku)}/settings", Level, body(
        reorder_point=reorder_point, reorder_quantity=reorder_quantity,
        safety_stock=safety_stock), idempotency_key, method="PUT")


# -- sales ----------------------------------------------------------------------------------

def record_sale(location_id: str, lines: Sequence[Line], *, idempotency_key: str | None = None,
                customer_ref: str | None = None, customer_contact: str | None = None,
                channel: str | None = None, occurred_at: datetime | None = None,
                payment_status: str | None = None, external_ref: str | None = None
                ) -> Call[Sale]:
    """Record a sale, every line or none (POST /v1/sales/record): ``InsufficientStock``
    names the short lines and nothing changes. Each line needs a ``unit_price``."""
    customer = None if customer_ref is None else body(ref=customer_ref,
                                                      contact=customer_contact)
    return write("/v1/sales/record", Sale, body(
        location_id=location_id, lines=_lines(lines), channel=channel,
        occurred_at=occurred_at.isoformat() if occurred_at else None,
        payment_status=payment_status, external_ref=external_ref, customer=customer),
        idempotency_key)


def update_sale(sale_id: str, *, payment_status: str | None = None,
                fulfillment_status: str | None = None,
                idempotency_key: str | None = None) -> Call[Sale]:
    """Move a sale's payment and/or fulfillment on (PATCH /v1/sales/{id}); a step their
    tables do not allow is a 409 ``invalid_state`` and nothing changes."""
    return write(f"/v1/sales/{_p(sale_id)}", Sale, body(
        payment_status=payment_status, fulfillment_status=fulfillment_status),
        idempotency_key, method="PATCH")


def get_sale(sale_id: str) -> Call[Sale]:
    """One sale, with its returns."""
    return read(f"/v1/sales/{_p(sale_id)}", Sale)


def return_sale(sale_id: str, lines: Sequence[Line], *, restock: bool, reason: str,
                note: str | None = None, location_id: str | None = None,
                idempotency_key: str | None = None) -> Call[SaleReturn]:
    """Return lines of a sale (``restock``: back on hand, else written off); never more
    than was sold (``QuantityExceeded``). ``location_id``: where the customer brought the
    goods back (restocked there), by default the sale's location."""
    return write(f"/v1/sales/{_p(sale_id)}/returns", SaleReturn, body(
        lines=[{"sku": x.sku, "quantity": x.quantity} for x in lines], restock=restock,
        reason=reason, note=note, location_id=location_id), idempotency_key)


# -- transfers ------------------------------------------------------------------------------

def transfer(from_location_id: str, to_location_id: str, lines: Sequence[Line], *,
             note: str | None = None, external_ref: str | None = None,
             idempotency_key: str | None = None) -> Call[Transfer]:
    """Ship stock (POST /v1/stock-movements/transfer): the origin's on_hand falls and the
    destination's in_transit rises, every line or none."""
    return write("/v1/stock-movements/transfer", Transfer, body(
        from_location_id=from_location_id, to_location_id=to_location_id,
        lines=_lines(lines), note=note, external_ref=external_ref), idempotency_key)


def receive_transfer(transfer_id: str, lines: Sequence[Line] | None = None, *,
                     idempotency_key: str | None = None) -> Call[Transfer]:
    """Receive everything still in transit, or the ``lines`` that arrived."""
    return write(f"/v1/stock-movements/transfers/{_p(transfer_id)}/receive", Transfer,
                 body(lines=None if lines is None else _lines(lines)), idempotency_key)


def cancel_transfer(transfer_id: str, *, note: str | None = None,
                    idempotency_key: str | None = None) -> Call[Transfer]:
    """Cancel a transfer in transit (or partly received): what is still in transit returns
    to the origin."""
    return write(f"/v1/stock-movements/transfers/{_p(transfer_id)}/cancel", Transfer,
                 body(note=note), idempotency_key)


def close_transfer(transfer_id: str, remainder: Remainder, *, note: str | None = None,
                   idempotency_key: str | None = None) -> Call[Transfer]:
    """Close a short-shipped transfer (in transit or partly received): what is still in
    transit is written off (``"lost"``) or shipped back to the origin (``"return"``)."""
    return write(f"/v1/stock-movements/transfers/{_p(transfer_id)}/close", Transfer,
                 body(remainder=remainder, note=note), idempotency_key)


def get_transfer(transfer_id: str) -> Call[Transfer]:
    return read(f"/v1/stock-movements/transfers/{_p(transfer_id)}", Transfer)


# -- reservations ---------------------------------------------------------------------------

def reserve(location_id: str, lines: Sequence[Line], *, ttl_seconds: int | None = None,
            channel: str | None = None, external_ref: str | None = None,
            idempotency_key: str | None = None) -> Call[Reservation]:
    """Hold stock, every line or none (POST /v1/reservations), for ``ttl_seconds`` (the
    server's default when None)."""
    return write("/v1/reservations", Reservation, body(
        location_id=location_id, lines=_lines(lines), ttl_seconds=ttl_seconds,
        channel=channel, external_ref=external_ref), idempotency_key)


def commit_reservation(reservation_id: str, *, payment_status: str | None = None,
                       external_ref: str | None = None, idempotency_key: str | None = None
                       ) -> Call[Sale]:
    """Turn the hold into a sale (``InvalidState`` once released or expired)."""
    return write(f"/v1/reservations/{_p(reservation_id)}/commit", Sale,
                 body(payment_status=payment_status, external_ref=external_ref),
                 idempotency_key)


def release_reservation(reservation_id: str, *, idempotency_key: str | None = None
                        ) -> Call[Reservation]:
    """Release the hold: its units are available again."""
    return write(f"/v1/reservations/{_p(reservation_id)}/release", Reservation, None,
                 idempotency_key)


def get_reservation(reservation_id: str) -> Call[Reservation]:
    return read(f"/v1/reservations/{_p(reservation_id)}", Reservation)


# -- purchasing -----------------------------------------------------------------------------

def get_supplier(code: str) -> Call[Supplier]:
    return read(f"/v1/suppliers/{_p(code)}", Supplier)


def update_supplier(code: str, *, name: str | None = None,
                    contact: Mapping[str, str] | None = None, lead_time_days: int | None = None,
                    status: str | None = None, clear: Sequence[str] = (),
                    idempotency_key: str | None = None) -> Call[Supplier]:
    """Change what is given (PATCH /v1/suppliers/{code}); ``clear`` names the fields to
    empty (``contact``, ``lead_time_days``). ``status``: ``active`` or ``closed``."""
    return write(f"/v1/suppliers/{_p(code)}", Supplier, _patch(
        clear, name=name, lead_time_days=lead_time_days, status=status,
        contact=dict(contact) if contact is not None else None),
        idempotency_key, method="PATCH")


def get_purchase_order(order_id: str) -> Call[PurchaseOrder]:
    return read(f"/v1/purchase-orders/{_p(order_id)}", PurchaseOrder)


# -- files ----------------------------------------------------------------------------------

def import_csv(kind: ImportKind, file: Upload, *, dry_run: bool = False,
               idempotency_key: str | None = None) -> Call[ImportResult]:
    """Import a CSV file of ``kind`` (products, locations, levels, suppliers; POST
    /v1/imports/{kind}): a path, the file's bytes, or a binary file object. Applied whole
    or not at all: a bad row raises ``ValidationFailed`` whose ``errors`` give each bad
    row's ``line`` (the header is line 1). ``dry_run``: check and count only."""
    return write(f"/v1/imports/{_p(kind)}", ImportResult, None, idempotency_key,
                 params=query(dry_run=True if dry_run else None),
                 content=upload_bytes(file), media_type="text/csv")
