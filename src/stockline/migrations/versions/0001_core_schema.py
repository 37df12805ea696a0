"""Core schema: catalog, locations, levels, ledger, sales, outbox, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Code = sa.String(64)
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SerialId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("sku", Code, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("price_amount", sa.BigInteger()),
        sa.Column("price_currency", sa.String(3)),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("created_at"), _ts("updated_at"),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_products")),
    )
    op.create_index(op.f("ix_products_category"), "products", ["category"])

    op.create_table(
        "locations",
        sa.Column("code", Code, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(100)),
        sa.Column("address", sa.String(500)),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("capacity", sa.BigInteger()),
        sa.Column("operating_hours", Json),
        _ts("created_at"),
        sa.CheckConstraint("type IN ('warehouse', 'retail')", name=op.f("ck_locations_type")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_locations")),
    )
    op.create_index(op.f("ix_locations_region"), "locations", ["region"])

    op.create_table(
        "inventory_levels",
        sa.Column("location_id", Code, nullable=False),
        sa.Column("sku", Code, nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("in_transit", sa.BigInteger(), nullable=False),
        sa.Column("reorder_point", sa.BigInteger()),
        sa.Column("reorder_quantity", sa.BigInteger()),
        sa.Column("safety_stock", sa.BigInteger()),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _ts("updated_at"),
        sa.CheckConstraint("on_hand >= reserved",
                           name=op.f("ck_inventory_levels_available_not_negative")),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_inventory_levels_reserved_not_negative")),
        sa.CheckConstraint("in_transit >= 0",
                           name=op.f("ck_inventory_levels_in_transit_not_negative")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.code"],
                                name=op.f("fk_inventory_levels_location_id_locations")),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"],
                                name=op.f("fk_inventory_levels_sku_products")),
        sa.PrimaryKeyConstraint("location_id", "sku", name=op.f("pk_inventory_levels")),
    )
    op.create_index(op.f("ix_inventory_levels_sku"), "inventory_levels", ["sku"])

    op.create_table(
        "stock_movements",
        sa.Column("id", SerialId, autoincrement=True, nullable=False),
        sa.Column("location_id", Code, nullable=False),
        sa.Column("sku", Code, nullable=False),
        sa.Column("lot", Code),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(100)),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("note", sa.String(500)),
        _ts("occurred_at"), _ts("recorded_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    op.create_index(op.f("ix_stock_movements_location_id_sku_id"), "stock_movements",
                    ["location_id", "sku", "id"])
    op.create_index(op.f("ix_stock_movements_sku_id"), "stock_movements", ["sku", "id"])
    op.create_index(op.f("ix_stock_movements_occurred_at"), "stock_movements", ["occurred_at"])

    op.create_table(
        "sales",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("location_id", Code, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(24), nullable=False),
        sa.Column("payment_status", sa.String(24), nullable=False),
        sa.Column("external_ref", sa.String(100)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        _ts("occurred_at"), _ts("created_at"),
        sa.ForeignKeyConstraint(["location_id"], ["locations.code"],
                                name=op.f("fk_sales_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
    )
    op.create_index(op.f("ix_sales_external_ref"), "sales", ["external_ref"])
    op.create_index(op.f("ix_sales_occurred_at_id"), "sales", ["occurred_at", "id"])
    op.create_index(op.f("ix_sales_location_id_occurred_at_id"), "sales",
                    ["location_id", "occurred_at", "id"])

    op.create_table(
        "sale_lines",
        sa.Column("sale_id", sa.String(40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", Code, nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price_amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sale_lines_quantity_positive")),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"],
                                name=op.f("fk_sale_lines_sale_id_sales")),
        sa.PrimaryKeyConstraint("sale_id", "line_no", name=op.f("pk_sale_lines")),
    )
    op.create_index(op.f("ix_sale_lines_sku"), "sale_lines", ["sku"])

    op.create_table(
        "outbox",
        sa.Column("id", SerialId, autoincrement=True, nullable=False),
        sa.Column("type", sa.String(48), nullable=False),
        sa.Column("location_id", Code),
        sa.Column("sku", Code),
        sa.Column("payload", sa.Text(), nullable=False),
        _ts("occurred_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("response_body", sa.LargeBinary()),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])


def downgrade() -> None:
    for table in ("idempotency_keys", "outbox", "sale_lines", "sales", "stock_movements",
                  "inventory_levels", "locations", "products"):
        op.drop_table(table)
