"""Many sales in one transaction (group commit), each with its own all-or-nothing outcome.

``record_sales`` gives exactly what ``record_sale`` would give for each sale run alone, in
arrival order: the same refusals, the same level changes, ledger entries and events. It
locks every level the batch touches at once (in key order, so concurrent batches cannot
deadlock), decides each sale with the rule ``record_sale`` keeps (``take_for_sale``)
against the levels as the earlier sales of the batch left them, builds its Sale as
``record_sale`` does (``new_sale``), and then writes everything with a handful of
set-based statements. A sale whose levels are lotted, or missing (an unknown SKU or
location, or no stock ever received), or that sells goods in hand short of available
stock, needs ``record_sale``, which knows those cases: the batch stops there, its writes
so far are made, and the outcomes returned are those of the sales before it. The caller
runs that sale alone, then the rest of the batch, so that every sale still sees exactly
the stock the sales before it left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from stockline.domain.commands import RecordSale
from stockline.domain.errors import DomainError, InsufficientStock, LocationClosed
from stockline.domain.events import Event, SaleRecorded
from stockline.domain.model import LedgerEntry, Level, Sale
from stockline.domain.selling import take_for_sale
from stockline.domain.values import MovementType
from stockline.services.customers import attach_customer
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork
from stockline.services.sales import check_sale, new_sale, quantities_of, require_seller
from stockline.services.stock import Moved, record_change

Outcome = Sale | DomainError
Key = tuple[str, str]


def _needs_record_sale(cmd: RecordSale, mine: Mapping[str, Level | None],
                       quantities: Counter[str]) -> bool:
    """A sale the batch leaves to ``record_sale``: a level missing or lotted, or goods in
    hand short of available stock."""
    return any(level is None or level.lotted for level in mine.values()) or (
        cmd.in_hand and any(level is not None and level.available < quantities[sku]
                            for sku, level in mine.items()))


async def record_sales(uow: UnitOfWork,
                       items: Sequence[tuple[RecordSale, Context]]) -> list[Outcome]:
    """The outcomes of the first sales of ``items``: all of them, or those before the first
    sale that ``record_sale`` must take."""
    outcomes: list[Outcome | None] = [None] * len(items)
    wanted: dict[int, tuple[Counter[str], str]] = {}
    for n, (cmd, ctx) in enumerate(items):
        try:
            require_seller(cmd, ctx)
            wanted[n] = quantities_of(cmd), check_sale(cmd, ctx)
        except DomainError as error:
            outcomes[n] = error
    keys = sorted({(items[n][0].location_id, sku) for n, (q, _) in wanted.items() for sku in q})
    # The locations' statuses come with the locked levels: no query per sale for the rule.
    levels, statuses = await uow.levels.lock_for_sale(keys) if keys else ({}, {})

    changed: dict[Key, Level] = {}
    sales: list[tuple[Sale, str | None]] = []
    entries: list[LedgerEntry] = []
    events: list[Event] = []
    stop = len(items)
    for n, (quantities, currency) in wanted.items():
        cmd, ctx = items[n]
        mine = {sku: levels.get((cmd.location_id, sku)) for sku in quantities}
        if _needs_record_sale(cmd, mine, quantities):
            stop = n  # record_sale takes it, after what came before
            break
        try:
            taken = take_for_sale(cmd.location_id, statuses[cmd.location_id], quantities,
                                  mine, ctx.now)
        except (LocationClosed, InsufficientStock) as refusal:
            outcomes[n] = refusal
            continue
        sale = new_sale(cmd, currency, ctx)
        for after, quantity in taken:
            levels[after.location_id, after.sku] = changed[after.location_id, after.sku] = after
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
