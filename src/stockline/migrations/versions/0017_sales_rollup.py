"""The sales report's rollup: sales and returns summed ahead by location and local day, by
zone, local month and SKU, and by zone, local day and category; the mark of each sale and
return folded into them.

The sales and returns already recorded are folded here (adapters/rollup.py, the fold the
server runs in the background); those recorded later wait, with ``rollup_state`` 0 by
the column's default, until a fold takes them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from stockline.adapters.rollup import fold

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text('rollup_state != 1')
SUMS = ('rollup_days', 'rollup_sku_months', 'rollup_category_days', 'rollup_return_days',
        'rollup_return_sku_months', 'rollup_return_category_days')
KEYS = {'days': ('location_id', 'day', 'channel', 'currency'),
        'sku_months': ('zone', 'month', 'channel', 'currency', 'sku'),
        'category_days': ('zone', 'day', 'channel', 'currency', 'category')}


def _measures(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(m, sa.BigInteger(), nullable=False) for m in names]


def _keys(*names: str) -> list[sa.Column[Any]]:
    lengths = {'location_id': 64, 'channel': 24, 'currency': 3, 'zone': 64, 'sku': 64,
               'category': 100, 'month': 10}
    return [sa.Column(n, sa.Date() if n == 'day' else sa.String(lengths[n]),
                      primary_key=True) for n in names]


def _sums(name: str) -> None:
    keys = KEYS[name.removeprefix('rollup_').removeprefix('return_')]
    measures = ('units', 'amount') if name.startswith('rollup_return_') else (
        'sales', 'units', 'amount')
    op.create_table(name, *_keys(*keys), *_measures(*measures),
                    sa.PrimaryKeyConstraint(*keys, name=f'pk_{name}'))


def upgrade() -> None:
    for table, when in (('sales', 'occurred_at'), ('sale_returns', 'created_at')):
        op.add_column(table, sa.Column('rollup_state', sa.SmallInteger(), nullable=False,
                                       server_default=sa.text('0')))
        op.create_index(f'ix_{table}_rollup_waiting', table, ['rollup_state', when],
                        sqlite_where=WAITING, postgresql_where=WAITING)
    for name in SUMS:
        _sums(name)
    op.create_table('rollup_zones',
                    sa.Column('location_id', sa.String(64), nullable=False),
                    sa.Column('zone', sa.String(64), nullable=False),
                    sa.PrimaryKeyConstraint('location_id', name='pk_rollup_zones'))
    op.create_table('rollup_categories',
                    sa.Column('sku', sa.String(64), nullable=False),
                    sa.Column('category', sa.String(100), nullable=True),
                    sa.PrimaryKeyConstraint('sku', name='pk_rollup_categories'))
    fold(op.get_bind(), limit=None)


def downgrade() -> None:
    for name in ('rollup_categories', 'rollup_zones', *reversed(SUMS)):
        op.drop_table(name)
    for table in ('sale_returns', 'sales'):
        op.drop_index(f'ix_{table}_rollup_waiting', table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('rollup_state')
