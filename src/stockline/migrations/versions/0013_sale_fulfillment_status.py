"""Where a sale's goods are: fulfillment_status, beside its payment_status.

Sales recorded before it take the status a new sale of their channel takes: a sale at the
till (``pos``) left with its customer (``delivered``); any other waits (``unfulfilled``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 07:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('sales', sa.Column('fulfillment_status', sa.String(length=24), nullable=True))
    op.execute("UPDATE sales SET fulfillment_status = CASE WHEN channel = 'pos' "
               "THEN 'delivered' ELSE 'unfulfilled' END")
    with op.batch_alter_table('sales') as batch:
        batch.alter_column('fulfillment_status', existing_type=sa.String(length=24),
                           nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('sales') as batch:
        batch.drop_column('fulfillment_status')
