"""The one definition of the schema (SQLAlchemy Core). Alembic migrations follow it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
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
    Column("reorder_point", BigInteger),
    Column("reorder_quantity", BigInteger),
    Column("safety_stock", BigInteger),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The backstop: whatever a caller does, available (on_hand - reserved) never goes below 0.
    CheckConstraint("on_hand >= reserved", name="available_not_negative"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("in_transit >= 0", name="in_transit_not_negative"),
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
    Column("status_code", Integer),
    Column("response_body", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)
