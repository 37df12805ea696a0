"""A batch of sales written to PostgreSQL in one statement.

The levels' new stock, the sales, their lines, the ledger entries and the outbox events
go in one round trip: data-modifying CTEs over ``unnest`` of one array per column. A batch
holds its levels' row locks from ``lock_many`` to the commit, so every round trip in
between is time other batches of a hot SKU wait; this makes it one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters import rows
from stockline.domain.events import Event
from stockline.domain.model import LedgerEntry, Level, Sale

_STATEMENT = """
WITH levels AS (
    UPDATE inventory_levels AS l
    SET on_hand = v.on_hand, reserved = v.reserved, version = v.version,
        updated_at = v.updated_at
    FROM unnest($1::varchar[], $2::varchar[], $3::bigint[], $4::bigint[], $5::bigint[],
                $6::timestamptz[]) AS v(location_id, sku, on_hand, reserved, version,
                                        updated_at)
    WHERE l.location_id = v.location_id AND l.sku = v.sku
    RETURNING 1
), new_sales AS (
    INSERT INTO sales (id, location_id, status, channel, payment_status, external_ref,
                       customer_ref, currency, total_amount, units, actor, occurred_at,
                       created_at, fulfillment_status)
    SELECT * FROM unnest($7::varchar[], $8::varchar[], $9::varchar[], $10::varchar[],
                         $11::varchar[], $12::varchar[], $13::varchar[], $14::varchar[],
                         $15::bigint[], $16::bigint[], $17::varchar[], $18::timestamptz[],
                         $19::timestamptz[], $42::varchar[])
    RETURNING 1
), new_lines AS (
    INSERT INTO sale_lines (sale_id, line_no, sku, quantity, unit_price_amount)
    SELECT * FROM unnest($20::varchar[], $21::integer[], $22::varchar[], $23::bigint[],
                         $24::bigint[])
    RETURNING 1
), entries AS (
    INSERT INTO stock_movements (location_id, sku, lot, delta, balance_after, type, reason,
                                 reference, actor, note, occurred_at, recorded_at)
    SELECT * FROM unnest($25::varchar[], $26::varchar[], $27::varchar[], $28::bigint[],
                         $29::bigint[], $30::varchar[], $31::varchar[], $32::varchar[],
                         $33::varchar[], $34::varchar[], $35::timestamptz[],
                         $36::timestamptz[])
    RETURNING 1
), events AS (
    INSERT INTO outbox (type, location_id, sku, payload, occurred_at, traceparent)
    SELECT e.*, $43::varchar FROM unnest($37::varchar[], $38::varchar[], $39::varchar[],
                                          $40::text[], $41::timestamptz[]) AS e
    RETURNING 1
)
SELECT (SELECT count(*) FROM levels), (SELECT count(*) FROM new_sales),
       (SELECT count(*) FROM new_lines), (SELECT count(*) FROM entries),
       (SELECT count(*) FROM events)
"""


def _columns(records: Sequence[dict[str, Any]], names: Sequence[str]) -> list[list[Any]]:
    return [[record[name] for record in records] for name in names]


async def write_sales_batch(conn: AsyncConnection, levels: Sequence[Level],
                            made: Sequence[tuple[Sale, str | None]],
                            entries: Sequence[LedgerEntry], events: Sequence[Event],
                            traceparent: str | None = None) -> None:
    sale_rows = [{**rows.sale_values(sale), "customer_ref": ref} for sale, ref in made]
    line_rows = [{"sale_id": sale.id, "line_no": n, "sku": line.sku,
                  "quantity": line.quantity, "unit_price_amount": line.unit_price.units}
                 for sale, _ in made for n, line in enumerate(sale.lines, start=1)]
    entry_rows = [rows.ledger_values(e) for e in entries]
    event_rows = [{"type": e.type, "location_id": e.location_id, "sku": e.sku,
                   "payload": orjson.dumps(e.data()).decode(), "occurred_at": e.occurred_at}
                  for e in events]
    level_rows = [{"location_id": lv.location_id, "sku": lv.sku, "on_hand": lv.on_hand,
                   "reserved": lv.reserved, "version": lv.version,
                   "updated_at": lv.updated_at} for lv in levels]
    arguments = [
        *_columns(level_rows, ("location_id", "sku", "on_hand", "reserved", "version",
                               "updated_at")),
        *_columns(sale_rows, ("id", "location_id", "status", "channel", "payment_status",
                              "external_ref", "customer_ref", "currency", "total_amount",
                              "units", "actor", "occurred_at", "created_at")),
        *_columns(line_rows, ("sale_id", "line_no", "sku", "quantity", "unit_price_amount")),
        *_columns(entry_rows, ("location_id", "sku", "lot", "delta", "balance_after", "type",
                               "reason", "reference", "actor", "note", "occurred_at",
                               "recorded_at")),
        *_columns(event_rows, ("type", "location_id", "sku", "payload", "occurred_at")),
        *_columns(sale_rows, ("fulfillment_status",)),  # $42: added after the others
        traceparent,  # $43: every outbox row's trace context (None: not traced)
    ]
    counts = (await conn.exec_driver_sql(_STATEMENT, tuple(arguments))).one()
    expected = (len(level_rows), len(sale_rows), len(line_rows), len(entry_rows),
                len(event_rows))
    if tuple(counts) != expected:  # a level vanished under its lock: never expected
        raise RuntimeError(f"batch write wrote {tuple(counts)} rows, not {expected}")
