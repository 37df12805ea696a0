"""Why a hold was released other than by its holder (a count that left too little stock).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 06:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('reservations', sa.Column('reason', sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reservations') as batch:
        batch.drop_column('reason')
