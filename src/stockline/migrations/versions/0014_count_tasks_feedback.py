"""Count tasks (one open per level) and the feedback staff report.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 07:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table('count_tasks',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=True),
    sa.Column('reports', sa.BigInteger(), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_by', sa.String(length=100), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('system_quantity', sa.BigInteger(), nullable=True),
    sa.Column('counted_quantity', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'done')", name=op.f('ck_count_tasks_status')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.code'],
                            name=op.f('fk_count_tasks_location_id_locations')),
    sa.ForeignKeyConstraint(['sku'], ['products.sku'], name=op.f('fk_count_tasks_sku_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_count_tasks'))
    )
    op.create_index('uq_count_tasks_open_level', 'count_tasks', ['location_id', 'sku'],
                    unique=True, sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index(op.f('ix_count_tasks_status_opened_at_id'), 'count_tasks',
                    ['status', 'opened_at', 'id'], unique=False)
    op.create_index(op.f('ix_count_tasks_location_id_completed_at'), 'count_tasks',
                    ['location_id', 'completed_at'], unique=False)
    op.create_table('feedback',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=True),
    sa.Column('sku', sa.String(length=64), nullable=True),
    sa.Column('observed_quantity', sa.BigInteger(), nullable=True),
    sa.Column('rating', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('count_task_id', sa.String(length=40), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('rating IS NULL OR (rating >= 1 AND rating <= 5)',
                       name=op.f('ck_feedback_rating')),
    sa.ForeignKeyConstraint(['count_task_id'], ['count_tasks.id'],
                            name=op.f('fk_feedback_count_task_id_count_tasks')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.code'],
                            name=op.f('fk_feedback_location_id_locations')),
    sa.ForeignKeyConstraint(['sku'], ['products.sku'], name=op.f('fk_feedback_sku_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback'))
    )
    op.create_index(op.f('ix_feedback_created_at_id'), 'feedback', ['created_at', 'id'],
                    unique=False)
    op.create_index(op.f('ix_feedback_location_id_created_at'), 'feedback',
                    ['location_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_feedback_location_id_created_at'), table_name='feedback')
    op.drop_index(op.f('ix_feedback_created_at_id'), table_name='feedback')
    op.drop_table('feedback')
    op.drop_index(op.f('ix_count_tasks_location_id_completed_at'), table_name='count_tasks')
    op.drop_index(op.f('ix_count_tasks_status_opened_at_id'), table_name='count_tasks')
    op.drop_index('uq_count_tasks_open_level', table_name='count_tasks')
    op.drop_table('count_tasks')
