"""Reconciliation checks: set-based SQL over key ranges of levels, on both backends.

Levels are checked in chunks of whole locations (a range ``first <= location_id <= last``
holding about ``chunk`` levels), each check one statement per chunk that returns only the
levels that drift. One statement sees one snapshot (PostgreSQL at READ COMMITTED, SQLite in
WAL), and every write changes a level together with its ledger, documents and outbox rows in
one transaction, so a check never sees half a change: a healthy, busy system shows no drift.

What the checks prove, for every level checked:

- ``on_hand_ledger``: ``on_hand`` is the sum of the level's ledger deltas (no ledger rows:
  0); ``ledger_balance``: the level's last ledger row (highest id) has ``balance_after``
  equal to ``on_hand``.
- ``reserved_reservations``: ``reserved`` is the sum of the line quantities of the level's
  ``active`` reservations (committed, released and expired ones hold nothing).
- ``in_transit_transfers``: ``in_transit`` is the sum over lines of transfers to the level's
  location still ``in_transit`` or ``partially_received`` of ``quantity - received -
  cancelled - lost`` (a closed or cancelled transfer carries nothing: what a close wrote
  off left ``in_transit`` with it, and its ``transfer_lost`` ledger rows change no
  ``on_hand``, so ``on_hand_ledger`` holds through a loss).
- ``lots_total``: a lotted level's ``on_hand`` is the sum of its lots' ``on_hand``.
- ``incoming_orders``: ``incoming`` is the sum over lines of ``ordered`` or
  ``partially_received`` purchase orders for the location of ``quantity - received``.
- ``event_missing``: for a level with no row waiting in the outbox, the newest
  ``inventory.changed`` event in the log carries the level's current ``version``; and, while
  the log was never pruned, a level past its first version (every change after creation
  emits the event) has such an event at all. Levels whose events were all pruned are not
  judged. A level with rows still in the outbox is left to the next check:
- ``outbox_stuck``: no outbox row is older than the grace period (the relay moves rows
  within a second or so): together, every committed change has its event, or is about to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stockline.adapters.tables import (
    events,
    inventory_levels,
    inventory_lots,
    outbox,
    purchase_order_lines,
    purchase_orders,
    relay_state,
    reservation_lines,
    reservations,
    stock_movements,
    transfer_lines,
    transfers,
)
from stockline.domain.reconcile import (
    Check,
    Drift,
    ReconcileProgress,
    ReconcileReport,
)
from stockline.domain.states import PurchaseOrderStatus, ReservationStatus, TransferStatus

L = inventory_levels.c
GRACE = timedelta(seconds=60)
CHUNK_LEVELS = 100_000


@dataclass(frozen=True, slots=True)
class _Chunk:
    first: str  # location ids, inclusive
    last: str
    levels: int


# One check's drifting rows: (location_id, sku, expected, actual).
_Rows = Sequence[Any]


class Reconciler:
    """Runs the checks on the read engine; see the module's docstring for what they prove."""

    def __init__(self, engine: AsyncEngine, *, chunk: int = CHUNK_LEVELS,
                 grace: timedelta = GRACE) -> None:
        self._engine, self._chunk, self._grace = engine, chunk, grace
        self._postgres = engine.dialect.name == "postgresql"

    async def run(self, *, now: datetime, location_id: str | None = None
                  ) -> AsyncIterator[ReconcileProgress | ReconcileReport]:
        """Progress after each chunk of levels, then the report (the last item)."""
        report = ReconcileReport()
        async with self._engine.connect() as conn:
            chunks = await self._plan(conn, location_id)
            total = sum(c.levels for c in chunks)
            yield ReconcileProgress(checked=0, of=total)
            pruned = (await conn.execute(select(func.max(relay_state.c.pruned_through))
                                         )).scalar()
            never_pruned = not pruned
            for chunk in chunks:
                await self._check_chunk(conn, chunk, report, never_pruned=never_pruned)
                report.checked += chunk.levels
                await conn.commit()  # one short read transaction per chunk
                yield ReconcileProgress(checked=report.checked, of=total)
            for row in await self._stuck_outbox(conn, now, location_id):
                report.add(Drift(
                    check=Check.OUTBOX_STUCK, location_id=row.location_id, sku=row.sku,
                    expected=0, actual=int(row.rows),
                    detail=f"{row.rows} outbox row(s) older than "
                           f"{int(self._grace.total_seconds())} s (oldest id {row.oldest}, "
                           f"from {row.since.isoformat()}): the relay has not moved them "
                           "into the event log"))
        yield report

    async def _plan(self, conn: AsyncConnection, location_id: str | None) -> list[_Chunk]:
        stmt = (select(L.location_id, func.count().label("n")).group_by(L.location_id)
                .order_by(L.location_id))
        if location_id is not None:
            stmt = stmt.where(L.location_id == location_id)
        chunks: list[_Chunk] = []
        first, last, count = None, None, 0
        for row in (await conn.execute(stmt)).all():
            if first is None:
                first = row.location_id
            last, count = row.location_id, count + int(row.n)
            if count >= self._chunk:
                chunks.append(_Chunk(first, last, count))
                first, count = None, 0
        if first is not None and last is not None:
            chunks.append(_Chunk(first, last, count))
        return chunks

    async def _check_chunk(self, conn: AsyncConnection, chunk: _Chunk,
                           report: ReconcileReport, *, never_pruned: bool) -> None:
        for check, stmt in self._statements(chunk, never_pruned=never_pruned):
            for row in (await conn.execute(stmt)).all():
                report.add(_drift(check, row))

    def _statements(self, chunk: _Chunk, *, never_pruned: bool
                    ) -> list[tuple[Check, Select[Any]]]:
        return [
            *self._ledger(chunk),
            (Check.RESERVED_RESERVATIONS, self._reserved(chunk)),
            (Check.IN_TRANSIT_TRANSFERS, self._in_transit(chunk)),
            (Check.LOTS_TOTAL, self._lots(chunk)),
            (Check.INCOMING_ORDERS, self._incoming(chunk)),
            (Check.EVENT_MISSING, self._events(chunk, never_pruned=never_pruned)),
        ]

    # -- the checks: each selects (location_id, sku, expected, actual) of drifting levels --
    def _ledger(self, chunk: _Chunk) -> list[tuple[Check, Select[Any]]]:
        m = stock_movements.c
        sums = (select(m.location_id, m.sku, func.sum(m.delta).label("total"),
                       func.max(m.id).label("last_id"))
                .where(_within(m.location_id, chunk)).group_by(m.location_id, m.sku)
                .subquery("ledger"))
        last = stock_movements.alias("last_row")
        total = func.coalesce(sums.c.total, 0)
        on_ledger = and_(sums.c.location_id == L.location_id, sums.c.sku == L.sku)
        by_sum = (select(L.location_id, L.sku, total.label("expected"),
                         L.on_hand.label("actual"))
                  .select_from(inventory_levels.outerjoin(sums, on_ledger))
                  .where(_within(L.location_id, chunk), total != L.on_hand))
        by_last = (select(L.location_id, L.sku, last.c.balance_after.label("expected"),
                          L.on_hand.label("actual"))
                   .select_from(inventory_levels.join(sums, on_ledger)
                                .join(last, last.c.id == sums.c.last_id))
                   .where(_within(L.location_id, chunk), last.c.balance_after != L.on_hand))
        return [(Check.ON_HAND_LEDGER, by_sum), (Check.LEDGER_BALANCE, by_last)]

    def _reserved(self, chunk: _Chunk) -> Select[Any]:
        r, rl = reservations.c, reservation_lines.c
        held = (select(r.location_id, rl.sku, func.sum(rl.quantity).label("total"))
                .select_from(reservations.join(reservation_lines, rl.reservation_id == r.id))
                .where(r.status == ReservationStatus.ACTIVE.value, _within(r.location_id, chunk))
                .group_by(r.location_id, rl.sku).subquery("held"))
        return _compare(held, L.reserved, chunk)

    def _in_transit(self, chunk: _Chunk) -> Select[Any]:
        t, tl = transfers.c, transfer_lines.c
        live = [TransferStatus.IN_TRANSIT.value, TransferStatus.PARTIALLY_RECEIVED.value]
        carried = (select(t.to_location_id.label("location_id"), tl.sku,
                          func.sum(tl.quantity - tl.received_quantity - tl.cancelled_quantity
                                   - tl.lost_quantity)
                          .label("total"))
                   .select_from(transfers.join(transfer_lines, tl.transfer_id == t.id))
                   .where(t.status.in_(live), _within(t.to_location_id, chunk))
                   .group_by(t.to_location_id, tl.sku).subquery("carried"))
        return _compare(carried, L.in_transit, chunk)

    def _lots(self, chunk: _Chunk) -> Select[Any]:
        lc = inventory_lots.c
        in_lots = (select(lc.location_id, lc.sku, func.sum(lc.on_hand).label("total"))
                   .where(_within(lc.location_id, chunk)).group_by(lc.location_id, lc.sku)
                   .subquery("in_lots"))
        return _compare(in_lots, L.on_hand, chunk, L.lotted.is_(True))

    def _incoming(self, chunk: _Chunk) -> Select[Any]:
        po, pl = purchase_orders.c, purchase_order_lines.c
        open_ = [PurchaseOrderStatus.ORDERED.value, PurchaseOrderStatus.PARTIALLY_RECEIVED.value]
        awaited = (select(po.location_id, pl.sku,
                          func.sum(pl.quantity - pl.received_quantity).label("total"))
                   .select_from(purchase_orders.join(purchase_order_lines,
                                                     pl.purchase_order_id == po.id))
                   .where(po.status.in_(open_), _within(po.location_id, chunk))
                   .group_by(po.location_id, pl.sku).subquery("awaited"))
        return _compare(awaited, L.incoming, chunk)

    def _events(self, chunk: _Chunk, *, never_pruned: bool) -> Select[Any]:
        e = events.c
        newest = (select(e.location_id, e.sku, func.max(e.id).label("last_id"))
                  .where(e.type == "inventory.changed", _within(e.location_id, chunk))
                  .group_by(e.location_id, e.sku).subquery("newest"))
        event = events.alias("event")
        version = self._payload_version(event.c.payload)
        # Levels with events still in the outbox are left to a later run. Grouped once per
        # chunk and joined: a subquery per level scanned the whole outbox for each (minutes
        # on a freshly loaded database whose relay has not yet run).
        o = outbox.c
        waiting = (select(o.location_id, o.sku).where(_within(o.location_id, chunk))
                   .group_by(o.location_id, o.sku).subquery("waiting"))
        joined = (inventory_levels
                  .outerjoin(newest, and_(newest.c.location_id == L.location_id,
                                          newest.c.sku == L.sku))
                  .outerjoin(event, event.c.id == newest.c.last_id)
                  .outerjoin(waiting, and_(waiting.c.location_id == L.location_id,
                                           waiting.c.sku == L.sku)))
        stale = and_(newest.c.last_id.is_not(None), version != L.version)
        missing = and_(newest.c.last_id.is_(None), L.version > 1)
        return (select(L.location_id, L.sku, L.version.label("expected"),
                       version.label("actual"))
                .select_from(joined)
                .where(_within(L.location_id, chunk), waiting.c.location_id.is_(None),
                       or_(stale, missing) if never_pruned else stale))

    def _payload_version(self, payload: ColumnElement[str]) -> ColumnElement[int]:
        if self._postgres:
            return cast(cast(payload, JSONB)["version"].astext, BigInteger)
        return cast(func.json_extract(payload, "$.version"), BigInteger)

    async def _stuck_outbox(self, conn: AsyncConnection, now: datetime,
                            location_id: str | None) -> list[Any]:
        o = outbox.c
        stmt = (select(o.location_id, o.sku, func.count().label("rows"),
                       func.min(o.id).label("oldest"), func.min(o.occurred_at).label("since"))
                .where(o.occurred_at < now - self._grace)
                .group_by(o.location_id, o.sku).order_by(o.location_id, o.sku))
        if location_id is not None:
            stmt = stmt.where(o.location_id == location_id)
        return list((await conn.execute(stmt)).all())


def _within(column: ColumnElement[str], chunk: _Chunk) -> ColumnElement[bool]:
    return column.between(chunk.first, chunk.last)


def _compare(source: Any, kept: ColumnElement[int], chunk: _Chunk,
             *extra: ColumnElement[bool]) -> Select[Any]:
    """Levels of the chunk whose ``kept`` number differs from ``source``'s total (none: 0)."""
    total = func.coalesce(source.c.total, 0)
    return (select(L.location_id, L.sku, total.label("expected"), kept.label("actual"))
            .select_from(inventory_levels.outerjoin(
                source, and_(source.c.location_id == L.location_id, source.c.sku == L.sku)))
            .where(_within(L.location_id, chunk), total != kept, *extra))


_DETAILS = {
    Check.ON_HAND_LEDGER: "on_hand is {actual} but the ledger's deltas sum to {expected}",
    Check.LEDGER_BALANCE: "on_hand is {actual} but the last ledger row's balance_after is "
                          "{expected}",
    Check.RESERVED_RESERVATIONS: "reserved is {actual} but its active reservations hold "
                                 "{expected}",
    Check.IN_TRANSIT_TRANSFERS: "in_transit is {actual} but open transfers to it carry "
                                "{expected}",
    Check.LOTS_TOTAL: "on_hand is {actual} but its lots hold {expected}",
    Check.INCOMING_ORDERS: "incoming is {actual} but open purchase orders await {expected}",
}


def _drift(check: Check, row: Any) -> Drift:
    expected = int(row.expected)
    actual = None if row.actual is None else int(row.actual)
    if check is Check.EVENT_MISSING:
        detail = (f"the level is at version {expected} but no inventory.changed event is "
                  "logged for it" if actual is None else
                  f"the level is at version {expected} but its newest inventory.changed "
                  f"event carries version {actual}")
    else:
        detail = _DETAILS[check].format(expected=expected, actual=actual)
    return Drift(check=check, location_id=row.location_id, sku=row.sku, expected=expected,
                 actual=actual, detail=detail)
