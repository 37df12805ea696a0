"""The dashboard's sessions kept server-side, and the registry of serving processes.

A session's row is what its signed cookie is checked against on every request: deleting
it (signing out, revoking the key that signed in) ends the session on every node. A
node's row is its heartbeat: name, when it started, when it was last seen.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dashboard_sessions',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('principal_id', sa.String(length=100), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_dashboard_sessions'))
    )
    op.create_index(op.f('ix_dashboard_sessions_principal_id'), 'dashboard_sessions',
                    ['principal_id'], unique=False)
    op.create_index(op.f('ix_dashboard_sessions_expires_at'), 'dashboard_sessions',
                    ['expires_at'], unique=False)
    op.create_table('nodes',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_nodes'))
    )
    op.create_index(op.f('ix_nodes_last_seen'), 'nodes', ['last_seen'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_nodes_last_seen'), table_name='nodes')
    op.drop_table('nodes')
    op.drop_index(op.f('ix_dashboard_sessions_expires_at'), table_name='dashboard_sessions')
    op.drop_index(op.f('ix_dashboard_sessions_principal_id'),
                  table_name='dashboard_sessions')
    op.drop_table('dashboard_sessions')
