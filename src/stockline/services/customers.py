"""Customers: erasing one pseudonymizes it everywhere and keeps every sale and total."""

from __future__ import annotations

from stockline.domain.customers import CustomerDetails, EraseCustomer, Erasure, new_pseudonym
from stockline.domain.security import Permission
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


async def attach_customer(uow: UnitOfWork, details: CustomerDetails, ctx: Context) -> None:
    """A sale names its customer: a new reference is added with the sale's contact; an
    existing customer's contact is replaced only for a caller that may write customers.
    Anyone who may sell may attach a sale to a customer, but a sale is no way to change
    (or, by its answer, to learn) anything about a customer it did not create."""
    await uow.customers.remember(details, ctx.now,
                                 update_contact=ctx.allows(Permission.CUSTOMERS_WRITE))


async def erase_customer(uow: UnitOfWork, cmd: EraseCustomer, ctx: Context) -> Erasure:
    """Put a random pseudonym in place of the customer's reference on it and on each of its
    sales, drop its contact, and unlink the idempotency records of every request that named
    it (a retry of one is refused alike whatever customer it names, and their answers are
    dropped). Sales, lines, totals and the ledger do not change, and no event is logged
    (an event would carry the reference). An unknown or already erased reference is erased
    all the same (records of refused requests may still name it): the caller is told
    nothing either way, so an erasure, or its replay, never confirms a reference."""
    ctx.require(Permission.CUSTOMERS_ERASE)
    records = await uow.idempotency.forget(ctx.digests.subject(cmd.ref))
    sales = await uow.customers.erase(cmd.ref, new_pseudonym(), ctx.now)
    return Erasure(sales=sales or 0, records=records, erased_at=ctx.now)
