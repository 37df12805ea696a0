"""Sales: all lines or none, never more than is available."""

from __future__ import annotations

from collections import Counter

from stockline.domain.commands import RecordSale
from stockline.domain.errors import InvalidInput
from stockline.domain.events import SaleRecorded
from stockline.domain.model import Sale, SaleLine
from stockline.domain.rules import check_occurred_at
from stockline.domain.security import Permission
from stockline.domain.selling import open_sale
from stockline.domain.states import check_opening_payment
from stockline.domain.values import AMOUNT_SCALE, MAX_AMOUNT, MovementType
from stockline.services.customers import attach_customer
from stockline.services.executor import Context
from stockline.services.in_hand import cover_in_hand
from stockline.services.ports import UnitOfWork
from stockline.services.stock import append_records, record_change, take_sold


def check_sale(cmd: RecordSale, ctx: Context) -> str:
    """The sale's currency, once its lines pass the rules that need no stored data."""
    if not cmd.lines:
        raise InvalidInput("lines", "a sale needs at least one line")
    if any(line.quantity <= 0 for line in cmd.lines):
        raise InvalidInput("lines", "every line needs a positive quantity")
    currencies = {line.unit_price.currency for line in cmd.lines}
    if len(currencies) > 1:
        raise InvalidInput("lines", "all lines of a sale must use one currency")
    total = sum(line.unit_price.units * line.quantity for line in cmd.lines)
    if total >= MAX_AMOUNT * AMOUNT_SCALE:
        raise InvalidInput("lines", "the sale's total is too large")
    if cmd.occurred_at is not None:
        check_occurred_at(cmd.occurred_at, ctx.now)
    check_opening_payment(cmd.payment_status)
    return currencies.pop()


def require_seller(cmd: RecordSale, ctx: Context) -> None:
    """Selling needs ``sales:write`` at the location. Selling goods in hand records too what
    was found on the shelf, a statement of stock that needs ``inventory:count`` there."""
    ctx.require(Permission.SALES_WRITE, cmd.location_id)
    if cmd.in_hand:
        ctx.require(Permission.INVENTORY_COUNT, cmd.location_id)


def lane_of(cmd: RecordSale) -> tuple[str, str]:
    """Group commit's lane key: sales of one level (by their first line) queue together."""
    return cmd.location_id, cmd.lines[0].sku if cmd.lines else ""


def quantities_of(cmd: RecordSale) -> Counter[str]:
    """Units of each SKU the sale takes: lines of the same SKU are summed."""
    quantities: Counter[str] = Counter()
    for line in cmd.lines:
        quantities[line.sku] += line.quantity
    return quantities


def new_sale(cmd: RecordSale, currency: str, ctx: Context, sale_id: str | None = None) -> Sale:
    """The Sale a RecordSale makes, however it is recorded (alone or in a group commit)."""
    return open_sale(location_id=cmd.location_id, currency=currency,
                     lines=tuple(SaleLine(sku=ln.sku, quantity=ln.quantity,
                                          unit_price=ln.unit_price) for ln in cmd.lines),
                     channel=cmd.channel, payment_status=cmd.payment_status,
                     external_ref=cmd.external_ref, actor=ctx.actor,
                     occurred_at=cmd.occurred_at or ctx.now, now=ctx.now, sale_id=sale_id)


async def record_sale(uow: UnitOfWork, cmd: RecordSale, ctx: Context) -> Sale:
    """Take every line from the location's available stock, or nothing at all.

    Lines of the same SKU are summed before the stock check, which ``take_sold`` makes
    (``domain.selling``: the rule a group commit keeps too). Each SKU gets a ledger entry
    referencing the sale (one per lot on a lotted level); events follow. Only a caller
    that may sell at the location may record it (Forbidden, nothing changes). With
    ``in_hand``, what the customer holds is found first (``cover_in_hand``).
    """
    require_seller(cmd, ctx)
    currency = check_sale(cmd, ctx)
    quantities = quantities_of(cmd)
    sale = new_sale(cmd, currency, ctx)
    if cmd.in_hand:
        await cover_in_hand(uow, cmd.location_id, quantities, sale.id, ctx)
    moved = await take_sold(uow, cmd.location_id, quantities, ctx)
    if cmd.customer is not None:
        await attach_customer(uow, cmd.customer, ctx)
    await uow.sales.add(sale, customer_ref=cmd.customer.ref if cmd.customer else None)
    await append_records(uow, [record_change(m, ctx, type=MovementType.SALE, reason="sale",
                                             reference=sale.id, occurred_at=sale.occurred_at)
                               for m in moved], SaleRecorded(occurred_at=ctx.now, sale=sale))
    return sale
