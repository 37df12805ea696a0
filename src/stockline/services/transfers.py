"""Transfers between two locations: ship, receive (all or part), cancel, close short.

Stock on its way is counted once: it has left the origin's ``on_hand`` (ledger
``transfer_out``) and stands in the destination's ``in_transit`` until it is received
(``transfer_in``), sent back by a cancellation or a close (``transfer_cancel``), or
written off by a close (``transfer_lost``, see ``services.transit``). So per SKU, the sum
over locations of ``on_hand + in_transit`` only changes by receipts, sales, returns,
adjustments and losses in transit. The lots taken at the origin travel with the transfer
and arrive (or return, or are lost) as the same lots.

Levels of several locations are changed in one global order, sorted by (location, SKU),
so two transfers in opposite directions cannot deadlock.

Location scope: shipping is the origin's act (``transfers:ship`` there); the destination
need not be one of the caller's locations, since a warehouse ships to stores it does not
run. The goods stay the origin's until received: only the destination receives
(``transfers:receive`` there) and only the origin cancels or closes (``transfers:cancel``
there), since writing off or taking back what never arrived is the owner's decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from stockline.domain.commands import (
    CancelTransfer,
    CloseTransfer,
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
from stockline.domain.events import (
    TransferCancelled,
    TransferClosed,
    TransferReceived,
    TransferShipped,
)
from stockline.domain.ids import new_id
from stockline.domain.security import Permission
from stockline.domain.states import TRANSFERS, TransferRemainder, TransferStatus, after_receipt
from stockline.domain.values import MovementType
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import (
    append_records,
    ensure_level,
    ensure_open,
    record_change,
    take_one,
)
from stockline.services.transit import (
    Records,
    arrive,
    locked,
    plan,
    send_back,
    shift_in_transit,
    travel_order,
    write_off,
)

# The ledger reason of what a close sends back (a cancel's is ``transfer_cancel``).
CLOSE_REASON = "transfer_close"


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
    """Both locations and every SKU exist (NotFound: the origin, the destination, a SKU),
    and the destination is open (LocationClosed): a closed location may still ship out."""
    if not await uow.locations.exists(cmd.from_location_id):
        raise NotFound("location", cmd.from_location_id)
    await ensure_open(uow, cmd.to_location_id)
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
    for step in plan(transfer, quantities):
        if not step.at_origin:
            await ensure_level(uow, step.location_id, step.sku, ctx)
            records.append(await shift_in_transit(uow, step, +1, ctx, transfer.id,
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


async def receive_transfer(uow: UnitOfWork, cmd: ReceiveTransfer, ctx: Context) -> Transfer:
    """Take stock out of transit into the destination's ``on_hand`` (ledger ``transfer_in``).

    ``lines`` None receives everything still in transit. No line may ask more than is
    still in transit for its SKU (QuantityExceeded, nothing changes). The lots received
    are the shipped ones, in their order. Status becomes ``partially_received`` while
    anything is still in transit, ``received`` after; only an in-transit or partially
    received transfer can receive (InvalidState otherwise). A destination closed since
    the transfer shipped still receives it: the goods were on their way before the close
    and arrive all the same (the ledger says what happened; the origin may cancel instead).
    """
    transfer = await locked(uow, cmd.transfer_id)
    ctx.require_of(Permission.TRANSFERS_RECEIVE, "transfer", transfer.to_location_id)
    TRANSFERS.check(transfer.id, transfer.status, "receive")
    quantities = _to_receive(transfer, cmd.lines)
    lines = {line.sku: line for line in transfer.lines}
    records = [await arrive(uow, step, lines[step.sku], ctx, transfer.id)
               for step in plan(transfer, quantities) if not step.at_origin]
    transfer.status = after_receipt(transfer.in_transit)[0]
    transfer.updated_at = transfer.received_at = ctx.now
    await uow.transfers.update(transfer)
    received = tuple(sorted(quantities.items()))
    await append_records(uow, records, TransferReceived(occurred_at=ctx.now, transfer=transfer,
                                                        received=received))
    return transfer


async def cancel_transfer(uow: UnitOfWork, cmd: CancelTransfer, ctx: Context) -> Transfer:
    """Send everything still in transit back to the origin's ``on_hand``, with its lots.

    An in-transit or partially received transfer can be cancelled (InvalidState
    otherwise); what was received stays received, only what is still in transit returns
    (ledger ``transfer_cancel`` at the origin, ``in_transit`` falls at the destination).
    """
    transfer = await locked(uow, cmd.transfer_id)
    ctx.require_of(Permission.TRANSFERS_CANCEL, "transfer", transfer.from_location_id)
    TRANSFERS.check(transfer.id, transfer.status, "cancel")
    records = await send_back(uow, transfer, ctx, reason=MovementType.TRANSFER_CANCEL.value,
                              note=cmd.note)
    transfer.status = TransferStatus.CANCELLED
    transfer.updated_at = transfer.cancelled_at = ctx.now
    await uow.transfers.update(transfer)
    await append_records(uow, records, TransferCancelled(occurred_at=ctx.now, transfer=transfer))
    return transfer


async def close_transfer(uow: UnitOfWork, cmd: CloseTransfer, ctx: Context) -> Transfer:
    """End a short shipment: what is still in transit is written off or sent back.

    An in-transit or partially received transfer can be closed (InvalidState otherwise),
    by whoever may cancel it at the origin. ``lost``: each line's remainder leaves the
    destination's ``in_transit`` as a loss (the line's ``lost_quantity``, a ``transfer_lost``
    ledger row); ``return``: it goes back to the origin's ``on_hand`` as a cancel would
    (``cancelled_quantity``, ledger ``transfer_cancel`` with reason ``transfer_close``).
    Status becomes ``closed``, with the remainder decision and ``closed_at``.
    """
    transfer = await locked(uow, cmd.transfer_id)
    ctx.require_of(Permission.TRANSFERS_CANCEL, "transfer", transfer.from_location_id)
    TRANSFERS.check(transfer.id, transfer.status, "close")
    settled = tuple(sorted((line.sku, line.in_transit) for line in transfer.lines
                           if line.in_transit > 0))
    if cmd.remainder is TransferRemainder.LOST:
        records = await write_off(uow, transfer, ctx, cmd.note)
    else:
        records = await send_back(uow, transfer, ctx, reason=CLOSE_REASON, note=cmd.note)
    transfer.status, transfer.remainder = TransferStatus.CLOSED, cmd.remainder
    transfer.updated_at = transfer.closed_at = ctx.now
    await uow.transfers.update(transfer)
    await append_records(uow, records, TransferClosed(occurred_at=ctx.now, transfer=transfer,
                                                      settled=settled))
    return transfer
