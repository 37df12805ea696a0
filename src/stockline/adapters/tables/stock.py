"""The tables of stock and trade: catalog, locations, levels and lots, the ledger, sales,
returns, transfers, holds, suppliers and purchase orders."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    false,
    text,
)

from stockline.adapters.tables.base import Code, Json, SerialId, UTCDateTime, metadata

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
    Column("status", String(16), nullable=False, server_default="active"),
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
    Column("time_zone", String(64)),  # IANA name; NULL: the location keeps UTC days
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
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
    Column("fulfillment_status", String(24), nullable=False),
    Column("external_ref", String(100), index=True),
    Column("customer_ref", String(100), index=True),
    Column("currency", String(3), nullable=False),
    Column("total_amount", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Whether the report's rollup holds the sale (adapters/rollup.py): 0 not yet, 1 folded,
    # 2 being folded (seen only inside the fold's own transaction). No insert sets it.
    Column("rollup_state", SmallInteger, nullable=False, server_default=text("0")),
    Index(None, "occurred_at", "id"),
    Index(None, "location_id", "occurred_at", "id"),
    Index("ix_sales_rollup_waiting", "rollup_state", "occurred_at",
          sqlite_where=text("rollup_state != 1"), postgresql_where=text("rollup_state != 1")),
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
    Column("closed_at", UTCDateTime),
    Column("remainder", String(16)),  # what a close did with the rest: lost, return
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
    Column("lost_quantity", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("received_quantity >= 0 AND cancelled_quantity >= 0 AND "
                    "received_quantity + cancelled_quantity <= quantity", name="within_quantity"),
    CheckConstraint("lost_quantity >= 0 AND received_quantity + cancelled_quantity + "
                    "lost_quantity <= quantity", name="settled_within_quantity"),
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
    Column("lost_quantity", BigInteger, nullable=False, server_default="0"),
    ForeignKeyConstraint(["transfer_id", "line_no"],
                         ["transfer_lines.transfer_id", "transfer_lines.line_no"]),
    CheckConstraint("received_quantity + returned_quantity <= quantity", name="within_quantity"),
    CheckConstraint("lost_quantity >= 0 AND received_quantity + returned_quantity + "
                    "lost_quantity <= quantity", name="settled_within_quantity"),
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
    Column("created_at", UTCDateTime, nullable=False, index=True),
    # As sales.rollup_state, for the returns' sums.
    Column("rollup_state", SmallInteger, nullable=False, server_default=text("0")),
    Index("ix_sale_returns_rollup_waiting", "rollup_state", "created_at",
          sqlite_where=text("rollup_state != 1"), postgresql_where=text("rollup_state != 1")),
)


sale_return_lines = Table(
    "sale_return_lines", metadata,
    Column("return_id", String(40), ForeignKey("sale_returns.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", Code, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    # Its value on the sale, in 1/10,000 of the sale's currency (Sale.value_of).
    Column("amount", BigInteger),
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
    Column("reason", String(24)),
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
    Column("status", String(16), nullable=False, server_default="active"),
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
