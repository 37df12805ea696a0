"""Sales: all lines or none, never more than is available."""

from __future__ import annotations

from collections import Counter

from stockline.domain.commands import RecordSale
from stockline.domain.errors import InvalidInput
from stockline.domain.events import SaleRecorded
from stockline.domain.ids import new_id
from stockline.domain.model import Sale, SaleLine
from stockline.domain.rules import check_occurred_at
from stockline.domain.security import Permission
from stockline.domain.values import AMOUNT_SCALE, MAX_AMOUNT, MovementType
from stockline.services.customers import attach_customer
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.stock import append_records, record_change, take_stock


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
    return currencies.pop()


def lane_of(cmd: RecordSale) -> tuple[str, str]:
    """Group commit's lane key: sales of one level (by their first line) queue together."""
    return cmd.location_id, cmd.lines[0].sku if cmd.lines else ""


async def record_sale(uow: UnitOfWork, cmd: RecordSale, ctx: Context) -> Sale:
    """Take every line from the location's available stock, or nothing at all.

    Lines of the same SKU are summed before the stock check. Each SKU gets a ledger
    entry referencing the sale (one per lot on a lotted level); events follow. Only a
    caller that may sell at the location may record it (Forbidden, nothing changes).
    """
    ctx.require(Permission.SALES_WRITE, cmd.location_id)
    currency = check_sale(cmd, ctx)
    quantities: Counter[str] = Counter()
    for line in cmd.lines:
        quantities[line.sku] += line.quantity
    moved = await take_stock(uow, cmd.location_id, quantities, ctx)
    sale = Sale(id=new_id("sale"), location_id=cmd.location_id, currency=currency,
                lines=tuple(SaleLine(sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price)
                            for ln in cmd.lines),
                channel=cmd.channel, payment_status=cmd.payment_status,
                external_ref=cmd.external_ref, actor=ctx.actor,
                occurred_at=cmd.occurred_at or ctx.now, created_at=ctx.now)
    if cmd.customer is not None:
        await attach_customer(uow, cmd.customer, ctx)
    await uow.sales.add(sale, customer_ref=cmd.customer.ref if cmd.customer else None)
    await append_records(uow, [record_change(m, ctx, type=MovementType.SALE, reason="sale",
                                             reference=sale.id, occurred_at=sale.occurred_at)
                               for m in moved], SaleRecorded(occurred_at=ctx.now, sale=sale))
    return sale
