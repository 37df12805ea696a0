"""The books' invariants as plain SQL, read straight from the database.

Each check is a query that returns the rows breaking one rule (none when the rule holds),
limited to the locations given, so that a test sharing its database with others looks
only at what it made. ``picture`` reads everything those locations hold, to show that a
refused command changed nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

# name -> query returning the offending rows (empty when the invariant holds)
CHECKS: dict[str, str] = {
    # on_hand is the sum of the level's ledger deltas
    "on_hand == sum of ledger deltas": """
        SELECT l.location_id, l.sku, l.on_hand, COALESCE(SUM(m.delta), 0) AS ledger
        FROM inventory_levels l
        LEFT JOIN stock_movements m ON m.location_id = l.location_id AND m.sku = l.sku
        WHERE l.location_id IN :locs
        GROUP BY l.location_id, l.sku, l.on_hand
        HAVING l.on_hand <> COALESCE(SUM(m.delta), 0)""",
    # no ledger rows for a level that does not exist
    "ledger rows belong to a level": """
        SELECT m.location_id, m.sku, COUNT(*) FROM stock_movements m
        LEFT JOIN inventory_levels l ON l.location_id = m.location_id AND l.sku = m.sku
        WHERE m.location_id IN :locs AND l.sku IS NULL
        GROUP BY m.location_id, m.sku""",
    # every balance_after is the running sum of the deltas, in ledger order
    "balance_after is the running sum": """
        SELECT id, location_id, sku, balance_after, running FROM (
            SELECT id, location_id, sku, balance_after,
                   SUM(delta) OVER (PARTITION BY location_id, sku ORDER BY id
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                                    ) AS running
            FROM stock_movements WHERE location_id IN :locs) AS r
        WHERE balance_after <> running""",
    # ... and the last one is on_hand
    "last balance_after == on_hand": """
        SELECT l.location_id, l.sku, l.on_hand, m.balance_after
        FROM inventory_levels l JOIN stock_movements m
          ON m.location_id = l.location_id AND m.sku = l.sku
        WHERE l.location_id IN :locs
          AND m.id = (SELECT MAX(m2.id) FROM stock_movements m2
                      WHERE m2.location_id = l.location_id AND m2.sku = l.sku)
          AND m.balance_after <> l.on_hand""",
    "available = on_hand - reserved >= 0, nothing negative": """
        SELECT location_id, sku, on_hand, reserved, in_transit, incoming
        FROM inventory_levels
        WHERE location_id IN :locs AND (on_hand - reserved < 0 OR reserved < 0
              OR on_hand < 0 OR in_transit < 0 OR incoming < 0)""",
    # reserved is the sum of the live (active) holds
    "reserved == sum of live reservations": """
        SELECT l.location_id, l.sku, l.reserved, COALESCE(h.held, 0) AS held
        FROM inventory_levels l
        LEFT JOIN (SELECT r.location_id, rl.sku, SUM(rl.quantity) AS held
                   FROM reservations r JOIN reservation_lines rl ON rl.reservation_id = r.id
                   WHERE r.status = 'active' GROUP BY r.location_id, rl.sku) h
          ON h.location_id = l.location_id AND h.sku = l.sku
        WHERE l.location_id IN :locs AND l.reserved <> COALESCE(h.held, 0)""",
    "live reservations have a level": """
        SELECT r.location_id, rl.sku FROM reservations r
        JOIN reservation_lines rl ON rl.reservation_id = r.id
        LEFT JOIN inventory_levels l ON l.location_id = r.location_id AND l.sku = rl.sku
        WHERE r.location_id IN :locs AND r.status = 'active' AND l.sku IS NULL""",
    # in_transit is what the open transfers to the location still carry
    "in_transit == what open transfers carry": """
        SELECT l.location_id, l.sku, l.in_transit, COALESCE(c.carried, 0) AS carried
        FROM inventory_levels l
        LEFT JOIN (SELECT t.to_location_id AS location_id, tl.sku,
                          SUM(tl.quantity - tl.received_quantity - tl.cancelled_quantity
                              - tl.lost_quantity) AS carried
                   FROM transfers t JOIN transfer_lines tl ON tl.transfer_id = t.id
                   WHERE t.status IN ('in_transit', 'partially_received')
                   GROUP BY t.to_location_id, tl.sku) c
          ON c.location_id = l.location_id AND c.sku = l.sku
        WHERE l.location_id IN :locs AND l.in_transit <> COALESCE(c.carried, 0)""",
    "transfer lines add up to their status": """
        SELECT t.id, t.status, tl.sku, tl.quantity, tl.received_quantity,
               tl.cancelled_quantity, tl.lost_quantity
        FROM transfers t JOIN transfer_lines tl ON tl.transfer_id = t.id
        WHERE (t.from_location_id IN :locs OR t.to_location_id IN :locs) AND (
              tl.received_quantity < 0 OR tl.cancelled_quantity < 0 OR tl.lost_quantity < 0
              OR tl.received_quantity + tl.cancelled_quantity + tl.lost_quantity > tl.quantity
              OR (t.status IN ('received', 'cancelled', 'closed')
                  AND tl.received_quantity + tl.cancelled_quantity + tl.lost_quantity
                      <> tl.quantity)
              OR (t.status <> 'closed' AND tl.lost_quantity <> 0)
              OR (t.status = 'in_transit' AND tl.received_quantity <> 0))""",
    "a transfer line's lots add up to the line": """
        SELECT tl.transfer_id, tl.sku FROM transfer_lines tl
        JOIN transfers t ON t.id = tl.transfer_id
        JOIN (SELECT transfer_id, line_no, SUM(quantity) AS q,
                     SUM(received_quantity) AS rq, SUM(returned_quantity) AS cq,
                     SUM(lost_quantity) AS lq
              FROM transfer_line_lots GROUP BY transfer_id, line_no) x
          ON x.transfer_id = tl.transfer_id AND x.line_no = tl.line_no
        WHERE (t.from_location_id IN :locs OR t.to_location_id IN :locs)
          AND (x.q <> tl.quantity OR x.rq <> tl.received_quantity
               OR x.cq <> tl.cancelled_quantity OR x.lq <> tl.lost_quantity)""",
    # a lotted level's on_hand is the sum of its lots
    "lotted on_hand == sum of lots": """
        SELECT l.location_id, l.sku, l.on_hand, COALESCE(SUM(x.on_hand), 0) AS lots
        FROM inventory_levels l
        LEFT JOIN inventory_lots x ON x.location_id = l.location_id AND x.sku = l.sku
        WHERE l.location_id IN :locs AND l.lotted = :yes
        GROUP BY l.location_id, l.sku, l.on_hand
        HAVING l.on_hand <> COALESCE(SUM(x.on_hand), 0)""",
    "lots belong to a lotted level, none negative": """
        SELECT x.location_id, x.sku, x.lot, x.on_hand FROM inventory_lots x
        LEFT JOIN inventory_levels l ON l.location_id = x.location_id AND l.sku = x.sku
        WHERE x.location_id IN :locs AND (x.on_hand < 0 OR l.sku IS NULL OR l.lotted <> :yes)""",
}

# Per lot of a lotted level: its on_hand is the sum of the ledger deltas that name it
# (the unlabelled lot, '', holds what the level had before its first lot: deltas naming
# no lot). Lots may be deleted once empty, so both sides are gathered and compared.
LOT_LEDGER = """
    SELECT m.location_id, m.sku, COALESCE(m.lot, '') AS lot, SUM(m.delta) AS total
    FROM stock_movements m JOIN inventory_levels l
      ON l.location_id = m.location_id AND l.sku = m.sku
    WHERE m.location_id IN :locs AND l.lotted = :yes
    GROUP BY m.location_id, m.sku, COALESCE(m.lot, '')"""
LOTS = """SELECT location_id, sku, lot, on_hand FROM inventory_lots
          WHERE location_id IN :locs"""

PICTURE: dict[str, str] = {
    "levels": """SELECT location_id, sku, on_hand, reserved, in_transit, incoming, lotted,
                        version FROM inventory_levels WHERE location_id IN :locs
                 ORDER BY location_id, sku""",
    "lots": LOTS + " ORDER BY location_id, sku, lot",
    "ledger": """SELECT id, location_id, sku, lot, delta, balance_after, type
                 FROM stock_movements WHERE location_id IN :locs ORDER BY id""",
    "outbox": "SELECT COUNT(*) FROM outbox WHERE location_id IN :locs",
    "sales": """SELECT id, status FROM sales WHERE location_id IN :locs ORDER BY id""",
    "returns": """SELECT r.id, l.sku, l.quantity FROM sale_returns r
                  JOIN sale_return_lines l ON l.return_id = r.id
                  WHERE r.location_id IN :locs ORDER BY r.id, l.line_no""",
    "reservations": """SELECT id, status, sale_id FROM reservations
                       WHERE location_id IN :locs ORDER BY id""",
    "transfers": """SELECT t.id, t.status, tl.sku, tl.received_quantity,
                           tl.cancelled_quantity
                    FROM transfers t JOIN transfer_lines tl ON tl.transfer_id = t.id
                    WHERE t.from_location_id IN :locs OR t.to_location_id IN :locs
                    ORDER BY t.id, tl.line_no""",
}


async def _rows(engine: AsyncEngine, sql: str, locs: Sequence[str]) -> list[tuple[Any, ...]]:
    query = text(sql)
    if ":locs" in sql:
        query = query.bindparams(bindparam("locs", expanding=True))
    params: dict[str, Any] = {"locs": list(locs)}
    if ":yes" in sql:
        params["yes"] = True
    async with engine.connect() as conn:
        return [tuple(row) for row in (await conn.execute(query, params)).all()]


async def violations(engine: AsyncEngine, locs: Sequence[str]) -> dict[str, list[Any]]:
    """Every broken invariant at these locations, with its offending rows."""
    broken: dict[str, list[Any]] = {}
    for name, sql in CHECKS.items():
        rows = await _rows(engine, sql, locs)
        if rows:
            broken[name] = rows
    ledger = {(loc, sku, lot): int(total)
              for loc, sku, lot, total in await _rows(engine, LOT_LEDGER, locs)}
    lotted = {(loc, sku) for loc, sku, _ in ledger}
    lots = {(loc, sku, lot): int(q) for loc, sku, lot, q in await _rows(engine, LOTS, locs)}
    lot_mismatch = [(key, lots.get(key, 0), ledger.get(key, 0))
                    for key in sorted(set(ledger) | set(lots))
                    if key[:2] in lotted and lots.get(key, 0) != ledger.get(key, 0)]
    if lot_mismatch:
        broken["lot on_hand == sum of its ledger deltas"] = lot_mismatch
    return broken


async def picture(engine: AsyncEngine, locs: Sequence[str]) -> dict[str, list[Any]]:
    """Everything these locations hold: equal pictures mean nothing changed."""
    return {name: await _rows(engine, sql, locs) for name, sql in PICTURE.items()}
