"""Stock flows: lots, transfers, returns, reservations, suppliers, purchase orders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:56:39.806324
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "contact", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_suppliers")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("supplier_code", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.code"],
            name=op.f("fk_purchase_orders_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["supplier_code"],
            ["suppliers.code"],
            name=op.f("fk_purchase_orders_supplier_code_suppliers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_location_id_created_at"),
            ["location_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_status_created_at"),
            ["status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_purchase_orders_supplier_code"), ["supplier_code"], unique=False
        )

    op.create_table(
        "reservations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("sale_id", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.code"], name=op.f("fk_reservations_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reservations_location_id_created_at"),
            ["location_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reservations_status_expires_at"), ["status", "expires_at"], unique=False
        )

    op.create_table(
        "supplier_products",
        sa.Column("supplier_code", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("cost_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["sku"], ["products.sku"], name=op.f("fk_supplier_products_sku_products")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_code"],
            ["suppliers.code"],
            name=op.f("fk_supplier_products_supplier_code_suppliers"),
        ),
        sa.PrimaryKeyConstraint("supplier_code", "sku", name=op.f("pk_supplier_products")),
    )
    with op.batch_alter_table("supplier_products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_products_sku"), ["sku"], unique=False)

    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("from_location_id", sa.String(length=64), nullable=False),
        sa.Column("to_location_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["locations.code"],
            name=op.f("fk_transfers_from_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"],
            ["locations.code"],
            name=op.f("fk_transfers_to_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfers_from_location_id_created_at"),
            ["from_location_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_transfers_status_created_at"), ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfers_to_location_id_created_at"),
            ["to_location_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "inventory_lots",
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_inventory_lots_on_hand_not_negative")),
        sa.ForeignKeyConstraint(
            ["location_id", "sku"],
            ["inventory_levels.location_id", "inventory_levels.sku"],
            name=op.f("fk_inventory_lots_location_id_inventory_levels"),
        ),
        sa.PrimaryKeyConstraint("location_id", "sku", "lot", name=op.f("pk_inventory_lots")),
    )
    op.create_table(
        "purchase_order_lines",
        sa.Column("purchase_order_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("received_quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "received_quantity >= 0 AND received_quantity <= quantity",
            name=op.f("ck_purchase_order_lines_received_within_quantity"),
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_purchase_order_id_purchase_orders"),
        ),
        sa.PrimaryKeyConstraint(
            "purchase_order_id", "line_no", name=op.f("pk_purchase_order_lines")
        ),
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_order_lines_sku"), ["sku"], unique=False)

    op.create_table(
        "reservation_lines",
        sa.Column("reservation_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_reservation_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_reservation_lines_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("reservation_id", "line_no", name=op.f("pk_reservation_lines")),
    )
    op.create_table(
        "sale_returns",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sale_id", sa.String(length=40), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("restock", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_sale_returns_sale_id_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_returns")),
    )
    with op.batch_alter_table("sale_returns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sale_returns_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "transfer_lines",
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("received_quantity", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_transfer_lines_quantity_positive")),
        sa.CheckConstraint(
            "received_quantity >= 0 AND cancelled_quantity >= 0 AND received_quantity + cancelled_quantity <= quantity",
            name=op.f("ck_transfer_lines_within_quantity"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_transfer_lines_transfer_id_transfers")
        ),
        sa.PrimaryKeyConstraint("transfer_id", "line_no", name=op.f("pk_transfer_lines")),
    )
    with op.batch_alter_table("transfer_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_lines_sku"), ["sku"], unique=False)

    op.create_table(
        "sale_return_lines",
        sa.Column("return_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sale_return_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["sale_returns.id"],
            name=op.f("fk_sale_return_lines_return_id_sale_returns"),
        ),
        sa.PrimaryKeyConstraint("return_id", "line_no", name=op.f("pk_sale_return_lines")),
    )
    op.create_table(
        "transfer_line_lots",
        sa.Column("transfer_id", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=64), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("received_quantity", sa.BigInteger(), nullable=False),
        sa.Column("returned_quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "received_quantity + returned_quantity <= quantity",
            name=op.f("ck_transfer_line_lots_within_quantity"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id", "line_no"],
            ["transfer_lines.transfer_id", "transfer_lines.line_no"],
            name=op.f("fk_transfer_line_lots_transfer_id_transfer_lines"),
        ),
        sa.PrimaryKeyConstraint(
            "transfer_id", "line_no", "lot", name=op.f("pk_transfer_line_lots")
        ),
    )
    with op.batch_alter_table("inventory_levels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("incoming", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("lotted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_inventory_levels_incoming_not_negative"), "incoming >= 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("inventory_levels", schema=None) as batch_op:
        batch_op.drop_column("lotted")
        batch_op.drop_column("incoming")

    op.drop_table("transfer_line_lots")
    op.drop_table("sale_return_lines")
    with op.batch_alter_table("transfer_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_lines_sku"))

    op.drop_table("transfer_lines")
    with op.batch_alter_table("sale_returns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sale_returns_sale_id"))

    op.drop_table("sale_returns")
    op.drop_table("reservation_lines")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_order_lines_sku"))

    op.drop_table("purchase_order_lines")
    op.drop_table("inventory_lots")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfers_to_location_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_transfers_status_created_at"))
        batch_op.drop_index(batch_op.f("ix_transfers_from_location_id_created_at"))

    op.drop_table("transfers")
    with op.batch_alter_table("supplier_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_products_sku"))

    op.drop_table("supplier_products")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservations_status_expires_at"))
        batch_op.drop_index(batch_op.f("ix_reservations_location_id_created_at"))

    op.drop_table("reservations")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_supplier_code"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_status_created_at"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_location_id_created_at"))

    op.drop_table("purchase_orders")
    op.drop_table("suppliers")
