"""Edits of suppliers (their creation and their orders are ``purchasing``'s)."""

from __future__ import annotations

from dataclasses import replace

from stockline.domain.commands import UpdateSupplier
from stockline.domain.documents import Supplier
from stockline.domain.errors import InvalidInput, NotFound
from stockline.domain.events import SupplierUpdated
from stockline.domain.security import Permission
from stockline.services.executor import Context
from stockline.services.locations import edited
from stockline.services.ports import UnitOfWork
from stockline.services.purchasing import MAX_LEAD_TIME_DAYS

# The products a supplier offers, and their costs, are not edited here.
FIXED_FIELDS = frozenset({"code", "products", "created_at", "updated_at"})
REQUIRED_FIELDS = frozenset({"name", "status"})


async def update_supplier(uow: UnitOfWork, cmd: UpdateSupplier, ctx: Context) -> Supplier:
    """Change only the fields given (None clears the contact or the lead time).

    The lead time, when given, is a whole number of days from 0 up to ten years. A closed
    supplier takes no new purchase order (InvalidState) and is no replenishment source;
    orders already placed with it can still be received or cancelled. A change that
    changes something is written with a ``supplier.updated`` event.
    """
    ctx.require(Permission.SUPPLIERS_WRITE)
    lead_time = cmd.changes.get("lead_time_days")
    if lead_time is not None and not 0 <= lead_time <= MAX_LEAD_TIME_DAYS:
        raise InvalidInput("lead_time_days", f"must be between 0 and {MAX_LEAD_TIME_DAYS}")
    supplier = await uow.suppliers.get(cmd.code, for_update=True)
    if supplier is None:
        raise NotFound("supplier", cmd.code)
    after, changed = edited(supplier, cmd.changes, fixed=FIXED_FIELDS,
                            required=REQUIRED_FIELDS)
    if changed:
        after = replace(after, updated_at=ctx.now)
        await uow.suppliers.update(after)
        await uow.outbox.append([SupplierUpdated(occurred_at=ctx.now, supplier=after,
                                                 changed=changed)])
    return after
