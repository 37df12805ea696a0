"""On PostgreSQL, the ledger, the event log and sales become tables partitioned by month.

``stock_movements`` (on ``occurred_at``), ``events`` (on ``logged_at``, the relay's clock,
which grows with the ids it assigns) and ``sales`` (on ``occurred_at``) are rebuilt as
RANGE-partitioned tables: one partition for each month from the oldest row's to three
months past the current one, a default partition for rows no month covers, every row
copied over, then the same indexes, constraints and sequence as before, under the same
names. PostgreSQL requires a partitioned table's primary key to hold the partition key,
so the primary keys become (id, time); the index of each still leads with ``id``, and
lookups by id read it in every partition.

A foreign key must point at a unique key of the partitioned table that holds its partition
key: the references of ``sale_lines`` and ``sale_returns`` to ``sales`` become triggers
that check the same thing (the sale exists, locked against deletion as a foreign key
would; a sale still referenced is not deleted). Event ids stay the relay's, unchanged,
gap-free and in order.

SQLite keeps these tables as they are. The downgrade rebuilds plain tables, with the rows.

Revision ID: 0020
Revises: 0019
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
)

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AHEAD = 3  # months made past the current one (the server and `stockline maintain` go on)
REFERENCES = (('sale_lines', 'fk_sale_lines_sale_id_sales'),
              ('sale_returns', 'fk_sale_returns_sale_id_sales'))
SALE_TRIGGERS = (
    """CREATE FUNCTION sale_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM sales WHERE id = NEW.sale_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key: sale "%" is '
                        'not present in table "sales"', TG_TABLE_NAME, NEW.sale_id
              USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$""",
    """CREATE FUNCTION sale_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'DELETE' OR NEW.id <> OLD.id) AND (
            EXISTS (SELECT 1 FROM sale_lines WHERE sale_id = OLD.id)
            OR EXISTS (SELECT 1 FROM sale_returns WHERE sale_id = OLD.id)) THEN
        RAISE EXCEPTION 'sale "%" is still referenced from sale_lines or sale_returns', OLD.id
              USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$""",
    "CREATE TRIGGER sale_lines_sale_exists BEFORE INSERT OR UPDATE OF sale_id ON sale_lines "
    "FOR EACH ROW EXECUTE FUNCTION sale_exists()",
    "CREATE TRIGGER sale_returns_sale_exists BEFORE INSERT OR UPDATE OF sale_id ON sale_returns "
    "FOR EACH ROW EXECUTE FUNCTION sale_exists()",
    "CREATE TRIGGER sales_unreferenced BEFORE DELETE OR UPDATE OF id ON sales "
    "FOR EACH ROW EXECUTE FUNCTION sale_unreferenced()",
)
DROP_SALE_TRIGGERS = (
    "DROP TRIGGER IF EXISTS sale_lines_sale_exists ON sale_lines",
    "DROP TRIGGER IF EXISTS sale_returns_sale_exists ON sale_returns",
    "DROP TRIGGER IF EXISTS sales_unreferenced ON sales",
    "DROP FUNCTION IF EXISTS sale_exists()",
    "DROP FUNCTION IF EXISTS sale_unreferenced()",
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    for table, _ in REFERENCES:
        conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT fk_{table}_sale_id_sales')
    for table, column in PARTITIONED.items():
        _rebuild(conn, table, f'PARTITION BY RANGE ({column})',
                 key=f'id, {column}', months=_months(conn, table, column))
    for statement in SALE_TRIGGERS:
        conn.exec_driver_sql(statement)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    for statement in DROP_SALE_TRIGGERS:
        conn.exec_driver_sql(statement)
    for table in PARTITIONED:
        _rebuild(conn, table, '', key='id', months=[])
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
