"""Closing a transfer short: units lost in transit on its lines and lots, when and how it
closed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 07:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINES_SETTLED = ("lost_quantity >= 0 AND received_quantity + cancelled_quantity + "
                  "lost_quantity <= quantity")
_LOTS_SETTLED = ("lost_quantity >= 0 AND received_quantity + returned_quantity + "
                 "lost_quantity <= quantity")


def upgrade() -> None:
    with op.batch_alter_table('transfers') as batch:
        batch.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('remainder', sa.String(length=16), nullable=True))
    # Batch mode: SQLite cannot add a CHECK constraint to a table but by rebuilding it.
    with op.batch_alter_table('transfer_lines') as batch:
        batch.add_column(sa.Column('lost_quantity', sa.BigInteger(), nullable=False,
                                   server_default='0'))
        batch.create_check_constraint(op.f('ck_transfer_lines_settled_within_quantity'),
                                      _LINES_SETTLED)
    with op.batch_alter_table('transfer_line_lots') as batch:
        batch.add_column(sa.Column('lost_quantity', sa.BigInteger(), nullable=False,
                                   server_default='0'))
        batch.create_check_constraint(op.f('ck_transfer_line_lots_settled_within_quantity'),
                                      _LOTS_SETTLED)


def downgrade() -> None:
    with op.batch_alter_table('transfer_line_lots') as batch:
        batch.drop_constraint(op.f('ck_transfer_line_lots_settled_within_quantity'),
                              type_='check')
        batch.drop_column('lost_quantity')
    with op.batch_alter_table('transfer_lines') as batch:
        batch.drop_constraint(op.f('ck_transfer_lines_settled_within_quantity'), type_='check')
        batch.drop_column('lost_quantity')
    with op.batch_alter_table('transfers') as batch:
        batch.drop_column('remainder')
        batch.drop_column('closed_at')
