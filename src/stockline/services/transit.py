"""Stock on its way: the level steps of a transfer, and what becomes of what it carries.

A shipment takes units off the origin's ``on_hand`` (ledger ``transfer_out``) and puts
them in the destination's ``in_transit``. From there each unit ends one way: it arrives
(``on_hand`` at the destination, ledger ``transfer_in``), goes back (the origin's
``on_hand``, ledger ``transfer_cancel``), or is written off in transit (ledger
``transfer_lost``, delta 0: ``on_hand`` changes nowhere, the destination's ``in_transit``
falls). So per SKU, the sum over locations of ``on_hand + in_transit`` changes by a
transfer only through its losses, and the transfers' ``lost`` quantities say by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from stockline.domain.documents import Transfer, TransferLine, TransferLot
from stockline.domain.errors import NotFound
from stockline.domain.events import Event
from stockline.domain.lots import LotPiece, split_in_order
from stockline.domain.model import LedgerEntry, Level
from stockline.domain.values import MovementType
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import level_events, put_stock, record_change

Record = tuple[list[LedgerEntry], list[Event]]
Records = list[Record]
# Where the units of a lot went (the column of ``TransferLot`` that counts them).
Outcome = Literal["received", "returned", "lost"]

LOST_REASON = "lost_in_transit"
NOTE_MAX = 500


@dataclass(frozen=True, slots=True)
class Step:
    """One level to change: at the origin (``on_hand``) or the destination (``in_transit``)."""

    location_id: str
    sku: str
    quantity: int
    at_origin: bool


def plan(transfer: Transfer, quantities: dict[str, int]) -> list[Step]:
    """Every level a transfer touches for these quantities, in the global lock order."""
    steps = [Step(loc, sku, q, loc == transfer.from_location_id)
             for sku, q in quantities.items() if q > 0
             for loc in (transfer.from_location_id, transfer.to_location_id)]
    return sorted(steps, key=lambda s: (s.location_id, s.sku))


def travel_order(lots: Sequence[TransferLot]) -> list[TransferLot]:
    """The order a line's lots arrive in: first-expiring first, then by lot code.

    It is the origin's FEFO order except among lots of the same expiry (which a transfer
    does not keep the receipt times of); storage reads them back in this order too.
    """
    return sorted(lots, key=lambda x: (x.expires_on is None, x.expires_on or date.max, x.lot))


async def locked(uow: UnitOfWork, transfer_id: str) -> Transfer:
    """The transfer, locked until the end of the transaction: its changes are serialised."""
    transfer = await uow.transfers.get(transfer_id, for_update=True)
    if transfer is None:
        raise NotFound("transfer", transfer_id)
    return transfer


async def shift_in_transit(uow: UnitOfWork, step: Step, sign: int, ctx: Context,
                           reference: str, cause: MovementType) -> Record:
    """Raise (+1) or lower (-1) the destination's ``in_transit``; no ledger entry, an event."""
    level = await _change_in_transit(uow, step, sign, ctx)
    return [], level_events(level, level.available, ctx, cause=cause.value,
                            reference=reference)


async def _change_in_transit(uow: UnitOfWork, step: Step, sign: int, ctx: Context) -> Level:
    level = await uow.levels.change(step.location_id, step.sku, now=ctx.now,
                                    in_transit=sign * step.quantity)
    if level is None:
        # Only transfers move ``in_transit``, each under its own row lock, so this cannot
        # happen unless the books were changed behind Stockline's back (a 500, not a refusal).
        raise AssertionError(f"level {step.location_id}/{step.sku} holds less in transit "
                             f"than its transfers carry ({step.quantity})")
    return level


def lot_pieces(line: TransferLine, quantity: int) -> list[LotPiece]:
    """The next ``quantity`` units of a line's lots, in the order they were shipped."""
    return split_in_order([lot.piece(lot.in_transit) for lot in line.lots
                           if lot.in_transit > 0], quantity)


def settle(line: TransferLine, pieces: Sequence[LotPiece], outcome: Outcome) -> None:
    """Count the lots of ``pieces`` as received, returned to the origin, or lost."""
    lots = {lot.lot: lot for lot in line.lots}
    for piece in pieces:
        lot = lots[piece.lot]
        if outcome == "received":
            lot.received_quantity += piece.quantity
        elif outcome == "returned":
            lot.returned_quantity += piece.quantity
        else:
            lot.lost_quantity += piece.quantity


async def arrive(uow: UnitOfWork, step: Step, line: TransferLine, ctx: Context,
                 reference: str) -> Record:
    """``in_transit`` falls and ``on_hand`` rises by the next units, lots in shipped order."""
    pieces = lot_pieces(line, step.quantity)
    moved = await put_stock(uow, step.location_id, step.sku, step.quantity, ctx, pieces=pieces,
                            arriving_from="in_transit")
    settle(line, pieces, "received")
    line.received_quantity += step.quantity
    return record_change(moved, ctx, type=MovementType.TRANSFER_IN,
                         reason=MovementType.TRANSFER_IN.value, reference=reference)


async def send_back(uow: UnitOfWork, transfer: Transfer, ctx: Context, *, reason: str,
                    note: str | None) -> Records:
    """Everything still in transit returns to the origin's ``on_hand``, with its lots.

    The origin's ``on_hand`` rises (ledger ``transfer_cancel`` with ``reason``) and the
    destination's ``in_transit`` falls, levels in the global lock order; each line counts
    what went back as ``cancelled_quantity``.
    """
    lines = {line.sku: line for line in transfer.lines}
    records: Records = []
    for step in plan(transfer, {line.sku: line.in_transit for line in transfer.lines}):
        if not step.at_origin:
            records.append(await shift_in_transit(uow, step, -1, ctx, transfer.id,
                                                  MovementType.TRANSFER_CANCEL))
            continue
        line = lines[step.sku]
        pieces = lot_pieces(line, step.quantity)
        moved = await put_stock(uow, step.location_id, step.sku, step.quantity, ctx,
                                pieces=pieces)
        settle(line, pieces, "returned")
        line.cancelled_quantity += step.quantity
        records.append(record_change(moved, ctx, type=MovementType.TRANSFER_CANCEL,
                                     reason=reason, reference=transfer.id, note=note))
    return records


async def write_off(uow: UnitOfWork, transfer: Transfer, ctx: Context,
                    note: str | None) -> Records:
    """Everything still in transit is lost: ``in_transit`` falls, no ``on_hand`` moves.

    Each line's loss is one ledger row at the destination (type ``transfer_lost``, reason
    ``lost_in_transit``, delta 0, the transfer as reference, the quantity in its note), so
    that the ledger history shows the loss while ``on_hand`` stays the sum of the deltas.
    """
    lines = {line.sku: line for line in transfer.lines}
    records: Records = []
    for step in plan(transfer, {line.sku: line.in_transit for line in transfer.lines}):
        if step.at_origin:
            continue
        line = lines[step.sku]
        pieces = lot_pieces(line, step.quantity)
        level = await _change_in_transit(uow, step, -1, ctx)
        settle(line, pieces, "lost")
        line.lost_quantity += step.quantity
        entry = LedgerEntry(
            location_id=level.location_id, sku=level.sku, delta=0,
            balance_after=level.on_hand, type=MovementType.TRANSFER_LOST, reason=LOST_REASON,
            reference=transfer.id, actor=ctx.actor, occurred_at=ctx.now,
            note=loss_note(step.quantity, transfer.from_location_id, note),
            recorded_at=ctx.now)
        records.append(([entry], level_events(
            level, level.available, ctx, cause=MovementType.TRANSFER_LOST.value,
            reference=transfer.id)))
    return records


def loss_note(quantity: int, origin: str, note: str | None) -> str:
    """The ledger note of a loss: how many units, from where, and the caller's words."""
    said = f"{quantity} lost in transit from {origin}"
    return (f"{said}: {note}" if note else said)[:NOTE_MAX]
