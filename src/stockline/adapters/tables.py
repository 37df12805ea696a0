"""The one definition of the schema (SQLAlchemy Core). Alembic migrations follow it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps them as naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Code = String(64)
Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
SerialId = BigInteger().with_variant(Integer(), "sqlite")

products = Table(
    "products", metadata,
    Column("sku", Code, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(100), nullable=False, index=True),
    Column("attributes", Json, nullable=False),
    # Money: integer 1/10,000 of the currency unit, exact on every backend.
    Column("price_amount", BigInteger),
    Column("price_currency", String(3)),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

locations = Table(
    "locations", metadata,
    Column("code", Code, primary_key=True),
    Column("type", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("region", String(100), index=True),
    Column("address", String(500)),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("capacity", BigInteger),
    Column("operating_hours", Json),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("type IN ('warehouse', 'retail')", name="type"),
)

inventory_levels = Table(
    "inventory_levels", metadata,
    Column("location_id", Code, ForeignKey("locations.code"), primary_key=True),
    Column("sku", Code, ForeignKey("products.sku"), primary_key=True, index=True),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("in_transit", BigInteger, nullable=False),
    Column("incoming", BigInteger, nullable=False, server_default="0"),
    Column("lotted", Boolean, nullable=False, server_default=false()),
    Column("reorder_point", BigInteger),
    Column("reorder_quantity", BigInteger),
    Column("safety_stock", BigInteger),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The backstop: whatever a caller does, available (on_hand - reserved) never goes below 0.
    CheckConstraint("on_hand >= reserved", name="available_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("in_transit >= 0", name="in_transit_not_negative"),
    CheckConstraint("incoming >= 0", name="incoming_not_negative"),
)

# A lotted level keeps all its stock in lots (lot '' for stock received without a code).
inventory_lots = Table(
    "inventory_lots", metadata,
    Column("location_id", Code, primary_key=True),
    Column("sku", Code, primary_key=True),
    Column("lot", Code, primary_key=True),
    Column("on_hand", BigInteger, nullable=False),
    Column("expires_on", Date),
    Column("received_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["location_id", "sku"],
                         ["inventory_levels.location_id", "inventory_levels.sku"]),
    CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
)

stock_movements = Table(
    "stock_movements", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("location_id", Code, nullable=False),
    Column("sku", Code, nullable=False),
    Column("lot", Code),
    Column("delta", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("type", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("reference", String(100)),
    Column("actor", String(100), nullable=False),
    Column("note", String(500)),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index(None, "location_id", "sku", "id"),
    Index(None, "sku", "id"),
    Index(None, "occurred_at"),
)

sales = Table(
    "sales", metadata,
    Column("id", String(40), primary_key=True),
    Column("location_id", Code, ForeignKey("locations.code"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("channel", String(24), nullable=False),
    Column("payment_status", String(24), nullable=False),
    Column("external_ref", String(100), index=True),
    Column("customer_ref", String(100), index=True),
    Column("currency", String(3), nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "occurred_at", "id"),
    Index(None, "location_id", "occurred_at", "id"),
)

sale_lines = Table(
    "sale_lines", metadata,
    Column("sale_id", String(40), ForeignKey("sales.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", Code, nullable=False, index=True),
    Column("quantity", BigInteger, nullable=False),
    Column("unit_price_amount", BigInteger, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("type", String(48), nullable=False),
    Column("location_id", Code),
    Column("sku", Code),
    Column("payload", Text, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("principal", String(100), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # A keyed digest (services.idempotency) of the customer reference the request named:
    # erasing the customer finds its records by it, and unlinks them.
    Column("subject", String(64), index=True),
    Column("status_code", Integer),
    Column("response_body", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)


transfers = Table(
    "transfers", metadata,
    Column("id", String(40), primary_key=True),
    Column("from_location_id", Code, ForeignKey("locations.code"), nullable=False),
    Column("to_location_id", Code, ForeignKey("locations.code"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("note", String(500)),
    Column("external_ref", String(100)),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Index(None, "from_location_id", "created_at"),
    Index(None, "to_location_id", "created_at"),
    Index(None, "status", "created_at"),
)

transfer_lines = Table(
    "transfer_lines", metadata,
    Column("transfer_id", String(40), ForeignKey("transfers.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", Code, nullable=False, index=True),
    Column("quantity", BigInteger, nullable=False),
    Column("received_quantity", BigInteger, nullable=False),
    Column("cancelled_quantity", BigInteger, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("received_quantity >= 0 AND cancelled_quantity >= 0 AND "
                    "received_quantity + cancelled_quantity <= quantity", name="within_quantity"),
)

transfer_line_lots = Table(
    "transfer_line_lots", metadata,
    Column("transfer_id", String(40), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("lot", Code, primary_key=True),
    Column("expires_on", Date),
    Column("quantity", BigInteger, nullable=False),
    Column("received_quantity", BigInteger, nullable=False),
    Column("returned_quantity", BigInteger, nullable=False),
    ForeignKeyConstraint(["transfer_id", "line_no"],
                         ["transfer_lines.transfer_id", "transfer_lines.line_no"]),
    CheckConstraint("received_quantity + returned_quantity <= quantity", name="within_quantity"),
)

sale_returns = Table(
    "sale_returns", metadata,
    Column("id", String(40), primary_key=True),
    Column("sale_id", String(40), ForeignKey("sales.id"), nullable=False, index=True),
    Column("location_id", Code, nullable=False),
    Column("restock", Boolean, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("note", String(500)),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

sale_return_lines = Table(
    "sale_return_lines", metadata,
    Column("return_id", String(40), ForeignKey("sale_returns.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", Code, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

reservations = Table(
    "reservations", metadata,
    Column("id", String(40), primary_key=True),
    Column("location_id", Code, ForeignKey("locations.code"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("channel", String(24), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("external_ref", String(100)),
    Column("sale_id", String(40)),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "status", "expires_at"),
    Index(None, "location_id", "created_at"),
)

reservation_lines = Table(
    "reservation_lines", metadata,
    Column("reservation_id", String(40), ForeignKey("reservations.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", Code, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("unit_price_amount", BigInteger),
    Column("currency", String(3)),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

suppliers = Table(
    "suppliers", metadata,
    Column("code", Code, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("contact", Json),
    Column("lead_time_days", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

supplier_products = Table(
    "supplier_products", metadata,
    Column("supplier_code", Code, ForeignKey("suppliers.code"), primary_key=True),
    Column("sku", Code, ForeignKey("products.sku"), primary_key=True, index=True),
    Column("cost_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
)

purchase_orders = Table(
    "purchase_orders", metadata,
    Column("id", String(40), primary_key=True),
    Column("supplier_code", Code, ForeignKey("suppliers.code"), nullable=False, index=True),
    Column("location_id", Code, ForeignKey("locations.code"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("note", String(500)),
    Column("external_ref", String(100)),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ordered_at", UTCDateTime),
    Column("expected_at", UTCDateTime),
    Column("received_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Index(None, "status", "created_at"),
    Index(None, "location_id", "created_at"),
)

purchase_order_lines = Table(
    "purchase_order_lines", metadata,
    Column("purchase_order_id", String(40), ForeignKey("purchase_orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", Code, nullable=False, index=True),
    Column("quantity", BigInteger, nullable=False),
    Column("received_quantity", BigInteger, nullable=False),
    Column("unit_cost_amount", BigInteger),
    Column("currency", String(3)),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("received_quantity >= 0 AND received_quantity <= quantity",
                    name="received_within_quantity"),
)

# The public event log. ``id`` is assigned by the one relay, in the order it moves committed
# outbox rows: gap-free, and never visible to a reader before the ids below it.
events = Table(
    "events", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(48), nullable=False),
    Column("location_id", Code),
    Column("sku", Code),
    Column("payload", Text, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("logged_at", UTCDateTime, nullable=False, index=True),
    Index(None, "location_id", "id"),
    Index(None, "sku", "id"),
)

# One row per relay: who holds the lease, how far ids, publishing and pruning have got.
relay_state = Table(
    "relay_state", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(100)),
    Column("lease_expires_at", UTCDateTime),
    Column("last_event_id", BigInteger, nullable=False, server_default="0"),
    Column("published_through", BigInteger, nullable=False, server_default="0"),
    Column("pruned_through", BigInteger, nullable=False, server_default="0"),
)

webhooks = Table(
    "webhooks", metadata,
    Column("id", String(40), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", Json, nullable=False),
    Column("location_ids", Json),
    Column("secret", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("paused_reason", String(500)),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("webhook_id", String(40), ForeignKey("webhooks.id"), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("delivered_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("webhook_id", "event_id"),
    Index(None, "status", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id"), nullable=False,
           index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
)

# API keys: the secret is shown once at creation; only its SHA-256 is kept. The prefix is
# what a key is recognised by (in lists and logs) and looked up with.
api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),
    Column("prefix", String(24), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(24), nullable=False),
    Column("location_ids", Json),
    Column("expires_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rate_limit", Float),  # requests a second; NULL: the role's limit
)

# The audit trail: append-only. The application never updates or deletes a row, and
# triggers (migration 0005) refuse UPDATE and DELETE on both backends.
audit_log = Table(
    "audit_log", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("principal_id", String(100)),
    Column("principal_name", String(200)),
    Column("role", String(24)),
    Column("method", String(8), nullable=False),
    Column("path", String(500), nullable=False),
    Column("route", String(200)),
    Column("status", Integer, nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("request_id", String(128)),
    Column("ip", String(64)),
    Column("detail", String(500)),
    # A burst of refusals from one address is one entry: how many, and when the last came.
    Column("count", Integer, nullable=False, server_default=text("1")),
    Column("last_at", UTCDateTime),
    Index(None, "principal_id", "id"),
    comment="Append-only audit trail: rows are never updated or deleted",
)

# Customers stay apart from sales lines; erasing one pseudonymizes the reference everywhere.
customers = Table(
    "customers", metadata,
    Column("ref", String(100), primary_key=True),
    Column("contact", Text),
    Column("erased_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
