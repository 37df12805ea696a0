"""Returns against a sale: never more than was sold, restocked or written off."""

from __future__ import annotations

from dataclasses import replace

from stockline.domain.commands import ReturnSale
from stockline.domain.errors import ExcessLine, InvalidInput, NotFound, QuantityExceeded
from stockline.domain.events import Event, SaleReturned
from stockline.domain.ids import new_id
from stockline.domain.model import LedgerEntry, ReturnLine, Sale, SaleReturn
from stockline.domain.security import Permission
from stockline.domain.values import MovementType, SaleStatus
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import append_records, put_stock, record_change


def _quantities(cmd: ReturnSale) -> dict[str, int]:
    if not cmd.lines:
        raise InvalidInput("lines", "a return needs at least one line")
    if any(line.quantity <= 0 for line in cmd.lines):
        raise InvalidInput("lines", "every line needs a positive quantity")
    totals: dict[str, int] = {}
    for line in cmd.lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return totals


def _check_against(sale: Sale, quantities: dict[str, int]) -> None:
    """Per SKU, at most what was sold less what has come back already."""
    missing = [sku for sku in quantities if sale.sold(sku) == 0]
    if missing:
        raise InvalidInput("lines", f"not on sale '{sale.id}': {', '.join(missing)}")
    excess = [ExcessLine(sku, quantity, sale.sold(sku) - sale.returned(sku))
              for sku, quantity in quantities.items()
              if quantity > sale.sold(sku) - sale.returned(sku)]
    if excess:
        raise QuantityExceeded("sale", sale.id, tuple(excess))


def _status(sale: Sale) -> SaleStatus:
    if all(sale.returned(line.sku) >= sale.sold(line.sku) for line in sale.lines):
        return SaleStatus.RETURNED
    return SaleStatus.PARTIALLY_RETURNED


async def return_sale(uow: UnitOfWork, cmd: ReturnSale, ctx: Context) -> Sale:
    """Take goods back against a sale; answers the sale with its returns, this one last.

    The sale's row is locked first, so returns of one sale queue up and each sees those
    before it. Per SKU, never more than was sold less what is already back: otherwise
    QuantityExceeded names every line over, and nothing changes. A SKU the sale does not
    hold is InvalidInput (no return of it could ever succeed). The goods come back at
    ``location_id`` (a store other than the sale's, say), by default the sale's location.
    ``restock`` puts the units back on hand there (ledger type ``return``, the return
    reason as its reason, the original sale's id as reference); without it they are
    written off: recorded on the sale, but they never re-enter stock. The sale becomes
    ``returned`` once every unit has come back, ``partially_returned`` until then. The
    caller must be allowed to take returns where the goods come back.
    """
    quantities = _quantities(cmd)
    sale = await uow.sales.get(cmd.sale_id, for_update=True)
    if sale is None:
        raise NotFound("sale", cmd.sale_id)
    location_id = await _return_location(uow, cmd, sale, ctx)
    _check_against(sale, quantities)
    sale_return = SaleReturn(
        id=new_id("ret"), sale_id=sale.id, location_id=location_id,
        lines=tuple(ReturnLine(sku=ln.sku, quantity=ln.quantity,
                               amount=sale.value_of(ln.sku, ln.quantity)) for ln in cmd.lines),
        restock=cmd.restock, reason=cmd.reason, note=cmd.note, actor=ctx.actor,
        created_at=ctx.now)
    restocked: list[tuple[list[LedgerEntry], list[Event]]] = []
    if cmd.restock:
        for sku in sorted(quantities):  # SKU order, as every multi-level write
            moved = await put_stock(uow, location_id, sku, quantities[sku], ctx)
            restocked.append(record_change(moved, ctx, type=MovementType.RETURN,
                                           reason=cmd.reason.value, reference=sale.id,
                                           note=cmd.note))
    returned = replace(sale, returns=(*sale.returns, sale_return))
    returned.status = _status(returned).value
    await uow.sales.add_return(sale_return, returned.status)
    await append_records(uow, restocked,
                         SaleReturned(occurred_at=ctx.now, sale_return=sale_return))
    return returned


async def _return_location(uow: UnitOfWork, cmd: ReturnSale, sale: Sale, ctx: Context) -> str:
    """Where the goods come back, once the caller may take returns there and it exists."""
    if cmd.location_id is None or cmd.location_id == sale.location_id:
        ctx.require_of(Permission.RETURNS_WRITE, "sale", sale.location_id)
        return sale.location_id
    ctx.require(Permission.RETURNS_WRITE, cmd.location_id)
    if not await uow.locations.exists(cmd.location_id):
        raise NotFound("location", cmd.location_id)
    return cmd.location_id
