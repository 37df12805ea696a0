"""Locations and suppliers open or closed, products active or discontinued.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 07:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every row that exists today is in use: they all start active.
_TABLES = ('locations', 'products', 'suppliers')


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column('status', sa.String(length=16), nullable=False,
                                       server_default='active'))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('status')
