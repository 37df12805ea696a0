"""An audit entry may stand for a burst of refusals: their count and the last one's time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 20:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD/DROP COLUMN, never batch mode: SQLite's batch mode copies the table into a new
# one, which would drop the append-only triggers of migration 0005. Existing entries each
# stand for one request.


def upgrade() -> None:
    op.add_column('audit_log', sa.Column('count', sa.Integer(), server_default=sa.text('1'),
                                         nullable=False))
    op.add_column('audit_log', sa.Column('last_at', sa.DateTime(timezone=True),
                                         nullable=True))


def downgrade() -> None:
    op.drop_column('audit_log', 'last_at')
    op.drop_column('audit_log', 'count')
