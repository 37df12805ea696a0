"""Levels as they were at a past instant, read back from what was recorded then.

``on_hand`` is the ledger's: the ``balance_after`` of the level's last entry recorded at or
before the instant. Entries count from ``recorded_at``, in the ledger's own order (its id),
not from ``occurred_at``: a back-dated sale took its units off the shelf's count when it was
recorded, and ``balance_after`` is a running balance in recorded order, so only the
recorded order gives a balance that the level really had. The balance is the level's
(a lotted level writes one entry per lot, each carrying the level's running total).

``reserved`` is the sum of the holds alive then: created by the instant and, if closed
since (committed, released, expired), closed after it (a hold changes once, from active,
and its ``updated_at`` is that change). ``in_transit`` is what transfers to the location had
shipped by then, less what it had received of them (its ``transfer_in`` ledger entries) and
what had been cancelled. What nothing records over time (reorder settings, purchase orders
on their way, the level's version) is not answered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, tuple_

from stockline.adapters.queries.base import QueryBase
from stockline.adapters.tables import (
    reservation_lines,
    reservations,
    stock_movements,
    transfer_lines,
    transfers,
)
from stockline.domain.states import ReservationStatus
from stockline.domain.values import MovementType

M, R, RL, T, TL = (stock_movements.c, reservations.c, reservation_lines.c, transfers.c,
                   transfer_lines.c)
Key = tuple[str, str]  # (location_id, sku)
# Keys asked for at once: a page of the list is at most 500 levels.
CHUNK = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class PastLevel:
    """What is known of one level at ``as_of``."""

    location_id: str
    sku: str
    as_of: datetime
    on_hand: int
    reserved: int
    in_transit: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class HistoryQueries(QueryBase):
    async def levels_at(self, keys: Sequence[Key], as_of: datetime) -> list[PastLevel]:
        """The levels ``keys`` as they were at ``as_of``, in the order given (a level with
        nothing recorded by then: zeros)."""
        on_hand: dict[Key, int] = {}
        reserved: dict[Key, int] = defaultdict(int)
        in_transit: dict[Key, int] = defaultdict(int)
        for start in range(0, len(keys), CHUNK):
            chunk = list(keys[start:start + CHUNK])
            on_hand.update(await self._balances(chunk, as_of))
            for key, held in await self._held(chunk, as_of):
                reserved[key] += held
            for key, moving in await self._travelling(chunk, as_of):
                in_transit[key] += moving
        return [PastLevel(location_id=loc, sku=sku, as_of=as_of,
                          on_hand=on_hand.get((loc, sku), 0), reserved=reserved[loc, sku],
                          in_transit=in_transit[loc, sku]) for loc, sku in keys]

    async def _balances(self, keys: list[Key], as_of: datetime) -> dict[Key, int]:
        last = (select(func.max(M.id).label("id"))
                .where(_keys(M.location_id, M.sku, keys), M.recorded_at <= as_of)
                .group_by(M.location_id, M.sku).subquery())
        stmt = select(M.location_id, M.sku, M.balance_after).join(last, M.id == last.c.id)
        return {(r.location_id, r.sku): int(r.balance_after) for r in await self._all(stmt)}

    async def _held(self, keys: list[Key], as_of: datetime) -> list[tuple[Key, int]]:
        alive = or_(R.status == ReservationStatus.ACTIVE.value, R.updated_at > as_of)
        stmt = (select(R.location_id, RL.sku, func.sum(RL.quantity).label("q"))
                .join(reservations, R.id == RL.reservation_id)
                .where(_keys(R.location_id, RL.sku, keys), R.created_at <= as_of, alive)
                .group_by(R.location_id, RL.sku))
        return _sums(await self._all(stmt))

    async def _travelling(self, keys: list[Key], as_of: datetime) -> list[tuple[Key, int]]:
        """Shipped to the location by ``as_of``, less received by then and less what a
        cancel or a close ended by then (sent back: ``cancelled_quantity``; written off:
        ``lost_quantity``)."""
        ended_at = func.coalesce(T.cancelled_at, T.closed_at)
        ended = and_(ended_at.is_not(None), ended_at <= as_of)
        settled = TL.cancelled_quantity + TL.lost_quantity
        shipped = (select(T.to_location_id.label("location_id"), TL.sku,
                          func.sum(TL.quantity - case((ended, settled), else_=0)).label("q"))
                   .join(transfers, T.id == TL.transfer_id)
                   .where(_keys(T.to_location_id, TL.sku, keys), T.created_at <= as_of)
                   .group_by(T.to_location_id, TL.sku))
        received = (select(M.location_id, M.sku, (-func.sum(M.delta)).label("q"))
                    .where(_keys(M.location_id, M.sku, keys), M.recorded_at <= as_of,
                           M.type == MovementType.TRANSFER_IN.value)
                    .group_by(M.location_id, M.sku))
        return _sums(await self._all(shipped)) + _sums(await self._all(received))


def _keys(location: ColumnElement[Any], sku: ColumnElement[Any],
          keys: list[Key]) -> ColumnElement[bool]:
    return tuple_(location, sku).in_(keys)


def _sums(found: list[Any]) -> list[tuple[Key, int]]:
    return [((r.location_id, r.sku), int(r.q or 0)) for r in found]
