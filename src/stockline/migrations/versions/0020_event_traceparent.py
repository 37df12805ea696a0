"""The trace context of a write, kept with its events: a nullable W3C ``traceparent`` on
the outbox rows and on the logged events (set only while tracing is on), so that the
relay, the bus, the streams and the webhook deliveries can link their spans to the
request that made the change. Not part of any event's public JSON.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('outbox', 'events'):
        op.add_column(table, sa.Column('traceparent', sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in ('outbox', 'events'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('traceparent')
