"""Every text column holds the longest value the API accepts for it.

PostgreSQL refuses a value longer than its ``varchar(n)`` (SQLite stores it anyway): a field
whose schema allows more than a column it is copied into turns every such write into a 500
on one backend only. These tests read the limits from the two definitions themselves (the
request schemas' JSON Schema, ``tables.metadata``), so a new field or column cannot drift:
each text field of a request body must say which columns it is written to, each text
column must be fed by such a field or by something Stockline itself bounds.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import String

from stockline.adapters.authentication import EXTERNAL_PREFIX, SUBJECT_MAX_LENGTH
from stockline.adapters.tables import metadata
from stockline.domain.counting import CountTaskReason, CountTaskStatus
from stockline.domain.security import PRINCIPAL_TEXT_MAX_LENGTH, Role
from stockline.domain.states import PurchaseOrderStatus, ReservationStatus, TransferStatus
from stockline.domain.values import LocationType, MovementType, SaleStatus
from stockline.domain.webhooks import DeliveryStatus, WebhookStatus
from stockline.entrypoints.http import schemas
from stockline.entrypoints.http.deps import IDEMPOTENCY_KEY_PATTERN
from stockline.entrypoints.http.schemas.common import Body
from stockline.entrypoints.http.schemas.events import EventType

SALE_REFS = ("sales.external_ref",)
CURRENCIES = ("products.price_currency", "supplier_products.currency", "sales.currency",
              "purchase_order_lines.currency", "reservation_lines.currency")
LEVEL_KEYS = ("inventory_levels.location_id", "inventory_levels.sku",
              "stock_movements.location_id", "stock_movements.sku", "outbox.location_id",
              "outbox.sku", "events.location_id", "events.sku")
ACTORS = tuple(f"{t.name}.actor" for t in metadata.sorted_tables if "actor" in t.c)
# Where a discrepancy's level goes: its count task, and the events it raises.
COUNT_LEVEL_KEYS = ("count_tasks.location_id", "count_tasks.sku", "outbox.location_id",
                    "outbox.sku", "events.location_id", "events.sku")
NOT_TEXT = ()  # a filter, or kept in a JSON column (no length), or parsed into a number

# Each text field of a request body, and the text columns it is written to.
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "ApiKeyCreate.name": ("api_keys.name", *ACTORS),  # a key's name is its writes' actor
    "ApiKeyCreate.role": ("api_keys.role",),
    "ApiKeyCreate.location_ids": NOT_TEXT,
    "ContactIn.name": NOT_TEXT, "ContactIn.email": NOT_TEXT, "ContactIn.phone": NOT_TEXT,
    "CountTaskComplete.note": ("stock_movements.note",),
    "FeedbackCreate.kind": ("feedback.kind",),
    "FeedbackCreate.location_id": ("feedback.location_id", *COUNT_LEVEL_KEYS),
    "FeedbackCreate.sku": ("feedback.sku", *COUNT_LEVEL_KEYS),
    "FeedbackCreate.note": ("feedback.note",),
    "CustomerIn.ref": ("customers.ref", "sales.customer_ref"),
    "CustomerIn.contact": ("customers.contact",),
    "InventoryUpdate.location_id": LEVEL_KEYS,
    "InventoryUpdate.sku": LEVEL_KEYS,
    "InventoryUpdate.reason": ("stock_movements.reason",),
    "InventoryUpdate.note": ("stock_movements.note",),
    "InventoryUpdate.lot": ("inventory_lots.lot", "stock_movements.lot"),
    "MoneyIn.amount": NOT_TEXT,
    "MoneyIn.currency": CURRENCIES,
    "ProductCreate.sku": ("products.sku",),
    "ProductCreate.name": ("products.name",),
    "ProductCreate.category": ("products.category",),
    "ProductUpdate.name": ("products.name",),
    "ProductUpdate.category": ("products.category",),
    "ProductUpdate.status": ("products.status",),
    "PurchaseLineIn.sku": ("purchase_order_lines.sku",),
    "PurchaseOrderCreate.supplier_id": ("purchase_orders.supplier_code",),
    "PurchaseOrderCreate.location_id": ("purchase_orders.location_id",),
    "PurchaseOrderCreate.note": ("purchase_orders.note",),
    "PurchaseOrderCreate.external_ref": ("purchase_orders.external_ref",),
    "ReceiptLineIn.sku": NOT_TEXT,  # names a line of the order
    "ReceiptLineIn.lot": ("inventory_lots.lot", "stock_movements.lot"),
    "ReservationCommit.payment_status": ("sales.payment_status",),
    "ReservationCommit.external_ref": SALE_REFS,
    "ReservationCreate.location_id": ("reservations.location_id",),
    "ReservationCreate.channel": ("reservations.channel",),
    "ReservationCreate.external_ref": ("reservations.external_ref", *SALE_REFS),
    "ReservationLineIn.sku": ("reservation_lines.sku",),
    "RetailLocationCreate.code": ("locations.code",),
    "RetailLocationCreate.name": ("locations.name",),
    "RetailLocationCreate.address": ("locations.address",),
    "RetailLocationCreate.region": ("locations.region",),
    "RetailLocationCreate.time_zone": ("locations.time_zone",),
    "RetailLocationUpdate.name": ("locations.name",),
    "RetailLocationUpdate.time_zone": ("locations.time_zone",),
    "RetailLocationUpdate.address": ("locations.address",),
    "RetailLocationUpdate.region": ("locations.region",),
    "RetailLocationUpdate.status": ("locations.status",),
    "ReturnLineIn.sku": ("sale_return_lines.sku",),
    "SaleCreate.location_id": ("sales.location_id",),
    "SaleCreate.channel": ("sales.channel",),
    "SaleCreate.payment_status": ("sales.payment_status",),
    "SaleCreate.external_ref": SALE_REFS,
    "SaleUpdate.payment_status": ("sales.payment_status",),
    "SaleUpdate.fulfillment_status": ("sales.fulfillment_status",),
    "SaleLineIn.sku": ("sale_lines.sku",),
    "SaleReturnCreate.reason": ("sale_returns.reason", "stock_movements.reason"),
    "SaleReturnCreate.note": ("sale_returns.note",),
    "SaleReturnCreate.location_id": ("sale_returns.location_id", "inventory_levels.location_id",
                                     "stock_movements.location_id"),
    "SubscribeMessage.action": NOT_TEXT,
    "SubscribeMessage.location_id": NOT_TEXT,
    "SubscribeMessage.sku": NOT_TEXT,
    "SubscribeMessage.types": NOT_TEXT,
    "SupplierCreate.code": ("suppliers.code", "supplier_products.supplier_code"),
    "SupplierCreate.name": ("suppliers.name",),
    "SupplierUpdate.name": ("suppliers.name",),
    "SupplierUpdate.status": ("suppliers.status",),
    "SupplierProductIn.sku": ("supplier_products.sku",),
    "TransferCancel.note": ("stock_movements.note",),
    "TransferClose.note": ("stock_movements.note",),  # a loss's note clipped to the column
    "TransferClose.remainder": ("transfers.remainder",),
    "TransferCreate.from_location_id": ("transfers.from_location_id",),
    "TransferCreate.to_location_id": ("transfers.to_location_id",),
    "TransferCreate.note": ("transfers.note", "stock_movements.note"),
    "TransferCreate.external_ref": ("transfers.external_ref",),
    "TransferLineIn.sku": ("transfer_lines.sku",),
    "UnsubscribeMessage.action": NOT_TEXT,
    "WarehouseCreate.code": ("locations.code",),
    "WarehouseCreate.name": ("locations.name",),
    "WarehouseCreate.address": ("locations.address",),
    "WarehouseCreate.time_zone": ("locations.time_zone",),
    "WarehouseUpdate.name": ("locations.name",),
    "WarehouseUpdate.time_zone": ("locations.time_zone",),
    "WarehouseUpdate.address": ("locations.address",),
    "WarehouseUpdate.status": ("locations.status",),
    "WebhookCreate.url": ("webhooks.url",),
    "WebhookCreate.event_types": NOT_TEXT,
    "WebhookCreate.location_ids": NOT_TEXT,
    "WebhookCreate.secret": ("webhooks.secret",),
}

_BOUNDED = re.compile(r"\^(?:\[[^\]]*\]|\\.|[^\\\[(])\{(?:\d+,)?(\d+)\}\$")


def pattern_bound(pattern: str) -> float:
    """The length limit a pattern of the shape ``^X{m,n}$`` sets (inf for other shapes)."""
    matched = _BOUNDED.fullmatch(pattern)
    return int(matched.group(1)) if matched else math.inf


ID = "an id of new_id: a short type prefix and 27 characters"
IDS = ("api_keys.id", "purchase_orders.id", "purchase_order_lines.purchase_order_id",
       "reservations.id", "reservation_lines.reservation_id", "reservations.sale_id",
       "sales.id", "sale_lines.sale_id", "sale_returns.id", "sale_return_lines.return_id",
       "sale_returns.sale_id", "transfers.id", "transfer_lines.transfer_id",
       "transfer_line_lots.transfer_id", "webhooks.id", "webhook_deliveries.webhook_id",
       "count_tasks.id", "count_tasks.reference", "feedback.id", "feedback.count_task_id")
CLIPPED = "clipped to its column where it is written"
# The text columns no request field writes, and the most Stockline itself puts there: a
# bound it keeps (checked below), or why the value always fits.
# Each text key of the report's rollup and the columns it is copied from (a zone: a
# location's time zone, or '', or '*'; a month: YYYY-MM).
_ROLLUP_KEYS = {"location_id": ("sales.location_id",), "channel": ("sales.channel",),
                "currency": ("sales.currency",), "sku": ("sale_lines.sku",
                                                         "sale_return_lines.sku"),
                "category": ("products.category",), "zone": ("locations.time_zone",)}
ROLLUP_SOURCES: dict[str, tuple[str, ...]] = {
    f"{t.name}.{c.name}": _ROLLUP_KEYS[c.name]
    for t in metadata.sorted_tables if t.name.startswith("rollup_")
    for c in t.c if isinstance(c.type, String) and c.name in _ROLLUP_KEYS}
ROLLUP_SOURCES.update({"rollup_sku_months.month": (), "rollup_return_sku_months.month": ()})

SERVER_WRITTEN: dict[str, float | type[StrEnum] | str] = {
    # beside a key's name (above): an external token's subject
    **dict.fromkeys(ACTORS, SUBJECT_MAX_LENGTH),
    # the longest principal id: ext:<an external token's subject> (a key's is an ID)
    "idempotency_keys.principal": len(EXTERNAL_PREFIX) + SUBJECT_MAX_LENGTH,
    "api_keys.created_by": CLIPPED,
    "idempotency_keys.key": pattern_bound(IDEMPOTENCY_KEY_PATTERN),  # the header
    "locations.type": LocationType,
    "stock_movements.type": MovementType,
    "stock_movements.reason": MovementType,  # beside the reasons a caller gives
    "stock_movements.reference": ID,
    "sales.status": SaleStatus,
    "transfers.status": TransferStatus,
    "reservations.status": ReservationStatus,
    "reservations.reason": "'stock_count', the one reason Stockline gives",
    "purchase_orders.status": PurchaseOrderStatus,
    "count_tasks.status": CountTaskStatus,
    "count_tasks.reason": CountTaskReason,
    "count_tasks.opened_by": SUBJECT_MAX_LENGTH,  # an actor, as ACTORS
    "count_tasks.completed_by": SUBJECT_MAX_LENGTH,
    "webhooks.status": WebhookStatus,
    "webhook_deliveries.status": DeliveryStatus,
    "outbox.type": EventType,
    "events.type": EventType,
    # W3C traceparent as the propagator writes it: 00-<32 hex>-<16 hex>-<2 hex>
    "outbox.traceparent": len("00-") + 32 + 1 + 16 + 1 + 2,
    "events.traceparent": len("00-") + 32 + 1 + 16 + 1 + 2,
    "webhooks.paused_reason": CLIPPED,
    "webhook_deliveries.last_error": CLIPPED,
    "webhook_attempts.error": CLIPPED,
    # a stream ticket: the principal it was issued to, and its ticket's digest
    "stream_tickets.principal_id": len(EXTERNAL_PREFIX) + SUBJECT_MAX_LENGTH,
    "stream_tickets.principal_name": PRINCIPAL_TEXT_MAX_LENGTH,
    "stream_tickets.role": Role,
    "stream_tickets.digest": "a SHA-256 in hex",
    # a dashboard session: the key it signed in with, and its nonce's digest
    "dashboard_sessions.principal_id": len(EXTERNAL_PREFIX) + SUBJECT_MAX_LENGTH,
    "dashboard_sessions.digest": "a SHA-256 in hex",
    "nodes.name": "the node's name (settings, not requests: 100 characters at most)",
    "api_keys.prefix": "the random prefix of a new key",
    "api_keys.secret_hash": "a SHA-256 in hex",
    "idempotency_keys.fingerprint": "an HMAC-SHA256 in hex",
    "idempotency_keys.subject": "an HMAC-SHA256 in hex",
    "idempotency_keys.outcome": "'ok' or a refusal code (domain.refusals.CODES)",
    "relay_state.name": "'relay'",
    "relay_state.holder": "the node's name (settings, not requests)",
    "sales.customer_ref": ID,  # once erased: a pseudonym
    **dict.fromkeys(IDS, ID),
    "sale_returns.location_id": "the sale's location, unless the request names one",
    "inventory_lots.location_id": "a level's key, as inventory_levels",
    "inventory_lots.sku": "a level's key, as inventory_levels",
    "transfer_line_lots.lot": "a lot of the origin, as inventory_lots",
    **{f"audit_log.{c.name}": CLIPPED for c in metadata.tables["audit_log"].c
       if isinstance(c.type, String)},
    # the report's rollup: keys copied from the sales tables (ROLLUP_SOURCES, below)
    **{column: f"a copy of {', '.join(sources) or 'a month, YYYY-MM'}"
       for column, sources in ROLLUP_SOURCES.items()},
}


def test_the_rollup_s_keys_hold_what_they_copy() -> None:
    columns = column_lengths()
    short = {c: (columns[c], s) for c, sources in ROLLUP_SOURCES.items() for s in sources
             if columns[c] < columns[s]}
    assert not short, short


def _request_models() -> dict[str, type[Body]]:
    for module in pkgutil.iter_modules(schemas.__path__):
        importlib.import_module(f"{schemas.__name__}.{module.name}")
    found: dict[str, type[Body]] = {}
    stack: list[type[Body]] = [Body]
    while stack:
        for model in stack.pop().__subclasses__():
            stack.append(model)
            if not model.__name__.startswith("_"):  # a base: checked as its subclasses
                found[model.__name__] = model
    return found


def longest(node: dict[str, Any], defs: dict[str, Any]) -> float:
    """The longest text a JSON Schema node accepts (inf: no bound; 0: not text)."""
    if "$ref" in node:
        return longest(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in node:
        return max(longest(option, defs) for option in node["anyOf"])
    if "enum" in node or "const" in node:
        return max(len(str(v)) for v in node.get("enum", [node.get("const")]))
    if node.get("type") == "array":
        return longest(node["items"], defs)
    if node.get("type") != "string" or "format" in node:  # a date or time is not kept as text
        return 0
    bounds = [node.get("maxLength", math.inf), pattern_bound(node.get("pattern", ""))]
    return min(bounds)


def text_fields() -> dict[str, float]:
    """Every text field of every request body (``Model.field``) and its longest value."""
    fields: dict[str, float] = {}
    for name, model in _request_models().items():
        schema = model.model_json_schema()
        for field, node in schema["properties"].items():
            if (most := longest(node, schema.get("$defs", {}))) > 0:
                fields[f"{name}.{field}"] = most
    return fields


def column_lengths() -> dict[str, float]:
    """Every text column (``table.column``) and its length (inf: text without a limit)."""
    return {f"{table.name}.{column.name}": column.type.length or math.inf
            for table in metadata.sorted_tables for column in table.columns
            if isinstance(column.type, String)}


def test_every_text_field_of_a_request_says_where_it_is_written() -> None:
    unlisted = sorted(set(text_fields()) - set(FIELD_COLUMNS))
    assert not unlisted, f"add these to FIELD_COLUMNS: {unlisted}"
    gone = sorted(set(FIELD_COLUMNS) - set(text_fields()))
    assert not gone, f"no longer request fields: {gone}"


def test_every_text_column_is_fed_by_a_field_or_by_stockline() -> None:
    fed = {column for columns in FIELD_COLUMNS.values() for column in columns}
    limited = {column for column, length in column_lengths().items() if length < math.inf}
    unfed = sorted(limited - fed - set(SERVER_WRITTEN))
    assert not unfed, f"say what writes these (FIELD_COLUMNS or SERVER_WRITTEN): {unfed}"
    unknown = sorted((fed | set(SERVER_WRITTEN)) - set(column_lengths()))
    assert not unknown, f"not text columns of tables.metadata: {unknown}"


@pytest.mark.parametrize("field", sorted(FIELD_COLUMNS))
def test_a_field_accepts_no_more_than_each_column_it_is_written_to_holds(field: str) -> None:
    columns, most = column_lengths(), text_fields()[field]
    assert most < math.inf or not FIELD_COLUMNS[field], f"{field} has no length limit"
    too_small = {c: columns[c] for c in FIELD_COLUMNS[field] if columns[c] < most}
    assert not too_small, f"{field} accepts {most} characters; these hold fewer: {too_small}"


@pytest.mark.parametrize("column", sorted(c for c, bound in SERVER_WRITTEN.items()
                                          if not isinstance(bound, str)))
def test_what_stockline_writes_itself_fits_its_column(column: str) -> None:
    bound = SERVER_WRITTEN[column]
    most = bound if isinstance(bound, float | int) else max(len(m) for m in list(bound))
    assert most <= column_lengths()[column]


def test_the_limits_are_read_as_they_are_written() -> None:
    """The readers above, on the shapes the schemas use."""
    assert pattern_bound(r"^[A-Za-z0-9._-]{1,64}$") == 64
    assert pattern_bound(r"^[A-Z]{3}$") == 3
    assert pattern_bound(IDEMPOTENCY_KEY_PATTERN) == 255
    assert pattern_bound(r"^[^\x00]*$") == math.inf
    assert longest({"anyOf": [{"type": "string", "maxLength": 9}, {"type": "null"}]}, {}) == 9
    assert longest({"type": "string", "format": "date-time"}, {}) == 0
    assert longest({"type": "array", "items": {"enum": ["ab", "abcd"]}}, {}) == 4
