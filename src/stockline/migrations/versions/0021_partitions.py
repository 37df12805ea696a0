"""On PostgreSQL, the ledger, the event log and sales become tables partitioned by month.

``stock_movements`` (on ``occurred_at``) and ``events`` (on ``logged_at``, the relay's
clock, which grows with the ids it assigns) are rebuilt as RANGE-partitioned tables: one
partition for each month from the oldest row's to three months past the current one, a
default partition for rows no month covers, every row copied over, then the same indexes,
constraints and sequence as before, under the same names. PostgreSQL requires a
partitioned table's primary key to hold the partition key, so their primary keys become
(id, time).

``sales`` is partitioned on its id, whose leading 48 bits are the milliseconds of its
creation (``domain/ids.py``): a month's partition holds the ids from the month's first
possible id to the next month's, and the months follow ``created_at``. Its primary key stays
``id``, a lookup by id reads one partition, and ``sale_lines`` and ``sale_returns`` keep
their foreign keys to it (dropped while the table is rebuilt, then made again). A row
goes where its id sorts, whatever the shape of the id (the default partition when no month
holds it); a lookup reads the partition the same comparison picks. Event ids stay the
relay's, unchanged, gap-free and in order.

SQLite keeps these tables as they are. The downgrade rebuilds plain tables, with the rows.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from stockline.adapters.partitions import (
    PARTITIONED,
    Month,
    add_months,
    create_default_sql,
    create_month_sql,
    month_of,
    time_column,
)

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD = 3  # months made past the current one (the server and `stockline maintain` go on)
REFERENCES = (('sale_lines', 'fk_sale_lines_sale_id_sales'),
              ('sale_returns', 'fk_sale_returns_sale_id_sales'))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    _unreferenced(conn)
    for table, column in PARTITIONED.items():
        key = 'id' if column == 'id' else f'id, {column}'
        _rebuild(conn, table, f'PARTITION BY RANGE ({column})', key=key,
                 months=_months(conn, table, time_column(table)))
    _referenced(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    _unreferenced(conn)
    for table in PARTITIONED:
        _rebuild(conn, table, '', key='id', months=[])
    _referenced(conn)


def _unreferenced(conn: sa.Connection) -> None:
    for table, name in REFERENCES:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT {name}')


def _referenced(conn: sa.Connection) -> None:
    for table, name in REFERENCES:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT {name} '
                             'FOREIGN KEY (sale_id) REFERENCES sales (id)')


def _months(conn: sa.Connection, table: str, column: str) -> list[Month]:
    """Every month from the oldest row's to AHEAD months past now (or the newest row's)."""
    oldest, newest = conn.execute(sa.text(f'SELECT min({column}), max({column}) FROM {table}')
                                  ).one()
    now = datetime.now(UTC)
    first = month_of((oldest or now).astimezone(UTC))
    last = add_months(month_of(max((newest or now).astimezone(UTC), now)), AHEAD)
    found, month = [], first
    while month <= last:
        found.append(Month(table, month))
        month = add_months(month, 1)
    return found


def _rebuild(conn: sa.Connection, table: str, partition_by: str, *, key: str,
             months: list[Month]) -> None:
    """Copy ``table`` into a new table (partitioned by ``partition_by``, or plain), then
    put the new one in its place with the old one's indexes, constraints and sequence."""
    indexes, constraints = _shape(conn, table)
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"),
                            {'t': table}).scalar()
    new = f'{table}_rebuilt'
    conn.exec_driver_sql(f'CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS) {partition_by}')
    for part in months:
        conn.exec_driver_sql(create_month_sql(part, parent=new))
    if partition_by:
        conn.exec_driver_sql(create_default_sql(table, parent=new))
    conn.exec_driver_sql(f'INSERT INTO {new} SELECT * FROM {table}')
    if sequence:
        conn.exec_driver_sql(f'ALTER SEQUENCE {sequence} OWNED BY NONE')
    conn.exec_driver_sql(f'DROP TABLE {table}')
    conn.exec_driver_sql(f'ALTER TABLE {new} RENAME TO {table}')
    conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})')
    for definition in indexes:
        conn.exec_driver_sql(definition)
    for name, definition in constraints:
        conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT {name} {definition}')
    if sequence:
        conn.exec_driver_sql(f'ALTER SEQUENCE {sequence} OWNED BY {table}.id')
    conn.exec_driver_sql(f'ANALYZE {table}')


def _shape(conn: sa.Connection, table: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The definitions of ``table``'s indexes (those no constraint makes) and of its check
    and foreign key constraints."""
    indexes = conn.execute(sa.text(
        'SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() '
        'AND tablename = :t AND indexname NOT IN '
        '(SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t)) '
        'ORDER BY indexname'), {'t': table}).scalars().all()
    constraints = conn.execute(sa.text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(:t) AND contype IN ('c', 'f') ORDER BY conname"),
        {'t': table}).all()
    # An index of a partitioned table is defined ON ONLY the parent; rebuilt, on the whole.
    return ([d.replace(' ON ONLY ', ' ON ', 1) for d in indexes],
            [(str(n), str(d)) for n, d in constraints])
