"""Every list route once, as a ``Listing``: the clients iterate over all its items,
following ``next_cursor`` page by page (``page_size`` items a request)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from urllib.parse import quote

from stockline.client.calls import Listing, query
from stockline.client.errors import Reset
from stockline.client.models import (
    Event,
    Level,
    Location,
    Movement,
    Product,
    PurchaseOrder,
    Reservation,
    Sale,
    Supplier,
    Transfer,
)
from stockline.client.records import ApiKey, AuditEntry, Delivery, Suggestion, Webhook

Filter = str | Sequence[str] | None


def products(*, category: str | None = None, q: str | None = None,
             attributes: Mapping[str, str] | None = None, status: str | None = None,
             page_size: int = 100) -> Listing[Product]:
    """The catalog, filtered by category, text (``q``), status and attribute values."""
    attrs = tuple((f"attr.{name}", value) for name, value in (attributes or {}).items())
    return Listing("/v1/products", Product, query(category=category, q=q, status=status)
                   + attrs, page_size)


def warehouses(*, status: str | None = None, page_size: int = 100) -> Listing[Location]:
    return Listing("/v1/warehouses", Location, query(status=status), page_size)


def retail_locations(*, region: str | None = None, status: str | None = None,
                     page_size: int = 100) -> Listing[Location]:
    """Stores, optionally of one region or status."""
    return Listing("/v1/retail-locations", Location, query(region=region, status=status),
                   page_size)


def inventory(*, sku: str | None = None, location_id: str | None = None,
              location_type: str | None = None, below_reorder_point: bool | None = None,
              as_of: datetime | None = None, page_size: int = 100) -> Listing[Level]:
    """Levels, filtered; with ``as_of``, as they were then (see ``level``)."""
    return Listing("/v1/inventory", Level, query(
        sku=sku, location_id=location_id, location_type=location_type,
        below_reorder_point=below_reorder_point, as_of=as_of), page_size)


def sales(*, start: datetime | None = None, end: datetime | None = None,
          location_id: str | None = None, sku: str | None = None, channel: str | None = None,
          customer_ref: str | None = None, payment_status: str | None = None,
          fulfillment_status: str | None = None, page_size: int = 100) -> Listing[Sale]:
    """Sales, newest first; ``start`` inclusive, ``end`` exclusive (``occurred_at``)."""
    return Listing("/v1/sales", Sale, query(
        **{"from": start, "to": end}, location_id=location_id, sku=sku, channel=channel,
        customer_ref=customer_ref, payment_status=payment_status,
        fulfillment_status=fulfillment_status), page_size)


def movements(*, location_id: str | None = None, sku: str | None = None,
              type: str | None = None, start: datetime | None = None,
              end: datetime | None = None, page_size: int = 100) -> Listing[Movement]:
    """The ledger, oldest first."""
    return Listing("/v1/stock-movements", Movement, query(
        location_id=location_id, sku=sku, type=type, **{"from": start, "to": end}), page_size)


def transfers(*, status: str | None = None, from_location_id: str | None = None,
              to_location_id: str | None = None, location_id: str | None = None,
              sku: str | None = None, page_size: int = 100) -> Listing[Transfer]:
    """Transfers, newest first; ``location_id`` matches either end."""
    return Listing("/v1/stock-movements/transfers", Transfer, query(
        status=status, from_location_id=from_location_id, to_location_id=to_location_id,
        location_id=location_id, sku=sku), page_size)


def reservations(*, status: str | None = None, location_id: str | None = None,
                 page_size: int = 100) -> Listing[Reservation]:
    return Listing("/v1/reservations", Reservation,
                   query(status=status, location_id=location_id), page_size)


def suppliers(*, sku: str | None = None, status: str | None = None,
              page_size: int = 100) -> Listing[Supplier]:
    return Listing("/v1/suppliers", Supplier, query(sku=sku, status=status), page_size)


def purchase_orders(*, status: str | None = None, supplier_id: str | None = None,
                    location_id: str | None = None, sku: str | None = None,
                    page_size: int = 100) -> Listing[PurchaseOrder]:
    return Listing("/v1/purchase-orders", PurchaseOrder, query(
        status=status, supplier_id=supplier_id, location_id=location_id, sku=sku), page_size)


def replenishment_suggestions(*, location_id: str | None = None, sku: str | None = None,
                              source_type: str | None = None, page_size: int = 100
                              ) -> Listing[Suggestion]:
    """What to reorder, how much and from where (``source_type``: supplier, transfer,
    none)."""
    return Listing("/v1/replenishment/suggestions", Suggestion, query(
        location_id=location_id, sku=sku, source_type=source_type), page_size)


def webhooks(*, status: str | None = None, page_size: int = 100) -> Listing[Webhook]:
    return Listing("/v1/webhooks", Webhook, query(status=status), page_size)


def webhook_deliveries(webhook_id: str, *, status: str | None = None, page_size: int = 100
                       ) -> Listing[Delivery]:
    """A webhook's delivery log, newest event first."""
    return Listing(f"/v1/webhooks/{quote(webhook_id, safe='')}/deliveries", Delivery,
                   query(status=status), page_size)


def api_keys(*, role: str | None = None, revoked: bool | None = None, page_size: int = 100
             ) -> Listing[ApiKey]:
    return Listing("/v1/api-keys", ApiKey, query(role=role, revoked=revoked), page_size)


def audit(*, principal_id: str | None = None, outcome: str | None = None,
          method: str | None = None, start: datetime | None = None, end: datetime | None = None,
          page_size: int = 100) -> Listing[AuditEntry]:
    """The audit trail, newest first (admins)."""
    return Listing("/v1/audit", AuditEntry, query(
        principal_id=principal_id, outcome=outcome, method=method,
        **{"from": start, "to": end}), page_size)


def event_filter(types: Filter, location_id: Filter, sku: Filter) -> tuple[tuple[str, str], ...]:
    """The filters of the event log and stream (each one value or several)."""
    def many(value: Filter) -> Sequence[str] | None:
        return [value] if isinstance(value, str) else value

    return query(types=many(types), location_id=many(location_id), sku=many(sku))


def events_log(*, after: int | None = None, types: Filter = None, location_id: Filter = None,
               sku: Filter = None, on_reset: Callable[[Reset], None] | None = None,
               page_size: int = 100) -> Listing[Event]:
    """The event log, oldest first, after the id ``after`` (from the oldest kept when
    None). When ``after`` was pruned by retention: ``on_reset`` is called, or
    ``StreamReset`` raised when it is None."""
    return Listing("/v1/events", Event, event_filter(types, location_id, sku), page_size,
                   start=None if after is None else str(after), on_reset=on_reset)
