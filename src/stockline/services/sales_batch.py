"""Many sales in one transaction (group commit), each with its own all-or-nothing outcome.

``record_sales`` gives exactly what ``record_sale`` would give for each sale run alone, in
arrival order: the same refusals, the same level changes, ledger entries and events. It
locks every level the batch touches at once (in key order, so concurrent batches cannot
deadlock), decides each sale against the levels as the earlier sales of the batch left
them, and then writes everything with a handful of set-based statements. A sale whose
levels are lotted, or missing (an unknown SKU or location, or no stock ever received),
needs ``record_sale``, which knows those cases: the batch stops there, its writes so far
are made, and the outcomes returned are those of the sales before it. The caller runs that
sale alone, then the rest of the batch, so that every sale still sees exactly the stock
the sales before it left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from stockline.domain.commands import RecordSale
from stockline.domain.errors import DomainError, InsufficientStock, ShortLine
from stockline.domain.events import Event, SaleRecorded
from stockline.domain.ids import new_id
from stockline.domain.model import LedgerEntry, Level, Sale, SaleLine
from stockline.domain.security import Permission
from stockline.domain.values import MovementType
from stockline.services.customers import attach_customer
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.sales import check_sale
from stockline.services.stock import Moved, record_change

Outcome = Sale | DomainError


async def record_sales(uow: UnitOfWork,
                       items: Sequence[tuple[RecordSale, Context]]) -> list[Outcome]:
    """The outcomes of the first sales of ``items``: all of them, or those before the first
    sale that ``record_sale`` must take."""
    outcomes: list[Outcome | None] = [None] * len(items)
    wanted: dict[int, tuple[Counter[str], str]] = {}
    for n, (cmd, ctx) in enumerate(items):
        try:
            ctx.require(Permission.SALES_WRITE, cmd.location_id)
            currency = check_sale(cmd, ctx)
        except DomainError as error:
            outcomes[n] = error
            continue
        quantities: Counter[str] = Counter()
        for line in cmd.lines:
            quantities[line.sku] += line.quantity
        wanted[n] = quantities, currency
    keys = sorted({(items[n][0].location_id, sku) for n, (q, _) in wanted.items() for sku in q})
    levels = await uow.levels.lock_many(keys) if keys else {}

    changed: dict[tuple[str, str], Level] = {}
    sales: list[tuple[Sale, str | None]] = []
    entries: list[LedgerEntry] = []
    events: list[Event] = []
    stop = len(items)
    for n, (quantities, currency) in wanted.items():
        cmd, ctx = items[n]
        mine = [((cmd.location_id, sku), quantity) for sku, quantity in sorted(quantities.items())]
        if any(key not in levels or levels[key].lotted for key, _ in mine):
            stop = n  # record_sale takes it, after what came before
            break
        short = [ShortLine(key[1], quantity, levels[key].available)
                 for key, quantity in mine if levels[key].available < quantity]
        if short:
            outcomes[n] = InsufficientStock(cmd.location_id, tuple(short))
            continue
        sale = Sale(id=new_id("sale"), location_id=cmd.location_id, currency=currency,
                    lines=tuple(SaleLine(sku=ln.sku, quantity=ln.quantity,
                                         unit_price=ln.unit_price) for ln in cmd.lines),
                    channel=cmd.channel, payment_status=cmd.payment_status,
                    external_ref=cmd.external_ref, actor=ctx.actor,
                    occurred_at=cmd.occurred_at or ctx.now, created_at=ctx.now)
        for key, quantity in mine:
            level = levels[key]
            after = replace(level, on_hand=level.on_hand - quantity, version=level.version + 1,
                            updated_at=ctx.now)
            levels[key] = changed[key] = after
            made, told = record_change(Moved(after, -quantity), ctx, type=MovementType.SALE,
                                       reason="sale", reference=sale.id,
                                       occurred_at=sale.occurred_at)
            entries += made
            events += told
        events.append(SaleRecorded(occurred_at=ctx.now, sale=sale))
        if cmd.customer is not None:
            await attach_customer(uow, cmd.customer, ctx)
        sales.append((sale, cmd.customer.ref if cmd.customer else None))
        outcomes[n] = sale
    if sales:
        await uow.sales.record_batch(list(changed.values()), sales, entries, events)
    decided = outcomes[:stop]
    assert all(o is not None for o in decided)
    return decided  # type: ignore[return-value]
