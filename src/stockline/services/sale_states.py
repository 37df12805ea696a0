"""A sale's life after the till: its payment and its fulfillment move along their tables."""

from __future__ import annotations

from dataclasses import replace

from stockline.domain.commands import UpdateSale
from stockline.domain.errors import InvalidInput, InvalidState, NotFound
from stockline.domain.events import SaleUpdated
from stockline.domain.model import Sale
from stockline.domain.security import Permission
from stockline.domain.states import SALE_FULFILLMENTS, SALE_PAYMENTS
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


def _moved(sale: Sale, cmd: UpdateSale) -> Sale | None:
    """The sale after the steps asked for, or None when it is there already; a step its
    table does not allow is InvalidState."""
    after = replace(sale, payment_status=cmd.payment_status or sale.payment_status,
                    fulfillment_status=cmd.fulfillment_status or sale.fulfillment_status)
    paid = SALE_PAYMENTS.step(sale.id, sale.payment_status, after.payment_status)
    filled = SALE_FULFILLMENTS.step(sale.id, sale.fulfillment_status, after.fulfillment_status)
    return after if paid or filled else None


async def update_sale(uow: UnitOfWork, cmd: UpdateSale, ctx: Context) -> Sale:
    """Move a sale's payment and/or fulfillment one step along ``domain.states``' tables.

    Both steps are checked before either is made: one refused step refuses the request
    (InvalidState, nothing changes). A request that names the states the sale is in
    already changes nothing and logs no event. The sale's row is locked first and the
    update is guarded by the states it was read in, so of two concurrent requests from
    one state the second sees the first's result and is judged from there. Stock never
    moves here: cancelling a fulfillment leaves the units sold (a return brings them
    back). Only a caller that may sell at the sale's location may change it.
    """
    if cmd.payment_status is None and cmd.fulfillment_status is None:
        raise InvalidInput("body", "send payment_status, fulfillment_status or both")
    sale = await uow.sales.get(cmd.sale_id, for_update=True)
    if sale is None:
        raise NotFound("sale", cmd.sale_id)
    ctx.require_of(Permission.SALES_WRITE, "sale", sale.location_id)
    after = _moved(sale, cmd)
    if after is None:
        return sale
    if not await uow.sales.set_statuses(before=sale, after=after):
        # The lock makes this unreachable; the guard keeps a step from a stale state out.
        raise InvalidState("sale", sale.id, "changed", "update")
    await uow.outbox.append([SaleUpdated(occurred_at=ctx.now, before=sale, after=after)])
    return after
