"""Mapping between table rows and domain objects, shared by repositories and queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from stockline.domain.lots import Lot
from stockline.domain.model import LedgerEntry, Level, Location, Product, Sale, SaleLine
from stockline.domain.values import (
    Channel,
    FulfillmentStatus,
    LocationStatus,
    LocationType,
    Money,
    MovementType,
    PaymentStatus,
    ProductStatus,
)


def money_or_none(amount: int | None, currency: str | None) -> Money | None:
    if amount is None or currency is None:
        return None
    return Money.from_units(amount, currency)


_INT64 = 2**63


def _attribute(value: Any) -> Any:
    """PostgreSQL's jsonb keeps a large float without its exponent (1e300 comes back as a
    301-digit integer, which no JSON encoder here writes): such a number reads as the float
    it was. Products stored before attribute numbers were bounded still read and change."""
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return float(value)
    return value


def product_from_row(row: Row[Any]) -> Product:
    attributes = {k: _attribute(v) for k, v in (row.attributes or {}).items()}
    return Product(sku=row.sku, name=row.name, category=row.category,
                   attributes=attributes,
                   price=money_or_none(row.price_amount, row.price_currency),
                   status=ProductStatus(row.status), version=row.version,
                   created_at=row.created_at, updated_at=row.updated_at)


def product_values(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku, "name": product.name, "category": product.category,
        "attributes": dict(product.attributes),
        "price_amount": product.price.units if product.price else None,
        "price_currency": product.price.currency if product.price else None,
        "status": product.status.value, "version": product.version,
        "created_at": product.created_at, "updated_at": product.updated_at,
    }


def location_from_row(row: Row[Any]) -> Location:
    return Location(code=row.code, type=LocationType(row.type), name=row.name,
                    region=row.region, address=row.address, latitude=row.latitude,
                    longitude=row.longitude, capacity=row.capacity,
                    operating_hours=row.operating_hours, status=LocationStatus(row.status),
                    time_zone=row.time_zone,
                    created_at=row.created_at)


def location_values(location: Location) -> dict[str, Any]:
    return {
        "code": location.code, "type": location.type.value, "name": location.name,
        "region": location.region, "address": location.address,
        "latitude": location.latitude, "longitude": location.longitude,
        "capacity": location.capacity, "operating_hours": location.operating_hours,
        "status": location.status.value, "time_zone": location.time_zone,
        "created_at": location.created_at,
    }


def level_from_row(row: Row[Any]) -> Level:
    return Level(location_id=row.location_id, sku=row.sku, on_hand=row.on_hand,
                 reserved=row.reserved, in_transit=row.in_transit, incoming=row.incoming,
                 lotted=bool(row.lotted),
                 reorder_point=row.reorder_point, reorder_quantity=row.reorder_quantity,
                 safety_stock=row.safety_stock, version=row.version,
                 updated_at=row.updated_at)


def lot_from_row(row: Row[Any]) -> Lot:
    return Lot(location_id=row.location_id, sku=row.sku, lot=row.lot, on_hand=row.on_hand,
               expires_on=row.expires_on, received_at=row.received_at)


def ledger_values(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "location_id": entry.location_id, "sku": entry.sku, "lot": entry.lot,
        "delta": entry.delta, "balance_after": entry.balance_after, "type": entry.type.value,
        "reason": entry.reason, "reference": entry.reference, "actor": entry.actor,
        "note": entry.note, "occurred_at": entry.occurred_at,
        "recorded_at": entry.recorded_at or entry.occurred_at,
    }


def ledger_from_row(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(id=row.id, location_id=row.location_id, sku=row.sku, lot=row.lot,
                       delta=row.delta, balance_after=row.balance_after,
                       type=MovementType(row.type), reason=row.reason, reference=row.reference,
                       actor=row.actor, note=row.note, occurred_at=row.occurred_at,
                       recorded_at=row.recorded_at)


def sale_values(sale: Sale) -> dict[str, Any]:
    return {
        "id": sale.id, "location_id": sale.location_id, "status": sale.status,
        "channel": sale.channel.value, "payment_status": sale.payment_status.value,
        "fulfillment_status": sale.fulfillment_status.value,
        "external_ref": sale.external_ref, "currency": sale.currency,
        "total_amount": sale.total.units, "units": sale.units, "actor": sale.actor,
        "occurred_at": sale.occurred_at, "created_at": sale.created_at,
    }


def sale_from_rows(row: Row[Any], lines: list[Row[Any]]) -> Sale:
    return Sale(id=row.id, location_id=row.location_id, status=row.status,
                channel=Channel(row.channel), payment_status=PaymentStatus(row.payment_status),
                fulfillment_status=FulfillmentStatus(row.fulfillment_status),
                external_ref=row.external_ref, currency=row.currency, actor=row.actor,
                occurred_at=row.occurred_at, created_at=row.created_at,
                lines=tuple(SaleLine(sku=ln.sku, quantity=ln.quantity,
                                     unit_price=Money.from_units(ln.unit_price_amount,
                                                                 row.currency))
                            for ln in lines))
