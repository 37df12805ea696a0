"""Idempotency records keyed with the server's secret, and the customer they name.

Records made before this revision hold plain SHA-256 fingerprints, which no keyed digest
ever matches again (a retry of such a key is answered 422), and answers that may carry a
webhook's secret. Both are dropped now rather than kept until the records expire.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 20:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = sa.table("idempotency_keys", sa.column("fingerprint", sa.String(64)),
                sa.column("status_code", sa.Integer), sa.column("response_body", sa.LargeBinary))


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_idempotency_keys_subject'), ['subject'],
                              unique=False)
    op.execute(KEYS.update().values(fingerprint="unkeyed"))
    op.execute(KEYS.update().where(KEYS.c.status_code.is_not(None))
               .values(response_body=b""))


def downgrade() -> None:
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_subject'))
        batch_op.drop_column('subject')
