"""Transfers between two locations: ship, receive (all or part), cancel.

Stock on its way is counted once: it has left the origin's ``on_hand`` (ledger
``transfer_out``) and stands in the destination's ``in_transit`` until it is received
(``transfer_in``) or sent back by a cancellation (``transfer_cancel``). So per SKU, the
sum over locations of ``on_hand + in_transit`` only changes by receipts, sales, returns
and adjustments, never by a transfer. The lots taken at the origin travel with the
transfer and arrive (or return) as the same lots.

Levels of several locations are changed in one global order, sorted by (location, SKU),
so two transfers in opposite directions cannot deadlock.

Location scope: shipping is the origin's act (``transfers:ship`` there); the destination
need not be one of the caller's locations, since a warehouse ships to stores it does not
run. The goods stay the origin's until received: only the destination receives
(``transfers:receive`` there) and only the origin cancels (``transfers:cancel`` there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from stockline.domain.commands import (
    CancelTransfer,
    LineQuantity,
    ReceiveTransfer,
    ShipTransfer,
)
from stockline.domain.documents import Transfer, TransferLine, TransferLot
from stockline.domain.errors import (
    ExcessLine,
    InsufficientStock,
    InvalidInput,
    NotFound,
    QuantityExceeded,
    ShortLine,
)
from stockline.domain.events import Event, TransferCancelled, TransferReceived, TransferShipped
from stockline.domain.ids import new_id
from stockline.domain.lots import LotPiece, split_in_order
from stockline.domain.model import LedgerEntry
from stockline.domain.security import Permission
from stockline.domain.states import TRANSFERS, TransferStatus, after_receipt
from stockline.domain.values import MovementType
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import (
    append_records,
    ensure_level,
    level_events,
    put_stock,
    record_change,
    take_one,
)

Records = list[tuple[list[LedgerEntry], list[Event]]]


@dataclass(frozen=True, slots=True)
class _Step:
    """One level to change: at the origin (``on_hand``) or the destination (``in_transit``)."""

    location_id: str
    sku: str
    quantity: int
    at_origin: bool


def _plan(transfer: Transfer, quantities: dict[str, int]) -> list[_Step]:
    """Every level a transfer touches for these quantities, in the global lock order."""
    steps = [_Step(loc, sku, q, loc == transfer.from_location_id)
             for sku, q in quantities.items() if q > 0
             for loc in (transfer.from_location_id, transfer.to_location_id)]
    return sorted(steps, key=lambda s: (s.location_id, s.sku))


def travel_order(lots: Sequence[TransferLot]) -> list[TransferLot]:
    """The order a line's lots arrive in: first-expiring first, then by lot code.

    It is the origin's FEFO order except among lots of the same expiry (which a transfer
    does not keep the receipt times of); storage reads them back in this order too.
    """
    return sorted(lots, key=lambda x: (x.expires_on is None, x.expires_on or date.max, x.lot))


def _check_lines(lines: Sequence[LineQuantity], what: str) -> dict[str, int]:
    """Positive quantities, each SKU once (a second line of a SKU is refused, not summed)."""
    if not lines:
        raise InvalidInput("lines", f"{what} needs at least one line")
    quantities: dict[str, int] = {}
    for line in lines:
        if line.quantity <= 0:
            raise InvalidInput("lines", "every line needs a positive quantity")
        if line.sku in quantities:
            raise InvalidInput("lines", f"SKU '{line.sku}' is given on more than one line")
        quantities[line.sku] = line.quantity
    return quantities


async def _check_keys(uow: UnitOfWork, cmd: ShipTransfer, skus: Sequence[str]) -> None:
    """Both locations and every SKU exist (NotFound: the origin, the destination, a SKU)."""
    for location_id in (cmd.from_location_id, cmd.to_location_id):
        if not await uow.locations.exists(location_id):
            raise NotFound("location", location_id)
    unknown = set(skus) - await uow.products.existing(list(skus))
    if unknown:
        raise NotFound("product", min(unknown))


async def ship_transfer(uow: UnitOfWork, cmd: ShipTransfer, ctx: Context) -> Transfer:
    """Take every line from the origin's available stock and put it in transit, or nothing.

    The origin's ``on_hand`` falls (ledger ``transfer_out``, first-expiring lots first)
    and the destination's ``in_transit`` rises (its level is created empty when missing),
    in one transaction. If any line is short, InsufficientStock names every short line
    and nothing changes. Origin and destination must differ; each SKU is on one line.
    The caller must be allowed to ship from the origin (any destination may be named).
    """
    ctx.require(Permission.TRANSFERS_SHIP, cmd.from_location_id)
    quantities = _check_lines(cmd.lines, "a transfer")
    if cmd.from_location_id == cmd.to_location_id:
        raise InvalidInput("to_location_id", "a transfer needs two different locations")
    await _check_keys(uow, cmd, list(quantities))
    transfer = Transfer(
        id=new_id("trf"), from_location_id=cmd.from_location_id,
        to_location_id=cmd.to_location_id, status=TransferStatus.IN_TRANSIT,
        lines=[TransferLine(line_no=n, sku=ln.sku, quantity=ln.quantity)
               for n, ln in enumerate(cmd.lines, start=1)],
        note=cmd.note, external_ref=cmd.external_ref, actor=ctx.actor, created_at=ctx.now,
        updated_at=ctx.now)
    records = await _send(uow, transfer, quantities, ctx)
    await uow.transfers.add(transfer)
    await append_records(uow, records, TransferShipped(occurred_at=ctx.now, transfer=transfer))
    return transfer


async def _send(uow: UnitOfWork, transfer: Transfer, quantities: dict[str, int],
                ctx: Context) -> Records:
    """Apply a shipment level by level in the global order; every short line, or none.

    A short line does not stop the walk (the refusal names every short line); the
    caller's transaction rolls back what was applied before the refusal.
    """
    lines = {line.sku: line for line in transfer.lines}
    records: Records = []
    short: list[ShortLine] = []
    for step in _plan(transfer, quantities):
        if not step.at_origin:
            await ensure_level(uow, step.location_id, step.sku, ctx)
            records.append(await _in_transit(uow, step, +1, ctx, transfer.id,
                                             MovementType.TRANSFER_OUT))
            continue
        try:
            moved = await take_one(uow, step.location_id, step.sku, step.quantity, ctx)
        except InsufficientStock as refused:
            short.extend(refused.lines)
            continue
        lines[step.sku].lots = travel_order([TransferLot(lot=p.lot, expires_on=p.expires_on,
                                                         quantity=p.quantity)
                                             for p in moved.pieces])
        records.append(record_change(moved, ctx, type=MovementType.TRANSFER_OUT,
                                     reason=MovementType.TRANSFER_OUT.value,
                                     reference=transfer.id, note=transfer.note))
    if short:
        order = list(quantities)  # the lines as the caller gave them
        raise InsufficientStock(transfer.from_location_id,
                                tuple(sorted(short, key=lambda s: order.index(s.sku))))
    return records


async def _in_transit(uow: UnitOfWork, step: _Step, sign: int, ctx: Context, reference: str,
                      cause: MovementType) -> tuple[list[LedgerEntry], list[Event]]:
    """Raise (+1) or lower (-1) the destination's ``in_transit``; no ledger entry, an event."""
    level = await uow.levels.change(step.location_id, step.sku, now=ctx.now,
                                    in_transit=sign * step.quantity)
    if level is None:
        raise _lost_in_transit(step)
    return [], level_events(level, level.available, ctx, cause=cause.value,
                            reference=reference)


def _lost_in_transit(step: _Step) -> AssertionError:
    """A level holds less in transit than its open transfers carry: a broken invariant.

    Only transfers move ``in_transit``, each under its own row lock, so this cannot
    happen unless the books were changed behind Stockline's back (a 500, not a refusal).
    """
    return AssertionError(f"level {step.location_id}/{step.sku} holds less in transit "
                          f"than its transfers carry ({step.quantity})")


async def _locked(uow: UnitOfWork, transfer_id: str) -> Transfer:
    """The transfer, locked until the end of the transaction: its changes are serialised."""
    transfer = await uow.transfers.get(transfer_id, for_update=True)
    if transfer is None:
        raise NotFound("transfer", transfer_id)
    return transfer


def _to_receive(transfer: Transfer, lines: Sequence[LineQuantity] | None) -> dict[str, int]:
    """What a receipt takes in, by SKU; more than is still in transit is QuantityExceeded."""
    in_transit = {line.sku: line.in_transit for line in transfer.lines}
    if lines is None:
        return {sku: q for sku, q in in_transit.items() if q > 0}
    wanted = _check_lines(lines, "a receipt")
    excess = [ExcessLine(sku, q, in_transit.get(sku, 0)) for sku, q in wanted.items()
              if q > in_transit.get(sku, 0)]
    if excess:
        raise QuantityExceeded("transfer", transfer.id, tuple(excess))
    return wanted


def _lot_pieces(line: TransferLine, quantity: int) -> list[LotPiece]:
    """The next ``quantity`` units of a line's lots, in the order they were shipped."""
    return split_in_order([lot.piece(lot.in_transit) for lot in line.lots
                           if lot.in_transit > 0], quantity)


async def receive_transfer(uow: UnitOfWork, cmd: ReceiveTransfer, ctx: Context) -> Transfer:
    """Take stock out of transit into the destination's ``on_hand`` (ledger ``transfer_in``).

    ``lines`` None receives everything still in transit. No line may ask more than is
    still in transit for its SKU (QuantityExceeded, nothing changes). The lots received
    are the shipped ones, in their order. Status becomes ``partially_received`` while
    anything is still in transit, ``received`` after; only an in-transit or partially
    received transfer can receive (InvalidState otherwise).
    """
    transfer = await _locked(uow, cmd.transfer_id)
    ctx.require_of(Permission.TRANSFERS_RECEIVE, "transfer", transfer.to_location_id)
    TRANSFERS.check(transfer.id, transfer.status, "receive")
    quantities = _to_receive(transfer, cmd.lines)
    lines = {line.sku: line for line in transfer.lines}
    records = [await _arrive(uow, step, lines[step.sku], ctx, transfer.id)
               for step in _plan(transfer, quantities) if not step.at_origin]
    transfer.status = after_receipt(transfer.in_transit)[0]
    transfer.updated_at = transfer.received_at = ctx.now
    await uow.transfers.update(transfer)
    received = tuple(sorted(quantities.items()))
    await append_records(uow, records, TransferReceived(occurred_at=ctx.now, transfer=transfer,
                                                        received=received))
    return transfer


async def _arrive(uow: UnitOfWork, step: _Step, line: TransferLine, ctx: Context,
                  reference: str) -> tuple[list[LedgerEntry], list[Event]]:
    """``in_transit`` falls and ``on_hand`` rises by the next units, lots in shipped order."""
    pieces = _lot_pieces(line, step.quantity)
    moved = await put_stock(uow, step.location_id, step.sku, step.quantity, ctx, pieces=pieces,
                            arriving_from="in_transit")
    _settle(line, pieces, received=True)
    line.received_quantity += step.quantity
    return record_change(moved, ctx, type=MovementType.TRANSFER_IN,
                         reason=MovementType.TRANSFER_IN.value, reference=reference)


async def _send_back(uow: UnitOfWork, step: _Step, line: TransferLine, ctx: Context,
                     reference: str, note: str | None) -> tuple[list[LedgerEntry], list[Event]]:
    """What a line still has in transit returns to the origin's ``on_hand``, with its lots."""
    pieces = _lot_pieces(line, step.quantity)
    moved = await put_stock(uow, step.location_id, step.sku, step.quantity, ctx, pieces=pieces)
    _settle(line, pieces, received=False)
    return record_change(moved, ctx, type=MovementType.TRANSFER_CANCEL,
                         reason=MovementType.TRANSFER_CANCEL.value, reference=reference,
                         note=note)


def _settle(line: TransferLine, pieces: Sequence[LotPiece], *, received: bool) -> None:
    """Mark the lots of ``pieces`` as received (or returned to the origin)."""
    lots = {lot.lot: lot for lot in line.lots}
    for piece in pieces:
        if received:
            lots[piece.lot].received_quantity += piece.quantity
        else:
            lots[piece.lot].returned_quantity += piece.quantity


async def cancel_transfer(uow: UnitOfWork, cmd: CancelTransfer, ctx: Context) -> Transfer:
    """Send everything still in transit back to the origin's ``on_hand``, with its lots.

    Only an in-transit transfer can be cancelled (InvalidState otherwise, also once part
    of it was received). The origin's ``on_hand`` rises (ledger ``transfer_cancel``) and
    the destination's ``in_transit`` falls, levels in the global lock order.
    """
    transfer = await _locked(uow, cmd.transfer_id)
    ctx.require_of(Permission.TRANSFERS_CANCEL, "transfer", transfer.from_location_id)
    TRANSFERS.check(transfer.id, transfer.status, "cancel")
    lines = {line.sku: line for line in transfer.lines}
    quantities = {line.sku: line.in_transit for line in transfer.lines}
    records: Records = []
    for step in _plan(transfer, quantities):
        if step.at_origin:
            records.append(await _send_back(uow, step, lines[step.sku], ctx, transfer.id,
                                            cmd.note))
        else:
            records.append(await _in_transit(uow, step, -1, ctx, transfer.id,
                                             MovementType.TRANSFER_CANCEL))
    for line in transfer.lines:
        line.cancelled_quantity += line.in_transit
    transfer.status = TransferStatus.CANCELLED
    transfer.updated_at = transfer.cancelled_at = ctx.now
    await uow.transfers.update(transfer)
    await append_records(uow, records, TransferCancelled(occurred_at=ctx.now, transfer=transfer))
    return transfer
