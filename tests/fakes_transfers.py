"""In-memory fake of the transfer repository (see tests/fakes.py for the shared rules).

Transfers live in ``uow.store.table("transfers")`` by id, as deep copies: stored values
are replaced, never mutated, and callers get copies. The constraints of the tables hold:
known locations, positive line quantities, received + cancelled (+ lost) within a
line's quantity, received + returned (+ lost) within a lot's; lots come back in the order
storage reads them (``travel_order``). An update of a missing transfer changes nothing,
as UPDATE ... WHERE.
"""

from __future__ import annotations

import copy
from typing import Any

from stockline.domain.documents import Transfer
from stockline.services.transit import travel_order


class IntegrityError(Exception):
    """What the database would refuse (tests.fakes has its own: it imports this module)."""


class FakeTransfers:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _rows(self) -> dict[str, Transfer]:
        rows: dict[str, Transfer] = self._uow.store.table("transfers")
        return rows

    def _check(self, transfer: Transfer) -> Transfer:
        locations = self._uow.store.locations
        for code in (transfer.from_location_id, transfer.to_location_id):
            if code not in locations:
                raise IntegrityError(f"FOREIGN KEY constraint failed: location {code}")
        for line in transfer.lines:
            if line.quantity <= 0:
                raise IntegrityError("CHECK constraint failed: transfer_lines.quantity_positive")
            if (line.received_quantity < 0 or line.cancelled_quantity < 0
                    or line.received_quantity + line.cancelled_quantity > line.quantity):
                raise IntegrityError("CHECK constraint failed: transfer_lines.within_quantity")
            if line.lost_quantity < 0 or line.in_transit < 0:
                raise IntegrityError(
                    "CHECK constraint failed: transfer_lines.settled_within_quantity")
            if len({lot.lot for lot in line.lots}) != len(line.lots):
                raise IntegrityError("UNIQUE constraint failed: transfer_line_lots")
            for lot in line.lots:
                if lot.received_quantity + lot.returned_quantity > lot.quantity:
                    raise IntegrityError(
                        "CHECK constraint failed: transfer_line_lots.within_quantity")
                if lot.lost_quantity < 0 or lot.in_transit < 0:
                    raise IntegrityError(
                        "CHECK constraint failed: transfer_line_lots.settled_within_quantity")
        stored = copy.deepcopy(transfer)
        for line in stored.lines:
            line.lots = travel_order(line.lots)
        return stored

    async def add(self, transfer: Transfer) -> None:
        if transfer.id in self._rows():
            raise IntegrityError(f"duplicate transfer id {transfer.id}")
        self._rows()[transfer.id] = self._check(transfer)

    async def get(self, transfer_id: str, *, for_update: bool = False) -> Transfer | None:
        transfer = self._rows().get(transfer_id)
        return copy.deepcopy(transfer) if transfer else None

    async def update(self, transfer: Transfer) -> None:
        stored = self._rows().get(transfer.id)
        if stored is None:
            return
        # Only what the SQL adapter writes: status, timestamps, the remainder decision,
        # received/cancelled/returned/lost.
        changed = copy.deepcopy(stored)
        changed.status, changed.updated_at = transfer.status, transfer.updated_at
        changed.received_at, changed.cancelled_at = transfer.received_at, transfer.cancelled_at
        changed.closed_at, changed.remainder = transfer.closed_at, transfer.remainder
        given = {line.line_no: line for line in transfer.lines}
        for line in changed.lines:
            new = given.get(line.line_no)
            if new is None:
                continue
            line.received_quantity = new.received_quantity
            line.cancelled_quantity = new.cancelled_quantity
            line.lost_quantity = new.lost_quantity
            new_lots = {lot.lot: lot for lot in new.lots}
            for lot in line.lots:
                if lot.lot in new_lots:
                    lot.received_quantity = new_lots[lot.lot].received_quantity
                    lot.returned_quantity = new_lots[lot.lot].returned_quantity
                    lot.lost_quantity = new_lots[lot.lot].lost_quantity
        self._rows()[transfer.id] = self._check(changed)
