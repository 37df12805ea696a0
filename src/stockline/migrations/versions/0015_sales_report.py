"""The sales report: a location's time zone, and the indexes its queries read.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 07:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('locations', sa.Column('time_zone', sa.String(length=64), nullable=True))
    # Returns are counted in the period they happened: read by their time.
    op.create_index('ix_sale_returns_created_at', 'sale_returns', ['created_at'])
    # A return line keeps its value on the sale (the sale's average price of the SKU,
    # rounded down), so that a report sums it rather than read it from the sale's lines;
    # the returns taken before are valued so now.
    op.add_column('sale_return_lines', sa.Column('amount', sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE sale_return_lines SET amount = quantity * ("
        "SELECT CAST(SUM(l.quantity * l.unit_price_amount) AS BIGINT) FROM sale_lines l "
        "JOIN sale_returns r ON r.sale_id = l.sale_id "
        "WHERE r.id = sale_return_lines.return_id AND l.sku = sale_return_lines.sku) / ("
        "SELECT CAST(SUM(l.quantity) AS BIGINT) FROM sale_lines l "
        "JOIN sale_returns r ON r.sale_id = l.sale_id "
        "WHERE r.id = sale_return_lines.return_id AND l.sku = sale_return_lines.sku)")


def downgrade() -> None:
    with op.batch_alter_table('sale_return_lines') as batch:
        batch.drop_column('amount')
    op.drop_index('ix_sale_returns_created_at', table_name='sale_returns')
    with op.batch_alter_table('locations') as batch:
        batch.drop_column('time_zone')
