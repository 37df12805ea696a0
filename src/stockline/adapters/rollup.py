"""Folding sales and returns into the sales report's rollup, in the background, off the
sale path.

A sale (a return) is written as it always was (``rollup_state`` 0 by the column's default:
no trigger, no shared row touched by its transaction). A fold, one transaction, takes a
batch of waiting sales and returns (state 2, which only it can see), adds their sums to
the rollup tables (rollup_sums.py), and marks them folded (1): a reader sees each either
waiting, in the sales tables, or folded, in the sums, never both and never neither. Folds
run one at a time (an advisory lock on PostgreSQL, the write lock on SQLite).

Sums keep the zone and category they were made with (``rollup_zones``,
``rollup_categories``). Before folding, a fold takes out of the sums, with those, every
folded sale and return of a location whose zone changed or with a line of a product whose
category changed, and sets them waiting again: they are folded anew with the new ones.
Until then the report sees the difference and reads the sales tables instead.
"""

from __future__ import annotations

import structlog
from sqlalchemy import ColumnElement, Connection, Table, exists, func, insert, select, union
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.rollup_sums import add_returns, add_sales, drop_empty, folding
from stockline.adapters.tables import (
    folded,
    locations,
    not_folded,
    products,
    rollup_categories,
    rollup_zones,
    sale_lines,
    sale_return_lines,
    sale_returns,
    sales,
    zone_key,
)
from stockline.adapters.tables.rollups import FOLDED, FOLDING, WAITING

S, SL, R, RL, P, LOC = (sales.c, sale_lines.c, sale_returns.c, sale_return_lines.c,
                        products.c, locations.c)
RZ, RC = rollup_zones.c, rollup_categories.c
# Any constant: the advisory lock that has PostgreSQL run one fold at a time.
_LOCK = 7_301_017
log = structlog.get_logger("stockline.rollup")


def fold(conn: Connection, *, limit: int | None) -> int:
    """Fold up to ``limit`` waiting sales and as many returns (None: all of them), first
    taking out of the sums what was summed with a zone or a category that has changed
    since. How many sales and returns were folded; in the caller's transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK)))
    _unfold_changed(conn)
    sold = _claim(conn, sales, S.occurred_at, limit)
    taken = _claim(conn, sale_returns, R.created_at, limit)
    if sold or taken:
        _record(conn)
    if sold:
        add_sales(conn, sign=1)
        _settle(conn, sales, FOLDED)
    if taken:
        add_returns(conn, sign=1)
        _settle(conn, sale_returns, FOLDED)
    return sold + taken


async def fold_waiting(engine: AsyncEngine, *, batch: int, batches: int) -> int:
    """Up to ``batches`` folds of ``batch`` sales (and returns), each its own short
    transaction (on SQLite a fold holds the one write lock: sales wait for it)."""
    total = 0
    for _ in range(batches):
        async with engine.begin() as conn:
            done = await conn.run_sync(lambda sync: fold(sync, limit=batch))
        total += done
        if done < batch:
            break
    if total:
        log.info("sales_folded", sales_and_returns=total)
    return total


def _claim(conn: Connection, table: Table, when: ColumnElement[object],
           limit: int | None) -> int:
    """Take the oldest waiting rows (state 2, seen by this transaction only)."""
    ids = select(table.c.id).where(not_folded(table), table.c.rollup_state == WAITING)
    if limit is not None:
        ids = ids.order_by(when).limit(limit)
    result = conn.execute(table.update().where(table.c.id.in_(ids.scalar_subquery()))
                          .values(rollup_state=FOLDING))
    return int(result.rowcount or 0)


def _settle(conn: Connection, table: Table, state: int) -> None:
    conn.execute(table.update().where(*folding(table)).values(rollup_state=state))


def _unfold_changed(conn: Connection) -> None:
    recorded = dict(conn.execute(select(RZ.location_id, RZ.zone)).all())
    now = {code: zone_key(tz) for code, tz in conn.execute(select(LOC.code, LOC.time_zone))}
    moved = sorted(code for code, zone in recorded.items() if now.get(code, zone) != zone)
    renamed = sorted(conn.execute(
        select(RC.sku).select_from(rollup_categories.outerjoin(products, P.sku == RC.sku))
        .where(P.category.is_distinct_from(RC.category))).scalars())
    if not moved and not renamed:
        return
    sold = exists().where(SL.sale_id == S.id, SL.sku.in_(renamed))
    conn.execute(sales.update().where(folded(), S.location_id.in_(moved) | sold)
                 .values(rollup_state=FOLDING))
    taken = (exists().where(RL.return_id == R.id, RL.sku.in_(renamed))
             | exists().where(S.id == R.sale_id, S.location_id.in_(moved)))
    conn.execute(sale_returns.update().where(folded(sale_returns), taken)
                 .values(rollup_state=FOLDING))
    add_sales(conn, sign=-1)
    add_returns(conn, sign=-1)
    _settle(conn, sales, WAITING)
    _settle(conn, sale_returns, WAITING)
    drop_empty(conn)
    conn.execute(rollup_zones.delete().where(RZ.location_id.in_(moved)))
    conn.execute(rollup_categories.delete().where(RC.sku.in_(renamed)))
    log.info("sales_unfolded", locations=moved, skus=renamed)


def _record(conn: Connection) -> None:
    """The zone of each location and the category of each SKU being folded, where none is
    kept yet."""
    codes = union(select(S.location_id).where(*folding(sales)),
                  select(S.location_id).join(sale_returns, R.sale_id == S.id)
                  .where(*folding(sale_returns))).subquery()
    new = conn.execute(select(LOC.code, LOC.time_zone).where(
        LOC.code.in_(select(codes.c.location_id)),
        ~exists().where(RZ.location_id == LOC.code))).all()
    if new:
        conn.execute(insert(rollup_zones), [{"location_id": code, "zone": zone_key(tz)}
                                            for code, tz in new])
    skus = union(select(SL.sku).join(sales, S.id == SL.sale_id).where(*folding(sales)),
                 select(RL.sku).join(sale_returns, R.id == RL.return_id)
                 .where(*folding(sale_returns))).subquery()
    conn.execute(insert(rollup_categories).from_select(
        ["sku", "category"], select(skus.c.sku, P.category)
        .select_from(skus.outerjoin(products, P.sku == skus.c.sku))
        .where(~exists().where(RC.sku == skus.c.sku))))
