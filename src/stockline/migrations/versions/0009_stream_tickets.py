"""Single-use tickets for event streams opened from a browser (kept as SHA-256 digests).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 23:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stream_tickets',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('principal_id', sa.String(length=100), nullable=False),
    sa.Column('principal_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=24), nullable=False),
    sa.Column('location_ids', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('credential_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_stream_tickets'))
    )
    op.create_index(op.f('ix_stream_tickets_expires_at'), 'stream_tickets', ['expires_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_stream_tickets_expires_at'), table_name='stream_tickets')
    op.drop_table('stream_tickets')
